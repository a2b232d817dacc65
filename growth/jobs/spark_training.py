"""Training above ``GROWTH_SPARK_TRAINING_ROWS``: ``xgboost.spark`` on the Spark DataFrame.

Grain: one row per (entity, cutoff) of ``<entity>_training_set``: the key, ``as_of_date``,
the snapshot features and the label columns. ``train_models`` hands this module the
training set at its exact Delta version when it has more rows than the driver should hold;
the result is the same thing the driver path gives: a backtest (``growth.models.backtest``
folds) and a fitted ``ValueModel`` or ``PotentialModel`` that the model store saves in its
JSON format and scoring uses unchanged.

- Boosters are fitted by ``SparkXGBRegressor`` (Tweedie value) and ``SparkXGBClassifier``
  (potential) with the estimator's own parameters (``xgb_params``), one XGBoost worker per
  slot of Spark's default parallelism; the fitted booster (``get_booster``) becomes the
  estimator's state.
- Predictions (backtest folds, the calibration's out-of-fold scores) run on the executors
  with the stored form of the model, as scoring does. Only (target, prediction) columns,
  plus the rule baselines' columns of a test cutoff, are collected to the driver, where the
  pure metrics and the isotonic fit take over.
- The potential population (below tier B at the cutoff) is ranked per cutoff by a window,
  the Spark twin of ``backtest.below_tier_b``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import date

import numpy as np
import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StructField, StructType
from xgboost.spark import SparkXGBClassifier, SparkXGBRegressor

from growth.features.windows import AS_OF
from growth.jobs import model_settings
from growth.jobs.config import Config
from growth.models import backtest as bt
from growth.models import store
from growth.models.estimators import PotentialModel, ValueModel, cutoff_folds

log = logging.getLogger(__name__)

TARGET = "target"
RAW = "raw"
_FOLD = "_calibration_fold"


def workers(spark: SparkSession) -> int:
    """XGBoost workers of a Spark fit: one per slot of the default parallelism (all cores
    in local mode, the executors' cores on a cluster)."""
    return max(1, spark.sparkContext.defaultParallelism)


def below_tier_b(b_share: float) -> Column:
    """True where the row's ``past_value`` is not in the top ``b_share`` of its cutoff;
    reads ``as_of_date`` and ``past_value``, as ``backtest.below_tier_b`` does on pandas:
    ranks with ties at the lowest rank among the cutoff's non-null values, over the
    cutoff's row count, and a null or zero past value is always below."""
    if not 0 < b_share < 1:
        raise ValueError(f"the tier-B share must be in (0, 1), got {b_share}")
    ranked = Window.partitionBy(AS_OF).orderBy(F.col("past_value").asc_nulls_last())
    size = F.count(F.lit(1)).over(Window.partitionBy(AS_OF)) - 1
    pct = (F.rank().over(ranked) - 1) / F.when(size > 0, size).otherwise(F.lit(1))
    top = (F.col("past_value") > 0) & (pct >= 1 - b_share)
    return ~F.coalesce(top, F.lit(False))


def task_rows(frame: DataFrame, kind: str, b_share: float) -> DataFrame:
    """The rows of one kind of model with its ``target`` column: every row and its future
    value (value); the rows below tier B and ``reached_top_tier`` as 0/1 (potential)."""
    if kind == "potential":
        return (frame.withColumn("_below_b", below_tier_b(b_share))
                .where(F.col("_below_b")).drop("_below_b")
                .withColumn(TARGET, F.col("reached_top_tier").cast(DoubleType())))
    return frame.withColumn(TARGET, F.col("future_value").cast(DoubleType()))


def _raw(model: ValueModel | PotentialModel, X: np.ndarray) -> np.ndarray:
    """The value model's prediction, or the potential booster's uncalibrated probability
    (calibration is applied on the driver, where its knots are fitted)."""
    return model.predict(X) if isinstance(model, ValueModel) else model.raw_probability(X)


class SparkTrainer:
    """Backtests and fits one kind of model of one entity on a Spark DataFrame.

    The same interface as ``train_models.LocalTrainer``: ``count`` (rows of the kind's
    population), ``description``, ``backtest(features, params)``, ``fit(features, params)``
    and ``close()`` (the kind's rows are cached while it trains).
    """

    def __init__(self, spark: SparkSession, cfg: Config, entity: str, kind: str,
                 frame: DataFrame, key: str) -> None:
        self.spark, self.kind, self.key = spark, kind, key
        self.horizon_days, self.folds = cfg.label_horizon_days, cfg.backtest_folds
        self.report = model_settings.backtest_report(cfg, kind)
        self.rules = bt.baselines(model_settings.VALUE_STEM[entity])
        self.workers = workers(spark)
        b_share = model_settings.tier_shares(cfg)["B"]
        # Every fold and calibration fit reads these rows again: rank the population once.
        self.rows = task_rows(frame, kind, b_share).persist(StorageLevel.MEMORY_AND_DISK)
        # Rows and positives per cutoff, in one pass: every fold's sizes and class counts.
        per_cutoff = self.rows.groupBy(AS_OF).agg(F.count(F.lit(1)).alias("rows"),
                                                 F.sum(TARGET).alias("positives")).collect()
        self.sizes = {r[AS_OF]: r["rows"] for r in per_cutoff}
        self.positives = {r[AS_OF]: r["positives"] or 0.0 for r in per_cutoff}
        self.count = sum(self.sizes.values())
        self.description = f"with xgboost.spark on {self.workers} worker(s)"

    def close(self) -> None:
        self.rows.unpersist()

    def backtest(self, features: Sequence[str], params: dict) -> list[bt.Fold]:
        """``backtest.backtest`` on Spark: the same folds, fits per fold on the executors,
        each test cutoff's (target, prediction, baseline columns) collected and reported."""
        baseline_columns = [rule.column for rule in self.rules]
        out = []
        for test, train in bt.folds(list(self.sizes), self.horizon_days, self.folds):
            sizes = {c: self.sizes[c] for c in train}
            log.info("fold %s: training on %d cutoff(s), %s rows", test, len(train),
                     f"{sum(sizes.values()):,}")
            model = self._fit(self.rows.where(F.col(AS_OF).isin(train)), sizes, features,
                              params)
            scored = self._scores(self.rows.where(F.col(AS_OF) == F.lit(test)), model,
                                  features, [TARGET, *dict.fromkeys(baseline_columns)])
            raw = scored[RAW].to_numpy(float)
            scores = model.calibrate(raw) if self.kind == "potential" else raw
            out.append(bt.evaluate_fold(test, train, scored, TARGET, scores, self.report,
                                        self.rules))
        return out

    def fit(self, features: Sequence[str], params: dict) -> ValueModel | PotentialModel:
        """The model fitted on every row of the kind's population."""
        return self._fit(self.rows, self.sizes, features, params)

    def _fit(self, rows: DataFrame, sizes: dict[date, int], features: Sequence[str],
             params: dict) -> ValueModel | PotentialModel:
        model = model_settings.estimator(self.kind, params)
        if isinstance(model, ValueModel):
            return model.load_booster(self._booster(rows, features, model))
        positives = int(sum(self.positives[c] for c in sizes))
        row_folds = model.calibration_plan(sum(sizes.values()), positives, len(sizes))
        if row_folds is None:
            # Whole cutoffs, assigned as GroupKFold assigns them on the driver path.
            assignment = cutoff_folds(sizes, model.calibration_folds)
            pairs = [item for c, f in assignment.items() for item in (F.lit(c), F.lit(f))]
            fold = F.element_at(F.create_map(*pairs), F.col(AS_OF))
            count = model.calibration_folds
        else:
            # Too few cutoffs: row folds from a hash of the row's key, stable whatever the
            # partitioning (a random column could differ between the fit and the predict).
            fold = F.pmod(F.xxhash64(F.col(self.key), F.col(AS_OF),
                                     F.lit(model.random_state)), F.lit(row_folds))
            count = row_folds
        parts = []
        for k in range(count):
            part = model_settings.estimator(self.kind, params)
            parts.append(part.load_booster(self._booster(rows.where(fold != k), features, part)))
        # Every row scored by the model that did not see it, all folds in one pass.
        held_out = self._scores(rows.withColumn(_FOLD, fold), parts, features, [TARGET])
        model.fit_calibration(held_out[RAW].to_numpy(float), held_out[TARGET].to_numpy(float))
        return model.load_booster(self._booster(rows, features, model))

    def _booster(self, rows: DataFrame, features: Sequence[str],
                 model: ValueModel | PotentialModel) -> bytes:
        """Fit a booster with the model's parameters on ``rows``; its XGBoost JSON."""
        # xgboost.spark sets the threads per worker from spark.task.cpus itself, and the
        # classifier's objective from the label's classes (it refuses one given).
        regression = isinstance(model, ValueModel)
        params = {k: v for k, v in model.xgb_params().items()
                  if k != "n_jobs" and (regression or k != "objective")}
        cls = SparkXGBRegressor if regression else SparkXGBClassifier
        # Always repartition: a filtered fold keeps the cached partitions, some of which
        # can be empty, and a worker without rows would leave its slot idle.
        estimator = cls(features_col=list(features), label_col=TARGET,
                        num_workers=self.workers, force_repartition=True, verbose=False,
                        **params)
        booster = estimator.fit(rows.select(*features, TARGET)).get_booster()
        # Fitted from named columns; scoring passes plain matrices in the model's feature
        # order (as the driver path trains), which a booster with names would refuse.
        booster.feature_names = None
        booster.feature_types = None
        return booster.save_raw("json")

    def _scores(self, rows: DataFrame, models: ValueModel | PotentialModel | list,
                features: Sequence[str], keep: list[str]) -> pd.DataFrame:
        """``keep`` columns and the model's ``raw`` score of every row, computed on the
        executors and collected (one row per training row, these columns only). Given a
        list of models, row r is scored by ``models[r._fold]``."""
        several = isinstance(models, list)
        texts = [store.to_texts(m, list(features)) for m in (models if several else [models])]
        shipped = self.spark.sparkContext.broadcast(texts)

        def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            fitted = [store.from_texts(t) for t in shipped.value]
            for batch in batches:
                raw = np.full(len(batch), np.nan)
                which = batch[_FOLD].to_numpy() if several else np.zeros(len(batch), int)
                for k, (model, names) in enumerate(fitted):
                    at = which == k
                    if at.any():
                        X = batch.loc[at, names].to_numpy(dtype=np.float32, na_value=np.nan)
                        raw[at] = _raw(model, X)
                yield batch[keep].assign(**{RAW: raw})

        schema = StructType(rows.select(*keep).schema.fields + [StructField(RAW, DoubleType())])
        columns = [*keep, *features, *([_FOLD] if several else [])]
        try:
            return rows.select(*dict.fromkeys(columns)).mapInPandas(score, schema).toPandas()
        finally:
            shipped.unpersist()
