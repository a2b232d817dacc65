"""The compiled tree evaluator against XGBoost itself, on tiny boosters trained here (fast).

Margins must equal ``predict(output_margin=True)``, contributions ``pred_contribs=True,
approx_contribs=True``, predictions ``predict`` and the top-k columns a stable sort of the
contributions. The evaluator repeats XGBoost's float32 operations in XGBoost's order, so
the results are expected to be identical, not merely close; the tolerances below are float32
ones so that a different summation order would still be caught as a divergence of meaning.
"""

import json

import numpy as np
import pytest
import xgboost as xgb

from growth.models import compiled_trees
from growth.models.compiled_trees import BLOCK_ROWS, UnsupportedBooster, compile_booster
from growth.models.estimators import PotentialModel, ValueModel


def data(n=400, seed=0, features=5):
    """Features: 0 and 1 carry the signal, 2 is often missing, 3 is constant (never split
    on), the rest noise. NaNs in training make XGBoost learn both default directions."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features)).astype(np.float32)
    X[rng.random(n) < 0.3, 2] = np.nan
    X[rng.random(n) < 0.1, 0] = np.nan
    X[:, 3] = 1.0
    signal = np.nan_to_num(X[:, 0]) + 0.5 * X[:, 1] + np.where(np.isnan(X[:, 2]), 1.0, 0.0)
    return X, signal


def train(objective, n_estimators=25, max_depth=3, seed=0, **params):
    X, signal = data(seed=seed)
    rng = np.random.default_rng(seed + 1)
    if objective in ("binary:logistic", "reg:logistic", "binary:logitraw"):
        y = (signal + 0.5 * rng.normal(size=len(signal)) > 0.5).astype(float)
    elif objective in ("reg:tweedie", "count:poisson"):
        y = np.where(rng.random(len(signal)) < 0.4, 0.0, np.exp(signal))
    elif objective == "reg:gamma":
        y = np.exp(signal) + 0.1
    else:
        y = signal + 0.1 * rng.normal(size=len(signal))
    booster = xgb.train({"objective": objective, "max_depth": max_depth, "eta": 0.3,
                         "subsample": 0.8, "seed": seed, "tree_method": "hist", **params},
                        xgb.DMatrix(X, label=y), num_boost_round=n_estimators)
    return booster


def reference(booster, X):
    matrix = xgb.DMatrix(X)
    return (booster.predict(matrix, output_margin=True),
            booster.predict(matrix, pred_contribs=True, approx_contribs=True),
            booster.predict(matrix))


def assert_matches_xgboost(booster, X, k=3, threads=1):
    compiled = compile_booster(booster.save_raw("json"))
    margin, contributions, prediction = reference(booster, X)
    result = compiled.evaluate(X, k, threads)
    np.testing.assert_allclose(result.margin, margin, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(result.contributions, contributions, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(compiled.transform(result.margin), prediction, rtol=1e-6,
                               atol=1e-7)
    stable = np.argsort(-contributions[:, :-1].astype(float), axis=1, kind="stable")
    np.testing.assert_array_equal(result.top, stable[:, : min(k, X.shape[1])])
    return compiled, result


OBJECTIVES = ["reg:tweedie", "binary:logistic", "reg:squarederror", "count:poisson",
              "reg:gamma", "reg:logistic", "binary:logitraw"]


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_margin_contributions_and_prediction_equal_xgboosts(objective):
    booster = train(objective)
    X, _ = data(n=333, seed=5)  # other rows than training, not a multiple of 8 or 64
    compiled, _ = assert_matches_xgboost(booster, X)
    assert compiled.objective == objective and compiled.n_trees == 25


@pytest.mark.parametrize("objective", ["reg:tweedie", "binary:logistic"])
def test_the_two_objectives_scoring_uses_are_bit_identical(objective):
    # Same float32 operations in the same order: not only close, equal.
    booster = train(objective, n_estimators=40, max_depth=5)
    X, _ = data(n=1000, seed=6)
    margin, contributions, prediction = reference(booster, X)
    compiled = compile_booster(booster.save_raw("json"))
    result = compiled.evaluate(X)
    np.testing.assert_array_equal(result.margin, margin)
    np.testing.assert_array_equal(result.contributions, contributions)
    np.testing.assert_array_equal(compiled.transform(result.margin), prediction)


def test_missing_values_follow_each_nodes_default_direction():
    booster = train("reg:squarederror", n_estimators=30, max_depth=4)
    compiled = compile_booster(booster.save_raw("json"))
    splits = compiled.threshold != 0  # padding nodes have threshold 0
    # The training NaNs made XGBoost learn both directions: both are exercised here.
    assert compiled.right_default[splits].any() and not compiled.right_default[splits].all()
    X, _ = data(n=200, seed=7)
    X[::3] = np.nan  # whole rows missing
    X[1::3, 1] = np.nan
    assert_matches_xgboost(booster, X)


def test_a_feature_never_split_on_contributes_nothing():
    booster = train("reg:tweedie")
    X, _ = data(n=100, seed=8)
    _, result = assert_matches_xgboost(booster, X, k=7)
    assert (result.contributions[:, 3] == 0).all()
    # k beyond the features: every column, ties (the zeros) in column order
    assert result.top.shape == (100, 5)


@pytest.mark.parametrize("n_estimators, max_depth", [(1, 3), (20, 1), (3, 6)])
def test_single_trees_stumps_and_deeper_trees(n_estimators, max_depth):
    booster = train("binary:logistic", n_estimators=n_estimators, max_depth=max_depth)
    X, _ = data(n=150, seed=9)
    compiled, _ = assert_matches_xgboost(booster, X)
    assert compiled.n_trees == n_estimators and compiled.depth <= max_depth


def test_trees_that_are_a_single_leaf():
    # No split is allowed: every tree is its root, the margin is the leaves' sum.
    booster = train("reg:squarederror", n_estimators=4, min_child_weight=1e9)
    compiled, result = assert_matches_xgboost(booster, data(n=20)[0])
    assert compiled.depth == 0
    assert (result.contributions[:, :-1] == 0).all()


def test_zero_rows():
    booster = train("reg:tweedie")
    result = compile_booster(booster.save_raw("json")).evaluate(np.empty((0, 5)), k=3)
    assert result.margin.shape == (0,)
    assert result.contributions.shape == (0, 6)
    assert result.top.shape == (0, 3)


def test_threads_give_the_same_result():
    booster = train("binary:logistic", n_estimators=30, max_depth=4)
    X, _ = data(n=5 * BLOCK_ROWS + 13, seed=10)
    compiled = compile_booster(booster.save_raw("json"))
    one, two = compiled.evaluate(X, 3, threads=1), compiled.evaluate(X, 3, threads=2)
    np.testing.assert_array_equal(one.margin, two.margin)
    np.testing.assert_array_equal(one.contributions, two.contributions)
    np.testing.assert_array_equal(one.top, two.top)
    assert_matches_xgboost(booster, X, threads=2)


def test_bad_input_is_refused_with_a_reason():
    compiled = compile_booster(train("reg:tweedie").save_raw("json"))
    with pytest.raises(ValueError, match=r"trained on 5 features"):
        compiled.evaluate(np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"trained on 5 features"):
        compiled.evaluate(np.zeros(5, dtype=np.float32))
    with pytest.raises(ValueError, match="infinite"):
        compiled.evaluate(np.array([[np.inf, 0, 0, 0, 0]], dtype=np.float32))
    with pytest.raises(ValueError, match="k must be"):
        compiled.evaluate(np.zeros((1, 5), dtype=np.float32), k=-1)


def test_what_it_does_not_implement_is_named(monkeypatch):
    X, signal = data()
    multiclass = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2},
                           xgb.DMatrix(X, label=np.digitize(signal, [0, 1])), 3)
    with pytest.raises(UnsupportedBooster, match="several outputs"):
        compile_booster(multiclass.save_raw("json"))
    dart = train("reg:squarederror", booster="dart", n_estimators=3)
    with pytest.raises(UnsupportedBooster, match="dart"):
        compile_booster(dart.save_raw("json"))
    model = json.loads(train("reg:squarederror", max_depth=3).save_raw("json"))
    monkeypatch.setattr(compiled_trees, "MAX_DEPTH", 2)
    with pytest.raises(UnsupportedBooster, match="deeper than 2"):
        compile_booster(model)
    monkeypatch.undo()
    model["learner"]["attributes"]["best_iteration"] = "1"
    with pytest.raises(UnsupportedBooster, match="early-stopped"):
        compile_booster(model)


def test_estimators_explain_in_one_pass_what_xgboost_gives_in_three():
    X, signal = data(n=500)
    y = np.where(signal > 0.5, np.exp(signal), 0.0)
    params = {"n_estimators": 30, "max_depth": 4, "n_jobs": 1}
    value = ValueModel(**params).fit(X, y)
    explained = value.explain(X, k=2, threads=2)
    np.testing.assert_allclose(explained.output, value.predict(X), rtol=1e-6)
    contributions = value.booster_.predict(xgb.DMatrix(X), pred_contribs=True,
                                           approx_contribs=True)
    np.testing.assert_allclose(explained.contributions, contributions, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(value.contributions(X), contributions, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(
        explained.top, np.argsort(-contributions[:, :-1], axis=1, kind="stable")[:, :2])

    labels = (signal > 0.5).astype(float)
    potential = PotentialModel(calibration_folds=2, **params).fit(X, labels)
    explained = potential.explain(X)
    np.testing.assert_allclose(explained.output, potential.raw_probability(X), rtol=1e-6,
                               atol=1e-7)
    # A refit replaces the booster: the compiled copy follows it.
    before = potential.compiled()
    potential.fit(X[::-1], labels[::-1])
    assert potential.compiled() is not before
    np.testing.assert_allclose(potential.explain(X).output, potential.raw_probability(X),
                               rtol=1e-6, atol=1e-7)


def test_estimators_fall_back_to_xgboost_for_an_unsupported_booster():
    dart = train("reg:tweedie", booster="dart", n_estimators=5)
    model = ValueModel(n_jobs=1).load_booster(dart.save_raw("json"))
    X, _ = data(n=50, seed=3)
    assert model.compiled() is None
    explained = model.explain(X, k=2)
    np.testing.assert_allclose(explained.output, model.predict(X), rtol=1e-6)
    contributions = model.booster_.predict(xgb.DMatrix(X), pred_contribs=True,
                                           approx_contribs=True)
    np.testing.assert_allclose(explained.contributions, contributions, rtol=1e-6)
    np.testing.assert_array_equal(
        explained.top, np.argsort(-contributions[:, :-1], axis=1, kind="stable")[:, :2])


@pytest.mark.parametrize("failure", ["at decoration", "at the first call"])
def test_kernels_compile_without_a_cache_where_none_can_be_written(monkeypatch, failure):
    made = []

    def cached_but_unwritable(*args):
        raise FileNotFoundError("[Errno 2] No such file or directory: '/home/spark/.cache'")

    def njit(**options):
        made.append(options)
        if options.get("cache") and failure == "at decoration":
            raise RuntimeError("cannot cache function: no locator available")
        if options.get("cache"):
            return lambda function: cached_but_unwritable
        return lambda function: function

    monkeypatch.setattr(compiled_trees.numba, "njit", njit)
    kernel = compiled_trees._Kernel(lambda a, b: a + b, parallel=False)
    assert kernel(1, 2) == 3 and kernel(3, 4) == 7
    assert made == [{"cache": True, "parallel": False, "nogil": True},
                    {"parallel": False, "nogil": True}]
