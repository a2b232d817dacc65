"""Benchmark: the feature store on the large profile (100k merchants, 1M creators, 365 days).

Needs the large profile simulated and ingested into ``BENCH_LAKE_ROOT`` (default
``./lake-bench``)::

    make bench-simulate                                   # raw zone, ~13 min
    GROWTH_LAKE_ROOT=lake-bench growth ingest --source all --as-of 2026-10-31   # silver
    .venv/bin/python benchmarks/feature_store_large.py

Prints, against the targets of the feature-store issue:

1. the daily aggregation of every order line (events + HLL sketches), Spark vs DuckDB on
   the same Parquet copy of silver_orders (DuckDB with exact distinct counts), and a naive
   Spark group-by with exact count-distinct for reference; target Spark/DuckDB <= 3;
2. a full rebuild of the daily tables plus the day's snapshot, against one incremental day
   (the last batch re-ingested, its changed days recomputed, its snapshot published), with
   the incremental tables checked equal to a full recompute; target <= 10%;
3. a training set over 12 monthly cutoffs (snapshots and labels computed cold, in one pass)
   against a single snapshot; target <= 2x.

The benchmark first takes silver back to its state before the last day's batch (the rows
that batch brought are deleted, the month before is re-ingested to restore the versions
they replaced), so that the incremental day has real new data; it can be rerun.

``--sections 3`` runs the training-set comparison alone on the lake as the last run left
it: the cutoffs' snapshots and labels are deleted first (cold), and the single snapshot it
compares with is published in the same run (twice, the second timed: JIT warm-up).
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import timedelta

from bench_lake import use_bench_lake  # noqa: E402  (benchmarks/ is on sys.path)

use_bench_lake()

import logging  # noqa: E402

import duckdb  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from growth.features.compare import row_differences  # noqa: E402
from growth.features.contracts import CONTRACTS  # noqa: E402
from growth.features.daily import merchant_daily, order_events  # noqa: E402
from growth.features.registry import (  # noqa: E402
    DAILY_TABLES,
    HLL_TOLERANCE,
    distinct_count_tolerances,
)
from growth.features.windows import snapshot_features  # noqa: E402
from growth.jobs import build_daily, build_features, build_training_set, ingest  # noqa: E402
from growth.jobs.config import load_config  # noqa: E402
from growth.jobs.run_log import RunRecord  # noqa: E402
from growth.jobs.session import get_spark  # noqa: E402
from growth.layout import silver_table  # noqa: E402

ACTIVITY = ("orders", "reviews", "traffic_daily", "creator_daily_stats")
DERIVED = (
    "merchant_daily", "creator_daily", "merchant_features", "creator_features",
    "merchant_labels", "creator_labels", "merchant_training_set", "creator_training_set",
)

DUCKDB_DAILY = """
CREATE OR REPLACE TEMP TABLE merchant_daily AS
WITH lines AS (SELECT * FROM read_parquet('{path}/*.parquet')),
events AS (
    SELECT merchant_id, creator_id, buyer_id, product_id, line_id, amount, quantity, status,
           delivery_outcome, 'placed' AS event, CAST(ordered_at AS DATE) AS date FROM lines
    UNION ALL
    SELECT merchant_id, creator_id, buyer_id, product_id, line_id, amount, quantity, status,
           delivery_outcome, 'delivered', CAST(delivered_at AS DATE) FROM lines
    WHERE delivered_at IS NOT NULL
    UNION ALL
    SELECT merchant_id, creator_id, buyer_id, product_id, line_id, amount, quantity, status,
           delivery_outcome, 'closed', CAST(updated_at AS DATE) FROM lines
    WHERE status IN ('cancelled', 'refunded')
)
SELECT merchant_id, date,
    count(*) FILTER (WHERE event = 'placed' AND line_id = 1) AS orders,
    count(*) FILTER (WHERE event = 'placed') AS order_lines,
    coalesce(sum(quantity) FILTER (WHERE event = 'placed'), 0) AS units,
    coalesce(sum(amount) FILTER (WHERE event = 'placed'), 0) AS gmv,
    coalesce(sum(amount) FILTER (WHERE event = 'placed' AND creator_id IS NOT NULL), 0)
        AS affiliate_gmv,
    count(*) FILTER (WHERE event = 'placed' AND creator_id IS NOT NULL) AS affiliate_lines,
    count(*) FILTER (WHERE event = 'delivered') AS delivered_lines,
    count(*) FILTER (WHERE event = 'delivered' AND delivery_outcome = 'late') AS late_deliveries,
    count(*) FILTER (WHERE event = 'closed' AND status = 'cancelled') AS cancelled_lines,
    count(*) FILTER (WHERE event = 'closed' AND status = 'refunded') AS refunded_lines,
    coalesce(sum(amount) FILTER (WHERE event = 'closed' AND status = 'refunded'), 0)
        AS refunded_gmv,
    count(*) FILTER (WHERE event = 'closed' AND delivery_outcome = 'failed')
        AS failed_deliveries,
    count(DISTINCT buyer_id) FILTER (WHERE event = 'placed') AS buyers,
    count(DISTINCT product_id) FILTER (WHERE event = 'placed') AS products,
    count(DISTINCT creator_id) FILTER (WHERE event = 'placed') AS creators
