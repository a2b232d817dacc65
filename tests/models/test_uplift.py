"""Uplift: the metrics on a worked example, and the learners against a known effect."""

from __future__ import annotations

import math

import numpy as np
import pytest

from growth.models.uplift import (
    BOOSTING_GRID,
    LINEAR_GRID,
    LinearUpliftModel,
    UpliftModel,
    candidates,
    fit_selected,
    make_model,
    selection_key,
)
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


@pytest.mark.parametrize("learner", ["t", "x", "response"])
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


def test_the_linear_learner_ranks_a_smooth_effect_and_survives_odd_columns():
    X, t, y, _ = campaign(6000, 1)
    Xh, th, yh, tau = campaign(6000, 2)
    # a constant column and missing values must neither fail nor move the estimate
    odd = np.column_stack([X, np.full(len(X), 7.0)])
    odd[::50, 3] = np.nan
    model = make_model("linear", C=0.1, random_state=0, learning_rate=0.1).fit(odd, t, y)
    assert isinstance(model, LinearUpliftModel) and model.params == {"C": 0.1}
    effect = model.effect(np.column_stack([Xh, np.full(len(Xh), 7.0)]))
    assert np.corrcoef(effect, tau)[0, 1] > 0.8
    assert qini_coefficient(yh, th, effect) >= 0.7 * qini_coefficient(yh, th, tau) > 0
    assert true_effect_qini(tau, effect) >= 0.7 * true_effect_qini(tau, tau)
    # the effect is the difference of two probabilities
    assert ((effect > -1) & (effect < 1)).all()


def test_the_linear_learner_recovers_no_effect_and_a_uniform_one():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(8000, 3))
    t = (rng.random(8000) < 0.7).astype(int)
    base = 0.1 + 0.1 * (X[:, 0] > 0)  # the outcome depends on X, the effect does not
    none = LinearUpliftModel(C=1.0).fit(X, t, (rng.random(8000) < base).astype(int)).effect(X)
    assert abs(none.mean()) < 0.02 and np.abs(none).mean() < 0.03
    uniform = (rng.random(8000) < base + 0.1 * t).astype(int)
    assert LinearUpliftModel(C=1.0).fit(X, t, uniform).effect(X).mean() == pytest.approx(
        0.1, abs=0.025)


def test_the_response_learner_is_the_contacted_arm_less_the_control_rate():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(8000, 3)).astype(np.float32)
    t = (rng.random(8000) < 0.7).astype(int)
    # a flat baseline of 0.1 and a uniform effect of 0.1
    y = (rng.random(8000) < 0.1 + 0.1 * t).astype(int)
    model = UpliftModel("response", n_estimators=50, max_depth=1, random_state=0).fit(X, t, y)
    assert model.control_rate_ == y[t == 0].mean()
    assert not hasattr(model, "mu0_")  # no model of the control arm is learnt
    effect = model.effect(X)
    assert effect == pytest.approx(model.mu1_.predict_proba(X)[:, 1] - model.control_rate_)
    assert effect.mean() == pytest.approx(0.1, abs=0.02)


