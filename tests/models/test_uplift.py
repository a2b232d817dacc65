"""Uplift: the metrics on a worked example, and the learners against a known effect."""

from __future__ import annotations

import math

import numpy as np
import pytest

from growth.models.uplift import UpliftModel
from growth.models.uplift_metrics import (
    auuc,
    qini_coefficient,
    qini_curve,
    true_effect_qini,
    uplift_at_k,
)

Y = [1, 0, 1, 0, 1, 0]
T = [1, 1, 0, 0, 1, 0]
S = [6, 5, 4, 3, 2, 1]


def test_metrics_on_a_worked_example():
    np.testing.assert_allclose(qini_curve(Y, T, S), [0, 1, 1, -1, 0, 0.5, 1])
    # the curve minus the line from (0, 0) to (6, 1): 0, 5/6, 4/6, -3/2, -4/6, -2/6, 0;
    # its trapezoid area is -1, per row -1/6
    assert qini_coefficient(Y, T, S) == pytest.approx(-1 / 6)
    assert auuc(Y, T, S) == pytest.approx((-1.5 + 0 + 5 / 6 + 2) / 6 / 6)
    assert uplift_at_k(Y, T, S, 0.5) == pytest.approx(1 / 2 - 1)
    assert math.isnan(uplift_at_k(Y, T, S, 1 / 6))  # the top row has no control beside it
    # ties keep row order: an all-equal score is the rows' own order
    np.testing.assert_allclose(qini_curve(Y, T, [0] * 6), qini_curve(Y, T, S))


def test_metrics_refuse_what_they_cannot_measure():
    assert math.isnan(qini_coefficient([1, 0], [1, 1], [1, 2]))
    assert math.isnan(auuc([1, 0], [0, 0], [1, 2]))
    with pytest.raises(ValueError, match="lengths differ"):
        qini_curve([1], [1, 0], [1, 2])
    with pytest.raises(ValueError, match="treated must be 0 or 1"):
        qini_curve([1, 0], [2, 0], [1, 2])
    with pytest.raises(ValueError, match="NaN"):
        qini_curve([1, 0], [1, 0], [1, float("nan")])
    with pytest.raises(ValueError, match="share must be in"):
        uplift_at_k(Y, T, S, 0)


def test_true_effect_qini_on_a_worked_example():
    effect = [0.3, -0.1, 0.2, 0.0]
    # ranked by the score 1, 4, 3, 2: the curve 0, 0.3, 0.3, 0.5, 0.4 minus the line to
    # (4, 0.4): 0, 0.2, 0.1, 0.2, 0; trapezoid area 0.5, per row 0.125
    assert true_effect_qini(effect, [4, 1, 2, 3]) == pytest.approx(0.125)
    # the oracle (the true effect itself) is the largest: 0, 0.3, 0.5, 0.5, 0.4 minus the
    # line: 0, 0.2, 0.3, 0.2, 0 -> 0.7 / 4; the reverse order its negative
    assert true_effect_qini(effect, effect) == pytest.approx(0.175)
    assert true_effect_qini(effect, [-e for e in effect]) == pytest.approx(-0.175)
    # treated or not does not enter: no arm is needed, a single row has no area
    assert true_effect_qini([0.2], [1.0]) == 0.0
    assert math.isnan(true_effect_qini([], []))
    with pytest.raises(ValueError, match="true effect must be known on every row"):
        true_effect_qini([0.1, float("nan")], [1, 2])
    with pytest.raises(ValueError, match="lengths differ"):
        true_effect_qini([0.1, 0.2], [1])


def campaign(n: int, seed: int):
    """A randomized campaign (30% control) whose true effect depends on the first feature."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    tau = np.where(X[:, 0] > 0, 0.35, -0.03) + 0.1 * np.tanh(X[:, 2])
    base = 0.1 + 0.1 * (X[:, 1] > 0)
    treated = (rng.random(n) < 0.7).astype(int)
    y = (rng.random(n) < np.clip(base + treated * tau, 0, 1)).astype(int)
    return X, treated, y, tau


@pytest.mark.parametrize("learner", ["t", "x"])
def test_learners_rank_by_the_true_effect(learner):
    X, t, y, _ = campaign(6000, 1)
    model = UpliftModel(learner, n_estimators=120, max_depth=3, random_state=0).fit(X, t, y)
    Xh, th, yh, tau = campaign(6000, 2)
    effect = model.effect(Xh)
    assert np.corrcoef(effect, tau)[0, 1] > 0.8
    ours, oracle = qini_coefficient(yh, th, effect), qini_coefficient(yh, th, tau)
    assert ours >= 0.7 * oracle > 0
    assert true_effect_qini(tau, effect) >= 0.7 * true_effect_qini(tau, tau) > 0
    assert qini_coefficient(yh, th, -effect) < 0 < ours  # the reverse order is worse than random
    assert uplift_at_k(yh, th, effect, 0.3) > uplift_at_k(yh, th, -effect, 0.3)


def test_learners_refuse_bad_input():
    X, t, y, _ = campaign(200, 3)
    with pytest.raises(ValueError, match="learner must be one of t, x"):
        UpliftModel("s")
    with pytest.raises(ValueError, match="the control arm needs at least 10 rows"):
        UpliftModel().fit(X[:20], np.ones(20), y[:20])
    with pytest.raises(ValueError, match="treated and y must be 0 or 1"):
        UpliftModel().fit(X, t * 2, y)
    with pytest.raises(ValueError, match="X must be rows x features"):
        UpliftModel().fit(X[:, 0], t, y)


def test_settings_are_chosen_on_the_latest_training_group_only():
    from growth.models.uplift import GRID, fit_selected

    X, t, y, _ = campaign(3000, 4)
    groups = np.repeat(["a", "b", "c"], 1000)
    model, chosen, scores = fit_selected(X, t, y, groups, "t", random_state=0)
    assert len(scores) == len(GRID) and all(np.isfinite(scores))
    assert chosen == GRID[int(np.argmax(scores))]
    assert model.params["max_depth"] == chosen["max_depth"]
    # one group: nothing to validate on, the first candidate is used
    _, single, none = fit_selected(X, t, y, np.zeros(3000), "t", random_state=0)
    assert single == GRID[0] and none == []
