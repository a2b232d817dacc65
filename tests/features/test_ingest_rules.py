"""Contract enforcement on literal frames: every bad-row class, typing, versions, edges."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from growth.features.contracts import MERCHANTS, ORDERS, TRAFFIC_DAILY
from growth.features.ingest_rules import (
    ENTITY_PARENT,
    MissingColumnsError,
    accepted_rows,
    annotate_batch,
    quarantine_rows,
    rank_versions,
    split_columns,
)

BATCH = date(2026, 5, 1)
GOOD = dict(
    order_id="o1", line_id="1", ordered_at="2026-05-01 10:00:00", merchant_id="m1",
    buyer_id="b1", product_id="p1", creator_id=None, channel="shop", amount="10.5",
    quantity="1", status="placed", promised_delivery_date="2026-05-05", delivered_at=None,
    delivery_outcome=None, updated_at="2026-05-01 10:00:00",
)


def raw_orders(spark, rows, batch=BATCH):
    cols = ORDERS.column_names
    ddl = ", ".join(f"`{c}` string" for c in cols)
    return spark.createDataFrame([tuple(r.get(c) for c in cols) for r in rows], ddl).withColumn(
        "_batch_date", F.lit(batch)
    )


@pytest.fixture()
def parents(spark):
    return {
        "merchant_id": spark.createDataFrame([("m1",)], "merchant_id string"),
        "product_id": spark.createDataFrame([("p1",)], "product_id string"),
        "creator_id": spark.createDataFrame([("c1",)], "creator_id string"),
    }


# One row per bad-row class, told apart by line_id; the expected reasons are exact.
BAD_ROWS = [
    ({"order_id": None, "line_id": "2"}, ["null_key:order_id"]),
    ({"order_id": "  ", "line_id": "3"}, ["null_key:order_id"]),
    ({"order_id": "o 1;drop", "line_id": "4"}, ["malformed_key:order_id"]),
    ({"line_id": "5", "amount": "-3"}, ["out_of_range:amount"]),
    ({"line_id": "6", "amount": "ten"}, ["unparseable_value:amount"]),
    ({"line_id": "7", "ordered_at": "2026-05-02 00:00:00", "updated_at": "2026-05-02 00:00:00"},
     ["future_event_time"]),
    ({"line_id": "8", "merchant_id": "m404"}, ["unknown_merchant_id"]),
    ({"line_id": "9", "creator_id": "c404"}, ["unknown_creator_id"]),
    ({"line_id": "10", "status": "teleported"}, ["not_allowed:status"]),
    ({"line_id": "11", "status": "delivered"}, ["impossible_status"]),
    ({"line_id": "12", "buyer_id": None}, ["missing_value:buyer_id"]),
    ({"line_id": "13", "quantity": "0"}, ["out_of_range:quantity"]),
    ({"line_id": "14", "ordered_at": "yesterday"}, ["unparseable_value:ordered_at"]),
    ({"line_id": "15", "delivered_at": "2026-04-30 09:00:00", "status": "refunded"},
     ["impossible_dates"]),
    ({"line_id": "16", "channel": "telepathy", "amount": "-1"},
     ["not_allowed:channel", "out_of_range:amount"]),
]


def test_every_bad_row_class_gets_its_reasons_and_good_rows_none(spark, parents):
    rows = [GOOD, {**GOOD, "line_id": "17", "creator_id": "c1", "channel": "video"}]
    rows += [{**GOOD, **change} for change, _ in BAD_ROWS]
    out = annotate_batch(raw_orders(spark, rows), ORDERS, parents)

    expected = [("o1", 1, [], None), ("o1", 17, [], None)] + [
        (
            change.get("order_id", "o1") if change.get("order_id", "o1") else None,
            int(change["line_id"]),
            reasons,
            reasons[0],
        )
        for change, reasons in BAD_ROWS
    ]
    expected = [
        (None if oid is not None and not oid.strip() else oid, line, reasons, first)
        for oid, line, reasons, first in expected
    ]
    assertDataFrameEqual(
        out.select("order_id", "line_id", "_reject_reasons", "_reject_reason"),
        spark.createDataFrame(
            expected,
            "order_id string, line_id int, _reject_reasons array<string>, _reject_reason string",
        ),
    )


def test_strings_are_coerced_to_contract_types(spark, parents):
    out = annotate_batch(raw_orders(spark, [GOOD]), ORDERS, parents)
    expected = spark.createDataFrame(
        [("o1", 1, datetime(2026, 5, 1, 10), 10.5, 1, date(2026, 5, 5), None)],
        "order_id string, line_id int, ordered_at timestamp, amount double, quantity int, "
        "promised_delivery_date date, delivered_at timestamp",
    )
    assertDataFrameEqual(
        out.select("order_id", "line_id", "ordered_at", "amount", "quantity",
                   "promised_delivery_date", "delivered_at"),
        expected,
    )


def test_rejected_raw_row_is_kept_verbatim_in_json(spark, parents):
    out = annotate_batch(raw_orders(spark, [{**GOOD, "amount": "ten"}]), ORDERS, parents)
    raw = out.select("_raw").first()[0]
    assert '"amount":"ten"' in raw and '"order_id":"o1"' in raw


def test_missing_required_column_names_it(spark, parents):
    df = raw_orders(spark, [GOOD]).drop("amount", "status")
    with pytest.raises(MissingColumnsError, match="amount, status"):
        annotate_batch(df, ORDERS, parents)


def test_extra_columns_are_reported_and_kept_out_of_typed_output(spark, parents):
    rows = [GOOD, {**GOOD, "line_id": "2", "amount": "-1"}]
    df = raw_orders(spark, rows).withColumn("coupon", F.lit("X1"))
    assert split_columns(df.columns, ORDERS) == ["coupon"]
    out = annotate_batch(df, ORDERS, parents)
    assert "coupon" not in out.columns
    # The row as received (extras included) is kept for rejected rows only.
    raws = {r.line_id: r._raw for r in out.select("line_id", "_raw").collect()}
    assert raws[1] is None
    assert '"coupon":"X1"' in raws[2] and '"amount":"-1"' in raws[2]


def test_empty_batch_keeps_the_schema(spark, parents):
    out = rank_versions(annotate_batch(raw_orders(spark, []), ORDERS, parents), ORDERS)
    assert out.isEmpty()
    assert out.schema["line_id"].dataType.simpleString() == "int"
    assert {"_reject_reason", "_version_rank", "_row_hash", "_raw"} <= set(out.columns)


def merchants_raw(spark, rows):
    cols = (*MERCHANTS.column_names, "_batch_date")
    return spark.createDataFrame(
        rows, ", ".join(f"`{c}` {'date' if c == '_batch_date' else 'string'}" for c in cols)
    )


def test_latest_version_wins_and_late_old_versions_lose(spark):
    def row(mid, category, updated, batch):
        return (mid, "n", category, "north", "en", "2026-01-01 00:00:00", updated, batch)

    rows = [
        row("m1", "old", "2026-05-01 00:00:00", date(2026, 5, 1)),
        row("m1", "new", "2026-05-02 00:00:00", date(2026, 5, 2)),
        # An older version landing later must not win.
        row("m1", "stale", "2026-04-30 00:00:00", date(2026, 5, 3)),
        # Same version twice: the later batch wins.
        row("m2", "first", "2026-05-01 00:00:00", date(2026, 5, 1)),
        row("m2", "second", "2026-05-01 00:00:00", date(2026, 5, 2)),
        # Exact duplicate rows: one is kept, one counted as duplicate.
        row("m3", "same", "2026-05-01 00:00:00", date(2026, 5, 1)),
        row("m3", "same", "2026-05-01 00:00:00", date(2026, 5, 1)),
        # A rejected row is nobody's version.
        row("m4", None, "2026-05-01 00:00:00", date(2026, 5, 1)),
    ]
    out = rank_versions(annotate_batch(merchants_raw(spark, rows), MERCHANTS, {}), MERCHANTS)
    assertDataFrameEqual(
        out.select("merchant_id", "category", "_version_rank"),
        spark.createDataFrame(
            [("m1", "new", 1), ("m1", "old", 2), ("m1", "stale", 3),
             ("m2", "second", 1), ("m2", "first", 2),
             ("m3", "same", 1), ("m3", "same", 2),
             ("m4", None, None)],
            "merchant_id string, category string, _version_rank int",
        ),
    )


def test_entity_references_must_name_a_known_merchant_or_creator(spark):
    cols = TRAFFIC_DAILY.column_names
    rows = [
        ("2026-05-01", "merchant", "m1", "100", "5"),
        ("2026-05-01", "creator", "c1", "50", "2"),
        ("2026-05-01", "creator", "m1", "10", "1"),  # a merchant id typed as a creator
        ("2026-05-01", "merchant", "m404", "10", "1"),
        ("2026-05-01", "shop", "m1", "10", "1"),
        ("2026-05-01", "merchant", "m1x", "10", "20"),
    ]
    raw = spark.createDataFrame(rows, ", ".join(f"`{c}` string" for c in cols)).withColumn(
        "_batch_date", F.lit(BATCH)
    )
    known = spark.createDataFrame([("merchant", "m1"), ("creator", "c1")], "t string, i string")
    out = annotate_batch(raw, TRAFFIC_DAILY, {ENTITY_PARENT: known})
    assertDataFrameEqual(
        out.select("entity_type", "entity_id", "_reject_reasons"),
        spark.createDataFrame(
            [
                ("merchant", "m1", []),
                ("creator", "c1", []),
                ("creator", "m1", ["unknown_entity"]),
                ("merchant", "m404", ["unknown_entity"]),
                ("shop", "m1", ["not_allowed:entity_type", "unknown_entity"]),
                ("merchant", "m1x", ["impossible_counts", "unknown_entity"]),
            ],
            "entity_type string, entity_id string, _reject_reasons array<string>",
        ),
    )


def test_accepted_and_quarantine_rows_split_a_batch_without_loss(spark):
    def row(mid, region, updated):
        return (mid, "n", "toys", region, "en", "2026-01-01 00:00:00", updated, BATCH)

    rows = [
        row("m1", "north", "2026-04-01 00:00:00"),
        row("m1", "south", "2026-04-02 00:00:00"),
        row("m2", None, "2026-04-01 00:00:00"),
    ]
    ranked = rank_versions(annotate_batch(merchants_raw(spark, rows), MERCHANTS, {}), MERCHANTS)
    accepted = accepted_rows(ranked, MERCHANTS)
    assert accepted.columns == [*MERCHANTS.column_names, "_batch_date", "_row_hash"]
    assertDataFrameEqual(
        accepted.select("merchant_id", "region", "_batch_date"),
        spark.createDataFrame([("m1", "south", BATCH)],
                              "merchant_id string, region string, _batch_date date"),
    )
    quarantined = quarantine_rows(ranked, "merchants", "run-1")
    assertDataFrameEqual(
        quarantined.select("source", "batch_date", "reason_code", "reason", "reasons", "run_id"),
        spark.createDataFrame(
            [("merchants", BATCH, "missing_value", "missing_value:region",
              ["missing_value:region"], "run-1")],
            "source string, batch_date date, reason_code string, reason string, "
            "reasons array<string>, run_id string",
        ),
    )
    assert '"merchant_id":"m2"' in quarantined.first().raw
