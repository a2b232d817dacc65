"""Weekly training: ``<entity>_training_set`` -> value and potential models in the registry.

For each kind (value: GMV of the next horizon; potential: P(below tier B -> tier A or
better)):

1. the training set over ``GROWTH_TRAIN_CUTOFFS`` cutoffs ``GROWTH_TRAIN_EVERY_DAYS`` apart is
   (re)built and validated, and read back at its exact Delta version;
2. a rolling-origin backtest over ``GROWTH_BACKTEST_FOLDS`` out-of-time folds scores the new
   model (the challenger) beside the rule baselines and, on the same folds, the current
   champion's specification (its features and parameters, retrained per fold);
3. the challenger is fitted on every cutoff and registered. It becomes champion only if its
   primary metric (ROC-AUC, normalized Gini) beats the champion's by
   ``GROWTH_PROMOTION_MARGIN``; the first model of a name must beat every baseline instead.

The backtest report (the model beside the baselines) is logged, stored in the registry row
and printed by ``growth models show``.

Where the models train depends on the training set's size: up to ``GROWTH_SPARK_TRAINING_ROWS``
rows it is collected to the driver and fitted with XGBoost's scikit-learn API
(``LocalTrainer``); above, it stays a Spark DataFrame and ``xgboost.spark`` fits it
(``spark_training.SparkTrainer``). Both give the same estimators, folds and report; the
report, the log and the run log's message say which path trained the models.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from datetime import date

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from growth.errors import GrowthError, UntrainableError
from growth.features.registry import DAILY_TABLES
from growth.features.windows import AS_OF
from growth.jobs import (
    build_training_set,
    delta_io,
    model_registry,
    model_settings,
    spark_training,
)
from growth.jobs.config import Config, load_config
from growth.jobs.run_log import RunRecord, recorded
from growth.jobs.session import get_spark
from growth.models import backtest as bt
from growth.models import tiering

log = logging.getLogger(__name__)

JOB = "train_models"


def _fit(kind: str, params: dict):
    def fit(X: np.ndarray, y: np.ndarray, cutoffs: np.ndarray):
        model = model_settings.estimator(kind, params)
        return model.fit(X, y, cutoffs) if kind == "potential" else model.fit(X, y)
    return fit


def _predict(kind: str):
    if kind == "potential":
        return lambda model, X: model.predict_proba(X)[:, 1]
    return lambda model, X: model.predict(X)


def _task(cfg: Config, entity: str, kind: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The rows and target column of one kind of model."""
    if kind == "potential":
        b_share = model_settings.tier_shares(cfg)["B"]
        rows = bt.potential_population(frame, b_share)
        return rows.assign(target=rows["reached_top_tier"].astype(float)), "target"
    return frame.assign(target=frame["future_value"].astype(float)), "target"


class LocalTrainer:
    """Backtests and fits one kind of model of one entity on the driver (pandas frame of
    the training set without its key; XGBoost's scikit-learn API).

    ``spark_training.SparkTrainer`` has the same interface for training sets too big to
    collect: ``count``, ``description``, ``backtest``, ``fit``, ``close``.
    """

    description = "on the driver with XGBoost's scikit-learn API"

    def __init__(self, cfg: Config, entity: str, kind: str, frame: pd.DataFrame) -> None:
        self.cfg, self.entity, self.kind = cfg, entity, kind
        self.rows, self.target = _task(cfg, entity, kind, frame)
        self.count = len(self.rows)

    def backtest(self, features: list[str], params: dict,
                 truth: str | None = None) -> list[bt.Fold]:
        """Rolling-origin folds; scored against the ``truth`` column when given."""
        return bt.backtest(
            self.rows, features, self.target, _fit(self.kind, params), _predict(self.kind),
            model_settings.backtest_report(self.cfg, self.kind),
            bt.baselines(model_settings.VALUE_STEM[self.entity]), self.cfg.label_horizon_days,
            self.cfg.backtest_folds, log.info, truth,
        )

    def fit(self, features: list[str], params: dict):
        return _fit(self.kind, params)(self.rows[features].to_numpy(np.float32),
                                       self.rows[self.target].to_numpy(float),
                                       self.rows["as_of_date"].to_numpy())

    def tier_churn(self, model, features: list[str]) -> pd.DataFrame:
        """Tier churn from each cutoff of the training set to the next, the entities tiered
        by ``model``'s scores (in-sample) as the daily job tiers them: quantile cuts of
        ``GROWTH_TIER_SHARES``, the eligibility gates, ``new`` by tenure, with and without
        hysteresis (``tiering.churn_path``)."""
        key = DAILY_TABLES[self.entity].key
        rows = self.rows
        scored = pd.DataFrame({
            key: rows[key].to_numpy(), AS_OF: rows[AS_OF].to_numpy(),
            "score": np.maximum(model.predict(rows[features].to_numpy(np.float32)), 0.0),
            "eligible": [not failed for failed in tiering.failed_gates(
                rows, model_settings.gates(self.cfg, self.entity))],
            "tenure_days": rows["tenure_days"].to_numpy(float),
        })
        return tiering.churn_path(
            scored, key, AS_OF, model_settings.tier_shares(self.cfg), self.cfg.tier_hysteresis,
            self.cfg.tier_new_days, self.cfg.tier_ineligible_cap)

    def close(self) -> None:
        """Nothing to release: the frame goes with the trainer."""


