"""Outreach lists: the day's tiers, potential and the learnt effect of a contact ->
``outreach_lists`` (``growth outreach --entity E --as-of D``).

Grain of ``outreach_lists``: one row per (as_of_date, campaign, entity_type, entity_id); one
campaign per entity type and day (``<entity>-outreach-<D>``), ranked 1..n by priority.

1. Candidates: every entity tiered on D (``<entity>_tiers``) with its predicted value (the
   tier score), its potential (``potential_scores``, below tier B), its snapshot features
   (``<entity>_features``) and traits (category, region, language, catalogue).
2. The effect of a contact: an uplift model (``GROWTH_OUTREACH_UPLIFT_LEARNER``, default
   "auto": a T-, X-, linear or response learner, whichever ranked the latest past campaigns best when
   learnt from the ones before) fitted on every past campaign whose outcome window closed
   by D (``evaluate_uplift.enrolment_frame``).
   Priority = effect x value. Without a closed campaign, or with an arm too thin to learn
   from, the list falls back to potential x value and says so in ``ranking_basis``.
3. Who may be listed (``growth.features.outreach``): not opted out, not already managed
   (onboarded), not blocked by a service-quality gate, not contacted within the cooldown
   (past campaigns' contacts and earlier lists' rows alike).
4. Allocation (``growth.models.allocation``): the entity type's team of account managers,
   each with their weekly capacity less what the lists of the six days before already gave
   them; region, language and category matching; a maximum category share; a seeded
   randomized holdout kept uncontacted. Exact (HiGHS) up to
   ``GROWTH_OUTREACH_EXACT_MAX_PAIRS`` candidate-manager pairs, greedy above, with its gap
   to the LP bound in the run log.
5. The list passes the ``outreach_lists`` gate (no suppressed entity, no manager over
   capacity, contiguous ranks, ...) before it replaces the day's rows of this entity type.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    StringType,
    StructField,
    StructType,
)

from growth.errors import GrowthError
from growth.expectations import suites
from growth.features import outreach as outreach_inputs
from growth.features.contracts import ENTITY_SOURCES
from growth.features.registry import DAILY_TABLES, feature_names
from growth.features.traits import entity_traits
from growth.features.windows import AS_OF
from growth.jobs import delta_io, inputs, quality
from growth.jobs.build_features import features_table
from growth.jobs.config import Config, load_config
from growth.jobs.evaluate_uplift import design_names, enrolment_frame
from growth.jobs.run_log import RunRecord, recorded
from growth.jobs.score import POTENTIAL_TABLE
from growth.jobs.session import get_spark
from growth.layout import silver_table
from growth.models import lookalike
from growth.models import outreach as ranking
from growth.models.allocation import Allocation, AllocationPolicy, allocate, contactable
from growth.models.uplift import SELECTABLE, LinearUpliftModel, UpliftModel, fit_selected

log = logging.getLogger(__name__)

JOB = "outreach"
TABLE = "outreach_lists"
# The team whose managers call each entity type (account_managers.team).
TEAMS = {"merchant": "merchant_growth", "creator": "creator_growth"}
# Gates of service quality: an entity failing one is not promoted (``BLOCKED``).
BLOCKING_GATES = {"merchant": ("min_rating", "max_late_rate", "max_failed_rate"),
                  "creator": ()}
SCHEMA = StructType([
    StructField(AS_OF, DateType()), StructField("campaign", StringType()),
    StructField("rank", IntegerType()), StructField("entity_type", StringType()),
    StructField("entity_id", StringType()), StructField("manager_id", StringType()),
    StructField("team", StringType()), StructField("ranking_basis", StringType()),
    StructField("expected_effect", DoubleType()), StructField("expected_value", DoubleType()),
    StructField("priority", DoubleType()), StructField("tier", StringType()),
    StructField("potential", DoubleType()), StructField("reasons", ArrayType(StringType())),
    StructField("holdout", BooleanType()),
])


def campaign_name(entity: str, as_of: date) -> str:
    return f"{entity}-outreach-{as_of}"


def candidate_frame(spark: SparkSession, cfg: Config, entity: str, as_of: date) -> pd.DataFrame:
    """Every entity tiered on ``as_of``: entity_id, tier, expected_value, value_reasons,
    failed_gates, potential, potential_reasons, its snapshot features and its traits."""
    key = DAILY_TABLES[entity].key
    tiers = inputs.day_tiers(spark, cfg, entity, as_of).select(
        key, "tier", F.col("score").alias("expected_value"),
        F.col("reasons").alias("value_reasons"))
    entities = inputs.silver(spark, cfg, ENTITY_SOURCES[entity], as_of)
    products = inputs.silver(spark, cfg, "products", as_of) if entity == "merchant" else None
    traits = entity_traits(entity, entities, [as_of], products).drop(AS_OF)
    snapshot = spark.table(cfg.table(features_table(entity))).where(
        F.col(AS_OF) == F.lit(as_of)).select(key, *feature_names(entity))
    rows = tiers.join(traits, key, "inner").join(snapshot, key, "left")
    potential_name = cfg.table(POTENTIAL_TABLE)
    if delta_io.table_exists(spark, potential_name):
        potential = spark.table(potential_name).where(
            (F.col(AS_OF) == F.lit(as_of)) & (F.col("entity_type") == entity)).select(
            F.col("entity_id").alias(key), F.col("probability").alias("potential"),
            F.col("reasons").alias("potential_reasons"))
        rows = rows.join(potential, key, "left")
    else:
        rows = rows.select("*", F.lit(None).cast("double").alias("potential"),
                           F.lit(None).cast("array<string>").alias("potential_reasons"))
    return rows.withColumnRenamed(key, "entity_id").orderBy("entity_id").toPandas()


@dataclass(frozen=True)
class EffectModel:
    """The effect of a contact learnt from past campaigns, or why there is none."""

    model: UpliftModel | LinearUpliftModel | None
    names: list[str]
    note: str


# How many effect-model choices are kept per entity type: one per set of closed campaigns
# (a new one closes about monthly), plus the sets a backfill of recent days sees.
MEMO_ENTRIES = 8


def selection_memo_path(cfg: Config, entity: str) -> Path:
    """The effect-model choices already made for ``entity`` (``uplift.fit_selected``'s
    memo): a cache, deleting it only makes the next run validate again."""
    return cfg.lake_root / "models" / "uplift_selection" / f"{entity}.json"


def _load_memo(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    try:
        memo = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        log.warning("ignoring the unreadable effect-model memo %s (%s): the choice is made "
                    "again", path, exc)
        return {}
    return memo if isinstance(memo, dict) else {}


def _save_memo(path: Path, memo: dict[str, dict]) -> None:
    kept = dict(list(memo.items())[-MEMO_ENTRIES:])
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: a reader never sees half a file.
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(kept, indent=1))
    os.replace(partial, path)


def effect_model(spark: SparkSession, cfg: Config, entity: str, as_of: date) -> EffectModel:
    """Fit the effect model on every campaign closed by ``as_of`` (see the module)."""
    if cfg.outreach_uplift_learner not in SELECTABLE:
        raise GrowthError(f"GROWTH_OUTREACH_UPLIFT_LEARNER is {cfg.outreach_uplift_learner!r}: "
                          f"use one of {', '.join(SELECTABLE)}")
    if not delta_io.table_exists(spark, cfg.table(silver_table("outreach_events"))):
        return EffectModel(None, [], "no outreach_events ingested: no experiment history")
    try:
        frame = enrolment_frame(spark, cfg, entity, as_of, cfg.outreach_outcome_days)
    except GrowthError as exc:
        return EffectModel(None, [], str(exc))
    names = design_names(frame, entity)
    memo_path = selection_memo_path(cfg, entity)
    memo = _load_memo(memo_path)
    known = set(memo)
    try:
        model, chosen, _ = fit_selected(
            lookalike.encode(frame, names), frame["treated"].to_numpy(),
            frame["onboarded"].to_numpy(), frame["campaign_id"].to_numpy(),
            cfg.outreach_uplift_learner, memo=memo,
            learning_rate=cfg.model_learning_rate, random_state=cfg.sim_seed)
    except ValueError as exc:
        return EffectModel(None, [], f"past {entity} campaigns cannot be learnt from: {exc}")
    reused = set(memo) == known
    if not reused:
        _save_memo(memo_path, memo)
    campaigns = frame["campaign_id"].nunique()
    how = "reused" if reused else "chosen by rolling-origin validation"
    return EffectModel(model, names, f"effect learnt from {campaigns} campaign(s), "
                                     f"{len(frame):,} enrolments, settings {chosen} ({how})")


def _managers(spark: SparkSession, cfg: Config, entity: str, as_of: date,
              lists: DataFrame | None) -> pd.DataFrame:
    """The team's managers with the capacity left this week (never below 0)."""
    managers = inputs.silver(spark, cfg, "account_managers", as_of).where(
        F.col("team") == TEAMS[entity])
    if lists is not None:
        used = outreach_inputs.used_capacity(lists, as_of)
        managers = (managers.join(used, "manager_id", "left")
                    .withColumn("weekly_capacity", F.greatest(
                        F.lit(0), F.col("weekly_capacity") - F.coalesce("used", F.lit(0)))
                        .cast("int")))
    return managers.select("manager_id", "team", "region", "languages", "categories",
                           "weekly_capacity").orderBy("manager_id").toPandas()


