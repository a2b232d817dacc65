"""Uplift evaluation on randomized campaigns: Qini, AUUC, uplift@k (numpy in, floats out).

Every function takes, one row per enrolled entity, the outcome ``y`` (1 onboarded, 0 not),
``treated`` (1 contacted, 0 the randomized control) and the ``score`` a ranking sorts by,
highest first (ties keep row order, so results are reproducible). Rankings are judged by the
outcomes of the treated and control rows among their top k, the only way an effect can be
measured when each entity is either contacted or not.

- Qini curve: Q(k) = Y1(k) - Y0(k) * N1(k) / N0(k), the extra successes among the top k had
  all of them been contacted (Y1, N1: successes and rows of the treated among the top k;
  Y0, N0: of the control). Q(0) = 0; while the top k holds no control row, N1/N0 is
  undefined and the term is left out.
- Qini coefficient: the area between the Qini curve and the straight line from (0, 0) to
  (N, Q(N)) (what a random order gives on average), divided by N: the mean extra
  successes over random targeting, per row. The same data ranked by the true effect gives
  the oracle's coefficient, which a model's is compared with.
- AUUC: the mean over k of the uplift curve U(k) = (Y1(k)/N1(k) - Y0(k)/N0(k)) * k, the
  difference in success rates scaled to the k rows targeted, divided by N.
- uplift@k: Y1/N1 - Y0/N0 among the top share of rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _arrays(y: Sequence[float], treated: Sequence[float], score: Sequence[float]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    treated = np.asarray(treated, dtype=float)
    score = np.asarray(score, dtype=float)
    if not (len(y) == len(treated) == len(score)):
        raise ValueError(f"lengths differ: y {len(y)}, treated {len(treated)}, "
                         f"score {len(score)}")
    if not np.isin(treated, (0, 1)).all():
        raise ValueError("treated must be 0 or 1 on every row")
    if np.isnan(score).any():
        raise ValueError("scores must not be NaN")
    return y, treated, score


def _cumulative(y: np.ndarray, treated: np.ndarray, score: np.ndarray):
    order = np.argsort(-score, kind="stable")
    t, yy = treated[order], y[order]
    n1 = np.cumsum(t)
    n0 = np.cumsum(1 - t)
    y1 = np.cumsum(yy * t)
    y0 = np.cumsum(yy * (1 - t))
    return n1, n0, y1, y0


def qini_curve(y: Sequence[float], treated: Sequence[float], score: Sequence[float]
               ) -> np.ndarray:
    """Q(k) for k = 0 .. N (N + 1 values), see the module docstring."""
    y, treated, score = _arrays(y, treated, score)
    n1, n0, y1, y0 = _cumulative(y, treated, score)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(n0 > 0, y1 - y0 * n1 / n0, y1)
    return np.concatenate([[0.0], q])


def qini_coefficient(y: Sequence[float], treated: Sequence[float],
                     score: Sequence[float]) -> float:
    """Area between the Qini curve and the random line, per row; NaN without both a treated
    and a control row."""
    y, treated, score = _arrays(y, treated, score)
    if treated.sum() == 0 or treated.sum() == len(treated):
        return math.nan
    return _area_over_random(qini_curve(y, treated, score))


def _area_over_random(curve: np.ndarray) -> float:
    """Area between ``curve`` (N + 1 values from k = 0) and the straight line from (0, 0)
    to (N, curve[N]), per row."""
    n = len(curve) - 1
    random = np.linspace(0.0, curve[-1], n + 1)
    return float(np.trapezoid(curve - random, dx=1.0) / n)


def true_effect_qini(true_effect: Sequence[float], score: Sequence[float]) -> float:
    """The Qini coefficient of ``score``'s ranking judged by each row's true effect (known on
    a simulated lake only): the curve is the sum of the true effects of the top k rows,
    contacted or not, and its area over the random line is normalised per row as
    ``qini_coefficient``'s. Free of the outcome noise the realised Qini carries; ranking by
    ``true_effect`` itself gives the largest value. NaN on no rows."""
    true_effect = np.asarray(true_effect, dtype=float)
    if np.isnan(true_effect).any():
        raise ValueError("the true effect must be known on every row")
    if len(true_effect) == 0:
        return math.nan
    # Counted as contacted, every row adds its own value: Q(k) is the cumulative true effect.
    return _area_over_random(qini_curve(true_effect, np.ones(len(true_effect)), score))


def auuc(y: Sequence[float], treated: Sequence[float], score: Sequence[float]) -> float:
    """Mean of the uplift curve over k, per row; NaN without both a treated and a control
    row."""
    y, treated, score = _arrays(y, treated, score)
    if treated.sum() == 0 or treated.sum() == len(treated):
        return math.nan
    n1, n0, y1, y0 = _cumulative(y, treated, score)
    k = np.arange(1, len(y) + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        uplift = np.where((n1 > 0) & (n0 > 0), (y1 / n1 - y0 / n0) * k, 0.0)
    return float(uplift.mean() / len(y))


def uplift_at_k(y: Sequence[float], treated: Sequence[float], score: Sequence[float],
                share: float) -> float:
    """Success rate of the treated minus that of the control among the top ``share`` of
    rows; NaN when that top holds no treated or no control row."""
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    y, treated, score = _arrays(y, treated, score)
    k = max(1, math.ceil(share * len(y))) if len(y) else 0
    if k == 0:
        return math.nan
    n1, n0, y1, y0 = _cumulative(y, treated, score)
    if n1[k - 1] == 0 or n0[k - 1] == 0:
        return math.nan
    return float(y1[k - 1] / n1[k - 1] - y0[k - 1] / n0[k - 1])
