import gc

import numpy as np
import pandas as pd
import pytest

from growth.features.registry import FEATURES
from growth.models import reasons
from growth.models.reasons import phrase, phrases, top_reasons


@pytest.mark.parametrize("name, unit, value, text", [
    ("gmv_growth_30d", "ratio", 2.4, "GMV up 140% on the previous 30 days"),
    ("orders_growth_30d", "ratio", 0.5, "orders down 50% on the previous 30 days"),
    ("late_delivery_rate_90d", "share", 0.09, "late delivery rate 9% (90 days)"),
    ("gmv_sum_30d", "currency", 12400.4, "GMV 12,400 (30 days)"),
    ("affiliate_gmv_sum_7d", "currency", 8.25, "credited GMV 8.25 (7 days)"),
    ("buyers_distinct_90d", "buyers", 120, "distinct buyers 120 (90 days)"),
    ("gmv_slope_8w", "currency per week", -120.3, "weekly GMV falling 120 a week over 8 weeks"),
    ("follower_growth_30d", "followers", 1500, "followers +1,500 in 30 days"),
    ("follower_growth_rate_30d", "ratio", 0.12, "followers up 12% in 30 days"),
    ("days_since_last_order", "days", 3, "3 days since the last order"),
    ("tenure_days", "days", 45, "on the marketplace for 45 days"),
    ("followers_latest", "followers", 25000, "followers 25,000"),
    ("rating_mean_90d", "stars", 4.62, "mean rating 4.62 (90 days)"),
    ("cancel_rate_90d", "share", float("nan"), "no cancel rate yet"),
    ("aov_mean_90d", "currency", None, "no average order value yet"),
    # Rounding and sign edges, as Python's formats give them.
    ("gmv_sum_30d", "currency", 1234.5, "GMV 1,234 (30 days)"),
    ("aov_mean_90d", "currency", 99.96, "average order value 100.0 (90 days)"),
    ("gmv_sum_30d", "currency", 0.0, "GMV 0 (30 days)"),
    ("cancel_rate_90d", "share", -0.001, "cancel rate -0% (90 days)"),
    ("follower_growth_30d", "followers", -2.5, "followers -2.50 in 30 days"),
    ("gmv_growth_30d", "ratio", 1.0, "GMV up 0% on the previous 30 days"),
    ("affiliate_gmv_growth_30d", "ratio", 0.995, "credited GMV down 1% on the previous 30 days"),
    ("days_since_last_post", "days", 0, "0 days since the last post"),
    ("gmv_slope_8w", "currency per week", 0.125, "weekly GMV rising 0.12 a week over 8 weeks"),
    ("conversion_30d", "orders per click", 0.015, "orders per click 0.01 (30 days)"),
    ("tenure_days", "days", 1500.0, "on the marketplace for 1,500 days"),
])
def test_phrase(name, unit, value, text):
    assert phrase(name, unit, value) == text


def test_top_reasons_keep_the_largest_positive_contributions_in_order():
    features = ["gmv_sum_30d", "gmv_growth_30d", "cancel_rate_90d", "tenure_days"]
    units = {"gmv_sum_30d": "currency", "gmv_growth_30d": "ratio",
             "cancel_rate_90d": "share", "tenure_days": "days"}
    values = {"gmv_sum_30d": [100.0, 5.0], "gmv_growth_30d": [2.0, np.nan],
              "cancel_rate_90d": [0.1, 0.2], "tenure_days": [400, 20]}
    contributions = np.array([
        [0.5, 1.5, 0.2, 0.1, -3.0],   # the last column is the bias and is never a reason
        [-0.5, -0.1, -0.2, 0.3, 9.0],  # a single positive contribution
    ])
    assert top_reasons(contributions, values, features, units, k=3) == [
        ["GMV up 100% on the previous 30 days", "GMV 100 (30 days)", "cancel rate 10% (90 days)"],
        ["on the marketplace for 20 days"],
    ]
    with pytest.raises(ValueError, match="contribution columns"):
        top_reasons(np.zeros((1, 2)), values, features, units)


