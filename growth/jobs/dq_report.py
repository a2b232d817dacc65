"""``growth dq``: what the data-quality gates said about one date, from ``dq_results``."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from growth.errors import GrowthError
from growth.jobs import delta_io
from growth.jobs.config import Config, load_config
from growth.jobs.session import get_spark
from growth.layout import DQ_RESULTS_TABLE


class NoResultsError(GrowthError, LookupError):
    """No gate has recorded anything (for this date)."""


def results(spark: SparkSession, cfg: Config, as_of: date, table: str | None) -> DataFrame:
    name = cfg.table(DQ_RESULTS_TABLE)
    if not delta_io.table_exists(spark, name):
        raise NoResultsError(
            f"{name} does not exist yet: no job has passed a data-quality gate in this lake. "
            "Run a job (e.g. growth ingest --source all --as-of <date>) first."
        )
    df = spark.table(name).where(F.col("as_of") == F.lit(as_of))
    if table is not None:
        df = df.where(F.col("table_name").isin(table, cfg.table(table)))
    return df


def summary(df: DataFrame) -> DataFrame:
    """Grain: one row per (table, suite), over the latest validation of each. Columns: checks,
    passed, errors and warnings failed, validated_at."""
    latest = df.groupBy("table_name", "suite").agg(F.max("validated_at").alias("validated_at"))
    return (
        df.join(latest, ["table_name", "suite", "validated_at"])
        .groupBy("table_name", "suite", "validated_at")
        .agg(
            F.count(F.lit(1)).alias("checks"),
            F.count_if("success").alias("passed"),
            F.count_if(~F.col("success") & (F.col("severity") == "error")).alias("errors"),
            F.count_if(~F.col("success") & (F.col("severity") == "warn")).alias("warnings"),
        )
        .select("table_name", "suite", "checks", "passed", "errors", "warnings", "validated_at")
        .orderBy("table_name", "suite")
    )


def failures(df: DataFrame) -> DataFrame:
    """Every failed check of the date, newest first."""
    return (
        df.where(~F.col("success"))
        .select("validated_at", "table_name", "suite", "severity", "description",
                "column_name", "observed_value", "run_id")
        .orderBy(F.col("validated_at").desc(), "table_name")
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", required=True, type=date.fromisoformat, help="run date")
    parser.add_argument("--table", default=None,
                        help="one table only (e.g. silver_orders or merchant_features)")
    parser.add_argument(
        "--check", action="store_true",
        help="exit with status 1 when the latest validation of a table failed an error check",
    )


def execute(args: argparse.Namespace) -> None:
    cfg = load_config()
    spark = get_spark(cfg, "growth-dq")
    df = results(spark, cfg, args.as_of, args.table).cache()
    if df.isEmpty():
        raise NoResultsError(f"no data-quality results for {args.as_of}"
                             + (f" and table {args.table}" if args.table else ""))
    table = summary(df)
    sys.stdout.write(f"data-quality gates for {args.as_of} (latest validation per suite)\n")
    table.show(n=200, truncate=False)
    failed = failures(df)
    if not failed.isEmpty():
        sys.stdout.write("failed checks (error blocks publishing, warn is recorded only):\n")
        failed.show(n=200, truncate=100, vertical=False)
    blocked = table.where("errors > 0").collect()
    if args.check and blocked:
        sys.exit(1)
