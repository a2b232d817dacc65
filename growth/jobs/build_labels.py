"""Labels: daily tables -> ``merchant_labels`` and ``creator_labels``.

A run for R labels the cutoff R - horizon, the latest one whose outcome window has fully
passed. Like the snapshots, label cutoffs already published are restated when the daily job
recomputed a day inside their past or future window since this job last ran (no further
back than ``GROWTH_RESTATE_DAYS`` before that cutoff). ``--from`` labels every cutoff from
--from to R - horizon in one pass. Each cutoff is replaced atomically.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Iterable
from datetime import date, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from growth.expectations import suites
from growth.features.contracts import ENTITY_SOURCES
from growth.features.labels import complete_cutoffs, entity_labels
from growth.features.registry import DAILY_TABLES
from growth.features.windows import AS_OF
from growth.jobs import delta_io, quality
from growth.jobs.build_features import (
    ENTITIES,
    published_dates,
    require_daily_tables,
    restated_since,
)
from growth.jobs.config import Config, load_config
from growth.jobs.ingest import RunWindowError
from growth.jobs.run_log import RunRecord, recorded
from growth.jobs.session import get_spark
from growth.layout import silver_table

log = logging.getLogger(__name__)

JOB = "build_labels"


def labels_table(entity: str) -> str:
    return f"{entity}_labels"


def cutoff_dates(spark: SparkSession, cfg: Config, as_of: date, date_from: date | None) -> list[date]:
    horizon = cfg.label_horizon_days
    last = as_of - timedelta(days=horizon)
    if date_from is not None:
        if date_from > last:
            raise RunWindowError(
                f"--from {date_from} is after {last}, the last cutoff whose {horizon}-day "
                f"horizon has passed by {as_of}: no cutoff can be labelled"
            )
        return [date_from + timedelta(days=k) for k in range((last - date_from).days + 1)]
    dates = {last}
    earliest = restated_since(spark, cfg, JOB)
    if earliest is not None:
        floor = max(earliest - timedelta(days=horizon), last - timedelta(days=cfg.restate_days))
        for entity in ENTITIES:
            dates |= {
                d for d in published_dates(spark, cfg.table(labels_table(entity)))
                if floor <= d < last
            }
    return complete_cutoffs(dates, horizon, as_of)


def _audit(
    spark: SparkSession, cfg: Config, record: RunRecord, entity: str, newest: date
) -> Callable[[DataFrame, int], None]:
    return quality.partition_audit(
        spark, cfg, record, cfg.table(labels_table(entity)), AS_OF, newest,
        lambda schema, previous, _candidate: suites.labels(
            entity, DAILY_TABLES[entity].key, newest, cfg.label_horizon_days, schema,
            previous[1] if previous else None, cfg.dq_volume_tolerance),
        lookback_days=cfg.restate_days,
    )


def publish_labels(
    spark: SparkSession, cfg: Config, record: RunRecord, entity: str, cutoffs: Iterable[date]
) -> int:
    """Compute, validate and publish the labels of ``cutoffs`` for one entity; return the
    rows written."""
    cutoffs = sorted(set(cutoffs))
    if not cutoffs:
        return 0
    horizon = cfg.label_horizon_days
    daily = spark.table(cfg.table(DAILY_TABLES[entity].name)).where(
        F.col("date").between(
            cutoffs[0] - timedelta(days=horizon - 1), cutoffs[-1] + timedelta(days=horizon)
        )
    )
    labels = entity_labels(
        daily,
        spark.table(cfg.table(silver_table(ENTITY_SOURCES[entity]))),
        spark.table(cfg.table(silver_table("outreach_events"))),
        entity,
        cutoffs,
        horizon,
        cfg.label_growth_multiple,
        cfg.label_growth_min_value,
        cfg.label_top_share,
    )
    return delta_io.replace_dates(
        spark, labels, cfg.table(labels_table(entity)), AS_OF, cutoffs,
        _audit(spark, cfg, record, entity, cutoffs[-1]),
    )


def run(spark: SparkSession, cfg: Config, as_of: date, date_from: date | None = None) -> list[date]:
    """Publish the labels due at ``as_of``; return their cutoffs."""
    record = RunRecord(job=JOB, target_table=cfg.table(labels_table("merchant")), as_of=as_of)
    with recorded(spark, cfg, record):
        require_daily_tables(spark, cfg)
        cutoffs = cutoff_dates(spark, cfg, as_of, date_from)
        record.batch_from, record.batch_to = cutoffs[0], cutoffs[-1]
        log.info("labels (%d-day horizon) for %d cutoff(s): %s .. %s", cfg.label_horizon_days,
                 len(cutoffs), cutoffs[0], cutoffs[-1])
        written = 0
        for entity in ENTITIES:
            rows = publish_labels(spark, cfg, record, entity, cutoffs)
            record.wrote(spark, cfg.table(labels_table(entity)))
            log.info("%s: %d rows", labels_table(entity), rows)
            written += rows
        record.rows_inserted = written
        record.status = "success"
        return cutoffs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as-of", required=True, type=date.fromisoformat,
        help="run date; labels the cutoff as-of minus the horizon (GROWTH_LABEL_HORIZON_DAYS)",
    )
    parser.add_argument(
        "--from", dest="date_from", type=date.fromisoformat, default=None,
        help="label every cutoff from this date to as-of minus the horizon, in one pass",
    )


def execute(args: argparse.Namespace) -> None:
    cfg = load_config()
    run(get_spark(cfg, "build-labels"), cfg, args.as_of, args.date_from)
