"""``growth status``: the last runs of every job and how fresh each published table is.

Reads the ``run_log`` table only (one small Delta table), so it answers in seconds whatever
the size of the lake. The transforms are in ``growth.features.freshness``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from pyspark.sql import Row

from growth.errors import GrowthError
from growth.features.freshness import recent_runs, table_freshness
from growth.jobs import delta_io
from growth.jobs.config import load_config
from growth.jobs.run_log import report_problems
from growth.jobs.session import get_spark
from growth.layout import RUN_LOG_TABLE


def stale_tables(freshness: list[Row]) -> list[str]:
    """One line per published table (rows of ``table_freshness``) that is behind its cadence
    or whose latest run failed."""
    found = []
    for row in freshness:
        if row.last_as_of is None:
            found.append(f"{row.target_table}: never published ({row.latest_status}: "
                         f"{row.latest_message})")
        elif not row.fresh:
            found.append(f"{row.target_table}: last published for {row.last_as_of}, "
                         f"{row.behind_days} day(s) behind (allowed {row.allowed_days}); "
                         f"latest run {row.latest_status}")
        elif row.latest_status == "failed":
            found.append(f"{row.target_table}: latest run failed ({row.latest_message})")
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=20, metavar="N",
                        help="how many of the newest runs to list (default 20)")
    parser.add_argument(
        "--check", action="store_true",
        help="exit with status 1 when a table is behind its cadence (daily tables: the newest "
        "day any daily job reached; training tables: a week) or its latest run failed",
    )


def execute(args: argparse.Namespace) -> None:
    cfg = load_config()
    spark = get_spark(cfg, "growth-status")
    name = cfg.table(RUN_LOG_TABLE)
    if not delta_io.table_exists(spark, name):
        raise GrowthError(f"{name} does not exist yet: no job has run on this lake "
                          f"({cfg.lake_root}); run 'make demo' or 'growth ingest' first")
    now = datetime.now(UTC)
    run_log = spark.table(name)
    sys.stdout.write(f"Newest {args.runs} runs ({name}):\n")
    recent_runs(run_log, args.runs).show(n=args.runs, truncate=50)
    sys.stdout.write("Freshness of each published table:\n")
    # One pass over the run log for both the table shown and the problems reported.
    freshness = table_freshness(run_log, now).cache()
    freshness.drop("latest_message").show(n=200, truncate=False)
    report_problems(stale_tables(freshness.collect()), args.check)
