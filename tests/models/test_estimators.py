"""The estimators on small synthetic data with a known signal (fast: a few hundred rows)."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.model_selection import GroupKFold

from growth.errors import UntrainableError
from growth.models import metrics, scoring, store
from growth.models.estimators import LookalikeModel, PotentialModel, ValueModel, cutoff_folds
from growth.models.reasons import top_reasons
from growth.models.scoring import SCORED_COLUMNS, Champions, score_batch
from growth.models.tiering import Gate, failed_gates

SMALL = {"n_estimators": 40, "max_depth": 3, "learning_rate": 0.2, "n_jobs": 1}


def data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    X[rng.random(n) < 0.1, 2] = np.nan  # missing values are allowed
    y = (X[:, 0] + 0.3 * rng.normal(size=n) > 1.0).astype(float)
    cutoffs = np.repeat(np.arange(4), n // 4)
    return X, y, cutoffs


def test_potential_model_ranks_and_is_calibrated_on_held_out_rows():
    X, y, cutoffs = data()
    model = PotentialModel(random_state=1, **SMALL).fit(X, y, cutoffs)
    X2, y2, _ = data(seed=2)
    p = model.predict_proba(X2)[:, 1]
    assert ((p >= 0) & (p <= 1)).all()
    assert metrics.roc_auc(y2, p) > 0.9
    assert metrics.expected_calibration_error(y2, p) < 0.08
    contributions = model.contributions(X2)
    assert contributions.shape == (len(X2), 4)
    # the informative feature dominates the contributions
    assert np.abs(contributions[:, 0]).mean() > 3 * np.abs(contributions[:, 1]).mean()


def test_potential_model_refuses_a_single_class():
    X, y, cutoffs = data()
    with pytest.raises(ValueError, match="0 positive"):
        PotentialModel(**SMALL).fit(X, np.zeros_like(y), cutoffs)
    with pytest.raises(ValueError, match="same rows"):
        PotentialModel(**SMALL).fit(X, y[:-1])


def test_value_model_fits_zero_heavy_spend():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(800, 2)).astype(np.float32)
    spend = np.where(rng.random(800) < 0.6, 0.0, np.exp(1 + X[:, 0] + 0.2 * rng.normal(size=800)))
    model = ValueModel(random_state=0, **SMALL).fit(X, spend)
    prediction = model.predict(X)
    assert (prediction >= 0).all()
    assert metrics.normalized_gini(spend, prediction) > 0.5
    with pytest.raises(ValueError, match="non-negative"):
        ValueModel(**SMALL).fit(X, -spend - 1)


def test_lookalike_model_recovers_the_positive_class():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(1000, 2)).astype(np.float32)
    truth = X[:, 0] > 0.8
    # only 40% of the true positives are known; the rest hide among the unlabeled
    known = truth & (rng.random(1000) < 0.4)
    model = LookalikeModel(random_state=0, **SMALL).fit(X, known.astype(float))
    p = model.predict_proba(X)[:, 1]
    assert metrics.roc_auc(truth, p) > 0.9
    assert 0 < model.c_ <= 1
    with pytest.raises(ValueError, match="known successes"):
        LookalikeModel(**SMALL).fit(X, np.zeros(1000))


@pytest.mark.parametrize("kind", ["value", "potential", "lookalike"])
def test_store_round_trip_gives_the_same_predictions(tmp_path, kind):
    X, y, cutoffs = data()
    if kind == "value":
        model = ValueModel(**SMALL).fit(X, y * 10)
        before = model.predict(X)
    elif kind == "potential":
        model = PotentialModel(**SMALL).fit(X, y, cutoffs)
        before = model.predict_proba(X)[:, 1]
    else:
        model = LookalikeModel(**SMALL).fit(X, y)
        before = model.predict_proba(X)[:, 1]
    store.save(model, ["a", "b", "c"], tmp_path / kind)
    loaded, features = store.load(tmp_path / kind)
    after = loaded.predict(X) if kind == "value" else loaded.predict_proba(X)[:, 1]
    assert features == ["a", "b", "c"]
    assert type(loaded) is type(model)
    # every parameter is stored, the boosting ones too (a champion is retrained from them)
    assert loaded.get_params() == model.get_params()
    assert loaded.get_params()["n_estimators"] == SMALL["n_estimators"]
    np.testing.assert_allclose(after, before, rtol=1e-6)
    np.testing.assert_allclose(loaded.contributions(X), model.contributions(X), rtol=1e-5)


def test_store_names_a_broken_directory(tmp_path):
    with pytest.raises(store.ModelFormatError, match="is missing"):
        store.load(tmp_path)
    (tmp_path / "booster.json").write_text("{}")
    (tmp_path / "model.json").write_text('{"format": 99, "kind": "value"}')
    with pytest.raises(store.ModelFormatError, match="format 99"):
        store.load(tmp_path)


@pytest.mark.parametrize("sizes", [
    {"2026-01-01": 5, "2026-01-15": 9, "2026-02-01": 9, "2026-02-15": 2, "2026-03-01": 7},
    {"c": 10, "a": 10, "b": 10},
    {d: 100 + 7 * (d % 4) for d in range(10)},
])
def test_cutoff_folds_are_group_kfolds_folds_from_the_sizes_alone(sizes):
    groups = np.concatenate([[g] * n for g, n in sizes.items()])
    expected = {}
    for fold, (_, held) in enumerate(GroupKFold(3).split(groups, groups=groups)):
        expected.update({g: fold for g in np.unique(groups[held]).tolist()})
    assert cutoff_folds(sizes, 3) == expected
    with pytest.raises(ValueError, match="at least"):
        cutoff_folds(dict(list(sizes.items())[:2]), 3)


def test_a_rare_outcome_still_gets_a_ranking_model():
    # 8 positives in 800 rows, as a potential fold on a small marketplace has: the
    # classifier's leaves must be allowed to hold them (min_child_weight 1, not the
    # regressor's 5), or every row gets one flat score.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1600, 3)).astype(np.float32)
    y = np.zeros(1600)
    y[np.argsort(-X[:, 0])[:16]] = 1.0
    assert PotentialModel().min_child_weight == 1.0 and ValueModel().min_child_weight == 5.0
    model = PotentialModel(random_state=0, **SMALL).fit(X[:800], y[:800])
    raw = model.raw_probability(X[800:])
    assert len(np.unique(raw)) > 10
    assert metrics.roc_auc(y[800:], model.predict_proba(X[800:])[:, 1]) > 0.9


def test_a_flat_calibration_still_ranks_as_the_booster_does():
    # A map fitted on few positives can be one step; its probabilities must still order the
    # rows, or every ranked list built on them would be arbitrary within the step.
    model = PotentialModel()
    model.calibration_x_, model.calibration_y_ = np.array([0.0, 0.5, 1.0]), np.array([0.02, 0.02, 1.0])
    raw = np.array([0.1, 0.4, 0.3, 0.3, 0.0, 1.0, 0.75])
    p = model.calibrate(raw)
    np.testing.assert_allclose(p, [0.02, 0.02, 0.02, 0.02, 0.02, 1.0, 0.51], atol=2e-6)
    assert np.array_equal(np.argsort(p, kind="stable"), np.argsort(raw, kind="stable"))
    assert p[2] == p[3] and p[5] == 1.0 and (p > 0).all()


def test_calibration_plan_and_a_booster_trained_elsewhere():
    model = PotentialModel(calibration_folds=3)
    assert model.calibration_plan(rows=100, positives=10, cutoffs=4) is None  # cutoff folds
    assert model.calibration_plan(rows=100, positives=10, cutoffs=2) == 3  # row folds
    assert model.calibration_plan(rows=100, positives=2, cutoffs=None) == 2
    # Untrainable data: the CLI exits 5 and the scheduler does not retry.
    with pytest.raises(UntrainableError, match="0 positive"):
        model.calibration_plan(rows=100, positives=0, cutoffs=4)
    with pytest.raises(UntrainableError, match=r"^1 positive\(s\) and 99 negative\(s\) in 100 rows on "
                       r"1 cutoff\(s\): too few to calibrate \(need 2 of each\); train on more"):
        model.calibration_plan(rows=100, positives=1, cutoffs=1)
    # A booster fitted outside the estimator (as xgboost.spark does) becomes the model.
    X, y, cutoffs = data()
    fitted = PotentialModel(**SMALL).fit(X, y, cutoffs)
    raw = fitted.booster_.save_raw("json")
    other = PotentialModel(**SMALL).load_booster(raw)
    other.fit_calibration(fitted.raw_probability(X), y)
    np.testing.assert_array_equal(other.raw_probability(X), fitted.raw_probability(X))
    assert 0 <= other.predict_proba(X)[:, 1].min() and other.predict_proba(X)[:, 1].max() <= 1
    value = ValueModel(**SMALL).fit(X, y * 10)
    np.testing.assert_array_equal(
        ValueModel(**SMALL).load_booster(value.booster_.save_raw("json")).predict(X),
        value.predict(X))


VALUE_FEATURES = ["gmv_sum_30d", "orders_count_90d", "rating_mean_90d"]
UNITS = {"gmv_sum_30d": "currency", "orders_count_90d": "orders", "rating_mean_90d": "stars"}
GATES = [Gate("min_orders", "orders_count_90d", ">=", 1),
         Gate("min_rating", "rating_mean_90d", ">=", 0.0, True)]


def champions(potential_columns):
    """Small champions on ``data()``: the value model reads the three columns in order, the
    potential model the columns at ``potential_columns`` (another order, or fewer)."""
    X, y, cutoffs = data()
    value = ValueModel(**SMALL).fit(X, np.abs(X[:, 0]) * 10 + y)
    potential = PotentialModel(**SMALL).fit(X[:, potential_columns], y, cutoffs)
    return Champions(value, VALUE_FEATURES, potential,
                     [VALUE_FEATURES[i] for i in potential_columns])


def batch(n=200, seed=3):
    X, _, _ = data(n, seed)
    frame = pd.DataFrame({
        "merchant_id": [f"m{i}" for i in range(n)], "as_of_date": "2026-01-31",
        "gmv_sum_30d": X[:, 0].astype(float) * 100,
        "orders_count_90d": np.rint(np.nan_to_num(X[:, 1]) * 3).astype(np.int64),
        "rating_mean_90d": X[:, 2].astype(float),
        "previous_tier": np.array(["A", None, "C", "S"], dtype=object)[np.arange(n) % 4],
        "tenure_days": np.arange(n, dtype=float),
    }, index=np.arange(n) + 1000)
    return frame


def reference_scores(frame, models, gates):
    """score_batch as it was written before its columns were read once per batch: each
    model's float32 matrix and the reasons' values read from the frame, column by column."""
    out = frame[["merchant_id", "as_of_date", "previous_tier", "tenure_days"]].copy()
    matrix = lambda names: frame[list(names)].to_numpy(dtype=np.float32, na_value=np.nan)  # noqa: E731
    value = models.value.explain(matrix(models.value_features), 3)
    out["score"] = np.maximum(value.output, 0.0)
    out["failed_gates"] = failed_gates(frame, gates)
    out["value_reasons"] = top_reasons(value.contributions, frame, models.value_features,
                                       UNITS, 3, top=value.top)
    potential = models.potential.explain(matrix(models.potential_features), 3)
    out["potential_raw"] = potential.output
    out["potential_probability"] = models.potential.calibrate(potential.output)
    out["potential_reasons"] = top_reasons(potential.contributions, frame,
                                           models.potential_features, UNITS, 3,
                                           top=potential.top)
    return out


@pytest.mark.parametrize("potential_columns", [[0, 1, 2], [2, 0, 1], [1, 0]])
def test_score_batch_equals_the_column_by_column_scoring(potential_columns):
    models = champions(potential_columns)
    frame = batch()
    frame.loc[1003, ["gmv_sum_30d", "rating_mean_90d"]] = np.nan  # a row of missing values
    expected = reference_scores(frame, models, GATES)
    out = score_batch(frame, "merchant_id", models, UNITS, GATES)
    pd.testing.assert_frame_equal(out, expected)
    assert list(out.columns) == ["merchant_id", "as_of_date", "previous_tier", "tenure_days",
                                 *SCORED_COLUMNS]
    # rows with fewer than three positive contributions list fewer reasons
    assert {len(r) for r in out["value_reasons"]} | {len(r) for r in out["potential_reasons"]} \
        >= {1, 2, 3}
    # a null rating passes its gate
    assert out["failed_gates"].tolist() == [
        [name for name, fails in (("min_orders", orders < 1), ("min_rating", rating < 0))
         if fails]
        for orders, rating in zip(frame["orders_count_90d"], frame["rating_mean_90d"],
                                  strict=True)]
    # the reasons and gates convert to Arrow as lists of strings, as the job's schema says
    table = pa.Table.from_pandas(out[["failed_gates", "value_reasons", "potential_reasons"]],
                                 preserve_index=False)
    assert all(t == pa.list_(pa.string()) for t in table.schema.types)
    # the carried columns are the output's own
    out.loc[1000, "tenure_days"] = -1.0
    assert frame.loc[1000, "tenure_days"] == 0.0


def test_score_batch_edges_empty_huge_integers_and_missing_features():
    models = champions([0, 1, 2])
    frame = batch(20)
    empty = score_batch(frame.iloc[:0], "merchant_id", models, UNITS, GATES)
    pd.testing.assert_frame_equal(empty, reference_scores(frame.iloc[:0], models, GATES)
                                  .astype({c: object for c in SCORED_COLUMNS}))
    # integers beyond 2**53 lose digits in float64: the matrix is read as float32 directly
    frame.loc[1001, "orders_count_90d"] = 2**53 + 1
    frame.loc[1002, "orders_count_90d"] = 2**60 + 2**36 + 1
    pd.testing.assert_frame_equal(score_batch(frame, "merchant_id", models, UNITS, GATES),
                                  reference_scores(frame, models, GATES))
    # 2**60 + 2**36 + 1 rounds up to float32 directly, but through float64 lands on
    # 2**60 + 2**36, a float32 half-way, and then rounds to even (down)
    read = scoring._Features.read(frame, models)
    for names in (VALUE_FEATURES, VALUE_FEATURES[::-1]):
        direct = scoring._matrix(frame, names)
        assert direct[2, names.index("orders_count_90d")] == np.float32(2**60 + 2**37)
        assert np.array_equal(read.matrix(names), direct, equal_nan=True)
    assert np.array_equal(scoring._Features.read(batch(20), models).matrix(VALUE_FEATURES),
                          scoring._matrix(batch(20), VALUE_FEATURES), equal_nan=True)
    with pytest.raises(KeyError, match="lacks the model's feature"):
        score_batch(frame.drop(columns="rating_mean_90d"), "merchant_id", models, UNITS, GATES)
