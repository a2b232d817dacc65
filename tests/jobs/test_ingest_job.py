"""The ingest job against a real lake: quarantine, reconciliation, idempotency, failures."""

from __future__ import annotations

import dataclasses
import logging
from datetime import date

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from growth.features.ingest_rules import MissingColumnsError
from growth.jobs import delta_io, ingest
from growth.jobs.raw import RawDataMissingError
from tests import helpers
from tests.features.test_ingest_rules import BAD_ROWS, GOOD
from tests.helpers import land

D1, D2 = date(2026, 5, 1), date(2026, 5, 2)
MERCHANT = helpers.PARENT_MERCHANT


@pytest.fixture()
def lake(spark, cfg, tmp_path, request):
    """A fresh database and raw zone per test, on the shared session."""
    name = f"t_{request.node.name[:40].lower()}".replace("[", "_").replace("]", "_")
    return helpers.fresh_lake(spark, cfg, name, tmp_path)


def land_parents(spark, lake):
    helpers.land_parents(spark, lake, D1)


def tolerant(lake):
    """This test is about quarantine itself: let any share of the batch be rejected (the
    gate on the share has tests of its own in tests/jobs/test_bad_input.py)."""
    return dataclasses.replace(lake, dq_max_quarantine_share=1.0)


def test_bad_batch_is_quarantined_with_reasons_and_reconciles(spark, lake):
    lake = tolerant(lake)
    land_parents(spark, lake)
    good = [GOOD, {**GOOD, "line_id": "17", "creator_id": "c1", "channel": "video"}]
    land(spark, lake.raw_root, "orders", D1, good + [{**GOOD, **c} for c, _ in BAD_ROWS])

    counts = ingest.run(spark, lake, D1, "orders")

    assert counts == ingest.IngestCounts(rows_in=17, accepted=2, quarantined=15, duplicates=0)
    assertDataFrameEqual(
        spark.table(lake.table("silver_orders")).select("order_id", "line_id", "channel"),
        spark.createDataFrame([("o1", 1, "shop"), ("o1", 17, "video")],
                              "order_id string, line_id int, channel string"),
    )
    quarantined = spark.table(lake.table("quarantine")).where("source = 'orders'").select(
        F.get_json_object("raw", "$.line_id").cast("int").alias("line_id"), "reasons",
        "reason_code", "batch_date",
    )
    assertDataFrameEqual(
        quarantined,
        spark.createDataFrame(
            [(int(c["line_id"]), r, r[0].split(":")[0], D1) for c, r in BAD_ROWS],
            "line_id int, reasons array<string>, reason_code string, batch_date date",
        ),
    )
    log_row = (
        spark.table(lake.table("run_log"))
        .where(F.col("target_table") == lake.table("silver_orders"))
        .select("rows_in", "rows_accepted", "rows_quarantined", "rows_duplicate",
                "rows_inserted", "status")
        .collect()
    )
    assert [tuple(r) for r in log_row] == [(17, 2, 15, 0, 2, "success")]


def test_ingesting_the_same_batch_twice_changes_nothing(spark, lake):
    lake = tolerant(lake)
    land_parents(spark, lake)
    rows = [GOOD, GOOD, {**GOOD, "line_id": "2"}, {**GOOD, "line_id": "3", "amount": "-1"}]
    land(spark, lake.raw_root, "orders", D1, rows)
    first = ingest.run(spark, lake, D1, "orders")
    silver_before = spark.table(lake.table("silver_orders")).collect()
    quarantine_before = spark.table(lake.table("quarantine")).drop("run_id").collect()

    second = ingest.run(spark, lake, D1, "orders", batch_from=D1)

    assert first == second == ingest.IngestCounts(4, 2, 1, 1)
    assertDataFrameEqual(spark.table(lake.table("silver_orders")), silver_before)
    assertDataFrameEqual(spark.table(lake.table("quarantine")).drop("run_id"), quarantine_before)
    last = (
        spark.table(lake.table("run_log"))
        .where(F.col("target_table") == lake.table("silver_orders"))
        .orderBy(F.col("started_at").desc())
        .select("rows_inserted", "rows_updated", "rows_unchanged")
        .first()
    )
    assert tuple(last) == (0, 0, 2)


