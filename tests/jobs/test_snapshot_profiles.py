"""The profiles a snapshot table keeps of what it published (quality.DriftReference): the
next run's volume baseline and PSI reference, without a query on the published snapshot."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

import pytest
from pyspark.sql import functions as F

from growth.expectations import drift
from growth.expectations.validate import DataQualityError
from growth.features.contracts import MERCHANTS as MERCHANT_CONTRACT
from growth.jobs import build_features, delta_io, quality
from growth.jobs.run_log import RunRecord
from tests.features import frames
from tests.helpers import fresh_lake

D = date(2026, 10, 31)
MERCHANTS = 30
TABLE = "merchant_features"


@pytest.fixture(scope="module")
def lake(spark, cfg, tmp_path_factory):
    lake = fresh_lake(spark, cfg, "snapshot_profiles", tmp_path_factory.mktemp("profiles"))
    # Joined on different days and selling the same every day: consecutive snapshots
    # differ by a day of tenure only, so an unchanged feed passes the PSI checks.
    joined = [datetime(2026, 1, 1) + timedelta(days=7 * i) for i in range(MERCHANTS)]
    merchants = [(f"m{i}", f"M{i}", "toys", "north", "en", t, t) for i, t in enumerate(joined)]
    delta_io.overwrite(spark, spark.createDataFrame(merchants, MERCHANT_CONTRACT.ddl),
                       lake.table("silver_merchants"))
    rows = [dict(merchant_id=f"m{i}", date=D - timedelta(days=k), gmv=10.0 * (i + 1),
                 orders=1.0 + i % 4, order_lines=1.0 + i % 4, order_days=1.0)
            for i in range(MERCHANTS) for k in range(0, 200)]
    delta_io.overwrite(spark, frames.daily(spark, "merchant", rows),
                       lake.table("merchant_daily"))
    return lake


def publish(spark, lake, *dates: date) -> RunRecord:
    record = RunRecord(job=build_features.JOB, target_table="t", as_of=max(dates))
    build_features.publish_snapshots(spark, lake, record, "merchant", dates)
    return record


def stored(lake) -> dict[date, drift.Profile]:
    folder = lake.lake_root / quality.PROFILES / lake.table(TABLE)
    return {date.fromisoformat(p.stem): drift.from_json(p.read_text())
            for p in sorted(folder.glob("*.json"))}


def descriptions(record: RunRecord) -> list[str]:
    return [check[4] for check in record.checks]


def test_each_run_keeps_its_newest_profile_and_the_next_run_reads_it(spark, lake):
    publish(spark, lake, D - timedelta(days=2))
    first = stored(lake)
    assert list(first) == [D - timedelta(days=2)]
    assert first[D - timedelta(days=2)].partition_rows == MERCHANTS
    assert first[D - timedelta(days=2)].rows == MERCHANTS  # below the sample size: all rows

    # The file, not a query, is the next run's baseline: a doctored row count shows up.
    path = quality.profile_path(lake, lake.table(TABLE), D - timedelta(days=2))
    path.write_text(drift.to_json(dataclasses.replace(first[D - timedelta(days=2)],
                                                      partition_rows=40)))
    record = publish(spark, lake, D - timedelta(days=2), D - timedelta(days=1))
    assert "rows per as_of_date at least 20 (50% of the previous 40)" in descriptions(record)
    assert any(d.startswith("population stability index at most")
               and d.endswith(f"against the snapshot of {D - timedelta(days=2)}")
               for d in descriptions(record))
    # The restated date's profile no longer describes its rows: forgotten.
    assert list(stored(lake)) == [D - timedelta(days=1)]


def test_a_rerun_asks_the_table_and_a_blocked_run_keeps_the_store(spark, lake):
    before = stored(lake)
    # A rerun of the latest date: the previous date comes from the table (its profile was
    # forgotten when it was restated), and the rerun's own profile replaces the file.
    record = publish(spark, lake, D - timedelta(days=1))
    assert "rows per as_of_date at least 15 (50% of the previous 30)" in descriptions(record)
    assert list(stored(lake)) == [D - timedelta(days=1)]
    assert stored(lake) == before

    daily = spark.table(lake.table("merchant_daily")).localCheckpoint()
    delta_io.overwrite(spark, daily.withColumn("gmv", F.col("gmv") * 100),
                       lake.table("merchant_daily"))
    try:
        with pytest.raises(DataQualityError, match="population stability index at most 1"):
            publish(spark, lake, D)
        assert stored(lake) == before
    finally:
        delta_io.overwrite(spark, daily, lake.table("merchant_daily"))


def test_a_table_written_anew_starts_its_store_afresh(spark, lake):
    spark.sql(f"DROP TABLE {lake.table(TABLE)}")
    # The store still holds the dropped table's latest date: it must not be the baseline.
    record = publish(spark, lake, D)
    assert not any(d.startswith("rows per as_of_date") for d in descriptions(record))
    assert list(stored(lake)) == [D]
