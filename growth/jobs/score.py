"""Daily scoring: ``<entity>_features`` of D + the champions -> ``<entity>_tiers`` and the
entity's rows of ``potential_scores``.

1. The champions (value and potential) are loaded from the registry and broadcast to the
   executors as their JSON texts; each Python worker rebuilds them once and scores its Arrow
   batches with ``growth.models.scoring`` through ``mapInPandas``.
2. The cut points of the tiers are the score quantiles of the configured shares
   (``GROWTH_TIER_SHARES``); the previous published tier of each entity drives hysteresis.
3. ``<entity>_tiers`` (one row per entity) and the potential list (entities in tier C, D or
   new, ranked by calibrated probability) each pass their gate before replacing their D rows.

Tier churn against the previous tiers, with and without hysteresis, is logged and kept in
the run log's message.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from datetime import date

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DateType,
    DoubleType,
    StringType,
    StructField,
    StructType,
)

from growth.errors import GrowthError
from growth.expectations import suites
from growth.features.registry import DAILY_TABLES
from growth.features.windows import AS_OF
from growth.jobs import delta_io, model_registry, model_settings, quality
from growth.jobs.build_features import features_table
from growth.jobs.config import Config, load_config
from growth.jobs.inputs import tiers_table
from growth.jobs.run_log import RunRecord, recorded
from growth.jobs.session import get_spark
from growth.models import store
from growth.models.scoring import Champions, freeze_loaded, score_batch, tier_batch
from growth.models.tiering import RANKED, TierPolicy

log = logging.getLogger(__name__)

JOB = "score"
CARRIED = ("previous_tier", "previous_raw_tier", "tenure_days")
POTENTIAL_TABLE = "potential_scores"


def _scored_schema(key: str) -> StructType:
    strings = ArrayType(StringType())
    return StructType([
        StructField(key, StringType()), StructField(AS_OF, DateType()),
        StructField("previous_tier", StringType()), StructField("previous_raw_tier", StringType()),
        StructField("tenure_days", DoubleType()),
        StructField("score", DoubleType()), StructField("failed_gates", strings),
        StructField("value_reasons", strings), StructField("potential_raw", DoubleType()),
        StructField("potential_probability", DoubleType()),
        StructField("potential_reasons", strings),
    ])


def _tiered_schema(key: str) -> StructType:
    return StructType(_scored_schema(key).fields + [
        StructField("tier", StringType()), StructField("raw_tier", StringType())])


# Per Python worker: champions rebuilt from their texts once, not once per batch.
_LOADED: dict[tuple, Champions] = {}


def _champions(texts: dict[str, dict[str, str]], ident: tuple) -> Champions:
    if ident not in _LOADED:
        value, value_features = store.from_texts(texts["value"])
        potential, potential_features = store.from_texts(texts["potential"])
        _LOADED.clear()
        _LOADED[ident] = Champions(value, value_features, potential, potential_features)
        freeze_loaded()  # the worker scores many batches with these champions
    return _LOADED[ident]


def previous_tiers(spark: SparkSession, cfg: Config, entity: str, as_of: date) -> DataFrame | None:
    """key, previous_tier, previous_raw_tier from the latest published tiers before D."""
    name = cfg.table(tiers_table(entity))
    if not delta_io.table_exists(spark, name):
        return None
    last = spark.table(name).where(F.col(AS_OF) < F.lit(as_of)).agg(F.max(AS_OF)).first()[0]
    if last is None:
        return None
    key = DAILY_TABLES[entity].key
    return spark.table(name).where(F.col(AS_OF) == F.lit(last)).select(
        key, F.col("tier").alias("previous_tier"), F.col("raw_tier").alias("previous_raw_tier"))


def _snapshot(spark: SparkSession, cfg: Config, entity: str, as_of: date) -> DataFrame:
    name = cfg.table(features_table(entity))
    if not delta_io.table_exists(spark, name) or spark.table(name).where(
            F.col(AS_OF) == F.lit(as_of)).isEmpty():
        raise GrowthError(f"{name} has no snapshot for {as_of}: build it first "
                          f"(growth features --as-of {as_of}), then rerun")
    return spark.table(name).where(F.col(AS_OF) == F.lit(as_of))


def scoring_input(spark: SparkSession, cfg: Config, entity: str, as_of: date) -> DataFrame:
    """What ``score_batch`` reads: the snapshot of D (one row per entity: the key,
    ``as_of_date``, the feature columns) with ``previous_tier`` and ``previous_raw_tier``
    from the latest tiers published before D (null without one)."""
    key = DAILY_TABLES[entity].key
    snapshot = _snapshot(spark, cfg, entity, as_of)
    previous = previous_tiers(spark, cfg, entity, as_of)
    if previous is None:
        return snapshot.withColumn("previous_tier", F.lit(None).cast("string")) \
            .withColumn("previous_raw_tier", F.lit(None).cast("string"))
    return snapshot.join(previous, key, "left")


def churn(frame: DataFrame) -> tuple[float | None, float | None]:
    """Share of entities with a previous ranked tier whose tier changed: with hysteresis
    (tier) and without it (raw_tier against the previous raw tier)."""
    ranked = F.col("previous_tier").isin(*RANKED)
    row = frame.agg(
        F.avg(F.when(ranked, (F.col("tier") != F.col("previous_tier")).cast("double"))),
        F.avg(F.when(F.col("previous_raw_tier").isin(*RANKED),
                     (F.col("raw_tier") != F.col("previous_raw_tier")).cast("double"))),
    ).first()
    return row[0], row[1]


def run(spark: SparkSession, cfg: Config, as_of: date, entity: str) -> dict[str, int]:
    """Publish the tiers and potential scores of ``entity`` for ``as_of``; return row counts."""
    key = DAILY_TABLES[entity].key
    tiers_name = cfg.table(tiers_table(entity))
    record = RunRecord(job=JOB, target_table=tiers_name, as_of=as_of)
    with recorded(spark, cfg, record):
        shares = model_settings.tier_shares(cfg)
        base = scoring_input(spark, cfg, entity, as_of)
        texts, versions = {}, []
        for kind in model_registry.KINDS:
            name = model_registry.model_name(entity, kind)
            model, features, row = model_registry.load_champion(spark, cfg, name)
            texts[kind] = store.to_texts(model, features)
            versions.append(f"{name} v{row.version}")
        record.versions_read = ", ".join(versions)
        ident = tuple(versions)
        shipped = spark.sparkContext.broadcast(texts)
        units, gates = model_settings.units(entity), model_settings.gates(cfg, entity)

        def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            champions = _champions(shipped.value, ident)
            for batch in batches:
                yield score_batch(batch, key, champions, units, gates, keep=CARRIED)

        scored = base.mapInPandas(score, _scored_schema(key)).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            # One pass gives both the row count and the cut points.
            quantiles = [1 - s for s in shares.values()]
            record.rows_in, cut_scores = scored.agg(
                F.count(F.lit(1)), F.percentile_approx("score", quantiles, 10_000)).first()
            cuts = dict(zip(RANKED, cut_scores, strict=False))
            # Guard the order against approximation noise: S's cut is never below A's.
            policy = TierPolicy(
                cuts=dict(zip(RANKED, sorted(cuts.values(), reverse=True), strict=False)),
                hysteresis=cfg.tier_hysteresis, new_days=cfg.tier_new_days,
                cap=cfg.tier_ineligible_cap)
            log.info("%s tier cut points: %s", entity,
                     ", ".join(f"{t} >= {v:,.2f}" for t, v in policy.cuts.items()))
            tiered = (scored.mapInPandas(lambda it: (tier_batch(b, policy) for b in it),
                                         _tiered_schema(key))
                      .persist(StorageLevel.MEMORY_AND_DISK))
            try:
                with_h, without_h = churn(tiered)
                record.message = (
                    f"tier churn vs previous tiers: {_pct(with_h)} with hysteresis, "
                    f"{_pct(without_h)} without")
                log.info("%s: %s", entity, record.message)
                counts = _publish(spark, cfg, record, entity, as_of, tiered, ident)
            finally:
                tiered.unpersist()
        finally:
            scored.unpersist()
        record.rows_inserted = sum(counts.values())
        record.wrote(spark, tiers_name)
        record.wrote(spark, cfg.table(POTENTIAL_TABLE))
        record.status = "success"
        return counts


def _pct(value: float | None) -> str:
    return "n/a (no previous tiers)" if value is None else f"{value:.1%}"


def _publish(spark: SparkSession, cfg: Config, record: RunRecord, entity: str, as_of: date,
             tiered: DataFrame, versions: tuple[str, ...]) -> dict[str, int]:
    key = DAILY_TABLES[entity].key
    tiers_name = cfg.table(tiers_table(entity))
    tiers = tiered.select(
        key, AS_OF, "tier", "previous_tier", "raw_tier", "score",
        (F.size("failed_gates") == 0).cast(BooleanType()).alias("eligible"),
        "failed_gates", F.col("value_reasons").alias("reasons"),
        F.lit(versions[0]).alias("model_version"),
    )
    tiers_audit = quality.partition_audit(
        spark, cfg, record, tiers_name, AS_OF, as_of,
        lambda schema, previous, _candidate: suites.tiers(
            entity, key, as_of, schema, previous[1] if previous else None,
            cfg.dq_volume_tolerance))
    n_tiers = delta_io.replace_dates(spark, tiers, tiers_name, AS_OF, [as_of], tiers_audit)
    potential_name = cfg.table(POTENTIAL_TABLE)
    order = Window.partitionBy(AS_OF).orderBy(F.col("probability").desc(), F.col("entity_id"))
    potential = (
        tiered.where(F.col("tier").isin("C", "D", "new"))
        .select(
            F.lit(entity).alias("entity_type"), F.col(key).alias("entity_id"), AS_OF,
            "tier", F.col("potential_raw").alias("score"),
            F.col("potential_probability").alias("probability"),
            F.col("potential_reasons").alias("reasons"),
            F.lit(versions[1]).alias("model_version"),
        )
        .withColumn("rank", F.row_number().over(order))
    )
    n_potential = delta_io.replace_dates(
        spark, potential, potential_name, AS_OF, [as_of],
        lambda candidate, rows: quality.gate(
            spark, cfg, record, potential_name, candidate,
            suites.potential_scores(as_of, quality.published_schema(spark, potential_name)),
            rows),
        also=f"entity_type = '{entity}'",
    )
    log.info("%s: %d tier rows, %d potential rows", entity, n_tiers, n_potential)
    return {tiers_table(entity): n_tiers, POTENTIAL_TABLE: n_potential}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--entity", required=True, choices=("merchant", "creator"))
    parser.add_argument("--as-of", required=True, type=date.fromisoformat,
                        help="the snapshot date to score (its features must be published)")


def execute(args: argparse.Namespace) -> None:
    cfg = load_config()
    run(get_spark(cfg, f"score-{args.entity}"), cfg, args.as_of, args.entity)