def test_a_newer_version_in_a_later_batch_replaces_the_stored_row(spark, lake):
    land(spark, lake.raw_root, "merchants", D1, [MERCHANT])
    ingest.run(spark, lake, D1, "merchants")
    land(spark, lake.raw_root, "merchants", D2, [
        {**MERCHANT, "category": "books", "updated_at": "2026-05-02 08:00:00"},
        {**MERCHANT, "merchant_id": "m2"},
    ])

    counts = ingest.run(spark, lake, D2, "merchants")  # catches up from D1 + 1

    assert counts == ingest.IngestCounts(2, 2, 0, 0)
    assertDataFrameEqual(
        spark.table(lake.table("silver_merchants")).select("merchant_id", "category",
                                                           "_batch_date"),
        spark.createDataFrame([("m1", "books", D2), ("m2", "toys", D2)],
                              "merchant_id string, category string, _batch_date date"),
    )


def test_missing_column_stops_the_job_and_writes_nothing(spark, lake):
    land(spark, lake.raw_root, "merchants", D1, [MERCHANT])
    ingest.run(spark, lake, D1, "merchants")
    silver, quarantine = lake.table("silver_merchants"), lake.table("quarantine")
    versions = (delta_io.current_version(spark, silver), delta_io.current_version(spark, quarantine))
    # Every landed file now lacks the region column.
    land(spark, lake.raw_root, "merchants", D1, [MERCHANT], drop=("region",))
    land(spark, lake.raw_root, "merchants", D2, [MERCHANT], drop=("region",))

    with pytest.raises(MissingColumnsError, match="region"):
        ingest.run(spark, lake, D2, "merchants", batch_from=D1)

    assert versions == (delta_io.current_version(spark, silver),
                        delta_io.current_version(spark, quarantine))
    failed = spark.table(lake.table("run_log")).where("status = 'failed'").select("message")
    assert "region" in failed.first()[0]


def test_extra_column_is_kept_out_of_silver_with_a_warning(spark, lake, caplog):
    land(spark, lake.raw_root, "merchants", D1, [{**MERCHANT, "vip": "yes"}], extra=("vip",))
    with caplog.at_level(logging.WARNING, logger="growth.jobs.ingest"):
        ingest.run(spark, lake, D1, "merchants")
    assert "vip" not in spark.table(lake.table("silver_merchants")).columns
    assert any("vip" in r.getMessage() for r in caplog.records)


def test_no_batch_for_the_day_is_an_empty_run_not_an_error(spark, lake):
    land(spark, lake.raw_root, "merchants", D1, [MERCHANT])
    ingest.run(spark, lake, D1, "merchants")
    counts = ingest.run(spark, lake, D2, "merchants")
    assert counts == ingest.IngestCounts(0, 0, 0, 0)
    runs = spark.table(lake.table("run_log")).orderBy("started_at").select(
        "status", "rows_inserted", "rows_updated", "rows_unchanged"
    )
    assert [tuple(r) for r in runs.collect()] == [("success", 1, 0, 0), ("empty", 0, 0, 0)]


def test_a_source_never_landed_says_where_to_put_it(spark, lake):
    with pytest.raises(RawDataMissingError, match="growth simulate"):
        ingest.run(spark, lake, D1, "merchants")


def test_unknown_parent_table_says_which_source_to_ingest_first(spark, lake):
    land(spark, lake.raw_root, "products", D1, [])
    with pytest.raises(ingest.ParentTableMissingError, match="ingest 'merchants' first"):
        ingest.run(spark, lake, D1, "products")


def test_a_from_date_after_the_run_date_is_refused_before_any_work(spark, lake):
    with pytest.raises(ingest.RunWindowError, match="--from 2026-05-02 is after --as-of 2026-05-01"):
        ingest.run(spark, lake, D1, "merchants", batch_from=D2)
    assert not spark.catalog.tableExists(lake.table("run_log"))
