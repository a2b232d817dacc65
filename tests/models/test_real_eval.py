"""Out-of-time evaluation helpers on small literal frames."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from growth.models import real_eval


def test_follower_growth_reads_the_last_count_on_or_before_each_point():
    stats = pd.DataFrame({
        "creator_id": ["a", "a", "a", "a", "b"],
        "date": [date(2020, 1, 1), date(2020, 1, 10), date(2020, 1, 20), date(2020, 1, 31),
                 date(2020, 1, 10)],
        "followers": [100, 150, 170, 260, 5],
    })
    got = real_eval.follower_growth(stats, [date(2020, 1, 11)], horizon_days=10)
    # a: at 01-01 (before) 100, at 01-11 150 (the 01-10 count), at 01-21 170.
    # b has no count before 01-01: left out, never extrapolated.
    assert_frame_equal(got, pd.DataFrame({
        "creator_id": ["a"], "as_of_date": [date(2020, 1, 11)],
        "trailing_growth": [50.0], "future_growth": [20.0],
    }))


def test_top_share_is_per_cutoff():
    values = pd.Series([1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0])
    groups = pd.Series(["x"] * 4 + ["y"] * 4)
    assert_series_equal(real_eval.top_share_flag(values, groups, 0.25),
                        pd.Series([False, False, False, True] * 2))


def test_value_ratio_ranks_new_value_above_every_ratio():
    got = real_eval.value_ratio(pd.Series([0.0, 5.0, 10.0]), pd.Series([0.0, 0.0, 5.0]))
    assert got.tolist() == [0.0, np.inf, 2.0]


def test_lead_rates_never_see_their_own_outcome():
    # One landing page per lead: an in-sample rate would equal the outcome itself.
    train = pd.DataFrame({
        "origin": ["a"] * 40, "campaign": [f"p{i}" for i in range(40)],
        "contacted_at": [date(2018, 1, 1)] * 40, "converted": [i % 2 == 0 for i in range(40)],
    })
    test = pd.DataFrame({"origin": ["a", "b"], "campaign": ["p0", "new"],
                         "contacted_at": [date(2018, 3, 1)] * 2})
    x_train, x_test = real_eval.lead_features(train, test)
    prior = float(train["converted"].mean())
    # Out of fold every page is unseen: its rate falls back to the fold's own rate (which,
    # with a single origin, is the origin's rate), never towards the lead's outcome.
    assert np.allclose(x_train["page_rate"], x_train["origin_rate"])
    assert not np.allclose(x_train["page_rate"], train["converted"].astype(float), atol=0.4)
    assert x_test["page_rate"].tolist() == pytest.approx([(1 + 20 * prior) / 21, prior])
    assert x_test["origin_rate"].tolist() == pytest.approx([prior, prior])


def test_a_figure_states_whether_it_meets_the_goal_and_beats_the_rule():
    y = [0, 0, 1, 1]
    good = real_eval.figure("d", "t", y, np.array([0.1, 0.2, 0.8, 0.9]), "r",
                            [0.5, 0.1, 0.2, 0.9], 0.9)
    assert (good.model_auc, good.rule_auc) == (1.0, 0.75)
    assert good.verdict == "target met, beats the rule"
    bad = real_eval.figure("d", "t", y, np.array([0.9, 0.2, 0.8, 0.1]), "r",
                           [0.1, 0.2, 0.8, 0.9], 0.9)
    assert bad.verdict == "target MISSED, does NOT beat the rule"


def test_a_rule_may_be_infinite_or_missing_missing_ranks_lowest():
    # Growth from nothing is +inf; no score at all ranks below every score.
    y = [0, 0, 1, 1]
    f = real_eval.figure("d", "t", y, np.array([0.1, 0.2, 0.8, 0.9]), "r",
                         [np.nan, 0.5, np.inf, 0.7], None)
    assert f.rule_auc == 1.0
    assert f.verdict == "does NOT beat the rule"


def test_training_on_one_class_says_so():
    frame = pd.DataFrame({"f": [1.0, 2.0], "y": [False, False]})
    with pytest.raises(ValueError, match="all 0: nothing to learn"):
        real_eval.fit_score(frame, frame, ["f"], "y")


def _leads(n_per_page: int, start: date) -> pd.DataFrame:
    """Page "good" converts 1 in 2, page "bad" 1 in 10; origins carry no signal."""
    rows = []
    for page, every in (("good", 2), ("bad", 10)):
        for i in range(n_per_page):
            rows.append({"origin": "paid" if i % 3 else "organic", "campaign": page,
                         "contacted_at": start + timedelta(days=i % 60),
                         "converted": int(i % every == 0)})
    return pd.DataFrame(rows)


def test_the_additive_lead_model_ranks_the_converting_page_first_and_rare_pages_share_a_level():
    train = _leads(100, date(2018, 1, 1))
    test = pd.DataFrame({"origin": ["paid", "paid", "organic"],
                         "campaign": ["good", "bad", "never-seen"],
                         "contacted_at": [date(2018, 4, 1)] * 3})
    score = real_eval.lead_additive(train, test)
    assert score[0] > score[2] > score[1]  # unseen page: between the two learnt pages
    assert ((score > 0) & (score < 1)).all()


def test_the_lead_model_is_chosen_on_the_last_training_months_only():
    train = _leads(100, date(2017, 11, 1))
    picked = []

    def spy(name: str, auc_from_converted: bool):
        def model(fit: pd.DataFrame, held: pd.DataFrame) -> np.ndarray:
            picked.append((name, pd.to_datetime(fit["contacted_at"]).max(),
                           pd.to_datetime(held["contacted_at"]).min()))
            y = held["converted"].to_numpy(dtype=float)
            return y if auc_from_converted else -y
        return model

    chosen, scores = real_eval.choose_lead_model(
        train, date(2017, 12, 1), {"right": spy("right", True), "wrong": spy("wrong", False)})
    assert chosen == "right"
    assert scores == {"right": 1.0, "wrong": 0.0}
    for _, fit_end, held_start in picked:
        assert fit_end < pd.Timestamp(2017, 12, 1) <= held_start
    with pytest.raises(ValueError, match="both outcomes"):
        real_eval.choose_lead_model(train, date(2019, 1, 1))


def test_seller_ratios_share_the_longer_window_and_rate_per_day_of_tenure():
    sellers = pd.DataFrame({
        "gmv_sum_7d": [0.0, 10.0, 0.0], "gmv_sum_30d": [0.0, 30.0, 9.0],
        "gmv_sum_90d": [0.0, 59.0, 9.0], "gmv_sum_180d": [0.0, 99.0, 9.0],
        "orders_count_30d": [0, 3, 1], "orders_count_180d": [0, 9, 1],
        "active_days_90d": [0, 30, 1], "tenure_days": [400, 1000, 4],
    }, index=[7, 8, 9])
    got = real_eval.seller_ratios(sellers)
    # No orders: every share 0 (not missing). Seller 9 joined 4 days ago: its per-day
    # rates divide by its 5 days, not by the windows' 180 and 90.
    assert_frame_equal(got, pd.DataFrame({
        "gmv_share_30d_of_180d": [0.0, 0.3, 0.9],
        "gmv_share_90d_of_180d": [0.0, 0.59, 0.9],
        "gmv_share_7d_of_90d": [0.0, 1 / 6, 0.0],
        "orders_share_30d_of_180d": [0.0, 0.3, 0.5],
        "gmv_per_tenure_day_180d": [0.0, 99 / 180, 9 / 5],
        "active_share_of_tenure_90d": [0.0, 30 / 90, 1 / 5],
    }, index=[7, 8, 9]))


def test_seller_ratios_name_a_missing_column():
    with pytest.raises(KeyError, match=r"column\(s\) active_days_90d, gmv_sum_180d, gmv_sum_7d, "
                       r"gmv_sum_90d, orders_count_180d, orders_count_30d, tenure_days, absent"):
        real_eval.seller_ratios(pd.DataFrame({"gmv_sum_30d": [1.0]}))


def test_within_cutoff_ranks_compare_sellers_of_the_same_cutoff_only():
    frame = pd.DataFrame({
        "as_of_date": [date(2017, 1, 1)] * 4 + [date(2018, 3, 1)] * 2,
        "gmv": [10.0, 20.0, 20.0, np.nan, 1000.0, 5000.0],
        "orders": [1, 2, 3, 4, 0, 0],
    })
    got = real_eval.within_cutoff_ranks(frame, ["gmv", "orders"])
    # 2018's amounts are 50x 2017's, yet its sellers rank 1/2 and 2/2 in their own cutoff;
    # tied GMV shares the average rank, a missing one stays missing and is not counted.
    assert_frame_equal(got, pd.DataFrame({
        "gmv": [1 / 3, 2.5 / 3, 2.5 / 3, np.nan, 0.5, 1.0],
        "orders": [0.25, 0.5, 0.75, 1.0, 0.75, 0.75],
    }))