# Values where a vectorised rendering could part from the per-value one: missing, zeros of
# both signs, integers, half-way cases of every rounding (to a whole number, 2 and 1
# decimals, whole percents), the 10 and 100 format switches, growth ratios around 1,
# negatives, infinities and numbers beyond exact integers.
EDGES = [
    np.nan, 0.0, -0.0, 1.0, -1.0, 2.0, 0.5, 1.5, 2.5, -2.5, 0.125, 0.375, 1.005, 1.115, 2.675,
    0.285, 0.005, 0.015, 0.045, -0.004, -0.005, -0.3, -0.5, 1e-9, -1e-9, 9.994, 9.995, 9.999,
    10.0, 10.05, 10.25, 99.94, 99.95, 99.96, 100.0, 100.5, 101.5, -100.5, 999.5, 1000.0,
    1234.5, 1234567.5, -98765.4, 0.994, 0.995, 1.004, 1.005, 1.5, 3.4, 0.09, 0.12, 4.62,
    2**53 + 2.0, 1e20, -1e20, np.inf, -np.inf,
]
NAMES = sorted({(f.name, f.unit) for group in FEATURES.values() for f in group}
               | {("cancel_rate", "share"), ("x_growth_30d", "followers"), ("plain", "")})


@pytest.mark.parametrize("name, unit", NAMES)
def test_phrases_render_every_value_as_phrase_does(name, unit):
    rng = np.random.default_rng(len(name))
    values = np.concatenate([
        EDGES, EDGES,  # repeated values share one formatted sentence
        rng.normal(0, 3, 300), rng.gamma(1.5, 200, 300), np.round(rng.uniform(0, 1.5, 300), 3),
        rng.integers(-50, 5000, 300).astype(float), np.round(rng.uniform(-20, 20, 300), 2) + 0.005,
        # decimals are keyed by their rounded digits: halves of the last shown digit, and
        # the floats just beside them, must still read as phrase reads them
        np.round(rng.uniform(-100, 100, 300), 3), np.round(rng.uniform(-10, 10, 300), 3) + 0.0005,
        np.nextafter(np.round(rng.uniform(-10, 10, 100), 2) + 0.005, np.inf),
        np.nextafter(np.round(rng.uniform(-10, 10, 100), 2) + 0.005, -np.inf),
        np.nextafter(np.round(rng.uniform(10, 100, 100), 1) + 0.05, -np.inf),
    ])
    assert phrases(name, unit, values).tolist() == [phrase(name, unit, v) for v in values]
    assert phrases(name, unit, []).tolist() == []


def per_row_reasons(contributions, values, features, units, k):
    """The rendering before vectorisation: a stable sort and one ``phrase`` per reason."""
    contributions = np.asarray(contributions, dtype=float)[:, : len(features)]
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :k]
    return [[phrase(features[j], units.get(features[j], ""), float(values[features[j]][row]))
             for j in best if contributions[row, j] > 0]
            for row, best in enumerate(order)]


@pytest.mark.parametrize("entity", sorted(FEATURES))
def test_top_reasons_equal_the_per_row_rendering(entity):
    features = [f.name for f in FEATURES[entity]]
    units = {f.name: f.unit for f in FEATURES[entity]}
    rng = np.random.default_rng(3)
    n = 3000
    values = pd.DataFrame({f: rng.choice(EDGES, n) if i % 3 == 0 else
                           rng.gamma(1.5, 40, n) * rng.choice([1, -1, 0.01], n)
                           for i, f in enumerate(features)})
    contributions = rng.normal(0, 1, (n, len(features) + 1))
    contributions[rng.random(contributions.shape) < 0.3] = 0.0
    contributions[:400] = np.round(contributions[:400])  # ties, also across the k-th place
    contributions[400:450] = -1.0  # no positive contribution: no reason
    contributions[450:500, 1:] = -1.0  # a single one
    # the columns by decreasing contribution, as compiled_trees gives them with the scores
    top = np.argsort(-contributions[:, :-1], axis=1, kind="stable")
    for k in (1, 3, len(features), len(features) + 2):
        expected = per_row_reasons(contributions, values, features, units, k)
        assert top_reasons(contributions, values, features, units, k) == expected
        assert top_reasons(contributions, values, features, units, k, top=top) == expected
    assert top_reasons(contributions[:0], values, features, units) == []
    with pytest.raises(ValueError, match="top has shape"):
        top_reasons(contributions, values, features, units, 3, top=top[:, :2])


