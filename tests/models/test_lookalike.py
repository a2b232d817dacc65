"""Look-alike helpers: encoding by name, the fit on traits, scores and readable reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from growth.models import lookalike, metrics

SMALL = {"n_estimators": 40, "max_depth": 3, "learning_rate": 0.2, "random_state": 0}


def test_names_and_encoding_are_fixed_by_the_training_frame():
    frame = pd.DataFrame({"category": ["toys", "fashion", None], "region": ["n", "n", "s"],
                          "products_listed": [3, 0, 7], "list_price_max": [9.5, None, 2.0]})
    names = lookalike.encoded_names(frame, ["category", "region"],
                                    ["products_listed", "list_price_max"])
    assert names == ["category=fashion", "category=toys", "region=n", "region=s",
                     "products_listed", "list_price_max"]
    later = pd.DataFrame({"category": ["garden", "toys"], "region": ["s", "n"],
                          "products_listed": [1, 2], "list_price_max": [None, 4.0]})
    X = lookalike.encode(later, names)
    expected = np.array([[0, 0, 0, 1, 1, np.nan],   # a value unseen in training: all zeros
                         [0, 1, 1, 0, 2, 4.0]], dtype=np.float32)
    np.testing.assert_array_equal(X, expected)
    assert X.dtype == np.float32
    assert lookalike.encode(later, []).shape == (2, 0)
    with pytest.raises(ValueError, match="trait column 'language' missing"):
        lookalike.encode(later, ["language=en"])
    with pytest.raises(ValueError, match="missing from the frame: language"):
        lookalike.encoded_names(later, ["language"], [])


def population(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Success comes with a big catalogue in fashion; 40% of successes are known."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "category": rng.choice(["fashion", "toys", "garden"], n),
        "region": rng.choice(["north", "south"], n),
        "products_listed": rng.integers(0, 40, n),
    })
    truth = ((frame["category"] == "fashion") & (frame["products_listed"] > 25)).to_numpy()
    known = truth & (rng.random(n) < 0.4)
    return frame, truth, known


def test_the_fit_finds_the_successes_traits_and_says_why():
    frame, truth, known = population(3000, 1)
    model, names = lookalike.fit(frame, known, ["category", "region"], ["products_listed"],
                                 **SMALL)
    assert names[-1] == "products_listed"
    assert model.holdout_auc_ > 0.9
    fresh, fresh_truth, _ = population(500, 2)
    scored = lookalike.score(model, names, fresh, {"products_listed": "products"})
    assert metrics.roc_auc(fresh_truth, scored.probability) > 0.95
    assert ((scored.probability >= 0) & (scored.probability <= 1)).all()
    np.testing.assert_allclose(scored.probability, np.clip(scored.score / model.c_, 0, 1))
    best = int(np.argmax(scored.score))
    assert fresh.loc[best, "category"] == "fashion"
    assert "category fashion" in scored.reasons[best]
    assert any(r.startswith("products listed ") for r in scored.reasons[best])
    assert all(len(r) <= 3 for r in scored.reasons)
    # A category reason names the row's own category, or one it is not in.
    for row in np.flatnonzero((fresh["category"] == "toys").to_numpy()):
        for reason in scored.reasons[row]:
            if reason.startswith("category "):
                assert reason == "category toys" or reason.startswith("category not "), reason


def test_a_fit_without_successes_or_traits_is_refused():
    frame, _, known = population(200, 3)
    with pytest.raises(ValueError, match="known successes"):
        lookalike.fit(frame, np.zeros(len(frame), bool), ["category"], [], **SMALL)
    with pytest.raises(ValueError, match="no trait to learn from"):
        lookalike.fit(frame.assign(category=None), known, ["category"], [], **SMALL)
