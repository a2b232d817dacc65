"""``growth evaluate-real``: the models on real data, out of time, beside rule baselines.

- olist: sellers at the 2018-03-01 cutoff (horizon 180 days), trained on monthly cutoffs
  2017-01-01 .. 2017-09-01 (whose outcomes were known by 2018-03-01): top 20% of future
  GMV, and growth (future GMV >= 2x the past 180 days and >= 500);
- olist-funnel: leads split by first-contact date (trained before 2018-03-01, tested on
  and after it): did the lead close? Of two lead models (trees on out-of-fold rates, an
  additive logistic model on origin and landing page) the one better on the last two
  training months is fitted on all training leads;
- youtube: channels at a cutoff 12 weeks before the data ends, trained on earlier cutoffs
  every 4 weeks whose outcomes were known by then: top quartile of subscriber growth over
  the next 12 weeks.

Each dataset is first run through the platform (import, ingest, daily aggregates and, for
olist and youtube, the snapshots and labels of the cutoffs) in its own lake, then the
figures are computed from the published tables.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date, timedelta

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from growth.features.registry import feature_names
from growth.jobs import build_training_set, import_data, run_dataset
from growth.jobs.config import Config, load_config
from growth.jobs.session import get_spark
from growth.layout import silver_table
from growth.models import real_eval
from growth.models.real_eval import Figure

log = logging.getLogger(__name__)

OLIST_TEST = date(2018, 3, 1)
OLIST_TRAIN = [date(2017, m, 1) for m in range(1, 10)]
OLIST_END = date(2018, 9, 1)
FUNNEL_SPLIT = date(2018, 3, 1)
FUNNEL_END = date(2018, 11, 30)
# The lead model (trees or additive) is chosen on the last two training months.
FUNNEL_VALIDATION = date(2018, 1, 1)
YOUTUBE_END = date(2022, 5, 7)
YOUTUBE_STEP = 28
YOUTUBE_TRAIN_CUTOFFS = 12


def _prepare(dataset: str, as_of: date) -> tuple[SparkSession, Config]:
    mapping = import_data.load_mapping(dataset)
    cfg = run_dataset.dataset_config(load_config(), mapping)
    spark = get_spark(cfg, f"growth-evaluate-{dataset}")
    run_dataset.load_sources(spark, cfg, mapping, as_of)
    return spark, cfg


def _training_frame(spark: SparkSession, cfg: Config, as_of: date, entity: str,
                    cutoffs: list[date]) -> pd.DataFrame:
    build_training_set.run(spark, cfg, as_of, entity, cutoffs)
    table = cfg.table(build_training_set.training_table(entity))
    return spark.table(table).toPandas()


def olist(spark: SparkSession, cfg: Config) -> list[Figure]:
    frame = _training_frame(spark, cfg, OLIST_END, "merchant", [*OLIST_TRAIN, OLIST_TEST])
    # The models read every feature and ratio as its rank within the cutoff; the rules below
    # read the raw columns, which stay in the frame.
    with_ratios = pd.concat([frame, real_eval.seller_ratios(frame)], axis=1)
    ranked = real_eval.within_cutoff_ranks(
        with_ratios, [*feature_names("merchant"), *(r[0] for r in real_eval.SELLER_RATIOS)])
    features = [f"{c}_rank" for c in ranked.columns]
    frame = pd.concat([frame, ranked.add_suffix("_rank")], axis=1)
    train = frame[frame["as_of_date"] < OLIST_TEST]
    test = frame[frame["as_of_date"] == OLIST_TEST]
    log.info("olist: %d training rows over %d cutoffs, %d sellers at %s", len(train),
             train["as_of_date"].nunique(), len(test), OLIST_TEST)
    figures = []
    top = real_eval.fit_score(train, test, features, "reached_top_tier")
    figures.append(real_eval.figure("olist", "top 20% future GMV (180 d)",
                                    test["reached_top_tier"], top, "gmv_sum_90d",
                                    test["gmv_sum_90d"], 0.92))
    grew = real_eval.fit_score(train, test, features, "grew")
    ratio = real_eval.value_ratio(test["gmv_sum_90d"], test["gmv_sum_180d"] - test["gmv_sum_90d"])
    figures.append(real_eval.figure("olist", "growth (>= 2x past 180 d and >= 500)",
                                    test["grew"], grew, "GMV 90 d / the 90 d before", ratio,
                                    0.80))
    figures.append(real_eval.figure("olist", "growth (>= 2x past 180 d and >= 500)",
                                    test["grew"], grew, "gmv_growth_30d (30 d / 30 d before)",
                                    test["gmv_growth_30d"], 0.80))
    return figures


def olist_funnel(spark: SparkSession, cfg: Config) -> list[Figure]:
    merchants = spark.table(cfg.table(silver_table("merchants"))).select(
        F.col("merchant_id").alias("entity_id"), F.col("category").alias("origin"))
    events = spark.table(cfg.table(silver_table("outreach_events"))).select(
        "entity_id", F.col("campaign_id").alias("campaign"),
        F.to_date("enrolled_at").alias("contacted_at"), F.col("onboarded").alias("converted"))
    leads = events.join(merchants, "entity_id").toPandas()
    train = leads[leads["contacted_at"] < FUNNEL_SPLIT].reset_index(drop=True)
    test = leads[leads["contacted_at"] >= FUNNEL_SPLIT].reset_index(drop=True)
    log.info("funnel: %d training leads (%d closed), %d test leads (%d closed)", len(train),
             int(train["converted"].sum()), len(test), int(test["converted"].sum()))
    chosen, validation = real_eval.choose_lead_model(train, FUNNEL_VALIDATION)
    log.info("funnel: validation ROC-AUC on leads from %s: %s; chosen: %s", FUNNEL_VALIDATION,
             ", ".join(f"{k} {v:.3f}" for k, v in validation.items()), chosen)
    score = real_eval.LEAD_MODELS[chosen](train, test)
    rates = real_eval.smoothed_rate(train["origin"], train["converted"].astype(float),
                                    test["origin"], 20.0)
    return [real_eval.figure("olist-funnel", f"lead -> closed deal ({chosen})",
                             test["converted"], score, "conversion rate of the lead's origin",
                             rates, 0.70)]


def youtube(spark: SparkSession, cfg: Config) -> list[Figure]:
    horizon = cfg.label_horizon_days
    test_cutoff = YOUTUBE_END - timedelta(days=horizon)
    train_cutoffs = [test_cutoff - timedelta(days=horizon + YOUTUBE_STEP * k)
                     for k in range(YOUTUBE_TRAIN_CUTOFFS)]
    cutoffs = sorted([*train_cutoffs, test_cutoff])
    frame = _training_frame(spark, cfg, YOUTUBE_END, "creator", cutoffs)
    stats = spark.table(cfg.table(silver_table("creator_daily_stats"))) \
        .select("creator_id", "date", "followers").toPandas()
    growth = real_eval.follower_growth(stats, cutoffs, horizon)
    rows = frame.merge(growth, on=["creator_id", "as_of_date"], how="inner")
    rows["top_quartile"] = real_eval.top_share_flag(
        rows["future_growth"], rows["as_of_date"], 0.25)
    features = [*feature_names("creator"), "trailing_growth"]
    train = rows[rows["as_of_date"] < test_cutoff]
    test = rows[rows["as_of_date"] == test_cutoff]
    log.info("youtube: %d training rows over %d cutoffs, %d channels at %s", len(train),
             train["as_of_date"].nunique(), len(test), test_cutoff)
    score = real_eval.fit_score(train, test, features, "top_quartile")
    return [real_eval.figure("youtube", f"top quartile subscriber growth ({horizon} d)",
                             test["top_quartile"], score, "trailing 12-week growth",
                             test["trailing_growth"], None)]


EVALUATIONS = {
    "olist": (OLIST_END, olist),
    "olist-funnel": (FUNNEL_END, olist_funnel),
    "youtube": (YOUTUBE_END, youtube),
}


def format_figures(figures: list[Figure]) -> str:
    lines = [f"{'dataset':<13} {'target':<40} {'rows':>6} {'pos':>5} {'model':>6} "
             f"{'rule':>6} {'goal':>5}  rule / verdict"]
    for f in figures:
        goal = f"{f.goal:.2f}" if f.goal is not None else "-"
        lines.append(f"{f.dataset:<13} {f.target:<40} {f.rows:>6} {f.positives:>5} "
                     f"{f.model_auc:>6.3f} {f.rule_auc:>6.3f} {goal:>5}  {f.rule}: {f.verdict}")
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=sorted(EVALUATIONS),
                        help="one dataset per run: each has its own lake and metastore, and a "
                             "process holds one (run the three one after the other)")


def execute(args: argparse.Namespace) -> None:
    end, evaluate = EVALUATIONS[args.dataset]
    spark, cfg = _prepare(args.dataset, end)
    sys.stdout.write(format_figures(evaluate(spark, cfg)))
