import numpy as np
import pandas as pd
import pytest

from growth.models.scoring import tier_batch
from growth.models.tiering import (
    Gate,
    TierPolicy,
    assign_tiers,
    churn_path,
    failed_gates,
    quantile_cuts,
    tier_churn,
    tier_pair,
)

POLICY = TierPolicy(cuts={"S": 1000.0, "A": 500.0, "B": 100.0, "C": 10.0},
                    hysteresis=0.1, new_days=30, cap="C")


def tiers(score, previous=None, eligible=None, tenure=None, hysteresis=True):
    n = len(score)
    return assign_tiers(score, previous or [None] * n, eligible or [True] * n,
                        tenure or [365] * n, POLICY, hysteresis).tolist()


def test_cut_points_without_history():
    # on a cut point is in the tier; just below is not; nothing below C's cut is D
    assert tiers([1000, 999, 500, 100, 10, 9.99, 0]) == ["S", "A", "A", "B", "C", "D", "D"]


def test_hysteresis_holds_a_tier_near_its_cut_and_promotes_only_past_the_margin():
    previous = ["A", "A", "B", "B", "B", "D", "D", None]
    score = [460, 449, 540, 551, 89, 10.5, 11.1, 10.5]
    assert tiers(score, previous) == [
        "A",  # 460 >= 500 x 0.9: A held
        "B",  # 449 < 450: demoted to its raw tier
        "B",  # 540 < 550 (A's cut + 10%): stays B
        "A",  # 551 >= 550: promoted
        "C",  # 89 < 90: demoted to its raw tier
        "D",  # 10.5 < 11 (C's cut + 10%): D stays D
        "C",  # 11.1 >= 11: promoted
        "C",  # no previous tier: raw
    ]
    # without hysteresis every row takes its raw tier
    assert tiers(score, previous, hysteresis=False) == ["B", "B", "A", "A", "C", "C", "C", "C"]
    # "new", a missing value or an unknown name is no previous tier: the raw tier
    assert tiers([460, 460, 460], ["new", np.nan, "Z"]) == ["B", "B", "B"]


def test_ineligible_entities_are_capped_and_new_ones_are_new():
    assert tiers([2000, 2000, 50, 2000], eligible=[False, True, False, True],
                 tenure=[365, 365, 365, 29]) == ["C", "S", "C", "new"]
    # tenure exactly new_days is no longer new; unknown tenure is not new
    assert tiers([2000, 2000], tenure=[30, float("nan")]) == ["S", "S"]


def test_policy_and_score_validation():
    with pytest.raises(ValueError, match="S, A, B, C in that order"):
        TierPolicy(cuts={"A": 1.0, "S": 2.0, "B": 0.5, "C": 0.1})
    with pytest.raises(ValueError, match="must not increase"):
        TierPolicy(cuts={"S": 1.0, "A": 2.0, "B": 0.5, "C": 0.1})
    with pytest.raises(ValueError, match="hysteresis"):
        TierPolicy(cuts=POLICY.cuts, hysteresis=1.0)
    with pytest.raises(ValueError, match="score for every entity"):
        tiers([1.0, float("nan")])


def test_gates_and_churn():
    frame = pd.DataFrame({"orders": [10.0, 2.0, np.nan], "rating": [4.5, np.nan, 3.0]})
    gates = [Gate("min_orders", "orders", ">=", 5), Gate("rating", "rating", ">=", 4.0, True)]
    assert failed_gates(frame, gates) == [[], ["min_orders"], ["min_orders", "rating"]]
    assert failed_gates(frame, []) == [[], [], []]
    with pytest.raises(KeyError, match="lacks"):
        failed_gates(frame, [Gate("x", "missing", "<=", 1)])
    with pytest.raises(ValueError, match="operator"):
        Gate("x", "orders", ">", 1)
    result = failed_gates(pd.concat([frame] * 2, ignore_index=True), gates)
    assert result == [[], ["min_orders"], ["min_orders", "rating"]] * 2
    # Rows failing the same gates share one (read-only) list: no allocation per row.
    assert result[1] is result[4] and result[0] is result[3]
    only_rating = pd.DataFrame({"orders": [9.0], "rating": [1.0]})
    assert failed_gates(only_rating, gates) == [["rating"]]
    assert failed_gates(frame.iloc[:0], gates) == []
    assert tier_churn(["A", "B", None, "new"], ["A", "C", "S", "A"]) == 0.5
    assert np.isnan(tier_churn([None], ["A"]))


SHARES = {"S": 0.2, "A": 0.4, "B": 0.6, "C": 0.8}


def test_quantile_cuts_put_the_shares_in_each_tier_or_better():
    cuts = quantile_cuts(np.arange(1, 11, dtype=float), SHARES)
    assert cuts == pytest.approx({"S": 8.2, "A": 6.4, "B": 4.6, "C": 2.8})
    # ties collapse cut points but never make them rise from S to C
    assert quantile_cuts([5.0] * 4, SHARES) == {"S": 5.0, "A": 5.0, "B": 5.0, "C": 5.0}


