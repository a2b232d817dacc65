"""Daily aggregates: silver sources -> ``merchant_daily`` and ``creator_daily``.

Grain: one row per entity per UTC ``date`` on which anything happened to it. Every measure is
attributed to the day its event happened, so that a snapshot for day D, which sums the rows
dated up to D, can only see what happened by the end of D:

- an order line is *placed* on its ``ordered_at`` day (GMV, orders, units, buyers ...);
- it is *delivered* on its ``delivered_at`` day (deliveries, late deliveries);
- it is *closed* on its ``updated_at`` day when its final status is cancelled or refunded
  (cancellations, refunds, failed deliveries).

A line later refunded therefore still counts as GMV on the day it was placed, and its refund
lands on the day of the refund: folding the refund back into the placement day would let a
snapshot see the future.

Distinct counts are HyperLogLog sketches (``*_sketch``): a window's distinct count is the
union of its days' sketches, never a rescan of order lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from growth.features.registry import CREATOR_DAILY, MERCHANT_DAILY, DailyTable

PLACED, DELIVERED, CLOSED = "placed", "delivered", "closed"
ORDER_EVENT_COLUMNS = (
    "order_id", "line_id", "merchant_id", "creator_id", "buyer_id", "product_id", "channel",
    "amount", "quantity", "status", "delivery_outcome", "event", "date",
)
# lgConfigK 12: about 1.6% relative error, sketches of a few hundred bytes per entity-day.
HLL_LG_K = 12


def order_events(orders: DataFrame) -> DataFrame:
    """Silver order lines -> one row per (line, event) that happened: placed, delivered, closed.

    Reads: order_id, line_id, ordered_at, merchant_id, creator_id, buyer_id, product_id,
    channel, amount, quantity, status, delivered_at, delivery_outcome, updated_at.
    Writes ``ORDER_EVENT_COLUMNS``; ``date`` is the UTC day the event happened. An event
    carries the status and delivery outcome only where its measures read them (closed:
    both, delivered: the outcome), so a line moving from placed to delivered leaves its
    placed event identical: the placement day's aggregates did not change.
    """
    status, outcome = F.col("status"), F.col("delivery_outcome")
    none = F.lit(None).cast("string")
    events = F.array(
        F.struct(
            F.lit(PLACED).alias("event"), F.to_date("ordered_at").alias("date"),
            none.alias("status"), none.alias("delivery_outcome"),
        ),
        F.struct(
            F.lit(DELIVERED).alias("event"), F.to_date("delivered_at").alias("date"),
            none.alias("status"), outcome.alias("delivery_outcome"),
        ),
        F.struct(
            F.lit(CLOSED).alias("event"),
            F.when(status.isin("cancelled", "refunded"), F.to_date("updated_at")).alias("date"),
            status.alias("status"), outcome.alias("delivery_outcome"),
        ),
    )
    kept = [c for c in ORDER_EVENT_COLUMNS
            if c not in ("event", "date", "status", "delivery_outcome")]
    return (
        orders.select(*kept, F.inline(events))
        .where(F.col("date").isNotNull())
        .select(*ORDER_EVENT_COLUMNS)
    )


def _placed(condition: Column | None = None) -> Column:
    placed = F.col("event") == PLACED
    return placed if condition is None else placed & condition


def _count_if(condition: Column) -> Column:
    return F.sum(F.when(condition, 1).otherwise(0)).cast("bigint")


def _sum_if(condition: Column, value: str, dtype: str = "double") -> Column:
    return F.coalesce(F.sum(F.when(condition, F.col(value))), F.lit(0)).cast(dtype)


def merchant_daily(events: DataFrame, reviews: DataFrame, traffic: DataFrame) -> DataFrame:
    """Order events, reviews and merchant traffic -> ``merchant_daily``.

    Reads ``order_events`` output, silver reviews (merchant_id, reviewed_at, rating) and
    silver traffic_daily (date, entity_type, entity_id, impressions, clicks).
    Writes one row per (merchant_id, date) with the columns of ``MERCHANT_DAILY``.
    """
    activity = (
        events.unionByName(
            reviews.select(
                "merchant_id", F.to_date("reviewed_at").alias("date"),
                F.lit("review").alias("event"), "rating",
            ),
            allowMissingColumns=True,
        ).unionByName(
            traffic.where(F.col("entity_type") == "merchant").select(
                F.col("entity_id").alias("merchant_id"), "date",
                F.lit("traffic").alias("event"), "impressions", "clicks",
            ),
            allowMissingColumns=True,
        )
    )
    affiliate = F.col("creator_id").isNotNull()
    closed = F.col("event") == CLOSED
    delivered = F.col("event") == DELIVERED
    aggregates = {
        "orders": _count_if(_placed(F.col("line_id") == 1)),
        "order_lines": _count_if(_placed()),
        "units": _sum_if(_placed(), "quantity", "bigint"),
        "gmv": _sum_if(_placed(), "amount"),
        "affiliate_gmv": _sum_if(_placed(affiliate), "amount"),
        "affiliate_lines": _count_if(_placed(affiliate)),
        "delivered_lines": _count_if(delivered),
        "late_deliveries": _count_if(delivered & (F.col("delivery_outcome") == "late")),
        "cancelled_lines": _count_if(closed & (F.col("status") == "cancelled")),
        "refunded_lines": _count_if(closed & (F.col("status") == "refunded")),
        "refunded_gmv": _sum_if(closed & (F.col("status") == "refunded"), "amount"),
        "failed_deliveries": _count_if(closed & (F.col("delivery_outcome") == "failed")),
        "rating_sum": _sum_if(F.col("event") == "review", "rating", "bigint"),
        "rating_count": _count_if(F.col("event") == "review"),
        "impressions": _sum_if(F.col("event") == "traffic", "impressions", "bigint"),
        "clicks": _sum_if(F.col("event") == "traffic", "clicks", "bigint"),
    }
    sketches = {
        "buyers_sketch": "buyer_id", "products_sketch": "product_id",
        "creators_sketch": "creator_id",
    }
    return _aggregate(activity, events.where(_placed()), MERCHANT_DAILY, aggregates, sketches)


def creator_daily(events: DataFrame, stats: DataFrame, traffic: DataFrame) -> DataFrame:
    """Attributed order events, creator statistics and creator traffic -> ``creator_daily``.

    Reads ``order_events`` output (lines with a creator_id), silver creator_daily_stats
    (date, creator_id, followers, posts, views, likes, live_minutes) and silver traffic_daily.
    Writes one row per (creator_id, date) with the columns of ``CREATOR_DAILY``.
    """
    activity = (
        events.where(F.col("creator_id").isNotNull() & (F.col("event") == PLACED))
        .unionByName(
            stats.select(
                "creator_id", "date", F.lit("stats").alias("event"),
                "followers", "posts", "views", "likes", "live_minutes",
            ),
            allowMissingColumns=True,
        )
        .unionByName(
            traffic.where(F.col("entity_type") == "creator").select(
                F.col("entity_id").alias("creator_id"), "date",
                F.lit("traffic").alias("event"), "impressions", "clicks",
            ),
            allowMissingColumns=True,
        )
    )
    stats_row = F.col("event") == "stats"
    aggregates = {
        "affiliate_orders": _count_if(_placed(F.col("line_id") == 1)),
        "affiliate_lines": _count_if(_placed()),
        "affiliate_units": _sum_if(_placed(), "quantity", "bigint"),
        "affiliate_gmv": _sum_if(_placed(), "amount"),
        "live_gmv": _sum_if(_placed(F.col("channel") == "live"), "amount"),
        "followers": F.max(F.when(stats_row, F.col("followers"))).cast("bigint"),
        "posts": _sum_if(stats_row, "posts", "bigint"),
        "views": _sum_if(stats_row, "views", "bigint"),
        "likes": _sum_if(stats_row, "likes", "bigint"),
        "live_minutes": _sum_if(stats_row, "live_minutes", "bigint"),
        "impressions": _sum_if(F.col("event") == "traffic", "impressions", "bigint"),
        "clicks": _sum_if(F.col("event") == "traffic", "clicks", "bigint"),
    }
    sketches = {"merchants_sketch": "merchant_id", "buyers_sketch": "buyer_id"}
    placed = events.where(F.col("creator_id").isNotNull() & _placed())
    return _aggregate(activity, placed, CREATOR_DAILY, aggregates, sketches)


def _aggregate(
    activity: DataFrame,
    placed: DataFrame,
    table: DailyTable,
    aggregates: dict[str, Column],
    sketches: dict[str, str],
) -> DataFrame:
    """Sums over all activity, sketches over placed lines, joined on (key, date).

    Sketches are object aggregates, which Spark neither compiles nor keeps hashed past a
    few keys: computed beside the sums, they would slow every column down, so they are
    built apart over the narrow placed rows. A day without a placed line has null sketches.
    """
    missing = set(table.measure_names) ^ (set(aggregates) | set(sketches))
    if missing:  # the registry and this module must describe the same table
        raise AssertionError(f"{table.name}: measures out of sync with the registry: {missing}")
    sums = activity.groupBy(table.key, "date").agg(*[a.alias(m) for m, a in aggregates.items()])
    sketched = placed.groupBy(table.key, "date").agg(
        *[F.hll_sketch_agg(column, HLL_LG_K).alias(m) for m, column in sketches.items()]
    )
    return (
        sums.join(sketched, [table.key, "date"], "left")
        .select(table.key, "date", *table.measure_names)
    )


def on_days(df: DataFrame, column: str, days: Iterable[date]) -> DataFrame:
    """Rows whose ``column`` (a date or a timestamp, read as its UTC day) falls on ``days``."""
    return df.where(F.to_date(F.col(column)).isin(sorted(set(days))))


def orders_touching(orders: DataFrame, days: Iterable[date]) -> DataFrame:
    """Order lines with at least one event (placed, delivered, closed) on one of ``days``."""
    wanted = sorted(set(days))
    return orders.where(
        F.to_date("ordered_at").isin(wanted)
        | F.to_date("delivered_at").isin(wanted)
        | (F.col("status").isin("cancelled", "refunded") & F.to_date("updated_at").isin(wanted))
    )


def changed_days(before: DataFrame, after: DataFrame, date_column: str = "date") -> DataFrame:
    """Days whose events differ between two versions of the same rows.

    ``before`` holds the old images of changed rows, ``after`` the new ones (Delta's change
    feed pre- and post-images, deletes and inserts). An event present on one side only
    changes its day's aggregates; events identical on both sides (a placed line whose status
    moved on) change nothing, so their day is not recomputed. Output: one ``date`` column,
    distinct.
    """
    return (
        before.exceptAll(after)
        .unionByName(after.exceptAll(before))
        .select(F.col(date_column).alias("date"))
        .where(F.col("date").isNotNull())
        .distinct()
    )
