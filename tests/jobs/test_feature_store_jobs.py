"""Feature store jobs on a simulated marketplace: incremental runs equal a full recompute.

Runs on the small profile in ``make test``; ``make test-demo`` runs the same module on the
demo profile (2,000 merchants, 10,000 creators) through ``GROWTH_TEST_PROFILE=demo``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, date, datetime, timedelta

import pytest
from pyspark.sql import DataFrame

from growth.features.compare import row_differences
from growth.features.freshness import table_freshness
from growth.features.registry import DAILY_TABLES, distinct_count_tolerances
from growth.features.windows import snapshot_features
from growth.jobs import (
    build_daily,
    build_features,
    build_labels,
    build_training_set,
    delta_io,
    ingest,
    simulate,
)
from growth.jobs.build_daily import SilverMissingError
from growth.layout import silver_table

PROFILE = os.environ.get("GROWTH_TEST_PROFILE", "small")
END = date(2026, 10, 31)
FIRST_RUN = END - timedelta(days=2)
INCREMENTAL_DAYS = [FIRST_RUN + timedelta(days=k) for k in range(1, 3)]
PARENTS = ("merchants", "creators", "account_managers", "products")
# What the feature store reads, arriving day by day (opt-outs are read by outreach only).
DAILY_SOURCES = ("orders", "reviews", "traffic_daily", "creator_daily_stats", "outreach_events")


def assert_same_rows(
    actual: DataFrame, expected: DataFrame, keys: list[str], approx: dict | None = None
) -> None:
    """Equal row for row, whatever the size (see ``row_differences`` for the tolerance)."""
    differences = row_differences(actual, expected, keys, approx=approx)
    assert differences.count() == 0, differences.take(5)


@pytest.fixture(scope="module")
def lake(spark, cfg, tmp_path_factory):
    """Small marketplace: ingest and build up to END - 2, then one day at a time."""
    small = dataclasses.replace(
        cfg, lake_root=tmp_path_factory.mktemp("fs-lake"), database=f"fs_{PROFILE}",
        label_horizon_days=14,
    )
    spark.sql(f"CREATE DATABASE IF NOT EXISTS fs_{PROFILE}")
    with pytest.raises(SilverMissingError, match="ingest it first"):
        build_daily.run(spark, small, FIRST_RUN)
    simulate.run(spark, small, PROFILE, 7, END)
    for source in PARENTS:  # entities up front: only activity arrives day by day here
        ingest.run(spark, small, END, source)
    recomputed: dict[date, list[date] | None] = {}
    for day in [FIRST_RUN, *INCREMENTAL_DAYS]:
        for source in DAILY_SOURCES:
            ingest.run(spark, small, day, source)
        recomputed[day] = build_daily.run(spark, small, day)
        build_features.run(spark, small, day)
        build_labels.run(spark, small, day)
    return small, recomputed


def test_daily_runs_recompute_only_changed_days_including_late_ones(lake):
    _, recomputed = lake
    assert recomputed[FIRST_RUN] is None  # first run: full rebuild
    for day in INCREMENTAL_DAYS:
        assert recomputed[day] and max(recomputed[day]) == day
    # late orders were folded into the earlier days they belong to
    assert any(min(recomputed[day]) < day for day in INCREMENTAL_DAYS)


def test_incremental_daily_tables_equal_a_full_recompute(spark, lake):
    small, _ = lake
    merchants, creators = build_daily.build(spark, small, None)
    for table, full in ((DAILY_TABLES["merchant"], merchants), (DAILY_TABLES["creator"], creators)):
        assert_same_rows(spark.table(small.table(table.name)), full, [table.key, "date"])


def test_incremental_snapshots_equal_a_full_recompute(spark, lake):
    small, _ = lake
    merchants, creators = build_daily.build(spark, small, None)
    dates = [FIRST_RUN, *INCREMENTAL_DAYS]
    for entity, full_daily in (("merchant", merchants), ("creator", creators)):
        entities = spark.table(small.table(silver_table(f"{entity}s")))
        expected = snapshot_features(full_daily, entities, entity, dates)
        published = spark.table(small.table(f"{entity}_features"))
        assert sorted(r[0] for r in published.select("as_of_date").distinct().collect()) == dates
        assert_same_rows(published, expected, [f"{entity}_id", "as_of_date"],
                         distinct_count_tolerances(entity))


def test_rerunning_a_day_changes_nothing(spark, lake):
    small, _ = lake
    before = {
        t: spark.table(small.table(t)).count()
        for t in ("merchant_daily", "creator_daily", "merchant_features", "merchant_labels")
    }
    assert build_daily.run(spark, small, END) == []
    build_features.run(spark, small, END)
    build_labels.run(spark, small, END)
    after = {t: spark.table(small.table(t)).count() for t in before}
    assert after == before


def test_labels_and_training_set(spark, lake):
    small, _ = lake
    labels = spark.table(small.table("merchant_labels"))
    cutoffs = sorted(r[0] for r in labels.select("as_of_date").distinct().collect())
    assert cutoffs == [d - timedelta(days=14) for d in [FIRST_RUN, *INCREMENTAL_DAYS]]
    cut = [END - timedelta(days=14 + 7 * k) for k in range(3)]
    rows = build_training_set.run(spark, small, END, "merchant", cut)
    training = spark.table(small.table("merchant_training_set"))
    assert rows == training.count() > 0
    assert sorted(r[0] for r in training.select("as_of_date").distinct().collect()) == sorted(cut)
    assert training.where("future_value IS NULL OR gmv_sum_30d IS NULL").count() == 0
    with pytest.raises(ingest.RunWindowError, match="not known yet"):
        build_training_set.run(spark, small, END, "merchant", [END - timedelta(days=3)])
    # Cutoffs before the first day of data have nothing to learn from: skipped, or refused
    # when no other is left.
    first = spark.table(small.table("merchant_daily")).agg({"date": "min"}).first()[0]
    before = [first - timedelta(days=1), first - timedelta(days=30)]
    assert build_training_set.run(spark, small, END, "merchant", [*before, *cut]) == rows
    assert sorted(r[0] for r in training.select("as_of_date").distinct().collect()) == sorted(cut)
    with pytest.raises(ingest.RunWindowError, match=f"precedes the first day of data.*{first}"):
        build_training_set.run(spark, small, END, "merchant", before)


def test_each_run_logs_every_table_it_published_at_its_version(spark, lake):
    small, _ = lake
    runs = (spark.table(small.table("run_log")).where("status IN ('success', 'empty')")
            .orderBy("finished_at").collect())
    newest: dict[str, tuple[str, int]] = {}  # table -> (job, version) of the last run naming it
    for run in runs:
        for table, version in json.loads(run.versions_written or "{}").items():
            newest[table] = (run.job, version)
        if run.job in ("build_daily", "build_features", "build_labels"):
            # One run publishes both entities' tables; its target is the merchants' one.
            assert len(json.loads(run.versions_written)) == 2, run
            assert run.table_version == json.loads(run.versions_written)[run.target_table]
    for table in ("merchant_daily", "creator_daily", "merchant_features", "creator_features",
                  "merchant_labels", "creator_labels", "silver_orders",
                  "merchant_training_set"):
        name = small.table(table)
        assert newest[name][1] == delta_io.current_version(spark, name), (table, newest[name])
    fresh = {r.target_table for r in table_freshness(spark.table(small.table("run_log")),
                                                     datetime.now(UTC)).collect()}
    assert {small.table(t) for t in ("creator_daily", "creator_features", "creator_labels",
                                     "silver_orders")} <= fresh
