"""Training sets: published snapshots + labels for a list of cutoffs -> ``<entity>_training_set``.

A model trains on exactly the snapshots that were (or would have been) served: cutoffs
whose snapshot or labels are not published yet are computed first, all of them in one pass,
and published like any other. The training set is then the inner join of the two on
(entity, as_of_date), written as a new version of ``<entity>_training_set``; the run log
keeps that Delta version so a model can name the exact data it learned from.
"""

from __future__ import annotations

import argparse
import logging
from datetime import date, timedelta

from pyspark import StorageLevel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from growth.expectations import suites
from growth.features.labels import complete_cutoffs, training_set
from growth.features.registry import DAILY_TABLES
from growth.features.windows import AS_OF
from growth.jobs import delta_io, quality
from growth.jobs.build_features import (
    features_table,
    publish_snapshots,
    published_dates,
    require_daily_tables,
)
from growth.jobs.build_labels import labels_table, publish_labels
from growth.jobs.config import Config, load_config
from growth.jobs.ingest import RunWindowError
from growth.jobs.run_log import RunRecord, recorded
from growth.jobs.session import get_spark

log = logging.getLogger(__name__)

JOB = "build_training_set"


def training_table(entity: str) -> str:
    return f"{entity}_training_set"


def regular_cutoffs(as_of: date, horizon_days: int, every_days: int, count: int) -> list[date]:
    """``count`` cutoffs ``every_days`` apart, the latest one whose horizon ends by ``as_of``."""
    if every_days < 1 or count < 1:
        raise ValueError("--every and --count must be at least 1")
    last = as_of - timedelta(days=horizon_days)
    return sorted(last - timedelta(days=every_days * k) for k in range(count))


def run(
    spark: SparkSession, cfg: Config, as_of: date, entity: str, cutoffs: list[date]
) -> int:
    """Build the training set of ``entity`` over ``cutoffs``; return its row count."""
    record = RunRecord(job=JOB, target_table=cfg.table(training_table(entity)), as_of=as_of)
    with recorded(spark, cfg, record):
        require_daily_tables(spark, cfg)
        usable = complete_cutoffs(cutoffs, cfg.label_horizon_days, as_of)
        if usable != sorted(set(cutoffs)):
            raise RunWindowError(
                f"cutoff(s) {', '.join(str(d) for d in sorted(set(cutoffs) - set(usable)))} "
                f"have a {cfg.label_horizon_days}-day horizon that ends after {as_of}: their "
                "outcomes are not known yet; choose earlier cutoffs"
            )
        usable = _with_history(spark, cfg, entity, usable)
        record.batch_from, record.batch_to = usable[0], usable[-1]
        features_name, labels_name = cfg.table(features_table(entity)), cfg.table(labels_table(entity))
        missing = sorted(set(usable) - published_dates(spark, features_name))
        if missing:
            log.info("computing %d missing snapshot(s) in one pass", len(missing))
            publish_snapshots(spark, cfg, record, entity, missing)
            record.wrote(spark, features_name)
        missing = sorted(set(usable) - published_dates(spark, labels_name))
        if missing:
            log.info("computing %d missing label cutoff(s) in one pass", len(missing))
            publish_labels(spark, cfg, record, entity, missing)
            record.wrote(spark, labels_name)
        wanted = F.col(AS_OF).isin(usable)
        rows = training_set(
            spark.table(features_name).where(wanted),
            spark.table(labels_name).where(wanted),
            DAILY_TABLES[entity].key,
        )
        name = cfg.table(training_table(entity))
        rows = rows.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            record.rows_inserted = rows.count()
            quality.gate(spark, cfg, record, name, rows,
                         suites.training_set(entity, DAILY_TABLES[entity].key, usable),
                         record.rows_inserted)
            delta_io.overwrite(spark, rows, name)
        finally:
            rows.unpersist()
        record.wrote(spark, name)
        record.status = "success"
        log.info("%s: %d rows over %d cutoff(s), Delta version %d", training_table(entity),
                 record.rows_inserted, len(usable), record.table_version)
        return record.rows_inserted


def _with_history(spark: SparkSession, cfg: Config, entity: str, cutoffs: list[date]) -> list[date]:
    """The cutoffs on or after the first day of the entity's daily table. Earlier ones have
    no observable past: their snapshots are all zeros, and a model trained on them learns
    nothing (a weekly run with too many cutoffs on a young lake would otherwise train on
    them silently)."""
    daily = cfg.table(DAILY_TABLES[entity].name)
    first = spark.table(daily).agg(F.min("date")).first()[0]
    kept = [d for d in cutoffs if first is not None and d >= first]
    if not kept:
        raise RunWindowError(
            f"every cutoff ({cutoffs[0]} .. {cutoffs[-1]}) precedes the first day of data in "
            f"{daily} ({first}): there is no history to learn from; choose later cutoffs "
            "or a shorter GROWTH_LABEL_HORIZON_DAYS")
    if len(kept) < len(cutoffs):
        log.warning(
            "skipping %d cutoff(s) before the first day of data in %s (%s): %s",
            len(cutoffs) - len(kept), daily, first,
            ", ".join(str(d) for d in cutoffs if d not in kept))
    return kept


def _dates(text: str) -> list[date]:
    try:
        return [date.fromisoformat(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD[,YYYY-MM-DD...]: {exc}") from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--entity", required=True, choices=("merchant", "creator"))
    parser.add_argument("--as-of", required=True, type=date.fromisoformat,
                        help="run date: every cutoff's horizon must end by then")
    parser.add_argument("--cutoffs", type=_dates, default=None,
                        help="explicit cutoffs, comma-separated (overrides --every/--count)")
    parser.add_argument("--every", type=int, default=None,
                        help="days between regular cutoffs (default GROWTH_TRAIN_EVERY_DAYS, "
                        "as 'growth train' uses)")
    parser.add_argument("--count", type=int, default=None,
                        help="number of regular cutoffs, the latest ending its horizon by "
                        "--as-of (default GROWTH_TRAIN_CUTOFFS)")


def execute(args: argparse.Namespace) -> None:
    cfg = load_config()
    cutoffs = args.cutoffs or regular_cutoffs(
        args.as_of, cfg.label_horizon_days, args.every or cfg.train_every_days,
        args.count or cfg.train_cutoffs,
    )
    run(get_spark(cfg, f"training-set-{args.entity}"), cfg, args.as_of, args.entity, cutoffs)