FROM events GROUP BY merchant_id, date
"""


def timed(label: str, action):
    started = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - started
    print(f"  {label:<58}{elapsed:8.1f} s", flush=True)
    return elapsed, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default="1,2,3",
                        help="comma-separated sections to run (default 1,2,3)")
    sections = {int(part) for part in parser.parse_args().sections.split(",")}
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    cfg = load_config()
    spark = get_spark(cfg, "bench-feature-store")
    orders = spark.table(cfg.table(silver_table("orders")))
    lines = orders.count()
    print(f"\nlake {cfg.lake_root}: {lines:,} order lines in silver; "
          f"{os.cpu_count()} cores, driver memory {cfg.driver_memory}")

    if 1 in sections:
        daily_aggregation(spark, cfg, orders)
    snap: dict[str, float] = {}
    if 2 in sections:
        snap = full_vs_incremental(spark, cfg)
    if 3 in sections:
        training_sets(spark, cfg, snap)


def daily_aggregation(spark, cfg, orders) -> None:
    """1. Daily aggregation, Spark vs DuckDB, on one Parquet copy of silver_orders."""
    print("\n1. daily aggregation of every order line")
    copy = cfg.lake_root / "bench" / "orders_parquet"
    if not copy.exists():
        orders.select(*CONTRACTS["orders"].column_names).write.parquet(str(copy))
    parquet = spark.read.parquet(str(copy))
    no_reviews = spark.table(cfg.table(silver_table("reviews"))).limit(0)
    no_traffic = spark.table(cfg.table(silver_table("traffic_daily"))).limit(0)
    spark_s, _ = timed("Spark: events + HLL sketches (merchant_daily)", lambda: merchant_daily(
        order_events(parquet), no_reviews, no_traffic).write.format("noop").mode("overwrite").save())
    naive = (
        parquet.groupBy("merchant_id", F.to_date("ordered_at").alias("date"))
        .agg(F.sum("amount"), F.count("*"), F.countDistinct("buyer_id"),
             F.countDistinct("product_id"), F.countDistinct("creator_id"))
    )
    naive_s, _ = timed("Spark naive: group-by with 3 exact count-distincts", lambda: naive.write
                       .format("noop").mode("overwrite").save())
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET threads = {os.cpu_count()}")
    duck_s, _ = timed("DuckDB: same events, exact count-distinct",
                      lambda: con.execute(DUCKDB_DAILY.format(path=copy)))
    spark_rows = merchant_daily(order_events(parquet), no_reviews, no_traffic).count()
    duck_rows, duck_gmv = con.execute("SELECT count(*), sum(gmv) FROM merchant_daily").fetchone()
    print(f"  rows: Spark {spark_rows:,}, DuckDB {duck_rows:,}; DuckDB GMV {duck_gmv:,.2f}")
    print(f"  Spark/DuckDB = {spark_s / duck_s:.2f}  (target <= 3; naive Spark/DuckDB = "
          f"{naive_s / duck_s:.2f})")



def full_vs_incremental(spark, cfg) -> dict[str, float]:
    """2. Full rebuild vs one incremental day; returns each entity's single-snapshot time."""
    end = cfg.sim_end_date
    print("\n2. full rebuild vs one incremental day")
    for table in DERIVED:
        spark.sql(f"DROP TABLE IF EXISTS {cfg.table(table)}")
    # Silver as it stood before the last batch: drop the rows that batch brought, then let
    # the month before restore the earlier versions of order lines it had moved on.
    for source in ACTIVITY:
        spark.sql(f"DELETE FROM {cfg.table(silver_table(source))} WHERE _batch_date = DATE'{end}'")
    day_before = end - timedelta(days=1)
    timed("(setup) re-ingest orders of the 30 days before, restoring old versions",
          lambda: ingest.run(spark, cfg, day_before, "orders",
                             batch_from=end - timedelta(days=30)))
    full_daily_s, _ = timed(f"full rebuild of both daily tables (as of {day_before})",
                            lambda: build_daily.run(spark, cfg, day_before, full=True))
    snap = {}
    record = RunRecord(job="bench", target_table="bench", as_of=day_before)
    for entity in ("merchant", "creator"):
        snap[entity], rows = timed(f"snapshot {day_before}, {entity}s", lambda e=entity:
                                   build_features.publish_snapshots(
                                       spark, cfg, record, e, [day_before]))
    ingest_s = 0.0
    for source in ACTIVITY:
        s, _ = timed(f"ingest batch {end}: {source}",
                     lambda src=source: ingest.run(spark, cfg, end, src, batch_from=end))
        ingest_s += s
    inc_daily_s, days = timed(f"incremental daily aggregates {end}",
                              lambda: build_daily.run(spark, cfg, end))
    inc_feat_s, dates = timed(f"incremental snapshot(s) {end}",
                              lambda: build_features.run(spark, cfg, end))
    print(f"  days recomputed: {len(days)} ({days[0]} .. {days[-1]}); snapshots published: "
          f"{', '.join(str(d) for d in dates)}")
    full_s = full_daily_s + sum(snap.values())
    inc_s = inc_daily_s + inc_feat_s
    print(f"  daily tables: incremental / full = {inc_daily_s / full_daily_s:.1%}")
    print(f"  daily tables + snapshot: incremental / full = {inc_s / full_s:.1%} (target <= 10%)")

    merchants, creators = build_daily.build(spark, cfg, None)
    check_s, bad = timed("equality check: daily tables vs a full recompute", lambda: sum(
        row_differences(spark.table(cfg.table(DAILY_TABLES[e].name)), frame,
                        [DAILY_TABLES[e].key, "date"]).count()
        for e, frame in (("merchant", merchants), ("creator", creators))))
    print(f"  rows differing from a full recompute: {bad}")
    bad = 0
    for entity, frame in (("merchant", merchants), ("creator", creators)):
        published = spark.table(cfg.table(f"{entity}_features")).where(F.col("as_of_date") == end)
        recomputed = snapshot_features(
            frame, spark.table(cfg.table(silver_table(f"{entity}s"))), entity, [end])
        bad += row_differences(published, recomputed, [f"{entity}_id", "as_of_date"],
                               approx=distinct_count_tolerances(entity)).count()
    print(f"  snapshot rows differing from a full recompute: {bad} (distinct counts within "
          f"{HLL_TOLERANCE:.0%}, the HLL union's order dependence)")

    return snap