def decide(
    primary: str,
    challenger: dict[str, float],
    rules: dict[str, dict[str, float]],
    champion: dict[str, float] | None,
    margin: float,
) -> tuple[str, str]:
    """(status, why) of a newly trained model."""
    value = challenger.get(primary, math.nan)
    if math.isnan(value):
        return "challenger", f"its backtest {primary} is undefined (a fold had one class)"
    if champion is None:
        beaten = [n for n, m in rules.items() if not value > m.get(primary, -math.inf)]
        if beaten:
            return "challenger", f"{primary} {value:.4f} does not beat baseline(s) {', '.join(beaten)}"
        return "champion", f"first model; {primary} {value:.4f} beats every baseline"
    best = champion.get(primary, math.nan)
    if math.isnan(best) or value >= best + margin:
        return "champion", f"{primary} {value:.4f} beats the champion's {best:.4f} by >= {margin:g}"
    return "challenger", f"{primary} {value:.4f} does not beat the champion's {best:.4f} + {margin:g}"


def _churn_line(trainer, model, features: list[str]) -> str:
    """The report's line on tier churn across the training cutoffs (driver path only: the
    Spark path would have to collect every row to tier them)."""
    if not isinstance(trainer, LocalTrainer):
        return "tier churn: not computed on the xgboost.spark path"
    path = trainer.tier_churn(model, features)
    if path.empty:
        return "tier churn: needs at least two cutoffs"
    log.info("tier churn per cutoff:\n%s", path.to_string(index=False))
    return (f"tier churn between consecutive cutoffs ({len(path)} steps, in-sample scores): "
            f"{path['churn_with'].mean():.1%} with hysteresis {trainer.cfg.tier_hysteresis:g}, "
            f"{path['churn_without'].mean():.1%} without")


def train_kind(
    spark: SparkSession, cfg: Config, record: RunRecord, entity: str, kind: str,
    trainer: LocalTrainer | spark_training.SparkTrainer, training: dict, as_of: date,
    promote: bool = True,
) -> tuple[int, str, str]:
    """Backtest, fit and register one model with ``trainer``; return (version, status,
    report). Without ``promote``, a model that beats the champion is registered as a
    ``candidate`` for a later ``growth models promote-candidates`` (the training DAG's
    promote step) instead of becoming the champion at once."""
    features = model_settings.model_features(entity)
    primary = model_settings.PRIMARY_METRIC[kind]
    name = model_registry.model_name(entity, kind)
    params = model_settings.new_params(cfg)
    # Fitted first: a retried or rerun task on the same rows finds its model registered and
    # stops here, without hours of backtests and without a duplicate version.
    model = trainer.fit(features, params)
    same = model_registry.identical_version(spark, cfg, name, as_of, model, features)
    if same is not None:
        why = (f"a rerun: the same model was registered for {as_of} already, as "
               f"v{same.version}; nothing added (its report: growth models show {name} "
               f"{same.version})")
        log.info("%s: %s", name, why)
        return same.version, same.status, f"{name} v{same.version}: {same.status} ({why})"
    log.info("%s: backtesting the challenger on %d rows %s", name, trainer.count,
             trainer.description)
    challenger, rules = bt.mean_metrics(trainer.backtest(features, params))
    current = model_registry.champion(spark, cfg, name)
    champion_metrics = None
    if current is not None:
        log.info("%s: backtesting champion v%d's specification on the same folds",
                 name, current.version)
        champion_metrics, _ = bt.mean_metrics(
            trainer.backtest(list(current.features), json.loads(current.params)))
    status, why = decide(primary, challenger, rules, champion_metrics, cfg.promotion_margin)
    if status == "champion" and not promote:
        status, why = "candidate", f"{why}; to be promoted by the promote step"
    report = bt.format_table(
        f"{name} backtest: {cfg.backtest_folds} out-of-time folds, {trainer.count:,} rows, "
        f"trained {trainer.description}", challenger,
        {**({f"champion v{current.version}": champion_metrics} if champion_metrics else {}), **rules},
    )
    if kind == "value":
        report += "\n" + _churn_line(trainer, model, features)
    log.info("%s\n%s: %s", report, name, why)
    version = model_registry.register(
        spark, cfg, entity=entity, kind=kind, model=model, features=features, status=status,
        trained_as_of=as_of, training={**training, "rows": trainer.count}, primary_metric=primary,
        primary_value=challenger.get(primary),
        champion_primary_value=champion_metrics.get(primary) if champion_metrics else None,
        metrics=challenger, baseline_metrics=rules, backtest_report=f"{report}\n{why}",
        run_id=record.run_id,
    )
    return version, status, f"{report}\n{name} v{version}: {status} ({why})"


