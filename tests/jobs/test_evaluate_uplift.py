"""The uplift evaluation's modelling half on a synthetic campaign frame (no Spark)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from growth.errors import GrowthError
from growth.features.registry import feature_names
from growth.jobs.evaluate_uplift import evaluate, report


def campaigns(n_per: int, count: int, seed: int) -> pd.DataFrame:
    """Creators whose response to a contact grows with their clicks and is absent in the
    south; 25% randomized control."""
    rng = np.random.default_rng(seed)
    n = n_per * count
    frame = pd.DataFrame({name: rng.gamma(2.0, 10.0, n) for name in feature_names("creator")})
    frame["campaign_id"] = np.repeat([f"camp-{k}" for k in range(count)], n_per)
    frame["category"] = rng.choice(["toys", "beauty"], n)
    frame["region"] = rng.choice(["north", "south"], n)
    frame["language"] = "en"
    effect = np.where(frame["region"] == "south", 0.0,
                      0.5 * np.tanh(frame["clicks_sum_30d"].to_numpy() / 40))
    frame["true_effect"] = effect
    frame["treated"] = (rng.random(n) < 0.75).astype(int)
    frame["onboarded"] = (rng.random(n) < 0.05 + frame["treated"] * effect).astype(int)
    return frame


def test_the_model_ranks_held_out_campaigns_near_the_oracle_and_beats_the_rules():
    frame = campaigns(1500, 5, 1)
    rankings, info = evaluate(frame, "creator", 2, "x", {"random_state": 0})
    by_name = {r.name: r for r in rankings}
    assert list(by_name) == ["model (x-learner)", "oracle (true effect)",
                             "trailing value (affiliate_gmv_sum_30d)",
                             "growth ratio (affiliate_gmv_growth_30d)"]
    model, oracle = by_name["model (x-learner)"], by_name["oracle (true effect)"]
    assert model.qini >= 0.7 * oracle.qini > 0
    assert model.qini > by_name["trailing value (affiliate_gmv_sum_30d)"].qini
    assert info["held"] == ["camp-3", "camp-4"] and info["test_rows"] == 3000
    assert info["chosen"] in [{"n_estimators": 100, "max_depth": 2},
                              {"n_estimators": 100, "max_depth": 3},
                              {"n_estimators": 200, "max_depth": 3},
                              {"n_estimators": 200, "max_depth": 4}]
    text = report("creator", rankings, info)
    assert "target: Qini >= 0.7 x the oracle's: met" in text
    no_truth = report("creator", [r for r in rankings if r is not oracle], info)
    assert "no simulator ground truth in this lake" in no_truth


def test_too_few_campaigns_or_a_thin_arm_is_refused():
    frame = campaigns(300, 2, 2)
    with pytest.raises(GrowthError, match="2 closed creator campaign.s.: need more than "
                                          "--holdout-campaigns 2"):
        evaluate(frame, "creator", 2, "x", {})
    thin = campaigns(300, 3, 3)
    thin.loc[thin["campaign_id"] != "camp-2", "treated"] = 1   # no control to learn from
    with pytest.raises(GrowthError, match="creator uplift: the control arm needs"):
        evaluate(thin, "creator", 1, "t", {})
