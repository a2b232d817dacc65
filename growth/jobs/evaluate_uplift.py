"""Evaluate the effect-of-outreach model on held-out campaigns (``growth uplift-eval``).

1. The enrolments of every campaign whose outcome windows have closed by ``--as-of``
   (``growth.features.outreach``), each with the snapshot of the day before its campaign
   started (computed from the daily table in one pass, ``snapshot_features``) and its traits
   (``entity_traits``): one row per (campaign, entity).
2. The latest ``--holdout-campaigns`` campaigns are held out; the effect model
   (``uplift.fit_selected``: the learner and its settings chosen by rolling-origin
   validation over the training campaigns) learns the others (features plus one-hot
   traits).
3. On the held-out rows it prints the Qini coefficient, AUUC and uplift at 10% and 30% of
   the model's ranking, of rule rankings (trailing value, the potential model's own kind of
   signal: value growth) and, on a simulated lake, of the oracle ranking by the simulator's
   true effect, with the target: the model's Qini at least ``TARGET_SHARE`` of the
   oracle's. These are measured on the realised outcomes, noisy on a few hundred rows.
4. On a simulated lake (``true_effect`` known on every held-out row) each ranking also gets
   ``true_effect_qini``: the same area judged by the true effect of the entities it ranks
   first, contacted or not, where the oracle is the maximum by construction; the target line
   gives both ratios. On real data there is no true effect: only the realised figures.

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
from growth.models.uplift import AUTO, SELECTABLE, feature_ceiling, fit_selected
from growth.models.uplift_metrics import auuc, qini_coefficient, true_effect_qini, uplift_at_k

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
    true_qini: float = math.nan
    """``true_effect_qini`` of the ranking; NaN when the true effect is not known."""


def _ranking(name: str, y: np.ndarray, t: np.ndarray, score: np.ndarray,
             true_effect: np.ndarray | None) -> Ranking:
    true_qini = math.nan if true_effect is None else true_effect_qini(true_effect, score)
    return Ranking(name, qini_coefficient(y, t, score), auuc(y, t, score),
                   uplift_at_k(y, t, score, 0.1), uplift_at_k(y, t, score, 0.3), true_qini)


def known_true_effect(frame: pd.DataFrame) -> np.ndarray | None:
    """The ``true_effect`` column of ``frame`` when it is known on every row (a simulated
    lake's ``sim_ground_truth``), else None (real data, or entities the truth lacks)."""
    if "true_effect" not in frame or frame["true_effect"].isna().any():
        return None
    return frame["true_effect"].to_numpy(float)


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
        # Snapshots and traits are per entity, so computing them for the enrolled entities
        # only gives the same rows: campaigns enrol a slice of the population (2% a month on
        # the large profile), and every other entity's history would be read for nothing.
        enrolled = F.broadcast(enrolments.select(F.col("entity_id").alias(key)).distinct())
        daily = spark.table(cfg.table(DAILY_TABLES[entity].name)).where(
            F.col("date").between(min(dates) - timedelta(days=LOOKBACK), max(dates))
        ).join(enrolled, key, "left_semi")
        entities = spark.table(cfg.table(silver_table(ENTITY_SOURCES[entity]))).join(
            enrolled, key, "left_semi")
        snapshots = snapshot_features(daily, entities, entity, dates)
        products = (spark.table(cfg.table(silver_table("products"))).join(
            enrolled, key, "left_semi") if entity == "merchant" else None)
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
    """Fit on the earlier campaigns of ``frame`` and rank the held-out ones.

    Reads ``campaign_id``, ``treated``, ``onboarded``, the design columns
    (``design_names``), the rules' ``VALUE_30D`` and ``GROWTH_30D`` columns and, if present,
    ``true_effect`` (never used in learning: only for the oracle row and ``true_qini``)."""
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
    log.info("%s uplift: settings %s chosen on the latest training campaigns (mean Qini "
             "per candidate: %s)", entity, chosen, ", ".join(f"{q:.3f}" for q in scores))
    yt, tt = y[test], t[test]
    held_frame = frame[test]
    truth = known_true_effect(held_frame)
    rankings = [_ranking(f"model ({chosen['learner']}-learner)", yt, tt,
                         model.effect(X[test]), truth)]
    if truth is not None:
        rankings.append(_ranking("oracle (true effect)", yt, tt, truth, truth))
        train_truth = known_true_effect(frame[~test])
        if train_truth is not None:
            ceiling = feature_ceiling(X[~test], train_truth, X[test], params.get("random_state"))
            rankings.append(_ranking("ceiling (fitted to the true effect)", yt, tt, ceiling,
                                     truth))
    rankings.append(_ranking(f"trailing value ({VALUE_30D[entity]})", yt, tt,
                             held_frame[VALUE_30D[entity]].to_numpy(float), truth))
    growth = held_frame[GROWTH_30D[entity]].to_numpy(float)
    rankings.append(_ranking(f"growth ratio ({GROWTH_30D[entity]})", yt, tt,
                             np.nan_to_num(growth, nan=-1.0), truth))
    info = {"train": campaigns[:-holdout_campaigns], "held": held, "chosen": chosen,
            "train_rows": int((~test).sum()), "test_rows": int(test.sum()),
            "test_control": int((tt == 0).sum()), "test_onboarded": int(yt.sum()),
            "truth": ("absent" if "true_effect" not in frame
                      else "partial" if truth is None else "known")}
    return rankings, info


def _share(model: float, oracle: float) -> str:
    """``model / oracle`` against the target, or why it cannot be judged."""
    if not oracle > 0 or math.isnan(model):
        return f"not judged (the oracle's is {oracle:.4f}: too few rows to judge a ranking)"
    share = model / oracle
    return f"{'met' if share >= TARGET_SHARE else 'missed'} ({share:.2f} x)"


def report(entity: str, rankings: list[Ranking], info: dict) -> str:
    """The evaluation as text: one line per ranking, then the target line (both Qini
    versions when the true effect is known, the realised one only otherwise)."""
    lines = [
        f"{entity} uplift: learnt from {len(info['train'])} campaign(s) ({info['train'][0]} .. "
        f"{info['train'][-1]}, {info['train_rows']:,} rows), scored on {len(info['held'])} "
        f"held out ({', '.join(info['held'])}: {info['test_rows']:,} rows, "
        f"{info['test_control']:,} control, {info['test_onboarded']:,} onboarded); settings "
        f"chosen on the latest training campaigns: {info['chosen']}",
        f"{'ranking':<44}{'qini':>9}{'auuc':>9}{'uplift@10%':>12}{'uplift@30%':>12}"
        f"{'true qini':>11}",
    ]
    for r in rankings:
        true_qini = "n/a" if math.isnan(r.true_qini) else f"{r.true_qini:.4f}"
        lines.append(f"{r.name:<44}{r.qini:>9.4f}{r.auuc:>9.4f}{r.uplift_10:>12.4f}"
                     f"{r.uplift_30:>12.4f}{true_qini:>11}")
    oracle = next((r for r in rankings if r.name.startswith("oracle")), None)
    if oracle is None:
        missing = ("the simulator's ground truth lacks some held-out entities"
                   if info.get("truth") == "partial" else "no simulator ground truth in this lake")
        lines.append(f"{missing}: realised-outcome figures only, no oracle and no true-effect "
                     "Qini to compare with")
    else:
        model = rankings[0]
        lines.append(f"target: Qini >= {TARGET_SHARE} x the oracle's: realised outcomes "
                     f"{_share(model.qini, oracle.qini)}; true effect "
                     f"{_share(model.true_qini, oracle.true_qini)}")
        ceiling = next((r for r in rankings if r.name.startswith("ceiling")), None)
        if ceiling is not None and oracle.true_qini > 0:
            lines.append(f"what the features allow: a model fitted to the true effect reaches "
                         f"{ceiling.true_qini / oracle.true_qini:.2f} x the oracle's true-effect "
                         f"Qini (the model: {model.true_qini / oracle.true_qini:.2f} x)")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--entity", required=True, choices=("merchant", "creator"))
    parser.add_argument("--as-of", required=True, type=date.fromisoformat,
                        help="the data's end: only campaigns whose outcome windows closed by "
                        "then are used")
    parser.add_argument("--holdout-campaigns", type=int, default=2,
                        help="latest campaigns held out for the evaluation (default 2)")
    parser.add_argument("--learner", choices=SELECTABLE, default=AUTO,
                        help="t: one model per arm; x: the X-learner; linear: a logistic "
                        "model with contact interactions; response: the contacted arm's "
                        "model less the control arm's rate; auto (default): whichever of "
                        "the four ranks the latest training campaigns best")
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
