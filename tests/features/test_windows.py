"""Window features: exact windows, point-in-time, one pass over many dates = one per date."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from growth.features.registry import EDGE_OFFSETS, LOOKBACK, feature_names
from growth.features.windows import bucket_plan, snapshot_features
from tests.features.frames import daily, entities

D = date(2026, 6, 30)


def ago(days: int) -> date:
    return D - timedelta(days=days)


@pytest.fixture(scope="module")
def merchants(spark):
    return entities(spark, "merchant", {
        "m1": "2025-01-01 00:00:00",
        "quiet": "2026-01-01 00:00:00",     # joined, never active: filled with zeros
        "joins_on_d": "2026-06-30 23:59:59",  # joined during D: in D's snapshot
        "joins_after": "2026-07-01 00:00:00",  # joined after D: absent
    })


@pytest.fixture(scope="module")
def merchant_rows(spark):
    # GMV 1, 10, 100, ... on the exact window edges, so each sum names the days it saw.
    edges = {0: 1.0, 6: 10.0, 7: 100.0, 29: 1e3, 30: 1e4, 59: 1e5, 89: 1e6, 90: 1e7,
             179: 1e8, 180: 1e9, -1: 1e10}
    return daily(spark, "merchant", [
        {"merchant_id": "m1", "date": ago(age), "gmv": gmv, "orders": 1.0, "order_lines": 1.0,
         "buyers_sketch": [f"b{age}"]}
        for age, gmv in edges.items()
    ])


def test_windows_include_their_first_and_last_day_and_nothing_else(spark, merchants,
                                                                    merchant_rows):
    out = snapshot_features(merchant_rows, merchants, "merchant", [D])
    got = out.select(
        "merchant_id", "as_of_date", "gmv_sum_7d", "gmv_sum_30d", "gmv_sum_90d",
        "gmv_sum_180d", "orders_count_180d", "buyers_distinct_30d", "days_since_last_order",
        "active_days_30d", "gmv_growth_30d", "tenure_days",
    )
    expected = [
        # 7d: ages 0, 6; 30d: + 7, 29; 90d: + 30, 59, 89; 180d: + 90, 179 (not 180, not -1)
        ("m1", D, 11.0, 1111.0, 1111111.0, 111111111.0, 9, 4, 0, 4,
         1111.0 / 110000.0, (D - date(2025, 1, 1)).days),
        ("quiet", D, 0.0, 0.0, 0.0, 0.0, 0, 0, None, 0, None, (D - date(2026, 1, 1)).days),
        ("joins_on_d", D, 0.0, 0.0, 0.0, 0.0, 0, 0, None, 0, None, 0),
    ]
    assertDataFrameEqual(got, expected, checkRowOrder=False)


def test_no_feature_can_see_a_day_after_the_snapshot(spark, merchants, merchant_rows):
    without_future = merchant_rows.where(F.col("date") <= D)
    only_future = merchant_rows.where(F.col("date") > D)
    assert only_future.count() == 1
    assertDataFrameEqual(
        snapshot_features(merchant_rows, merchants, "merchant", [D]),
        snapshot_features(without_future, merchants, "merchant", [D]),
        checkRowOrder=False,
    )


def test_many_dates_in_one_pass_equal_one_pass_per_date(spark, merchants):
    rows = [
        {"merchant_id": m, "date": ago(age), "gmv": float(age % 13 + 1), "orders": 1.0,
         "order_lines": 1.0, "cancelled_lines": float(age % 3 == 0), "rating_sum": 4.0,
         "rating_count": 1.0, "clicks": 3.0, "impressions": 40.0,
         "buyers_sketch": [f"b{age % 17}", f"b{age % 5}"]}
        for m, step in (("m1", 3), ("quiet", 11))
        for age in range(-20, 260, step)
    ]
    frame = daily(spark, "merchant", rows)
    dates = [D - timedelta(days=k) for k in (0, 1, 31, 90)]
    together = snapshot_features(frame, merchants, "merchant", dates)
    one_by_one = None
    for d in dates:
        single = snapshot_features(frame, merchants, "merchant", [d])
        one_by_one = single if one_by_one is None else one_by_one.unionByName(single)
    assertDataFrameEqual(together, one_by_one, checkRowOrder=False, rtol=1e-9)
    assert together.columns == ["merchant_id", "as_of_date", *feature_names("merchant")]


def test_creator_levels_and_rates(spark):
    creators = entities(spark, "creator", {"c1": "2026-01-01 00:00:00"})
    frame = daily(spark, "creator", [
        {"creator_id": "c1", "date": ago(40), "followers": 800, "posts": 1.0},
        {"creator_id": "c1", "date": ago(30), "followers": 900, "posts": 1.0},
        {"creator_id": "c1", "date": ago(29), "followers": 950},
        {"creator_id": "c1", "date": ago(3), "affiliate_gmv": 50.0, "affiliate_lines": 1.0,
         "views": 100.0, "likes": 7.0},
        {"creator_id": "c1", "date": ago(1), "followers": 1200, "posts": 2.0},
    ])
    got = snapshot_features(frame, creators, "creator", [D]).select(
        "followers_latest", "follower_growth_30d", "follower_growth_rate_30d", "posts_sum_30d",
        "days_since_last_post", "engagement_rate_30d", "active_days_30d", "sale_days_90d",
    )
    assertDataFrameEqual(got, [(1200, 300, 300 / 900, 2.0, 1, 0.07, 2, 1)])


def test_empty_daily_table_gives_the_declared_schema_with_filled_rows(spark, merchants):
    empty = daily(spark, "merchant", []).limit(0)
    out = snapshot_features(empty, merchants, "merchant", [D])
    assert out.columns == ["merchant_id", "as_of_date", *feature_names("merchant")]
    assert sorted(r.merchant_id for r in out.collect()) == ["joins_on_d", "m1", "quiet"]
    assert snapshot_features(empty, merchants, "merchant", []).collect() == []


def test_bucket_plan_covers_each_lookback_day_exactly_once():
    days, windows = bucket_plan([D, D - timedelta(days=30)])
    covered = [d for d, _ in days]
    assert covered == sorted(set(covered))
    assert covered[0] == D - timedelta(days=30 + LOOKBACK - 1) and covered[-1] == D
    for as_of in (D, D - timedelta(days=30)):
        ends = {end for end, d, _ in windows if d == as_of}
        in_window = [day for day, end in days if end in ends]
        assert in_window == [as_of - timedelta(days=k) for k in range(LOOKBACK - 1, -1, -1)]
        # every window edge of this date is a bucket edge
        assert {as_of - timedelta(days=o) for o in EDGE_OFFSETS if o} <= {
            end for _, end in days} | {D - timedelta(days=30 + LOOKBACK)}


def test_bucket_plan_cut_at_other_offsets_covers_their_lookback_only():
    """The distinct counts' plan: edges at 0, 30 and 90 days; monthly dates share them."""
    monthly = [D - timedelta(days=30 * k) for k in range(3)]
    days, windows = bucket_plan(monthly, (30, 90))
    ends = sorted({end for _, end in days})
    assert ends == [D - timedelta(days=30 * k) for k in range(4, -1, -1)]  # one per month
    assert [d for d, _ in days] == [
        D - timedelta(days=k) for k in range(60 + 90 - 1, -1, -1)]
    assert sorted(windows) == sorted(
        (as_of - timedelta(days=age), as_of, age) for as_of in monthly for age in (0, 30, 60))
    assert bucket_plan([], (30, 90)) == ([], [])
    assert bucket_plan([D], ()) == ([], [])
