"""Evaluate the effect-of-outreach model on held-out campaigns (``growth uplift-eval``).

1. The enrolments of every campaign whose outcome windows have closed by ``--as-of``
   (``growth.features.outreach``), each with the snapshot of the day before its campaign
   started (computed from the daily table in one pass, ``snapshot_features``) and its traits
   (``entity_traits``): one row per (campaign, entity).
2. The latest ``--holdout-campaigns`` campaigns are held out; ``UpliftModel`` learns the
   others (features plus one-hot traits).
3. On the held-out rows it prints the Qini coefficient, AUUC and uplift at 10% and 30% of
   the model's ranking, of rule rankings (trailing value, the potential model's own kind of
   signal: value growth) and, on a simulated lake, of the oracle ranking by the simulator's
   true effect, with the target: the model's Qini at least ``TARGET_SHARE`` of the
   oracle's.

Reads silver outreach_events, the entity's daily and silver tables, silver products and
(if present) ``sim_ground_truth``. Writes nothing: it prints the report.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from growth.errors import GrowthError
from growth.features.contracts import ENTITY_SOURCES
from growth.features.outreach import campaign_enrolments
from growth.features.registry import DAILY_TABLES, LOOKBACK, feature_names
from growth.features.traits import TRAITS, entity_traits
from growth.features.windows import AS_OF, snapshot_features
from growth.jobs import delta_io
from growth.jobs.config import Config, load_config
from growth.jobs.session import get_spark
from growth.layout import GROUND_TRUTH_TABLE, silver_table
from growth.models import lookalike
from growth.models.uplift import LEARNERS, fit_selected
from growth.models.uplift_metrics import auuc, qini_coefficient, uplift_at_k

log = logging.getLogger(__name__)

TARGET_SHARE = 0.7
VALUE_30D = {"merchant": "gmv_sum_30d", "creator": "affiliate_gmv_sum_30d"}
GROWTH_30D = {"merchant": "gmv_growth_30d", "creator": "affiliate_gmv_growth_30d"}


@dataclass(frozen=True)
class Ranking:
    name: str
    qini: float
    auuc: float
    uplift_10: float
    uplift_30: float


def _ranking(name: str, y: np.ndarray, t: np.ndarray, score: np.ndarray) -> Ranking:
    return Ranking(name, qini_coefficient(y, t, score), auuc(y, t, score),
                   uplift_at_k(y, t, score, 0.1), uplift_at_k(y, t, score, 0.3))


def enrolment_frame(spark: SparkSession, cfg: Config, entity: str, as_of: date,
                    outcome_days: int) -> pd.DataFrame:
    """Every closed campaign's enrolments with their snapshot and traits (one row per
    campaign and entity), and the simulator's true effect when the lake has one."""
    key = DAILY_TABLES[entity].key
    events = spark.table(cfg.table(silver_table("outreach_events")))
    enrolments = campaign_enrolments(events, entity, as_of, outcome_days).persist()
    try:
        dates = sorted(r[0] for r in enrolments.select(AS_OF).distinct().collect())
        if not dates:
            raise GrowthError(f"no {entity} campaign has closed its {outcome_days}-day outcome "
                              f"window by {as_of}: nothing to learn from")
        daily = spark.table(cfg.table(DAILY_TABLES[entity].name)).where(
            F.col("date").between(min(dates) - timedelta(days=LOOKBACK), max(dates)))
        entities = spark.table(cfg.table(silver_table(ENTITY_SOURCES[entity])))
        snapshots = snapshot_features(daily, entities, entity, dates)
        products = (spark.table(cfg.table(silver_table("products")))
                    if entity == "merchant" else None)
        traits = entity_traits(entity, entities, dates, products)
        rows = (enrolments.withColumnRenamed("entity_id", key)
                .join(snapshots, [key, AS_OF], "inner")
                .join(traits, [key, AS_OF], "inner"))
        truth = cfg.table(GROUND_TRUTH_TABLE)
        if delta_io.table_exists(spark, truth):
            effect = spark.table(truth).where(F.col("entity_type") == entity).select(
                F.col("entity_id").alias(key), F.col("true_outreach_effect").alias("true_effect"))
            rows = rows.join(effect, key, "left")
        return rows.orderBy("campaign_id", key).toPandas()
    finally:
        enrolments.unpersist()


def design_names(train: pd.DataFrame, entity: str) -> list[str]:
    """The effect model's inputs: the snapshot's features, then the one-hot traits seen in
    the training rows ``train`` and the numeric traits (``lookalike.encode`` reads them)."""
    traits = TRAITS[entity]
    return list(feature_names(entity)) + lookalike.encoded_names(
        train, traits.categorical, list(traits.numeric))


