from datetime import date

import numpy as np
import pandas as pd
import pytest

from growth.models import backtest as bt

D1, D2, D3, D4 = date(2026, 1, 1), date(2026, 1, 15), date(2026, 1, 29), date(2026, 2, 12)


def test_below_tier_b_uses_the_labels_ranking_per_cutoff():
    frame = pd.DataFrame({
        "as_of_date": [D1] * 4 + [D2] * 3,
        "past_value": [0.0, 0.0, 5.0, 9.0, 0.0, 0.0, 0.0],
    })
    # D1: ranks 0, 0, 2/3, 1 -> the top half are 5 and 9. D2: no value, nobody above B.
    assert bt.below_tier_b(frame, 0.5).tolist() == [True, True, False, False, True, True, True]
    # a single entity at a cutoff ranks 0: in B only if the share is 1 (never)
    single = pd.DataFrame({"as_of_date": [D1], "past_value": [3.0]})
    assert bt.below_tier_b(single, 0.5).tolist() == [True]
    with pytest.raises(ValueError, match="tier-B share"):
        bt.below_tier_b(frame, 1.0)


def test_folds_train_only_on_cutoffs_whose_horizon_ended():
    assert bt.folds([D4, D1, D2, D3, D1], 14, 3) == [
        (D2, [D1]), (D3, [D1, D2]), (D4, [D1, D2, D3])]
    assert bt.folds([D1, D2, D3, D4], 28, 2) == [(D3, [D1]), (D4, [D1, D2])]
    with pytest.raises(bt.BacktestError, match="1 of 4 cutoff"):
        bt.folds([D1, D2, D3, D4], 42, 2)


def test_backtest_reports_the_model_beside_every_baseline_on_the_same_rows():
    rng = np.random.default_rng(0)
    rows = []
    for cutoff in (D1, D2, D3, D4):
        for _ in range(50):
            signal = rng.normal()
            rows.append({"as_of_date": cutoff, "x": signal, "gmv_sum_30d": rng.normal(),
                         "gmv_sum_90d": 1.0, "gmv_growth_30d": np.nan,
                         "y": float(signal > 0.5)})
    frame = pd.DataFrame(rows)
    seen = []

    def fit(X, y, cutoffs):
        seen.append(sorted(set(cutoffs)))
        return "threshold"

    def predict(model, X):
        return 1 / (1 + np.exp(-X[:, 0]))

    result = bt.backtest(frame, ["x"], "y", fit, predict, bt.potential_report(5),
                         bt.baselines("gmv"), horizon_days=14, count=3)
    assert seen == [[D1], [D1, D2], [D1, D2, D3]]
    assert [f.test_cutoff for f in result] == [D2, D3, D4]
    assert all(f.rows == 50 and f.model["roc_auc"] == 1.0 for f in result)
    model, rules = bt.mean_metrics(result)
    assert set(rules) == {"trailing value 30d", "trailing value 90d", "growth ratio 30d"}
    assert model["roc_auc"] == 1.0 and "brier" in model
    # baselines are rankings, not probabilities: no calibration metrics
    assert "brier" not in rules["trailing value 30d"]
    # a constant baseline ranks at chance
    assert rules["trailing value 90d"]["roc_auc"] == 0.5
    table = bt.format_table("potential", model, rules)
    assert table.splitlines()[0] == "potential"
    assert table.splitlines()[2].startswith("model")
    assert len(table.splitlines()) == 6