def run(spark: SparkSession, cfg: Config, as_of: date, entity: str,
        cutoffs: list[date] | None = None, *, rebuild: bool = True,
        promote: bool = True) -> list[str]:
    """Rebuild the training set over the regular cutoffs (unless not ``rebuild``), then
    ``train``; return the reports."""
    model_settings.tier_shares(cfg)  # fail on a bad setting before any work
    if rebuild:
        cutoffs = cutoffs or build_training_set.regular_cutoffs(
            as_of, cfg.label_horizon_days, cfg.train_every_days, cfg.train_cutoffs)
        build_training_set.run(spark, cfg, as_of, entity, cutoffs)
    return train(spark, cfg, as_of, entity, promote=promote)


def _require_signal(data: DataFrame, table: str, version: int, entity: str, rows: int) -> None:
    """Stop before fitting when the outcome is the same for every row: both models learn
    from ``future_value`` (the entity's value measure over the horizon), and a constant
    one leaves nothing to learn (a creator dataset without affiliate sales, for one)."""
    low, high = data.agg(F.min("future_value"), F.max("future_value")).first()
    if rows and (high is None or low == high):
        measure = model_settings.VALUE_STEM[entity]
        raise UntrainableError(
            f"{table} v{version}: future_value is {high} for all {rows:,} rows, so there is "
            f"nothing to learn: a {entity}'s value is its {measure} ({measure} in "
            f"{DAILY_TABLES[entity].name}), and the data has none over any cutoff's horizon. "
            "Bring data with that measure, or later cutoffs if it starts late.")


def train(spark: SparkSession, cfg: Config, as_of: date, entity: str, *,
          promote: bool = True) -> list[str]:
    """Train and register the value and potential models of ``entity`` on the current
    version of its training set; return the backtest reports."""
    table = cfg.table(build_training_set.training_table(entity))
    record = RunRecord(job=JOB, target_table=cfg.table(model_registry.REGISTRY_TABLE), as_of=as_of)
    with recorded(spark, cfg, record):
        if not delta_io.table_exists(spark, table):
            raise GrowthError(f"{table} does not exist: build it with 'growth training-set "
                              f"--entity {entity} --as-of {as_of}' (or run 'growth train')")
        version = delta_io.current_version(spark, table)
        data = spark.read.option("versionAsOf", version).table(table)
        rows = data.count()
        record.rows_in, record.versions_read = rows, f"{table}@{version}"
        _require_signal(data, table, version, entity, rows)
        key = DAILY_TABLES[entity].key
        on_spark = rows > cfg.spark_training_rows
        if on_spark:
            # Too big for the driver: the frame stays distributed and xgboost.spark fits it.
            frame = data
            cutoffs = sorted(r[0] for r in data.select(AS_OF).distinct().collect())
            log.info("%s v%d: %d rows > GROWTH_SPARK_TRAINING_ROWS=%d, training with "
                     "xgboost.spark", table, version, rows, cfg.spark_training_rows)
        else:
            # In a fixed order: the row sample of each boosting round depends on it, and a
            # rerun on the same rows must give the same model (the registry then keeps one).
            frame = data.orderBy(AS_OF, key).toPandas()
            cutoffs = sorted(set(frame[AS_OF]))
            log.info("%s v%d: %d rows x %d columns on the driver", table, version, len(frame),
                     frame.shape[1])
        training = {"from": cutoffs[0], "to": cutoffs[-1], "cutoffs": len(cutoffs),
                    "table": table, "version": version}
        reports, statuses = [], []
        for kind in model_registry.KINDS:
            trainer = (spark_training.SparkTrainer(spark, cfg, entity, kind, frame, key)
                       if on_spark else LocalTrainer(cfg, entity, kind, frame))
            try:
                number, status, report = train_kind(spark, cfg, record, entity, kind, trainer,
                                                    training, as_of, promote)
            finally:
                trainer.close()
            reports.append(report)
            statuses.append(f"{kind} v{number} {status}")
        record.rows_inserted = len(reports)
        record.message = (f"{'; '.join(statuses)}; {rows:,} training rows trained "
                          f"{trainer.description}")
        record.wrote(spark, record.target_table)
        record.status = "success"
        return reports


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--entity", required=True, choices=("merchant", "creator"))
    parser.add_argument("--as-of", required=True, type=date.fromisoformat,
                        help="run date: the latest cutoff is the last whose horizon ended by then")
    parser.add_argument(
        "--existing-training-set", action="store_true",
        help="train on <entity>_training_set as published (e.g. by 'growth training-set' in "
        "the training DAG) instead of rebuilding it first")
    parser.add_argument(
        "--no-promote", action="store_true",
        help="register a model that beats the champion as a 'candidate' and leave the "
        "champion in place; 'growth models promote-candidates' promotes it (the training DAG "
        "runs the two as separate steps)")


def execute(args: argparse.Namespace) -> None:
    cfg = load_config()
    reports = run(get_spark(cfg, f"train-{args.entity}"), cfg, args.as_of, args.entity,
                  rebuild=not args.existing_training_set, promote=not args.no_promote)
    sys.stdout.write("\n\n".join(reports) + "\n")
