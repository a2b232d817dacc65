import numpy as np
import pytest

from growth.models.reasons import phrase, top_reasons


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
