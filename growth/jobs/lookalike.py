"""Look-alike scores: traits + the day's tiers -> ``lookalike_scores`` for entities with no
history of their own.

Grain of ``lookalike_scores``: one row per (entity_type, entity_id, as_of_date) for every
entity in tier ``new`` on as_of_date (joined too recently to be tiered from its activity).

1. Every entity tiered on D gets its traits as of D (``growth.features.traits``): category,
   region, language and, for merchants, the catalogue listed by then.
2. The entities in tier S or A are the known successes; all the others, new ones included,
   are unlabeled. A positive-unlabeled model (``LookalikeModel``) learns which traits the
   successes share, on the day's tiers: no history is needed, only traits.
3. The new entities are scored: ``score`` (the booster's probability of looking like a
   known success), ``probability`` (score / c, c the share of held-out successes the traits
   recognise, capped at 1), ``rank`` within the entity type (1 = most alike), and up to
   three readable reasons ("category fashion", "products listed 12").

The model is refitted on each run (it reads only one day's tiers) and saved beside the
registry's artifacts under ``<lake>/models/<entity>_lookalike/<as_of>/``; its check (ROC-AUC
of held-out successes against held-out unlabeled entities) goes to the log and the run log.
"""

from __future__ import annotations

import argparse
import logging
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql.types import (
    ArrayType,
    DateType,
    DoubleType,
    IntegerType,
    StringType,
    StructField,
    StructType,
)

from growth.errors import GrowthError
from growth.expectations import suites
from growth.features.contracts import ENTITY_SOURCES
from growth.features.registry import DAILY_TABLES
from growth.features.traits import TRAITS, entity_traits
from growth.features.windows import AS_OF
from growth.jobs import delta_io, inputs, model_settings, quality
from growth.jobs.config import Config, load_config
from growth.jobs.inputs import day_tiers
from growth.jobs.run_log import RunRecord, recorded
from growth.jobs.session import get_spark
from growth.models import lookalike, store
from growth.models.estimators import LookalikeModel
from growth.models.tiering import RANKED

log = logging.getLogger(__name__)

JOB = "lookalike"
TABLE = "lookalike_scores"
SUCCEEDED = RANKED[:2]  # S and A: the tiers the potential model calls success too
NEW = "new"
# Below this held-out ROC-AUC the run warns that its ranking is close to chance.
WEAK_AUC = 0.6
SCHEMA = StructType([
    StructField("entity_type", StringType()), StructField("entity_id", StringType()),
    StructField(AS_OF, DateType()), StructField("score", DoubleType()),
    StructField("probability", DoubleType()), StructField("rank", IntegerType()),
    StructField("reasons", ArrayType(StringType())),
])


def training_frame(spark: SparkSession, cfg: Config, entity: str, as_of: date) -> pd.DataFrame:
    """Every entity tiered on ``as_of`` with its traits and tier (one row per entity)."""
    tiers = day_tiers(spark, cfg, entity, as_of).select(DAILY_TABLES[entity].key, "tier")
    sources = [ENTITY_SOURCES[entity], *(["products"] if entity == "merchant" else [])]
    silver = {source: inputs.silver(spark, cfg, source, as_of) for source in sources}
    traits = entity_traits(entity, silver[sources[0]], [as_of], silver.get("products"))
    key = DAILY_TABLES[entity].key
    return traits.join(tiers, key, "inner").orderBy(key).toPandas()


def scores_frame(frame: pd.DataFrame, entity: str, as_of: date, seed: int,
                 params: dict) -> tuple[pd.DataFrame, LookalikeModel, list[str]]:
    """Fit on ``frame`` (``training_frame``) and score its new entities; returns the rows of
    ``lookalike_scores``, the model and its encoded feature names."""
    traits = TRAITS[entity]
    key = DAILY_TABLES[entity].key
    succeeded = frame["tier"].isin(SUCCEEDED).to_numpy()
    model, names = lookalike.fit(frame, succeeded, traits.categorical, list(traits.numeric),
                                 random_state=seed, **params)
    new = frame[frame["tier"] == NEW].reset_index(drop=True)
    scored = lookalike.score(model, names, new, traits.numeric)
    # Most alike first; equal probabilities in the booster's order, then by id.
    order = np.lexsort((new[key].to_numpy(), -scored.score, -scored.probability))
    rank = np.empty(len(new), dtype=np.int32)
    rank[order] = np.arange(1, len(new) + 1, dtype=np.int32)
    rows = pd.DataFrame({
        "entity_type": entity, "entity_id": new[key].astype(str), AS_OF: as_of,
        "score": scored.score.astype(float), "probability": scored.probability.astype(float),
        "rank": rank, "reasons": scored.reasons,
    })
    return rows, model, names