def _periods(scores_by_period):
    rows = [(f"m{i}", p, s, True, 365.0) for p, scores in enumerate(scores_by_period)
            for i, s in enumerate(scores)]
    return pd.DataFrame(rows, columns=["merchant_id", "week", "score", "eligible",
                                       "tenure_days"])


def test_churn_path_counts_flips_with_and_without_hysteresis():
    # Ten merchants; m5 (6.0, tier B) and m6 (7.0, tier A) swap scores every week across
    # A's cut of 6.4: without hysteresis both flip each week; with it m6 holds A (6.0 is
    # above 6.4 x 0.9) and m5 stays B (7.0 is below 6.4 x 1.1).
    base = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    swapped = base[:5] + [7.0, 6.0] + base[7:]
    out = churn_path(_periods([base, swapped, base]), "merchant_id", "week", SHARES,
                     hysteresis=0.1, new_days=30, cap="C")
    expected = pd.DataFrame({"week": [1, 2], "entities": [10, 10],
                             "churn_with": [0.0, 0.0], "churn_without": [0.2, 0.2]})
    pd.testing.assert_frame_equal(out, expected)


def test_churn_path_edges_new_entities_one_period_and_bad_input():
    frame = _periods([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    frame.loc[(frame["week"] == 0) & (frame["merchant_id"] == "m0"), "tenure_days"] = 5.0
    out = churn_path(frame, "merchant_id", "week", SHARES, 0.1, 30, "C")
    # m0 was new in week 0: it had no ranked tier, so it is not counted
    assert out[["entities", "churn_with", "churn_without"]].values.tolist() == [[2, 0.0, 0.0]]
    one = churn_path(_periods([[1.0, 2.0]]), "merchant_id", "week", SHARES, 0.1, 30, "C")
    assert one.empty and list(one.columns) == ["week", "entities", "churn_with",
                                               "churn_without"]
    with pytest.raises(KeyError, match="tenure_days"):
        churn_path(frame.drop(columns="tenure_days"), "merchant_id", "week", SHARES, 0.1, 30, "C")
    with pytest.raises(ValueError, match="one row per"):
        churn_path(pd.concat([frame, frame]), "merchant_id", "week", SHARES, 0.1, 30, "C")


def test_tier_pair_is_assign_tiers_with_and_without_hysteresis():
    score = [460, 449, 540, 551, 89, 10.5, 11.1, 2000, 2000, 2000]
    previous = ["A", "A", "B", "B", "B", "D", "D", None, "S", "Z"]
    eligible = [True] * 7 + [False, True, True]
    tenure = [365] * 9 + [3]
    with_h, without_h = tier_pair(score, previous, eligible, tenure, POLICY)
    assert with_h.dtype == without_h.dtype == object
    assert with_h.tolist() == ["A", "B", "B", "A", "C", "D", "C", "C", "S", "new"]
    assert without_h.tolist() == ["B", "B", "A", "A", "C", "C", "C", "C", "S", "new"]
    assert with_h.tolist() == assign_tiers(score, previous, eligible, tenure, POLICY).tolist()
    assert without_h.tolist() == assign_tiers(score, previous, eligible, tenure, POLICY,
                                              hysteresis=False).tolist()
    # a policy without hysteresis: both are the raw tiers
    flat = TierPolicy(cuts=POLICY.cuts, hysteresis=0.0)
    assert [t.tolist() for t in tier_pair(score, previous, eligible, tenure, flat)] == [
        without_h.tolist(), without_h.tolist()]
    assert [t.tolist() for t in tier_pair([], [], [], [], POLICY)] == [[], []]
    with pytest.raises(ValueError, match="score for every entity"):
        tier_pair([1.0, float("nan")], [None, None], [True, True], [365, 365], POLICY)


def test_tier_batch_adds_both_tiers_and_leaves_its_input_alone():
    # failed_gates as score_batch gives them (lists) and as Arrow gives them back (arrays)
    frame = pd.DataFrame({
        "merchant_id": ["m1", "m2", "m3", "m4", "m5"],
        "score": [460.0, 2000.0, 2000.0, 5.0, 551.0],
        "failed_gates": pd.Series([[], ["min_orders"], np.array([], dtype=object),
                                   np.array(["x"], dtype=object), []], index=[5, 6, 7, 8, 9],
                                  dtype=object),
        "previous_tier": ["A", None, "S", "C", "B"],
        "tenure_days": [365.0, 365.0, np.nan, 10.0, 400.0],
    }, index=[5, 6, 7, 8, 9])
    before = frame.copy()
    out = tier_batch(frame, POLICY)
    expected = before.assign(tier=["A", "C", "S", "new", "A"],
                             raw_tier=["B", "C", "S", "new", "A"])
    pd.testing.assert_frame_equal(out, expected)
    pd.testing.assert_frame_equal(frame, before)
    empty = tier_batch(frame.iloc[:0], POLICY)
    assert list(empty.columns) == [*frame.columns, "tier", "raw_tier"] and empty.empty
    assert empty["tier"].dtype == empty["raw_tier"].dtype == object
