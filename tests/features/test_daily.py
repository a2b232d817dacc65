"""Daily aggregates: each measure lands on the day its event happened."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from growth.features.daily import changed_days, creator_daily, merchant_daily, order_events
from tests.features.frames import silver

D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)


def _line(order_id, line_id=1, **kw):
    row = {
        "order_id": order_id, "line_id": line_id, "ordered_at": datetime(2026, 3, 1, 23, 59, 59),
        "merchant_id": "m1", "buyer_id": "b1", "product_id": "p1", "creator_id": None,
        "channel": "shop", "amount": 10.0, "quantity": 1, "status": "placed",
        "promised_delivery_date": D3, "delivered_at": None, "delivery_outcome": None,
        "updated_at": datetime(2026, 3, 1, 23, 59, 59),
    }
    row.update(kw)
    return row


@pytest.fixture(scope="module")
def orders(spark):
    return silver(spark, "orders", [
        # placed at the last second of D1; delivered late on D2, refunded on D3
        _line("o1", status="refunded", delivered_at=datetime(2026, 3, 2, 0, 0, 0),
              delivery_outcome="late", updated_at=datetime(2026, 3, 3, 10, 0)),
        _line("o1", 2, buyer_id="b1", product_id="p2", amount=5.0, quantity=3,
              creator_id="c1", channel="live"),
        # placed at the first second of D2 by another buyer, cancelled the same day
        _line("o2", ordered_at=datetime(2026, 3, 2), buyer_id="b2", status="cancelled",
              updated_at=datetime(2026, 3, 2, 5, 0), creator_id="c1", channel="video"),
        # failed delivery, closed on D3
        _line("o3", ordered_at=datetime(2026, 3, 2, 12), status="refunded",
              delivery_outcome="failed", updated_at=datetime(2026, 3, 3, 8, 0)),
    ])


def test_order_events_put_each_event_on_its_own_day(orders):
    events = order_events(orders).select("order_id", "line_id", "event", "date")
    expected = [
        ("o1", 1, "placed", D1), ("o1", 1, "delivered", D2), ("o1", 1, "closed", D3),
        ("o1", 2, "placed", D1),
        ("o2", 1, "placed", D2), ("o2", 1, "closed", D2),
        ("o3", 1, "placed", D2), ("o3", 1, "closed", D3),
    ]
    assertDataFrameEqual(events, expected, checkRowOrder=False)


def test_merchant_daily_attributes_measures_to_event_days(spark, orders):
    reviews = silver(spark, "reviews", [
        {"review_id": "r1", "order_id": "o1", "merchant_id": "m1", "product_id": "p1",
         "rating": 2, "reviewed_at": datetime(2026, 3, 3, 0, 0)},
    ])
    traffic = silver(spark, "traffic_daily", [
        {"date": D1, "entity_type": "merchant", "entity_id": "m1", "impressions": 100,
         "clicks": 7},
        # a creator's traffic never lands on a merchant
        {"date": D1, "entity_type": "creator", "entity_id": "m1", "impressions": 5,
         "clicks": 1},
    ])
    out = merchant_daily(order_events(orders), reviews, traffic)
    got = out.select(
        "merchant_id", "date", "orders", "order_lines", "units", "gmv", "affiliate_gmv",
        "affiliate_lines", "delivered_lines", "late_deliveries", "cancelled_lines",
        "refunded_lines", "refunded_gmv", "failed_deliveries", "rating_sum", "rating_count",
        "impressions", "clicks",
        F.hll_sketch_estimate("buyers_sketch").alias("buyers"),
        F.hll_sketch_estimate("products_sketch").alias("products"),
        F.hll_sketch_estimate("creators_sketch").alias("creators"),
    )
    expected = [
        # D1: o1 lines 1 and 2 placed (one order, two lines, 4 units, GMV 15), traffic
        ("m1", D1, 1, 2, 4, 15.0, 5.0, 1, 0, 0, 0, 0, 0.0, 0, 0, 0, 100, 7, 1, 2, 1),
        # D2: o2 and o3 placed; o1 delivered late; o2 cancelled
        ("m1", D2, 2, 2, 2, 20.0, 10.0, 1, 1, 1, 1, 0, 0.0, 0, 0, 0, 0, 0, 2, 1, 1),
        # D3: o1 refunded, o3 failed (refunded); one review
        # (no line placed on D3: no sketches)
        ("m1", D3, 0, 0, 0, 0.0, 0.0, 0, 0, 0, 0, 2, 20.0, 1, 2, 1, 0, 0, None, None, None),
    ]
    assertDataFrameEqual(got, expected, checkRowOrder=False)


def test_creator_daily_combines_credited_sales_stats_and_traffic(spark, orders):
    stats = silver(spark, "creator_daily_stats", [
        {"date": D2, "creator_id": "c1", "followers": 1000, "posts": 2, "views": 500,
         "likes": 50, "live_minutes": 30},
    ])
    traffic = silver(spark, "traffic_daily", [
        {"date": D3, "entity_type": "creator", "entity_id": "c1", "impressions": 9,
         "clicks": 3},
    ])
    out = creator_daily(order_events(orders), stats, traffic)
    got = out.select(
        "creator_id", "date", "affiliate_orders", "affiliate_lines", "affiliate_units",
        "affiliate_gmv", "live_gmv", "followers", "posts", "views", "likes", "live_minutes",
        "impressions", "clicks", F.hll_sketch_estimate("merchants_sketch").alias("merchants"),
    )
    expected = [
        ("c1", D1, 0, 1, 3, 5.0, 5.0, None, 0, 0, 0, 0, 0, 0, 1),
        ("c1", D2, 1, 1, 1, 10.0, 0.0, 1000, 2, 500, 50, 30, 0, 0, 1),
        ("c1", D3, 0, 0, 0, 0.0, 0.0, None, 0, 0, 0, 0, 9, 3, None),
    ]
    assertDataFrameEqual(got, expected, checkRowOrder=False)


def test_daily_tables_of_empty_input_are_empty_with_their_schema(spark, orders):
    empty = orders.limit(0)
    reviews = silver(spark, "reviews", [])
    traffic = silver(spark, "traffic_daily", [])
    stats = silver(spark, "creator_daily_stats", [])
    assert merchant_daily(order_events(empty), reviews, traffic).collect() == []
    assert creator_daily(order_events(empty), stats, traffic).collect() == []


def test_changed_days_ignore_events_that_did_not_change(spark, orders):
    o1 = orders.where("order_id = 'o1' AND line_id = 1")
    placed_version = (
        o1.withColumn("status", F.lit("placed"))
        .withColumn("updated_at", F.col("ordered_at"))
        .withColumn("delivered_at", F.lit(None).cast("timestamp"))
        .withColumn("delivery_outcome", F.lit(None).cast("string"))
    )
    before, after = order_events(placed_version), order_events(o1)
    # placed on D1 in both images: only the delivery's (D2) and the refund's (D3) days
    # changed, not the placement day...
    assertDataFrameEqual(changed_days(before, after), [(D2,), (D3,)], checkRowOrder=False)
    # ...and a late line placed on D1 changes D1 only.
    late = order_events(orders.where("order_id = 'o1' AND line_id = 2"))
    assertDataFrameEqual(changed_days(late.limit(0), late), [(D1,)])
    assertDataFrameEqual(changed_days(after, after), [], checkRowOrder=False)