def evaluate(frame: pd.DataFrame, entity: str, holdout_campaigns: int, learner: str,
             params: dict) -> tuple[list[Ranking], dict]:
    """Fit on the earlier campaigns of ``frame`` and rank the held-out ones."""
    campaigns = sorted(frame["campaign_id"].unique())
    if len(campaigns) <= holdout_campaigns or holdout_campaigns < 1:
        raise GrowthError(f"{len(campaigns)} closed {entity} campaign(s): need more than "
                          f"--holdout-campaigns {holdout_campaigns} (and at least 1 held out)")
    held = campaigns[-holdout_campaigns:]
    test = frame["campaign_id"].isin(held).to_numpy()
    names = design_names(frame[~test], entity)
    X = lookalike.encode(frame, names)
    t, y = frame["treated"].to_numpy(), frame["onboarded"].to_numpy()
    groups = frame["campaign_id"].to_numpy()
    try:
        model, chosen, scores = fit_selected(X[~test], t[~test], y[~test], groups[~test],
                                             learner, **params)
    except ValueError as exc:
        raise GrowthError(f"{entity} uplift: {exc}") from exc
    log.info("%s uplift: settings %s chosen on the last training campaign (Qini per "
             "candidate: %s)", entity, chosen, ", ".join(f"{q:.3f}" for q in scores))
    yt, tt = y[test], t[test]
    held_frame = frame[test]
    rankings = [_ranking(f"model ({learner}-learner)", yt, tt, model.effect(X[test]))]
    if "true_effect" in frame and frame["true_effect"].notna().all():
        rankings.append(_ranking("oracle (true effect)", yt, tt,
                                 held_frame["true_effect"].to_numpy(float)))
    rankings.append(_ranking(f"trailing value ({VALUE_30D[entity]})", yt, tt,
                             held_frame[VALUE_30D[entity]].to_numpy(float)))
    growth = held_frame[GROWTH_30D[entity]].to_numpy(float)
    rankings.append(_ranking(f"growth ratio ({GROWTH_30D[entity]})", yt, tt,
                             np.nan_to_num(growth, nan=-1.0)))
    info = {"train": campaigns[:-holdout_campaigns], "held": held, "chosen": chosen,
            "train_rows": int((~test).sum()), "test_rows": int(test.sum()),
            "test_control": int((tt == 0).sum()), "test_onboarded": int(yt.sum())}
    return rankings, info


def report(entity: str, rankings: list[Ranking], info: dict) -> str:
    lines = [
        f"{entity} uplift: learnt from {len(info['train'])} campaign(s) ({info['train'][0]} .. "
        f"{info['train'][-1]}, {info['train_rows']:,} rows), scored on {len(info['held'])} "
        f"held out ({', '.join(info['held'])}: {info['test_rows']:,} rows, "
        f"{info['test_control']:,} control, {info['test_onboarded']:,} onboarded); settings "
        f"chosen on the last training campaign: {info['chosen']}",
        f"{'ranking':<44}{'qini':>9}{'auuc':>9}{'uplift@10%':>12}{'uplift@30%':>12}",
    ]
    for r in rankings:
        lines.append(f"{r.name:<44}{r.qini:>9.4f}{r.auuc:>9.4f}{r.uplift_10:>12.4f}"
                     f"{r.uplift_30:>12.4f}")
    oracle = next((r for r in rankings if r.name.startswith("oracle")), None)
    if oracle is None:
        lines.append("no simulator ground truth in this lake: no oracle to compare with")
    elif not oracle.qini > 0 or math.isnan(rankings[0].qini):
        lines.append(f"the oracle's Qini on these rows is {oracle.qini:.4f}: too few held-out "
                     "rows to judge a ranking")
    else:
        share = rankings[0].qini / oracle.qini
        verdict = "met" if share >= TARGET_SHARE else "missed"
        lines.append(f"target: Qini >= {TARGET_SHARE} x the oracle's: {verdict} "
                     f"({share:.2f} x)")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--entity", required=True, choices=("merchant", "creator"))
    parser.add_argument("--as-of", required=True, type=date.fromisoformat,
                        help="the data's end: only campaigns whose outcome windows closed by "
                        "then are used")
    parser.add_argument("--holdout-campaigns", type=int, default=2,
                        help="latest campaigns held out for the evaluation (default 2)")
    parser.add_argument("--learner", choices=LEARNERS, default="x",
                        help="t: one model per arm; x: the X-learner (default)")
    parser.add_argument("--outcome-days", type=int, default=14,
                        help="days after enrolment an onboarding counts (default 14)")


def execute(args: argparse.Namespace) -> None:
    cfg = load_config()
    spark = get_spark(cfg, f"uplift-eval-{args.entity}")
    frame = enrolment_frame(spark, cfg, args.entity, args.as_of, args.outcome_days)
    params = {"learning_rate": cfg.model_learning_rate, "random_state": cfg.sim_seed}
    rankings, info = evaluate(frame, args.entity, args.holdout_campaigns, args.learner, params)
    text = report(args.entity, rankings, info)
    log.info("uplift evaluation:\n%s", text)
    sys.stdout.write(text + "\n")