def run(spark: SparkSession, cfg: Config, as_of: date, entity: str) -> int:
    """Publish the look-alike scores of ``entity``'s new entities on ``as_of``; return the
    rows written."""
    record = RunRecord(job=JOB, target_table=cfg.table(TABLE), as_of=as_of)
    with recorded(spark, cfg, record):
        frame = training_frame(spark, cfg, entity, as_of)
        record.rows_in = len(frame)
        known = int(frame["tier"].isin(SUCCEEDED).sum())
        new = int((frame["tier"] == NEW).sum())
        log.info("%s look-alike on %s: %d tiered entities, %d known successes (%s), %d new",
                 entity, as_of, len(frame), known, "/".join(SUCCEEDED), new)
        name = cfg.table(TABLE)
        if new == 0:
            # Nothing to score; rows an earlier run left for this day go (a rescored day
            # may have no new entity any more).
            delta_io.replace_dates(spark, spark.createDataFrame([], SCHEMA), name, AS_OF,
                                   [as_of], also=f"entity_type = '{entity}'")
            record.wrote(spark, name)
            record.status, record.rows_inserted = "empty", 0
            record.message = f"no {entity} in tier {NEW} on {as_of}: nothing to score"
            log.info("%s look-alike: %s", entity, record.message)
            return 0
        try:
            rows, model, names = scores_frame(frame, entity, as_of, cfg.sim_seed,
                                              model_settings.new_params(cfg))
        except ValueError as exc:
            raise GrowthError(f"{entity} look-alike on {as_of}: {exc}") from exc
        store.save(model, names, artifact_dir(cfg, entity, as_of))
        record.message = (f"held-out ROC-AUC {model.holdout_auc_:.4f} (successes vs "
                          f"unlabeled), c {model.c_:.3f}, {known} known successes, "
                          f"{new} new entities scored")
        log.info("%s look-alike: %s", entity, record.message)
        if model.holdout_auc_ < WEAK_AUC:
            # Still published (the rows are valid), but whoever reads the list must know
            # its order is close to chance.
            record.message += (f"; WEAK: the traits barely tell successes apart (ROC-AUC "
                               f"below {WEAK_AUC}), the ranking is close to chance")
            log.warning("%s look-alike on %s: the traits barely tell known successes from "
                        "the others (held-out ROC-AUC %.3f < %.2f): the ranking is close to "
                        "chance; richer traits are needed", entity, as_of,
                        model.holdout_auc_, WEAK_AUC)
        candidate = spark.createDataFrame(rows, SCHEMA)
        written = delta_io.replace_dates(
            spark, candidate, name, AS_OF, [as_of],
            lambda df, n: quality.gate(
                spark, cfg, record, name, df,
                suites.potential_scores(as_of, quality.published_schema(spark, name), TABLE),
                n),
            also=f"entity_type = '{entity}'",
        )
        record.rows_inserted = written
        record.wrote(spark, name)
        record.status = "success"
        return written


def artifact_dir(cfg: Config, entity: str, as_of: date) -> Path:
    """Where the model of one run is kept (a rerun for the same date replaces it)."""
    return cfg.lake_root / "models" / f"{entity}_{JOB}" / str(as_of)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--entity", required=True, choices=("merchant", "creator"))
    parser.add_argument("--as-of", required=True, type=date.fromisoformat,
                        help="the date whose tiers the model learns from and whose new "
                        "entities it scores")


def execute(args: argparse.Namespace) -> None:
    cfg = load_config()
    run(get_spark(cfg, f"lookalike-{args.entity}"), cfg, args.as_of, args.entity)