def training_sets(spark, cfg, snap: dict[str, float]) -> None:
    """3. Training set over 12 monthly cutoffs vs one snapshot (``snap``: measured by
    section 2, else here)."""
    end = cfg.sim_end_date
    print(f"\n3. training set, 12 monthly cutoffs, horizon {cfg.label_horizon_days} days")
    cutoffs = build_training_set.regular_cutoffs(end, cfg.label_horizon_days, 30, 12)
    if not snap:
        listed = ", ".join(f"DATE'{d}'" for d in cutoffs)
        for entity in ("merchant", "creator"):
            for table in (f"{entity}_features", f"{entity}_labels"):
                if spark.catalog.tableExists(cfg.table(table)):
                    spark.sql(f"DELETE FROM {cfg.table(table)} WHERE as_of_date IN ({listed})")
        day_before = end - timedelta(days=1)
        record = RunRecord(job="bench", target_table="bench", as_of=day_before)
        # Twice: the first job of a fresh JVM pays its JIT warm-up (about a third more),
        # which section 2's snapshot, run after the full rebuild, does not.
        for attempt in ("(warm-up) ", ""):
            for entity in ("merchant", "creator"):
                snap[entity], _ = timed(f"{attempt}snapshot {day_before}, {entity}s",
                                        lambda e=entity: build_features.publish_snapshots(
                                            spark, cfg, record, e, [day_before]))
    for entity in ("merchant", "creator"):
        train_s, rows = timed(f"{entity} training set, cold ({cutoffs[0]} .. {cutoffs[-1]})",
                              lambda e=entity: build_training_set.run(spark, cfg, end, e, cutoffs))
        print(f"  {entity}: {rows:,} rows; training set / single snapshot = "
              f"{train_s / snap[entity]:.2f}x (target <= 2x)")
        warm_s, _ = timed(f"{entity} training set, snapshots and labels published",
                          lambda e=entity: build_training_set.run(spark, cfg, end, e, cutoffs))
        print(f"  {entity}: warm training set / single snapshot = {warm_s / snap[entity]:.2f}x")


if __name__ == "__main__":
    main()
