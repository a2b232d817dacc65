"""The uplift evaluation's modelling half on a synthetic campaign frame (no Spark)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from growth.errors import GrowthError
from growth.features.registry import feature_names
from growth.jobs.evaluate_uplift import Ranking, evaluate, known_true_effect, report
from growth.models.uplift import BOOSTING_GRID, LEARNERS


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
                             "ceiling (fitted to the true effect)",
                             "trailing value (affiliate_gmv_sum_30d)",
                             "growth ratio (affiliate_gmv_growth_30d)"]
    model, oracle = by_name["model (x-learner)"], by_name["oracle (true effect)"]
    assert model.qini >= 0.7 * oracle.qini > 0
    assert model.qini > by_name["trailing value (affiliate_gmv_sum_30d)"].qini
    assert info["held"] == ["camp-3", "camp-4"] and info["test_rows"] == 3000
    settings = {k: v for k, v in info["chosen"].items() if k != "learner"}
    assert info["chosen"]["learner"] == "x" and settings in BOOSTING_GRID
    # judged by the true effect, the oracle is the largest by construction
    assert oracle.true_qini == max(r.true_qini for r in rankings) > 0
    assert model.true_qini >= 0.7 * oracle.true_qini
    assert info["truth"] == "known"
    # the features reveal the effect well here: fitted to it, a model nearly equals it
    ceiling = by_name["ceiling (fitted to the true effect)"]
    assert ceiling.true_qini >= 0.9 * oracle.true_qini
    text = report("creator", rankings, info).splitlines()
    assert text[-2:] == [
        f"target: Qini >= 0.7 x the oracle's: realised outcomes met "
        f"({model.qini / oracle.qini:.2f} x); true effect met "
        f"({model.true_qini / oracle.true_qini:.2f} x)",
        f"what the features allow: a model fitted to the true effect reaches "
        f"{ceiling.true_qini / oracle.true_qini:.2f} x the oracle's true-effect Qini (the "
        f"model: {model.true_qini / oracle.true_qini:.2f} x)"]


def test_auto_picks_one_learner_by_the_training_campaigns():
    frame = campaigns(800, 4, 6)
    rankings, info = evaluate(frame, "creator", 1, "auto", {"random_state": 0})
    assert info["chosen"]["learner"] in LEARNERS
    assert rankings[0].name == f"model ({info['chosen']['learner']}-learner)"
    assert rankings[0].true_qini > 0.5 * rankings[1].true_qini


def test_without_the_true_effect_only_the_realised_figures_are_given():
    frame = campaigns(600, 4, 4).drop(columns="true_effect")
    rankings, info = evaluate(frame, "creator", 1, "t", {"random_state": 0})
    assert [r.name for r in rankings] == ["model (t-learner)",
                                          "trailing value (affiliate_gmv_sum_30d)",
                                          "growth ratio (affiliate_gmv_growth_30d)"]
    assert all(np.isnan(r.true_qini) and np.isfinite(r.qini) for r in rankings)
    assert info["truth"] == "absent"
    assert report("creator", rankings, info).splitlines()[-1] == (
        "no simulator ground truth in this lake: realised-outcome figures only, no oracle "
        "and no true-effect Qini to compare with")
    # an entity the ground truth lacks: no oracle either, and it says why
    partial = campaigns(600, 4, 4)
    partial.loc[partial.index[-1], "true_effect"] = np.nan
    rankings, info = evaluate(partial, "creator", 1, "t", {"random_state": 0})
    assert "oracle (true effect)" not in [r.name for r in rankings]
    assert report("creator", rankings, info).splitlines()[-1].startswith(
        "the simulator's ground truth lacks some held-out entities: realised-outcome")


def test_known_true_effect():
    frame = pd.DataFrame({"true_effect": [0.1, -0.02]})
    np.testing.assert_array_equal(known_true_effect(frame), [0.1, -0.02])
    assert known_true_effect(pd.DataFrame({"true_effect": [0.1, None]})) is None
    assert known_true_effect(pd.DataFrame({"treated": [1, 0]})) is None


INFO = {"train": ["camp-0", "camp-1"], "held": ["camp-2"], "chosen": {"max_depth": 2},
        "train_rows": 1200, "test_rows": 600, "test_control": 150, "test_onboarded": 90}
HEADER = [
    "creator uplift: learnt from 2 campaign(s) (camp-0 .. camp-1, 1,200 rows), scored on 1 "
    "held out (camp-2: 600 rows, 150 control, 90 onboarded); settings chosen on the latest "
    "training campaigns: {'max_depth': 2}",
    "ranking                                          qini     auuc  uplift@10%  uplift@30%"
    "  true qini",
]


def test_the_report_gives_both_ratios_against_the_oracle():
    rankings = [Ranking("model (x-learner)", 6.0, 0.02, 0.3, 0.2, 8.0),
                Ranking("oracle (true effect)", 10.0, 0.03, 0.4, 0.3, 10.0),
                Ranking("ceiling (fitted to the true effect)", 9.0, 0.03, 0.4, 0.3, 9.5)]
    assert report("creator", rankings, {**INFO, "truth": "known"}).splitlines() == HEADER + [
        "model (x-learner)                              6.0000   0.0200      0.3000      0.2000"
        "     8.0000",
        "oracle (true effect)                          10.0000   0.0300      0.4000      0.3000"
        "    10.0000",
        "ceiling (fitted to the true effect)            9.0000   0.0300      0.4000      0.3000"
        "     9.5000",
        "target: Qini >= 0.7 x the oracle's: realised outcomes missed (0.60 x); true effect "
        "met (0.80 x)",
        "what the features allow: a model fitted to the true effect reaches 0.95 x the "
        "oracle's true-effect Qini (the model: 0.80 x)",
    ]


def test_an_all_control_held_out_campaign_is_not_judged_on_outcomes():
    frame = campaigns(400, 4, 5)
    frame.loc[frame["campaign_id"] == "camp-3", "treated"] = 0
    rankings, info = evaluate(frame, "creator", 1, "t", {"random_state": 0})
    model, oracle = rankings[0], rankings[1]
    # no contacted row: no realised Qini, but the true effect still judges the order
    assert np.isnan(model.qini) and np.isnan(oracle.qini) and np.isnan(model.uplift_10)
    assert np.isfinite(model.true_qini) and oracle.true_qini > 0
    last = report("creator", rankings, info).splitlines()[-2]
    assert last == ("target: Qini >= 0.7 x the oracle's: realised outcomes not judged (the "
                    f"oracle's is nan: too few rows to judge a ranking); true effect "
                    f"{'met' if model.true_qini >= 0.7 * oracle.true_qini else 'missed'} "
                    f"({model.true_qini / oracle.true_qini:.2f} x)")


def test_too_few_campaigns_or_a_thin_arm_is_refused():
    frame = campaigns(300, 2, 2)
    with pytest.raises(GrowthError, match="2 closed creator campaign.s.: need more than "
                                          "--holdout-campaigns 2"):
        evaluate(frame, "creator", 2, "x", {})
    thin = campaigns(300, 3, 3)
    thin.loc[thin["campaign_id"] != "camp-2", "treated"] = 1   # no control to learn from
    with pytest.raises(GrowthError, match="creator uplift: the control arm needs"):
        evaluate(thin, "creator", 1, "t", {})