def allocation(candidates: pd.DataFrame, suppressed: pd.DataFrame, contacts: pd.DataFrame,
               managers: pd.DataFrame, entity: str, as_of: date, cfg: Config,
               basis: str) -> tuple[Allocation, int]:
    """Allocate the contactable candidates; returns the allocation and their number."""
    pool = candidates.assign(entity_type=entity, value=candidates["priority"])
    if basis == ranking.POTENTIAL:
        pool = pool[pool["potential"].notna()]
    pool = contactable(
        pool[["entity_type", "entity_id", "region", "language", "category", "value"]],
        [(entity, e) for e in suppressed["entity_id"]],
        contacts.assign(entity_type=entity), as_of, cfg.outreach_cooldown_days)
    policy = AllocationPolicy(
        max_category_share=cfg.outreach_max_category_share,
        holdout_share=cfg.outreach_holdout_share,
        # A new draw every day, the same one on every rerun of a day.
        seed=cfg.sim_seed * 1_000_003 + as_of.toordinal(),
        exact_max_pairs=cfg.outreach_exact_max_pairs)
    return allocate(pool, managers, policy), len(pool)


def _empty_why(result: Allocation, managers: pd.DataFrame, contactable_rows: int,
               cfg: Config) -> str:
    if contactable_rows == 0:
        return "no candidate is contactable (suppressed, in cooldown or worth nothing)"
    if int(managers["weekly_capacity"].sum()) == 0:
        return "the team's managers have no capacity left this week"
    return (f"{contactable_rows} contactable candidate(s) but no feasible assignment: check "
            f"that the managers' regions, languages and categories match the candidates', "
            f"and that GROWTH_OUTREACH_MAX_CATEGORY_SHARE ({cfg.outreach_max_category_share}) "
            f"leaves room for the candidates' categories (with k categories, a share below "
            f"1/k allows no list at all)")


