"""The bad-input matrix (docs/quality.md): every class quarantined or blocked, with a clear
message, nothing published, no row lost.

Sources go through the real ingest job on one lake, one batch day per case. Derived and
output tables go through the same write-audit-publish path the jobs use
(``delta_io.replace_dates`` with a gate as its audit) against a published table.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from growth.expectations import suites
from growth.expectations.validate import DataQualityError
from growth.features.contracts import MERCHANTS
from growth.features.registry import MERCHANT_DAILY
from growth.jobs import build_features, delta_io, dq_report, ingest, quality
from growth.jobs.run_log import RunRecord
from tests.features import frames
from tests.features.test_ingest_rules import GOOD
from tests.helpers import fresh_lake, land, land_parents

D0 = date(2026, 6, 1)
GOOD_ROWS = 100


def day(k: int) -> date:
    return D0 + timedelta(days=k)


def orders(batch: date, n: int, prefix: str = "o", **change) -> list[dict]:
    """``n`` valid order lines placed on ``batch``; ``change`` overrides every row."""
    at = f"{batch} 10:00:00"
    return [{**GOOD, "order_id": f"{prefix}{batch:%m%d}-{i}", "ordered_at": at,
             "updated_at": at, "promised_delivery_date": str(batch + timedelta(days=4)),
             **change} for i in range(n)]


@pytest.fixture(scope="module")
def lake(spark, cfg, tmp_path_factory):
    """Parents and a first day of 100 orders: the volume baseline every case is held to."""
    lake = fresh_lake(spark, cfg, "bad_input", tmp_path_factory.mktemp("bad_input"))
    land_parents(spark, lake, D0)
    land(spark, lake.raw_root, "orders", day(1), orders(day(1), GOOD_ROWS))
    ingest.run(spark, lake, day(1), "orders", batch_from=day(1))
    return lake


def published(spark, lake, table):
    return (delta_io.current_version(spark, lake.table(table)),
            spark.table(lake.table(table)).count())


# (case, the bad row's change, reason code quarantined). A few bad rows in a normal batch
# are set aside and the rest is published: one normal batch carries them all.
QUARANTINED = [
    ("null key", dict(order_id=None), "null_key:order_id"),
    ("negative GMV", dict(amount="-12.5"), "out_of_range:amount"),
    ("future timestamp", dict(ordered_at="2027-01-01 00:00:00"), "future_event_time"),
    ("unknown merchant", dict(merchant_id="m404"), "unknown_merchant_id"),
    ("unparseable value", dict(quantity="two"), "unparseable_value:quantity"),
]


def test_bad_rows_are_quarantined_with_their_reasons_and_the_rest_published(spark, lake):
    batch = day(10)
    bad = [{**row, **change} for row, (_, change, _) in
           zip(orders(batch, len(QUARANTINED), prefix="bad"), QUARANTINED, strict=True)]
    land(spark, lake.raw_root, "orders", batch, orders(batch, GOOD_ROWS) + bad)
    silver_before = spark.table(lake.table("silver_orders")).count()

    counts = ingest.run(spark, lake, batch, "orders", batch_from=batch)

    assert counts == ingest.IngestCounts(GOOD_ROWS + 5, GOOD_ROWS, 5, 0)
    assert spark.table(lake.table("silver_orders")).count() == silver_before + GOOD_ROWS
    quarantined = spark.table(lake.table("quarantine")).where(F.col("batch_date") == batch)
    assert sorted(r.reason for r in quarantined.collect()) == sorted(r for _, _, r in QUARANTINED)


def test_a_duplicated_order_line_is_kept_once_and_counted(spark, lake):
    batch = day(20)
    rows = orders(batch, GOOD_ROWS)
    land(spark, lake.raw_root, "orders", batch, rows + rows[:3])
    counts = ingest.run(spark, lake, batch, "orders", batch_from=batch)
    assert counts == ingest.IngestCounts(GOOD_ROWS + 3, GOOD_ROWS, 0, 3)
    silver = spark.table(lake.table("silver_orders")).where(F.to_date("ordered_at") == batch)
    assert silver.count() == silver.select("order_id", "line_id").distinct().count() == GOOD_ROWS


# (case, batches to land {day offset: rows}, the check that blocks, its observed value).
BLOCKED = [
    ("empty batch", {0: []}, "the orders batch is not empty", "observed: 0"),
    ("missing day", {0: GOOD_ROWS, 2: GOOD_ROWS}, "a row for every _batch_date",
     "observed: missing 20"),
    ("volume drop of 90%", {0: 4}, "rows per _batch_date at least", "row_count=4"),
    ("a column of all nulls", {0: ("amount", None)}, "rows quarantined at most 5%",
     "100 of 100 rows (100.0%), most often missing_value:amount"),
    ("type drift", {0: ("amount", "12,50")}, "rows quarantined at most 5%",
     "100 of 100 rows (100.0%), most often unparseable_value:amount"),
    ("quarantine spike", {0: ("some", "-1")}, "rows quarantined at most 5%",
     "20 of 100 rows (20.0%), most often out_of_range:amount"),
    # Earlier batches had the column: it reads as null in this one, and every row says so.
    ("a column missing", {0: ("drop", "amount")}, "rows quarantined at most 5%",
     "100 of 100 rows (100.0%), most often missing_value:amount"),
]


def land_case(spark, lake, first: date, batches: dict) -> date:
    for offset, spec in batches.items():
        batch = first + timedelta(days=offset)
        if isinstance(spec, int):
            rows = orders(batch, spec)
        elif isinstance(spec, list):
            rows = spec
        elif spec[0] == "some":  # 20% of the rows break a rule
            rows = orders(batch, 80) + orders(batch, 20, prefix="bad", amount=spec[1])
        elif spec[0] == "drop":
            land(spark, lake.raw_root, "orders", batch, orders(batch, GOOD_ROWS), drop=(spec[1],))
            continue
        else:
            rows = orders(batch, GOOD_ROWS, **{spec[0]: spec[1]})
        land(spark, lake.raw_root, "orders", batch, rows)
    return first + timedelta(days=max(batches))


@pytest.mark.parametrize(("k", "case", "batches", "check", "observed"),
                         [(30 + 5 * i, *c) for i, c in enumerate(BLOCKED)],
                         ids=[c[0] for c in BLOCKED])
def test_a_bad_batch_is_blocked_and_nothing_is_published(
    spark, lake, k, case, batches, check, observed
):
    first = day(k)
    last = land_case(spark, lake, first, batches)
    before = [published(spark, lake, t) for t in ("silver_orders", "quarantine")]

    with pytest.raises(DataQualityError) as raised:
        ingest.run(spark, lake, last, "orders", batch_from=first)

    message = str(raised.value)
    assert message.startswith(f"data-quality gate failed for {lake.table('silver_orders')}")
    assert check in message and observed in message and "nothing was published" in message
    assert [published(spark, lake, t) for t in ("silver_orders", "quarantine")] == before
    log = (spark.table(lake.table("run_log")).orderBy(F.col("started_at").desc())
           .select("status", "message", "rows_in").first())
    assert log.status == "failed" and check in log.message
    results = spark.table(lake.table("dq_results")).where(
        (F.col("as_of") == last) & ~F.col("success") & (F.col("severity") == "error"))
    assert check in {r.description[:len(check)] for r in results.collect()}
    # No row lost: every landed row was counted before the gate, and stays in the landing
    # zone for the rerun once the batch is fixed.
    landed = spark.read.parquet(str(lake.raw_root / "orders")).where(
        F.col("batch_date").between(first, last)).count()
    assert log.rows_in == landed


def test_a_fixed_batch_passes_on_rerun(spark, lake):
    batch = day(75)
    land(spark, lake.raw_root, "orders", batch, orders(batch, 4))
    with pytest.raises(DataQualityError):
        ingest.run(spark, lake, batch, "orders", batch_from=batch)
    land(spark, lake.raw_root, "orders", batch, orders(batch, GOOD_ROWS))  # redelivered whole
    assert ingest.run(spark, lake, batch, "orders", batch_from=batch).accepted == GOOD_ROWS

    # growth dq: the latest validation of each suite passed its error checks (warnings: the
    # test orders never fill the nullable creator and delivery columns); the blocked
    # validation is listed.
    results = dq_report.results(spark, lake, batch, "silver_orders")
    summary = [(r.suite, r.checks - r.passed, r.errors, r.warnings)
               for r in dq_report.summary(results).collect()]
    assert summary == [("orders batch", 0, 0, 0), ("silver_orders", 3, 0, 3)]
    failures = [(r.severity, r.description.split(" at least")[0], r.column_name, r.observed_value)
                for r in dq_report.failures(results).collect()]
    assert sorted(failures) == [
        ("error", "rows per _batch_date", None, f"1 unexpected row(s): _batch_date={batch}, "
         "row_count=4"),
        ("warn", "not null on every row", "creator_id", f"{GOOD_ROWS} of {GOOD_ROWS} rows (100%)"),
        ("warn", "not null on every row", "delivered_at", f"{GOOD_ROWS} of {GOOD_ROWS} rows (100%)"),
        ("warn", "not null on every row", "delivery_outcome",
         f"{GOOD_ROWS} of {GOOD_ROWS} rows (100%)"),
    ]


# Derived and output tables: the write-audit-publish path, against a published table.

def publish(spark, lake, table, df, column, expectations):
    record = RunRecord(job="test", target_table=lake.table(table), as_of=df.first()[column])

    def audit(candidate, rows):
        quality.gate(spark, lake, record, lake.table(table), candidate, expectations, rows)

    try:
        return delta_io.replace_dates(spark, df, lake.table(table),
                                      column, sorted({r[0] for r in df.select(column).collect()}),
                                      audit)
    finally:
        record.status = "test"
        record.write(spark, lake)


def assert_blocked(spark, lake, table, df, column, expectations, check):
    before = published(spark, lake, table)
    rows_before = spark.table(lake.table(table)).collect()
    with pytest.raises(DataQualityError, match=check):
        publish(spark, lake, table, df, column, expectations)
    assert published(spark, lake, table) == before
    assertDataFrameEqual(spark.table(lake.table(table)), rows_before)


def silver_merchants(spark, lake, n: int) -> None:
    t = datetime(2026, 1, 1)
    rows = [(f"m{i}", f"M{i}", "toys", "north", "en", t, t) for i in range(n)]
    delta_io.overwrite(spark, spark.createDataFrame(rows, MERCHANTS.ddl),
                       lake.table("silver_merchants"))


def test_a_feature_exploding_after_a_unit_change_is_blocked(spark, cfg, tmp_path):
    lake = fresh_lake(spark, cfg, "bad_features", tmp_path)
    d = date(2026, 10, 31)
    silver_merchants(spark, lake, 30)
    rows = [dict(merchant_id=f"m{i}", date=d - timedelta(days=k), gmv=10.0 * (i + 1),
                 orders=1.0, order_lines=1.0, order_days=1.0)
            for i in range(30) for k in range(1, 40, 3)]
    daily = frames.daily(spark, "merchant", rows)
    delta_io.overwrite(spark, daily, lake.table("merchant_daily"))
    record = RunRecord(job=build_features.JOB, target_table="t", as_of=d)
    build_features.publish_snapshots(spark, lake, record, "merchant", [d - timedelta(days=1)])
    before = published(spark, lake, "merchant_features")

    # The source switched to cents and the daily table was rebuilt from it.
    delta_io.overwrite(spark, daily.withColumn("gmv", F.col("gmv") * 100),
                       lake.table("merchant_daily"))
    with pytest.raises(DataQualityError) as raised:
        build_features.publish_snapshots(spark, lake, record, "merchant", [d])

    # Every GMV window moved to the top bin (other features of this small synthetic history
    # may shift from one day to the next as well: only the GMV ones are asserted).
    blocked = {r.column for r in raised.value.results if r.blocking}
    assert {f"gmv_sum_{w}d" for w in (7, 30, 90, 180)} <= blocked
    assert "population stability index at most 1 against the snapshot of" in str(raised.value)
    assert "[gmv_sum_30d]" in str(raised.value)
    assert published(spark, lake, "merchant_features") == before
    assert build_features.published_dates(spark, lake.table("merchant_features")) == {
        d - timedelta(days=1)}


D = date(2026, 10, 31)


def test_schema_drift_in_a_daily_table_is_blocked(spark, lake):
    good = frames.daily(spark, "merchant", [dict(merchant_id="m1", date=D, gmv=1.0)])
    delta_io.overwrite(spark, good, lake.table("merchant_daily_drift"))
    drifted = good.withColumn("gmv", F.col("gmv").cast("string"))
    schema = quality.published_schema(spark, lake.table("merchant_daily_drift"))
    assert_blocked(spark, lake, "merchant_daily_drift", drifted, "date",
                   suites.daily(MERCHANT_DAILY, D, schema, None, 0.5),
                   "column has its declared type double")


def test_a_tier_outside_the_set_is_blocked(spark, lake):
    ddl = "merchant_id string, as_of_date date, tier string, previous_tier string, score double"
    good = spark.createDataFrame([("m1", D, "A", "B", 3.0)], ddl)
    suite = suites.tiers("merchant", "merchant_id", D, None, None, 0.5)
    publish(spark, lake, "merchant_tiers", good, "as_of_date", suite)
    bad = spark.createDataFrame([("m1", D, "Platinum", "A", 3.0)], ddl)
    assert_blocked(spark, lake, "merchant_tiers", bad, "as_of_date", suite,
                   "values in the allowed set")


OUTREACH = ("as_of_date date, campaign string, rank int, entity_type string, entity_id string, "
            "manager_id string, tier string, holdout boolean")


@pytest.mark.parametrize(("case", "rows", "check"), [
    ("duplicate rank", [(D, "grow", 1, "merchant", "m1", "am1", "A", False),
                        (D, "grow", 1, "merchant", "m2", "am1", "A", False)],
     "rank unique and running 1..n"),
    ("opted-out merchant listed", [(D, "grow", 1, "merchant", "m9", "am1", "A", False)],
     "no suppressed entity listed"),
    ("capacity exceeded", [(D, "grow", r, "merchant", f"m{r}", "am1", "A", False)
                           for r in range(1, 4)],
     "no account manager over capacity"),
])
def test_a_bad_outreach_list_is_blocked(spark, lake, case, rows, check):
    suite = suites.outreach_lists(D, None, [("merchant", "m9")], {"am1": 2})
    if not spark.catalog.tableExists(lake.table("outreach_lists")):
        good = spark.createDataFrame([(D, "grow", 1, "merchant", "m1", "am1", "A", False)],
                                     OUTREACH)
        publish(spark, lake, "outreach_lists", good, "as_of_date", suite)
    assert_blocked(spark, lake, "outreach_lists", spark.createDataFrame(rows, OUTREACH),
                   "as_of_date", suite, check)
