"""Targets, rule baselines and rolling-origin out-of-time backtests (pandas in, tables out).

Grain of the input: one row per (entity, as_of_date) of a training set: snapshot features
plus the label columns (``past_value``, ``future_value``, ``reached_top_tier``, ...).

The potential target, per cutoff D: among the entities *below tier B at D*, those that
reach tier A or better in (D, D + H]. Tiers over past cutoffs are read from realized value,
the same way the labels define "top tier": an entity is in tier B or better at D when its
value over the H days ending on D is positive and in the top ``b_share`` of that cutoff.

A backtest fold tests on one cutoff and trains only on cutoffs whose whole horizon ended on
or before it (``cutoff + H <= test cutoff``): the outcomes a model learns from must have been
known on the day it would have been used. Folds are the latest ``folds`` cutoffs that have at
least one such training cutoff.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from growth.errors import UntrainableError
from growth.models import metrics

AS_OF = "as_of_date"


class BacktestError(UntrainableError):
    """The training set cannot support the requested backtest; the message says why."""


def below_tier_b(frame: pd.DataFrame, b_share: float) -> pd.Series:
    """True where the entity's trailing value is not in the top ``b_share`` of its cutoff."""
    if not 0 < b_share < 1:
        raise ValueError(f"the tier-B share must be in (0, 1), got {b_share}")
    # Same ranking as the labels' percent_rank: ties share the lowest rank.
    rank = frame.groupby(AS_OF)["past_value"].rank(method="min") - 1
    size = frame.groupby(AS_OF)["past_value"].transform("size") - 1
    pct = (rank / size.where(size > 0, 1)).fillna(0.0)
    return ~((frame["past_value"] > 0) & (pct >= 1 - b_share))


def potential_population(frame: pd.DataFrame, b_share: float) -> pd.DataFrame:
    """The rows the potential model is trained and scored on: below tier B at their cutoff."""
    return frame[below_tier_b(frame, b_share)]


@dataclass(frozen=True)
class Baseline:
    """A rule that ranks entities from one feature, e.g. trailing GMV."""

    name: str
    column: str

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return pd.to_numeric(frame[self.column], errors="coerce").fillna(0.0).to_numpy(float)


def baselines(value_stem: str) -> tuple[Baseline, ...]:
    """The rule baselines every model is shown beside: trailing value and growth ratio."""
    return (
        Baseline("trailing value 30d", f"{value_stem}_sum_30d"),
        Baseline("trailing value 90d", f"{value_stem}_sum_90d"),
        Baseline("growth ratio 30d", f"{value_stem}_growth_30d"),
    )


@dataclass
class Fold:
    test_cutoff: date
    train_cutoffs: list[date]
    rows: int
    positives: int
    model: dict[str, float]
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)


def folds(cutoffs: Sequence[date], horizon_days: int, count: int) -> list[tuple[date, list[date]]]:
    """(test cutoff, training cutoffs) of the latest ``count`` testable cutoffs."""
    ordered = sorted(set(cutoffs))
    plans = []
    for test in ordered:
        train = [c for c in ordered if c + timedelta(days=horizon_days) <= test]
        if train:
            plans.append((test, train))
    if len(plans) < count:
        raise BacktestError(
            f"{len(plans)} of {len(ordered)} cutoff(s) have an earlier cutoff whose "
            f"{horizon_days}-day horizon ended by them; a {count}-fold backtest needs "
            f"{count}. Add cutoffs (e.g. more or closer ones) or shorten the horizon."
        )
    return plans[-count:]


def backtest(
    frame: pd.DataFrame,
    features: Sequence[str],
    target: str,
    fit: Callable[[np.ndarray, np.ndarray, np.ndarray], object],
    predict: Callable[[object, np.ndarray], np.ndarray],
    report: Callable[..., dict[str, float]],
    rules: Sequence[Baseline],
    horizon_days: int,
    count: int,
    log: Callable[[str], None] = lambda message: None,
    truth: str | None = None,
) -> list[Fold]:
    """Train on each fold's training cutoffs, score its test cutoff, and report the model
    and every baseline on the same rows. ``fit(X, y, cutoffs)`` returns a fitted model;
    ``report(y, score, is_model)`` the metrics of one set of scores. Models learn ``target``;
    they are scored against ``truth`` when given (e.g. a simulator's noise-free outcome),
    else against ``target``."""
    out = []
    for test, train in folds(frame[AS_OF].unique(), horizon_days, count):
        train_rows = frame[frame[AS_OF].isin(train)]
        test_rows = frame[frame[AS_OF] == test]
        log(f"fold {test}: training on {len(train)} cutoff(s), {len(train_rows):,} rows")
        model = fit(train_rows[list(features)].to_numpy(np.float32),
                    train_rows[target].to_numpy(float), train_rows[AS_OF].to_numpy())
        scores = predict(model, test_rows[list(features)].to_numpy(np.float32))
        out.append(evaluate_fold(test, train, test_rows, truth or target, scores, report, rules))
    return out


def evaluate_fold(
    test: date,
    train: Sequence[date],
    rows: pd.DataFrame,
    target: str,
    scores: np.ndarray,
    report: Callable[..., dict[str, float]],
    rules: Sequence[Baseline],
) -> Fold:
    """One fold's result from its test rows (the target and the baselines' columns, one
    row per entity of the test cutoff) and the model's scores of those rows, in order.
    Where the scores were computed is the caller's business: on the driver, or on Spark
    with only these columns collected."""
    y = rows[target].to_numpy(float)
    fold = Fold(test, list(train), len(rows), int(y.sum()), report(y, np.asarray(scores)))
    for rule in rules:
        fold.baselines[rule.name] = report(y, rule.score(rows), is_model=False)
    return fold


def mean_metrics(result: Sequence[Fold]) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """The model's and each baseline's metrics averaged over the folds (NaN-aware)."""
    def average(reports: list[dict[str, float]]) -> dict[str, float]:
        keys = reports[0].keys()
        return {k: _nanmean([r[k] for r in reports]) for k in keys}

    model = average([f.model for f in result])
    rules = {name: average([f.baselines[name] for f in result]) for name in result[0].baselines}
    return model, rules


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def potential_report(k: int) -> Callable[..., dict[str, float]]:
    """Classification metrics at ``k``; calibration only for the model's probabilities."""
    def report(y: np.ndarray, score: np.ndarray, is_model: bool = True) -> dict[str, float]:
        return metrics.classification_report(y, score, k, probability=is_model)
    return report


def value_report(y: np.ndarray, prediction: np.ndarray, is_model: bool = True) -> dict[str, float]:
    """Regression metrics; a baseline's scale is not a prediction, so only its ranking counts."""
    report = metrics.regression_report(y, prediction)
    if not is_model:
        report["max_decile_gap"] = report["mean_prediction_ratio"] = math.nan
    return report


def format_table(title: str, model: dict[str, float], rules: dict[str, dict[str, float]]) -> str:
    """The model's metrics beside the baselines' as an aligned text table."""
    names = list(model)
    rows = [("model", model), *rules.items()]
    width = max(len(r[0]) for r in rows) + 2
    lines = [title, "".ljust(width) + "".join(f"{n:>18}" for n in names)]
    for label, values in rows:
        cells = "".join(
            f"{'-' if math.isnan(values.get(n, math.nan)) else format(values[n], '.4f'):>18}"
            for n in names
        )
        lines.append(label.ljust(width) + cells)
    return "\n".join(lines)
