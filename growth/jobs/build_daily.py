"""Daily aggregates: silver -> ``merchant_daily`` and ``creator_daily`` (one job, both tables).

Incremental by default. The run log keeps the Delta version of each silver table the last
run read; this run reads the change data feed since then, finds the days whose events
changed (a late order dirties the day it was placed; a status change dirties only the day
the new status happened), recomputes exactly those days from silver and replaces them.
Late data is therefore folded into the day it belongs to, whatever batch brought it.

A full rebuild recomputes every day: on the first run, with ``--full``, or when the change
feed cannot cover the versions since the last run (e.g. it was enabled later). Either way
the tables are identical to a full recompute; rerunning changes nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from growth.errors import GrowthError
from growth.expectations import suites
from growth.features.contracts import CONTRACTS
from growth.features.daily import (
    changed_days,
    creator_daily,
    merchant_daily,
    on_days,
    order_events,
    orders_touching,
)
from growth.features.registry import CREATOR_DAILY, MERCHANT_DAILY, DailyTable
from growth.jobs import delta_io, quality
from growth.jobs.config import Config, load_config
from growth.jobs.run_log import RunRecord, recorded, successful_runs
from growth.jobs.session import get_spark
from growth.layout import silver_table

log = logging.getLogger(__name__)

JOB = "build_daily"
SOURCES = ("orders", "reviews", "traffic_daily", "creator_daily_stats")
# The column whose UTC day is a row's event day, for sources with one event per row.
EVENT_DAY = {"reviews": "reviewed_at", "traffic_daily": "date", "creator_daily_stats": "date"}


class SilverMissingError(GrowthError, RuntimeError):
    """A silver table the daily aggregates read does not exist yet."""


def _silver_versions(spark: SparkSession, cfg: Config) -> dict[str, int]:
    versions = {}
    for source in SOURCES:
        name = cfg.table(silver_table(source))
        version = delta_io.current_version(spark, name)
        if version is None:
            raise SilverMissingError(
                f"{name} does not exist: ingest it first (growth ingest --source {source} "
                "--as-of <date>), then rerun."
            )
        versions[source] = version
    return versions


def _previous_versions(spark: SparkSession, cfg: Config) -> dict[str, int] | None:
    """Versions read by the last successful run, or None when a full rebuild is due."""
    for table in (MERCHANT_DAILY, CREATOR_DAILY):
        if not delta_io.table_exists(spark, cfg.table(table.name)):
            return None
    runs = successful_runs(spark, cfg, JOB)
    if not runs or not runs[0].versions_read:
        return None
    return json.loads(runs[0].versions_read)


def _changed_days_of(
    spark: SparkSession, cfg: Config, source: str, after: int, to: int
) -> DataFrame:
    feed = delta_io.changes(spark, cfg.table(silver_table(source)), after, to)
    old = feed.where(F.col("_change_type").isin("update_preimage", "delete"))
    new = feed.where(F.col("_change_type").isin("update_postimage", "insert"))
    columns = CONTRACTS[source].column_names
    if source == "orders":
        return changed_days(order_events(old.select(*columns)), order_events(new.select(*columns)))
    day = F.to_date(EVENT_DAY[source]).alias("date")
    return changed_days(old.select(day), new.select(day))


def _dirty_days(
    spark: SparkSession, cfg: Config, previous: dict[str, int], current: dict[str, int]
) -> list[date] | None:
    """Days to recompute, or None when the change feed cannot say (rebuild everything)."""
    frames = []
    for source in SOURCES:
        after = previous.get(source)
        if after is None:
            return None
        if current[source] > after:
            frames.append(_changed_days_of(spark, cfg, source, after, current[source]))
    if not frames:
        return []
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    try:
        return sorted(r.date for r in union.distinct().collect())
    except AnalysisException as exc:
        log.warning("the change feed does not cover the versions since the last run (%s); "
                    "rebuilding every day", str(exc).splitlines()[0])
        return None


def _silver(spark: SparkSession, cfg: Config, source: str) -> DataFrame:
    return spark.table(cfg.table(silver_table(source)))


def build(
    spark: SparkSession, cfg: Config, days: list[date] | None
) -> tuple[DataFrame, DataFrame]:
    """The daily rows of ``days`` (None: of every day) for both tables, from silver."""
    orders, reviews = _silver(spark, cfg, "orders"), _silver(spark, cfg, "reviews")
    traffic, stats = _silver(spark, cfg, "traffic_daily"), _silver(spark, cfg, "creator_daily_stats")
    events = order_events(orders if days is None else orders_touching(orders, days))
    if days is not None:
        # A few days' rows, read by both tables: scan silver once and keep them (a local
        # checkpoint is computed eagerly and freed with the frame).
        events = events.where(F.col("date").isin(days)).localCheckpoint()
        reviews = on_days(reviews, "reviewed_at", days)
        traffic = on_days(traffic, "date", days).localCheckpoint()
        stats = on_days(stats, "date", days)
    return merchant_daily(events, reviews, traffic), creator_daily(events, stats, traffic)


def _audit(
    spark: SparkSession, cfg: Config, record: RunRecord, table: DailyTable, newest: date
) -> Callable[[DataFrame, int], None]:
    """The gate of one daily table; a week of days smooths the weekday cycle out of the
    volume baseline."""
    return quality.partition_audit(
        spark, cfg, record, cfg.table(table.name), "date", newest,
        lambda schema, previous, _candidate: suites.daily(
            table, newest, schema, previous[1] if previous else None, cfg.dq_volume_tolerance,
            expect_every_day=bool(cfg.daily_feed_sources)),
        partitions=7, lookback_days=14,
    )


def run(spark: SparkSession, cfg: Config, as_of: date, full: bool = False) -> list[date] | None:
    """Bring both daily tables up to date with silver; return the days recomputed
    (None: all of them)."""
    record = RunRecord(job=JOB, target_table=cfg.table(MERCHANT_DAILY.name), as_of=as_of)
    with recorded(spark, cfg, record):
        _silver_versions(spark, cfg)  # every input exists, or a clear error
        for source in SOURCES:  # lakes ingested before the feed existed start it now
            delta_io.enable_change_feed(spark, cfg.table(silver_table(source)))
        current = _silver_versions(spark, cfg)
        previous = None if full else _previous_versions(spark, cfg)
        days = None if previous is None else _dirty_days(spark, cfg, previous, current)
        record.versions_read = json.dumps(current, sort_keys=True)
        if days == []:
            log.info("daily aggregates: silver unchanged since the last run; nothing to do")
            # Both tables are up to date for the day as they stand: say so for each.
            for table in (MERCHANT_DAILY, CREATOR_DAILY):
                record.wrote(spark, cfg.table(table.name))
            record.status, record.rows_in = "empty", 0
            return []
        log.info("daily aggregates: %s", "full rebuild" if days is None else
                 f"recomputing {len(days)} day(s): {days[0]} .. {days[-1]}")
        merchants, creators = build(spark, cfg, days)
        written = delta_io.replace_dates(
            spark, merchants, cfg.table(MERCHANT_DAILY.name), "date", days,
            _audit(spark, cfg, record, MERCHANT_DAILY, as_of),
        )
        record.wrote(spark, cfg.table(MERCHANT_DAILY.name))
        written_creators = delta_io.replace_dates(
            spark, creators, cfg.table(CREATOR_DAILY.name), "date", days,
            _audit(spark, cfg, record, CREATOR_DAILY, as_of),
        )
        record.wrote(spark, cfg.table(CREATOR_DAILY.name))
        record.rows_inserted = written + written_creators
        if days is None:
            bounds = spark.table(cfg.table(MERCHANT_DAILY.name)).agg(F.min("date"), F.max("date"))
            record.batch_from, record.batch_to = bounds.first()
        else:
            record.batch_from, record.batch_to = days[0], days[-1]
        record.status = "success"
        log.info("daily aggregates: %d merchant-day and %d creator-day rows written",
                 written, written_creators)
        return days


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", required=True, type=date.fromisoformat, help="run date")
    parser.add_argument(
        "--full", action="store_true",
        help="recompute every day instead of only the days whose silver rows changed",
    )


def execute(args: argparse.Namespace) -> None:
    cfg = load_config()
    run(get_spark(cfg, "build-daily"), cfg, args.as_of, args.full)