def test_phrases_reuse_sentences_across_calls_and_refill_past_the_limit(monkeypatch):
    # A small store: the second call finds some keys and formats the others; past the
    # limit the store is emptied and refilled, never holding more than the limit.
    sentences = reasons._Sentences(limit=4)
    monkeypatch.setattr(reasons, "_SENTENCES", sentences)
    first = phrases("gmv_sum_30d", "currency", [1234.5, 1234.49, np.nan, -0.0, 0.4, 1234.5])
    assert first.tolist() == ["GMV 1,234 (30 days)", "GMV 1,234 (30 days)", "no GMV yet",
                              "GMV -0 (30 days)", "GMV 0.40 (30 days)", "GMV 1,234 (30 days)"]
    assert sentences.size == 3  # 1,234 and -0 (two whole groups) and 0.40
    again = phrases("gmv_sum_30d", "currency", [0.4, 1234.0, 7.0, 4.625, 4.615])
    assert again.tolist() == ["GMV 0.40 (30 days)", "GMV 1,234 (30 days)", "GMV 7 (30 days)",
                              "GMV 4.62 (30 days)", "GMV 4.62 (30 days)"]
    assert sentences.size <= 4
    # keys of another template never read as this one's
    assert phrases("tenure_days", "days", [1234.0, np.nan]).tolist() == [
        "on the marketplace for 1,234 days", "no tenure days yet"]
    # keys below 4096 are kept in a table per group: past the limit it restarts too
    sentences = reasons._Sentences(limit=2)
    monkeypatch.setattr(reasons, "_SENTENCES", sentences)
    assert phrases("orders_count_30d", "orders", [1, 2, 1]).tolist() == [
        "orders 1 (30 days)", "orders 2 (30 days)", "orders 1 (30 days)"]
    assert phrases("orders_count_30d", "orders", [3, 1, -4, 5000]).tolist() == [
        "orders 3 (30 days)", "orders 1 (30 days)", "orders -4 (30 days)",
        "orders 5,000 (30 days)"]
    assert sentences.size <= 2
    values = np.concatenate([EDGES, np.round(np.random.default_rng(5).gamma(1.5, 200, 500))])
    for _ in range(2):
        assert phrases("gmv_sum_30d", "currency", values).tolist() == [
            phrase("gmv_sum_30d", "currency", v) for v in values]
        assert sentences.size <= 2


def test_top_reasons_read_columns_from_a_mapping_and_negative_top_columns_from_the_end():
    features = ["gmv_sum_30d", "tenure_days"]
    units = {"gmv_sum_30d": "currency", "tenure_days": "days"}
    values = {"gmv_sum_30d": np.array([100.0, np.nan, 5.0]),
              "tenure_days": np.array([400.0, 20.0, 7.0])}
    contributions = np.array([[0.5, 1.5, 0.0], [0.2, -0.1, 0.0], [-1.0, -2.0, 0.0]])
    assert top_reasons(contributions, values, features, units, k=3) == [
        ["on the marketplace for 400 days", "GMV 100 (30 days)"], ["no GMV yet"], []]
    # -1 is the last feature, as numpy indexing reads it
    top = np.array([[-1, 0], [0, -1], [0, 1]])
    assert top_reasons(contributions, values, features, units, k=2, top=top) == [
        ["on the marketplace for 400 days", "GMV 100 (30 days)"], ["no GMV yet"], []]


def test_the_collector_pause_restores_the_collectors_state():
    assert gc.isenabled()
    with reasons._collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), reasons._collector_paused():
        raise RuntimeError("rendering failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with reasons._collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # a caller's choice is left alone
    finally:
        gc.enable()
