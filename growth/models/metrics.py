"""Evaluation metrics of the tiering, potential and value models (numpy in, floats out).

Every function takes a 1-d array of outcomes and one of scores of the same length, one row
per (entity, cutoff). Scores only need to rank: ranking metrics never look at their scale,
calibration metrics (Brier, ECE) need probabilities in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def _arrays(y: Sequence[float], score: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    score = np.asarray(score, dtype=float)
    if y.shape != score.shape or y.ndim != 1:
        raise ValueError(f"outcomes {y.shape} and scores {score.shape} must be 1-d and equal")
    if np.isnan(score).any():
        raise ValueError("scores contain NaN: every row must be scored")
    return y, score


def roc_auc(y: Sequence[float], score: Sequence[float]) -> float:
    """Area under the ROC curve; NaN when only one class is present (it is undefined)."""
    y, score = _arrays(y, score)
    if len(np.unique(y)) < 2:
        return math.nan
    return float(roc_auc_score(y, score))


def pr_auc(y: Sequence[float], score: Sequence[float]) -> float:
    """Average precision (area under the precision-recall curve); NaN without a positive."""
    y, score = _arrays(y, score)
    if y.sum() == 0:
        return math.nan
    return float(average_precision_score(y, score))


def _descending(score: np.ndarray) -> np.ndarray:
    # Stable order, so tied scores keep their row order and results are reproducible.
    return np.argsort(-score, kind="stable")


def precision_at_k(y: Sequence[float], score: Sequence[float], k: int) -> float:
    """Share of positives among the ``k`` highest scores (all rows when fewer than ``k``)."""
    y, score = _arrays(y, score)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if len(y) == 0:
        return math.nan
    return float(y[_descending(score)[:k]].mean())


def deciles(score: Sequence[float]) -> np.ndarray:
    """Decile of each row by score, 1 = the highest tenth; sizes differ by at most one."""
    score = np.asarray(score, dtype=float)
    ranks = np.empty(len(score), dtype=int)
    ranks[_descending(score)] = np.arange(len(score))
    return (ranks * 10 // max(len(score), 1)) + 1


def lift_by_decile(y: Sequence[float], score: Sequence[float]) -> list[float]:
    """Positive rate of each score decile (1 = top) over the overall positive rate."""
    y, score = _arrays(y, score)
    base = y.mean() if len(y) else 0.0
    if base == 0:
        return [math.nan] * 10
    bins = deciles(score)
    return [float(y[bins == d].mean() / base) if (bins == d).any() else math.nan
            for d in range(1, 11)]


def brier(y: Sequence[float], probability: Sequence[float]) -> float:
    """Mean squared error of probabilities against 0/1 outcomes."""
    y, probability = _arrays(y, probability)
    return float(np.mean((probability - y) ** 2)) if len(y) else math.nan


def expected_calibration_error(
    y: Sequence[float], probability: Sequence[float], bins: int = 10
) -> float:
    """ECE: the row-weighted mean |mean probability - positive rate| over equal-width bins."""
    y, probability = _arrays(y, probability)
    if len(y) == 0:
        return math.nan
    if ((probability < 0) | (probability > 1)).any():
        raise ValueError("calibration needs probabilities in [0, 1]")
    index = np.minimum((probability * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(index):
        inside = index == b
        total += inside.sum() * abs(probability[inside].mean() - y[inside].mean())
    return float(total / len(y))


def normalized_gini(y: Sequence[float], prediction: Sequence[float]) -> float:
    """Gini of the predictions over the Gini of a perfect ranking, for non-negative values.

    1 means the predictions order the outcome perfectly, 0 no better than chance.
    """
    y, prediction = _arrays(y, prediction)

    def gini(order_by: np.ndarray) -> float:
        ordered = y[np.lexsort((np.arange(len(y)), -order_by))]
        cumulative = np.cumsum(ordered) / ordered.sum()
        return float(cumulative.sum() / len(y) - (len(y) + 1) / (2 * len(y)))

    if len(y) == 0 or y.sum() <= 0:
        return math.nan
    return gini(prediction) / gini(y)


def decile_calibration(
    y: Sequence[float], prediction: Sequence[float]
) -> list[tuple[int, float, float]]:
    """(decile, mean prediction, mean outcome) per prediction decile, 1 = top."""
    y, prediction = _arrays(y, prediction)
    bins = deciles(prediction)
    return [(d, float(prediction[bins == d].mean()), float(y[bins == d].mean()))
            for d in range(1, 11) if (bins == d).any()]


def classification_report(
    y: Sequence[float], score: Sequence[float], k: int, probability: bool = True
) -> dict[str, float]:
    """The ranking metrics, plus Brier and ECE when ``score`` is a probability."""
    report = {
        "roc_auc": roc_auc(y, score),
        "pr_auc": pr_auc(y, score),
        f"precision_at_{k}": precision_at_k(y, score, k),
        "top_decile_lift": lift_by_decile(y, score)[0],
    }
    if probability:
        report["brier"] = brier(y, score)
        report["ece"] = expected_calibration_error(y, score)
    return report


def regression_report(y: Sequence[float], prediction: Sequence[float]) -> dict[str, float]:
    """Normalized Gini, the top decile's mean outcome over the mean, and the largest
    relative gap between a decile's mean prediction and its mean outcome."""
    y, prediction = _arrays(y, prediction)
    calibration = decile_calibration(y, prediction)
    gaps = [abs(p - o) / o for _, p, o in calibration if o > 0]
    mean = y.mean() if len(y) else 0.0
    return {
        "normalized_gini": normalized_gini(y, prediction),
        "top_decile_lift": calibration[0][2] / mean if calibration and mean > 0 else math.nan,
        "max_decile_gap": max(gaps) if gaps else math.nan,
        "mean_prediction_ratio": float(prediction.mean() / mean) if mean > 0 else math.nan,
    }
