"""``growth runs``: what the runs of one date published, from the run log."""

from __future__ import annotations

import argparse
from datetime import date

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from growth.jobs import delta_io
from growth.jobs.config import Config, load_config
from growth.jobs.run_log import report_problems
from growth.jobs.session import get_spark
from growth.layout import RUN_LOG_TABLE, SOURCE_ORDER, silver_table

SUMMARY_COLUMNS = (
    "target_table", "status", "rows_in", "rows_accepted", "rows_quarantined",
    "rows_duplicate", "rows_inserted", "rows_updated", "table_version", "duration_s", "message",
)


# The table each feature-store job logs its runs under (it publishes the creator twin too).
FEATURE_STORE_TARGETS = ("merchant_daily", "merchant_features", "merchant_labels")


def latest_runs(spark: SparkSession, cfg: Config, as_of: date) -> DataFrame:
    """The latest run per target table for ``as_of``. Grain: one row per target table."""
    newest_first = Window.partitionBy("target_table").orderBy(F.col("started_at").desc())
    return (
        spark.table(cfg.table(RUN_LOG_TABLE))
        .where(F.col("as_of") == F.lit(as_of))
        .withColumn("_n", F.row_number().over(newest_first))
        .where("_n = 1")
        .select(*SUMMARY_COLUMNS)
        .withColumn("duration_s", F.round("duration_s", 1))
        .orderBy("target_table")
    )


def problems(spark: SparkSession, cfg: Config, as_of: date) -> list[str]:
    """Sources and feature-store jobs whose latest run for ``as_of`` failed or never ran."""
    if not delta_io.table_exists(spark, cfg.table(RUN_LOG_TABLE)):
        return [f"no run log yet ({cfg.table(RUN_LOG_TABLE)} does not exist)"]
    status = {
        r.target_table: (r.status, r.message) for r in latest_runs(spark, cfg, as_of).collect()
    }
    found = []
    targets = [silver_table(s) for s in SOURCE_ORDER] + list(FEATURE_STORE_TARGETS)
    for table in map(cfg.table, targets):
        if table not in status:
            found.append(f"{table}: no run for {as_of}")
        elif status[table][0] not in ("success", "empty"):
            found.append(f"{table}: {status[table][0]} ({status[table][1]})")
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", required=True, type=date.fromisoformat, help="run date")
    parser.add_argument(
        "--check", action="store_true",
        help="exit with status 1 when a source or feature-store job failed or did not run "
        "for this date",
    )


def execute(args: argparse.Namespace) -> None:
    cfg = load_config()
    spark = get_spark(cfg, "growth-runs")
    found = problems(spark, cfg, args.as_of)
    if delta_io.table_exists(spark, cfg.table(RUN_LOG_TABLE)):
        latest_runs(spark, cfg, args.as_of).show(n=100, truncate=60)
    report_problems(found, args.check)
