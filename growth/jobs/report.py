"""``growth report --as-of D``: one static HTML page with the day's plots.

Reads ``<entity>_tiers`` (the day's tiers and the previous ones), ``<entity>_labels`` (the
outcome of the latest scored day whose horizon has passed), silver outreach_events (the
latest closed campaign with a control group, ranked by the potential scored before it),
the champion potential models (feature importance), ``dq_results`` and the run log.
Writes ``<lake>/reports/growth_report_<D>.html`` (or ``--output``) atomically.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from growth.features.freshness import table_freshness
from growth.features.registry import DAILY_TABLES
from growth.jobs import delta_io, model_registry
from growth.jobs.build_labels import labels_table
from growth.jobs.config import Config, load_config
from growth.jobs.dq_report import summary
from growth.jobs.inputs import tiers_table
from growth.jobs.session import get_spark
from growth.layout import DQ_RESULTS_TABLE, RUN_LOG_TABLE, silver_table
from growth.report.html import Campaign, Outcomes, ReportData, render

log = logging.getLogger(__name__)

ENTITIES = ("merchant", "creator")


def _table(spark: SparkSession, cfg: Config, name: str) -> DataFrame | None:
    full = cfg.table(name)
    return spark.table(full) if delta_io.table_exists(spark, full) else None


def _tiers(spark: SparkSession, cfg: Config, as_of: date) -> pd.DataFrame:
    frames = []
    for entity in ENTITIES:
        tiers = _table(spark, cfg, tiers_table(entity))
        if tiers is not None:
            frames.append(tiers.where(F.col("as_of_date") == F.lit(as_of)).select(
                F.lit(entity).alias("entity"), "tier", "previous_tier").toPandas())
    return pd.concat(frames, ignore_index=True) if frames else \
        pd.DataFrame(columns=["entity", "tier", "previous_tier"])


def _outcomes(spark: SparkSession, cfg: Config, as_of: date) -> tuple[list[Outcomes], str]:
    """The potential scores of the latest scored day whose outcome is known, per entity."""
    potential = _table(spark, cfg, "potential_scores")
    found, waiting = [], []
    for entity in ENTITIES:
        labels = _table(spark, cfg, labels_table(entity))
        if potential is None or labels is None:
            continue
        key = DAILY_TABLES[entity].key
        scores = potential.where(F.col("entity_type") == entity).select(
            F.col("entity_id").alias(key), "as_of_date", "probability")
        known = scores.select("as_of_date").distinct().join(
            labels.select("as_of_date").distinct(), "as_of_date"
        ).where(F.col("as_of_date") <= F.lit(as_of)).agg(F.max("as_of_date")).first()[0]
        if known is None:
            first = scores.agg(F.min("as_of_date")).first()[0]
            waiting.append(f"{entity}s: the first scored day is {first}; its outcomes are "
                           f"known {cfg.label_horizon_days} days later")
            continue
        frame = scores.where(F.col("as_of_date") == known).join(
            labels.where(F.col("as_of_date") == known).select(
                key, F.col("reached_top_tier").cast("int").alias("outcome")), key
        ).select("probability", "outcome").toPandas()
        found.append(Outcomes(entity, known, frame.dropna()))
    return found, "; ".join(waiting)


def _campaigns(spark: SparkSession, cfg: Config, as_of: date) -> tuple[list[Campaign], str]:
    events = _table(spark, cfg, silver_table("outreach_events"))
    potential = _table(spark, cfg, "potential_scores")
    if events is None or potential is None:
        return [], "no outreach events or potential scores yet"
    found, waiting = [], []
    for entity in ENTITIES:
        closed = events.where((F.col("entity_type") == entity) & (F.col("arm") == "control")) \
            .groupBy("campaign_id").agg(F.max("enrolled_at").alias("last")) \
            .where(F.col("last") < F.lit(as_of)).orderBy(F.col("last").desc()).first()
        if closed is None:
            waiting.append(f"{entity}s: no campaign with a control group")
            continue
        start = events.where(F.col("campaign_id") == closed.campaign_id) \
            .agg(F.min("enrolled_at")).first()[0].date()
        scored = potential.where((F.col("entity_type") == entity)
                                 & (F.col("as_of_date") < F.lit(start))) \
            .agg(F.max("as_of_date")).first()[0]
        if scored is None:
            waiting.append(f"{entity}s: the latest closed campaign ({closed.campaign_id}, "
                           f"from {start}) began before the first scored day")
            continue
        frame = events.where(F.col("campaign_id") == closed.campaign_id).join(
            potential.where((F.col("entity_type") == entity)
                            & (F.col("as_of_date") == scored))
            .select("entity_id", F.col("probability").alias("score")), "entity_id"
        ).select("score", (F.col("arm") == "contacted").cast("int").alias("treated"),
                 F.col("onboarded").cast("int").alias("outcome")).toPandas()
        found.append(Campaign(entity, str(closed.campaign_id), frame))
    return found, "; ".join(waiting)


def _importance(spark: SparkSession, cfg: Config) -> pd.DataFrame:
    rows = []
    for entity in ENTITIES:
        name = model_registry.model_name(entity, "potential")
        if model_registry.champion(spark, cfg, name) is None:
            continue
        model, features, _ = model_registry.load_champion(spark, cfg, name)
        gains = model.booster_.get_score(importance_type="gain")
        for index, feature in enumerate(features):
            rows.append((entity, feature, float(gains.get(f"f{index}", gains.get(feature, 0.0)))))
    return pd.DataFrame(rows, columns=["entity", "feature", "gain"])


def gather(spark: SparkSession, cfg: Config, as_of: date) -> ReportData:
    tiers = _tiers(spark, cfg, as_of)
    outcomes, waiting_outcomes = _outcomes(spark, cfg, as_of)
    campaigns, waiting_campaigns = _campaigns(spark, cfg, as_of)
    dq = _table(spark, cfg, DQ_RESULTS_TABLE)
    quality = summary(dq.where(F.col("as_of") == F.lit(as_of))).drop("validated_at") \
        .toPandas() if dq is not None else pd.DataFrame()
    run_log = _table(spark, cfg, RUN_LOG_TABLE)
    # The age of each table is as seen now, by whoever opens the report.
    freshness = table_freshness(run_log, datetime.now(UTC)).select(
        "target_table", "last_as_of", "last_success_at", "latest_status", "behind_days",
        "age_hours", "fresh").toPandas() if run_log is not None else pd.DataFrame()
    return ReportData(as_of, tiers, outcomes, campaigns, _importance(spark, cfg), quality,
                      freshness, {"outcomes": waiting_outcomes, "campaigns": waiting_campaigns,
                                  "tiers": f"no tiers published for {as_of}"})


def write(page: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".html.partial")
    partial.write_text(page)
    os.replace(partial, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", required=True, type=date.fromisoformat, help="report date")
    parser.add_argument("--output", type=Path, default=None,
                        help="HTML file (default <lake>/reports/growth_report_<as-of>.html)")


def execute(args: argparse.Namespace) -> None:
    cfg = load_config()
    spark = get_spark(cfg, "growth-report")
    path = args.output or cfg.lake_root / "reports" / f"growth_report_{args.as_of}.html"
    write(render(gather(spark, cfg, args.as_of)), path)
    sys.stdout.write(f"wrote {path}\n")