def run(spark: SparkSession, cfg: Config, as_of: date, entity: str) -> int:
    """Publish the day's outreach list of ``entity``; return the rows written."""
    name = cfg.table(TABLE)
    record = RunRecord(job=JOB, target_table=name, as_of=as_of)
    with recorded(spark, cfg, record):
        key = DAILY_TABLES[entity].key
        candidates = candidate_frame(spark, cfg, entity, as_of)
        record.rows_in = len(candidates)
        effect = effect_model(spark, cfg, entity, as_of)
        if effect.model is not None:
            basis = ranking.UPLIFT
            candidates["expected_effect"] = effect.model.effect(
                lookalike.encode(candidates, effect.names))
        else:
            basis = ranking.POTENTIAL
            candidates["expected_effect"] = np.nan
            log.warning("%s outreach on %s ranks by potential x value: %s", entity, as_of,
                        effect.note)
        candidates["priority"] = ranking.priorities(
            basis, candidates["expected_value"].to_numpy(float),
            candidates["expected_effect"].to_numpy(float),
            candidates["potential"].to_numpy(float))

        lists = spark.table(name) if delta_io.table_exists(spark, name) else None
        events = inputs.silver(spark, cfg, "outreach_events", as_of)
        tiers = inputs.day_tiers(spark, cfg, entity, as_of)
        suppressed = outreach_inputs.suppressions(
            inputs.silver(spark, cfg, "opt_outs", as_of), events, tiers, entity, key, as_of,
            BLOCKING_GATES[entity]).toPandas()
        contacts = outreach_inputs.last_contacts(events, lists, entity, as_of).toPandas()
        managers = _managers(spark, cfg, entity, as_of, lists)
        result, contactable_rows = allocation(candidates, suppressed, contacts, managers,
                                              entity, as_of, cfg, basis)
        rows = ranking.list_rows(
            result.rows, candidates[["entity_id", "tier", "expected_value", "expected_effect",
                                     "potential", "value_reasons", "potential_reasons"]],
            entity, as_of, campaign_name(entity, as_of), basis, cfg.label_horizon_days)
        listed, held = len(rows), int(rows["holdout"].sum()) if len(rows) else 0
        by_reason = suppressed["reason"].value_counts().sort_index()
        record.message = (
            f"{basis}: {listed} listed ({held} holdout) from {contactable_rows} contactable "
            f"of {len(candidates)} candidates; suppressed "
            f"{', '.join(f'{r} {n}' for r, n in by_reason.items()) or 'none'}; "
            f"{result.solver} allocation, objective {result.objective:,.2f}, bound "
            f"{result.bound:,.2f}, gap {result.gap:.2%}; {effect.note}")
        log.info("%s outreach on %s: %s", entity, as_of, record.message)
        candidate = spark.createDataFrame(rows, SCHEMA)
        if listed == 0:
            # Nothing to call today (no room left this week, nobody contactable, or every
            # list the category share allows is empty): the day's rows of an earlier run go.
            why = _empty_why(result, managers, contactable_rows, cfg)
            record.message = f"nothing listed: {why}; {record.message}"
            log.warning("%s outreach on %s: %s", entity, as_of, record.message)
            delta_io.replace_dates(spark, candidate, name, AS_OF, [as_of],
                                   also=f"entity_type = '{entity}'")
            record.wrote(spark, name)
            record.status, record.rows_inserted = "empty", 0
            return 0
        capacities = dict(zip(managers["manager_id"], managers["weekly_capacity"].astype(int),
                              strict=True))
        written = delta_io.replace_dates(
            spark, candidate, name, AS_OF, [as_of],
            lambda df, n: quality.gate(
                spark, cfg, record, name, df,
                suites.outreach_lists(as_of, quality.published_schema(spark, name),
                                      [(entity, e) for e in suppressed["entity_id"]],
                                      capacities), n),
            also=f"entity_type = '{entity}'")
        record.rows_inserted = written
        record.wrote(spark, name)
        record.status = "success"
        return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--entity", required=True, choices=("merchant", "creator"))
    parser.add_argument("--as-of", required=True, type=date.fromisoformat,
                        help="the day whose tiers and potential scores the list ranks "
                        "(published by 'growth score' for that day)")


def execute(args: argparse.Namespace) -> None:
    cfg = load_config()
    run(get_spark(cfg, f"outreach-{args.entity}"), cfg, args.as_of, args.entity)