def test_the_choice_passes_the_response_learner_over_where_the_baseline_drives_outcomes():
    """Entities that onboard anyway (a high baseline) and gain nothing from a contact rank
    first by the contacted arm's outcome alone; the realised Qini of the rolling-origin
    choice counts the control arm too, so the T-learner is chosen."""
    rng = np.random.default_rng(11)
    n = 12000
    X = rng.normal(size=(n, 3)).astype(np.float32)
    high = X[:, 0] > 0
    base, tau = np.where(high, 0.45, 0.05), np.where(high, 0.0, 0.2)
    t = (rng.random(n) < 0.6).astype(int)
    y = (rng.random(n) < base + t * tau).astype(int)
    groups = np.repeat(np.arange(4), n // 4)
    grid = [{"learner": "response", "n_estimators": 100, "max_depth": 1},
            {"learner": "t", "n_estimators": 100, "max_depth": 1}]
    model, chosen, scores = fit_selected(X, t, y, groups, grid=grid, random_state=0)
    assert chosen == grid[1] and scores[1] > 0 > scores[0]
    assert true_effect_qini(tau, model.effect(X)) > 0.9 * true_effect_qini(tau, tau)


def test_learners_refuse_bad_input():
    X, t, y, _ = campaign(200, 3)
    with pytest.raises(ValueError, match="learner must be one of t, x, response, got 'linear'"):
        UpliftModel("linear")  # not a boosted learner: make_model builds it
    with pytest.raises(ValueError, match="learner must be one of t, x, linear, response, auto"):
        fit_selected(X, t, y, np.zeros(200), "s")
    with pytest.raises(ValueError, match="C must be above 0"):
        LinearUpliftModel(C=0)
    with pytest.raises(ValueError, match="the control arm needs at least 10 rows"):
        UpliftModel().fit(X[:20], np.ones(20), y[:20])
    with pytest.raises(ValueError, match="the control arm needs at least 10 rows"):
        LinearUpliftModel().fit(X[:20], np.ones(20), y[:20])
    with pytest.raises(ValueError, match="treated and y must be 0 or 1"):
        UpliftModel().fit(X, t * 2, y)
    with pytest.raises(ValueError, match="X must be rows x features"):
        UpliftModel().fit(X[:, 0], t, y)


@pytest.mark.parametrize("learner, grid", [("t", BOOSTING_GRID), ("linear", LINEAR_GRID)])
def test_settings_are_chosen_by_rolling_origin_over_the_training_groups(learner, grid):
    X, t, y, _ = campaign(3000, 4)
    groups = np.repeat(["a", "b", "c"], 1000)
    model, chosen, scores = fit_selected(X, t, y, groups, learner, random_state=0)
    assert len(scores) == len(grid) and all(np.isfinite(scores))
    assert chosen == {"learner": learner, **grid[int(np.argmax(scores))]}
    assert {k: model.params[k] for k in grid[0]} == {k: chosen[k] for k in grid[0]}

    def qini_of(first: dict, rows: int, group: str) -> float:
        m = make_model(learner, random_state=0, **first).fit(X[:rows], t[:rows], y[:rows])
        held = groups == group
        return qini_coefficient(y[held], t[held], m.effect(X[held]))

    # a candidate scores the mean Qini of group b (learnt from a) and c (from a and b)
    assert scores[0] == pytest.approx((qini_of(grid[0], 1000, "b")
                                       + qini_of(grid[0], 2000, "c")) / 2)
    # one fold: the latest group only
    _, _, latest = fit_selected(X, t, y, groups, learner, grid=[{"learner": learner,
                                                                 **grid[0]}], folds=1,
                                random_state=0)
    assert latest == [pytest.approx(qini_of(grid[0], 2000, "c"))]
    # one group: nothing to validate on, the first candidate is used
    _, single, none = fit_selected(X, t, y, np.zeros(3000), learner, random_state=0)
    assert single == {"learner": learner, **grid[0]} and none == []


def test_auto_tries_every_learner_and_bad_choices_are_refused():
    auto = candidates("auto")
    assert auto == ([{"learner": "t", **c} for c in BOOSTING_GRID]
                    + [{"learner": "x", **c} for c in BOOSTING_GRID]
                    + [{"learner": "linear", **c} for c in LINEAR_GRID]
                    + [{"learner": "response", **c} for c in BOOSTING_GRID])
    X, t, y, _ = campaign(1500, 6)
    groups = np.repeat(["a", "b", "c"], 500)
    two = [{"learner": "linear", "C": 0.01}, {"learner": "t", "n_estimators": 20,
                                              "max_depth": 1}]
    model, chosen, scores = fit_selected(X, t, y, groups, grid=two, random_state=0)
    assert chosen == two[int(np.argmax(scores))]
    assert isinstance(model, LinearUpliftModel if chosen["learner"] == "linear"
                      else UpliftModel)
    with pytest.raises(ValueError, match="learner must be one of t, x, linear, response, auto"):
        candidates("s")
    with pytest.raises(ValueError, match="every candidate needs a learner"):
        fit_selected(X, t, y, groups, grid=[{"C": 1.0}])
    with pytest.raises(ValueError, match="folds and max_rows must be at least 1"):
        fit_selected(X, t, y, groups, "linear", folds=0)
    with pytest.raises(ValueError, match="folds and max_rows must be at least 1"):
        fit_selected(X, t, y, groups, "linear", max_rows=0)
    # an early group without a control arm only loses the folds it cannot learn
    thin = t.copy()
    thin[:500] = 1
    _, _, kept = fit_selected(X, thin, y, groups, grid=two[:1], random_state=0)
    assert np.isfinite(kept[0])


def test_a_fold_learns_from_a_seeded_sample_above_max_rows():
    X, t, y, _ = campaign(3000, 7)
    groups = np.repeat(["a", "b", "c"], 1000)
    one = [{"learner": "linear", "C": 0.1}]
    _, _, full = fit_selected(X, t, y, groups, grid=one, folds=1, random_state=3)
    _, _, capped = fit_selected(X, t, y, groups, grid=one, folds=1, max_rows=800,
                                random_state=3)
    # the same sample as the selection draws: 800 of the 2000 rows before group c
    rows = np.flatnonzero(groups < "c")
    kept = np.zeros(3000, bool)
    kept[np.random.default_rng(3).choice(rows, 800, replace=False)] = True
    model = make_model("linear", C=0.1).fit(X[kept], t[kept], y[kept])
    held = groups == "c"
    assert capped == [pytest.approx(qini_coefficient(y[held], t[held], model.effect(X[held])))]
    assert capped != full
    # below the cap nothing is sampled
    _, _, same = fit_selected(X, t, y, groups, grid=one, folds=1, max_rows=2000,
                              random_state=3)
    assert same == full


def test_a_memo_reuses_the_choice_made_on_the_same_rows_and_settings():
    X, t, y, _ = campaign(1500, 8)
    groups = np.repeat(["a", "b", "c"], 500)
    two = [{"learner": "linear", "C": 0.01}, {"learner": "linear", "C": 1.0}]
    memo: dict[str, dict] = {}
    model, chosen, scores = fit_selected(X, t, y, groups, grid=two, random_state=0,
                                         memo=memo)
    key = selection_key(X, t, y, groups, two, 3, 50_000, {"random_state": 0})
    assert memo == {key: {"chosen": chosen, "scores": scores}}
    # the same rows again: the memo's choice, not a new validation (a planted choice shows
    # it is read), and the model is still fitted on every row with it
    other = two[1 - two.index(chosen)]
    memo[key] = {"chosen": other, "scores": [0.5, -0.5]}
    reused, again, kept = fit_selected(X, t, y, groups, grid=two, random_state=0, memo=memo)
    assert (again, kept) == (other, [0.5, -0.5])
    expected = make_model("linear", random_state=0, C=other["C"]).fit(X, t, y)
    np.testing.assert_allclose(reused.effect(X), expected.effect(X))
    # a feature moved in a double's last bits (a sum added in another order): the same key
    assert selection_key(X.astype(np.float64) * (1 + 1e-15), t, y, groups, two, 3, 50_000,
                         {"random_state": 0}) == key
    # one outcome, the candidates or a shared setting changed: another key, chosen anew
    flipped = y.copy()
    flipped[0] = 1 - flipped[0]
    assert len({key,
                selection_key(X, t, flipped, groups, two, 3, 50_000, {"random_state": 0}),
                selection_key(X, t, y, groups, two[:1], 3, 50_000, {"random_state": 0}),
                selection_key(X, t, y, groups, two, 2, 50_000, {"random_state": 0}),
                selection_key(X, t, y, groups, two, 3, 50_000, {"random_state": 1})}) == 5
    _, fresh, fresh_scores = fit_selected(X, t, flipped, groups, grid=two, random_state=0,
                                          memo=memo)
    assert len(memo) == 2 and memo[selection_key(
        X, t, flipped, groups, two, 3, 50_000, {"random_state": 0})]["chosen"] == fresh
