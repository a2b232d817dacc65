"""Feature snapshots: daily tables -> ``merchant_features`` and ``creator_features``.

A run for D writes the snapshot of D. It also restates the snapshots already published for
the days since the earliest day the daily job has recomputed since this job last ran (late
or corrected data), as far back as ``GROWTH_RESTATE_DAYS``: older snapshots keep the values
they were published with. ``--from`` computes every day from --from to --as-of: a backfill,
in one pass over the daily tables. Each snapshot date is replaced atomically, so reruns are
idempotent.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Iterable
from datetime import date, timedelta

from great_expectations import ExpectationSuite
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from growth.errors import GrowthError
from growth.expectations import suites
from growth.features.contracts import ENTITY_SOURCES
from growth.features.registry import DAILY_TABLES, LOOKBACK, feature_names
from growth.features.windows import AS_OF, snapshot_features
from growth.jobs import build_daily, delta_io, quality
from growth.jobs.config import Config, load_config
from growth.jobs.ingest import RunWindowError
from growth.jobs.run_log import RunRecord, recorded, successful_runs
from growth.jobs.session import get_spark
from growth.layout import silver_table

log = logging.getLogger(__name__)

JOB = "build_features"
ENTITIES = ("merchant", "creator")


class DailyTablesMissingError(GrowthError, RuntimeError):
    """Snapshots are computed from the daily tables, which do not exist yet."""


def require_daily_tables(spark: SparkSession, cfg: Config) -> None:
    for table in DAILY_TABLES.values():
        if not delta_io.table_exists(spark, cfg.table(table.name)):
            raise DailyTablesMissingError(
                f"{cfg.table(table.name)} does not exist: build the daily aggregates first "
                "(growth daily-aggregates --as-of <date>), then rerun."
            )


def features_table(entity: str) -> str:
    return f"{entity}_features"


def published_dates(spark: SparkSession, name: str) -> set[date]:
    """The as_of_date partitions a snapshot table holds (empty when it does not exist)."""
    if not delta_io.table_exists(spark, name):
        return set()
    return {r[0] for r in spark.table(name).select(AS_OF).distinct().collect()}


def restated_since(spark: SparkSession, cfg: Config, job: str) -> date | None:
    """The earliest day the daily job recomputed since ``job`` last succeeded."""
    last = successful_runs(spark, cfg, job)
    since = last[0].finished_at if last else None
    days = [
        r.batch_from
        for r in successful_runs(spark, cfg, build_daily.JOB)
        if r.batch_from is not None and (since is None or r.finished_at > since)
    ]
    return min(days) if days else None


def snapshot_dates(
    spark: SparkSession, cfg: Config, as_of: date, date_from: date | None
) -> list[date]:
    """The run date, a backfill range, and the published snapshots due for restatement."""
    if date_from is not None:
        return [date_from + timedelta(days=k) for k in range((as_of - date_from).days + 1)]
    dates = {as_of}
    earliest = restated_since(spark, cfg, JOB)
    if earliest is not None:
        floor = max(earliest, as_of - timedelta(days=cfg.restate_days))
        for entity in ENTITIES:
            dates |= {
                d for d in published_dates(spark, cfg.table(features_table(entity)))
                if floor <= d < as_of
            }
    return sorted(dates)


def _audit(
    spark: SparkSession, cfg: Config, record: RunRecord, entity: str, newest: date,
    reference: quality.DriftReference,
) -> Callable[[DataFrame, int], None]:
    """The gate of one snapshot table: its suite, and the shift of the ``newest`` snapshot
    against the latest published one before it (``reference``)."""
    name = cfg.table(features_table(entity))

    def suite_for(
        schema: StructType | None, previous: tuple[date, float] | None, candidate: DataFrame
    ) -> ExpectationSuite:
        profile, sample = reference.prepare(candidate, schema, previous)
        return suites.features(
            entity, DAILY_TABLES[entity].key, newest, schema, previous[1] if previous else None,
            cfg.dq_volume_tolerance, profile, cfg.dq_psi_warn, cfg.dq_psi_error, sample,
        )

    return quality.partition_audit(spark, cfg, record, name, AS_OF, newest, suite_for,
                                   lookback_days=cfg.restate_days,
                                   previous_for=reference.previous)


def publish_snapshots(
    spark: SparkSession, cfg: Config, record: RunRecord, entity: str, dates: Iterable[date]
) -> int:
    """Compute, validate and publish the snapshots of ``dates`` for one entity; return the
    rows written."""
    dates = sorted(set(dates))
    if not dates:
        return 0
    table = DAILY_TABLES[entity]
    daily = spark.table(cfg.table(table.name)).where(
        F.col("date").between(dates[0] - timedelta(days=LOOKBACK), dates[-1])
    )
    entities = spark.table(cfg.table(silver_table(ENTITY_SOURCES[entity])))
    snapshots = snapshot_features(daily, entities, entity, dates)
    name = cfg.table(features_table(entity))
    reference = quality.DriftReference(spark, cfg, record, name, AS_OF, dates,
                                       feature_names(entity), cfg.restate_days)
    try:
        rows = delta_io.replace_dates(spark, snapshots, name, AS_OF, dates,
                                      _audit(spark, cfg, record, entity, dates[-1], reference))
        reference.published()
        return rows
    finally:
        reference.close()


def run(spark: SparkSession, cfg: Config, as_of: date, date_from: date | None = None,
        entities: tuple[str, ...] = ENTITIES) -> list[date]:
    """Publish the snapshots due at ``as_of`` (of ``entities``: a real dataset has one kind
    of entity only); return their dates."""
    if date_from is not None and date_from > as_of:
        raise RunWindowError(
            f"--from {date_from} is after --as-of {as_of}: no snapshot date lies between them"
        )
    record = RunRecord(job=JOB, target_table=cfg.table(features_table(entities[0])), as_of=as_of)
    with recorded(spark, cfg, record):
        require_daily_tables(spark, cfg)
        dates = snapshot_dates(spark, cfg, as_of, date_from)
        record.batch_from, record.batch_to = dates[0], dates[-1]
        log.info("feature snapshots for %d date(s): %s .. %s", len(dates), dates[0], dates[-1])
        written = 0
        for entity in entities:
            rows = publish_snapshots(spark, cfg, record, entity, dates)
            record.wrote(spark, cfg.table(features_table(entity)))
            log.info("%s: %d rows over %d snapshot(s)", features_table(entity), rows, len(dates))
            written += rows
        record.rows_inserted = written
        record.status = "success"
        return dates


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", required=True, type=date.fromisoformat, help="snapshot date")
    parser.add_argument(
        "--from", dest="date_from", type=date.fromisoformat, default=None,
        help="backfill every snapshot from this date to --as-of, in one pass",
    )


def execute(args: argparse.Namespace) -> None:
    cfg = load_config()
    run(get_spark(cfg, "build-features"), cfg, args.as_of, args.date_from)
