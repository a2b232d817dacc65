"""The feature registry: daily tables, window features and labels, declared as data.

Everything the feature store computes is listed here once: the measures of the daily tables,
every snapshot feature (name, entity, window, unit, definition and the expression computing
it) and every label column. ``growth.features.daily``, ``growth.features.windows`` and
``growth.features.labels`` build their outputs from these declarations, and
``docs/features.md`` is generated from them (``growth docs``). Models name the columns they
use from ``feature_names(entity)``.

Window features are aggregates over a snapshot's window rows, whose columns are the daily
measures pre-summed per bucket of days plus ``age`` (as_of_date minus the bucket's last day,
0 for the snapshot day itself) and ``as_of_date``. ``W`` builds those aggregates so that a
definition reads like its documentation: ``W.sum("gmv", 30)`` is the GMV of the 30 days
ending on the snapshot day.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F

WINDOWS = (7, 30, 90, 180)
LOOKBACK = max(WINDOWS)
SLOPE_WEEKS = 8
# Every window edge a feature uses, in days before the snapshot day. Days are grouped into
# buckets between consecutive edges, so each feature's window is a whole number of buckets.
EDGE_OFFSETS = tuple(sorted({0, *WINDOWS, 60, *(7 * k for k in range(1, SLOPE_WEEKS + 1))}))


@dataclass(frozen=True)
class Measure:
    """A column of a daily table. ``kind``: sum (additive), sketch (HLL), level (end of day)."""

    name: str
    kind: str
    unit: str
    description: str


@dataclass(frozen=True)
class Activity:
    """A kind of active day, e.g. a day with orders, defined over the daily measures."""

    name: str
    condition: str
    description: str


@dataclass(frozen=True)
class DailyTable:
    name: str
    entity: str
    key: str
    description: str
    measures: tuple[Measure, ...]
    activities: tuple[Activity, ...]

    @property
    def measure_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.measures)

    def of_kind(self, kind: str) -> tuple[str, ...]:
        return tuple(m.name for m in self.measures if m.kind == kind)


def _sum(name: str, unit: str, description: str) -> Measure:
    return Measure(name, "sum", unit, description)


def _sketch(name: str, description: str) -> Measure:
    return Measure(name, "sketch", "HLL sketch", f"{description} Null without a line placed.")


MERCHANT_DAILY = DailyTable(
    name="merchant_daily",
    entity="merchant",
    key="merchant_id",
    description="One row per merchant per UTC day on which it had orders, deliveries, "
    "closures, reviews or traffic.",
    measures=(
        _sum("orders", "orders", "Orders placed (counted by their line 1)."),
        _sum("order_lines", "lines", "Order lines placed."),
        _sum("units", "units", "Units in the lines placed."),
        _sum("gmv", "currency", "Gross merchandise value of the lines placed."),
        _sum("affiliate_gmv", "currency", "GMV of lines placed credited to a creator."),
        _sum("affiliate_lines", "lines", "Lines placed credited to a creator."),
        _sum("delivered_lines", "lines", "Lines delivered that day."),
        _sum("late_deliveries", "lines", "Lines delivered that day after the promised date."),
        _sum("cancelled_lines", "lines", "Lines cancelled that day."),
        _sum("refunded_lines", "lines", "Lines refunded that day (failed deliveries included)."),
        _sum("refunded_gmv", "currency", "Amount of the lines refunded that day."),
        _sum("failed_deliveries", "lines", "Deliveries that failed that day."),
        _sum("rating_sum", "stars", "Sum of the stars of the reviews written that day."),
        _sum("rating_count", "reviews", "Reviews written that day."),
        _sum("impressions", "views", "Times the merchant was shown."),
        _sum("clicks", "clicks", "Clicks through to the merchant."),
        _sketch("buyers_sketch", "Distinct buyers of the lines placed."),
        _sketch("products_sketch", "Distinct products in the lines placed."),
        _sketch("creators_sketch", "Distinct creators credited with the lines placed."),
    ),
    activities=(Activity("order", "order_lines > 0", "a day with at least one line placed"),),
)

CREATOR_DAILY = DailyTable(
    name="creator_daily",
    entity="creator",
    key="creator_id",
    description="One row per creator per UTC day on which it had credited sales, statistics "
    "or traffic.",
    measures=(
        _sum("affiliate_orders", "orders", "Orders credited to the creator (by their line 1)."),
        _sum("affiliate_lines", "lines", "Order lines credited to the creator."),
        _sum("affiliate_units", "units", "Units in the credited lines."),
        _sum("affiliate_gmv", "currency", "GMV of the credited lines."),
        _sum("live_gmv", "currency", "Credited GMV sold through live streams."),
        Measure("followers", "level", "followers", "Followers at the end of the day."),
        _sum("posts", "posts", "Posts published."),
        _sum("views", "views", "Views of the creator's content."),
        _sum("likes", "likes", "Likes received."),
        _sum("live_minutes", "minutes", "Minutes streamed live."),
        _sum("impressions", "views", "Times the creator's page was shown."),
        _sum("clicks", "clicks", "Clicks through to the creator."),
        _sketch("merchants_sketch", "Distinct merchants whose products the creator sold."),
        _sketch("buyers_sketch", "Distinct buyers of the credited lines."),
    ),
    activities=(
        Activity("sale", "affiliate_lines > 0", "a day with at least one credited line"),
        Activity("post", "posts > 0", "a day with at least one post"),
        Activity(
            "active", "affiliate_lines > 0 OR posts > 0 OR live_minutes > 0",
            "a day with a credited sale, a post or a live stream",
        ),
    ),
)

DAILY_TABLES = {"merchant": MERCHANT_DAILY, "creator": CREATOR_DAILY}


class W:
    """Aggregate expressions over a snapshot's window rows (see the module docstring)."""

    @staticmethod
    def age() -> Column:
        return F.col("age")

    @staticmethod
    def sum(measure: str, days: int) -> Column:
        """Sum of ``measure`` over the ``days`` days ending on the snapshot day."""
        return W.between(measure, 0, days)

    @staticmethod
    def between(measure: str, start: int, end: int) -> Column:
        """Sum over the days ``start`` (inclusive) to ``end`` (exclusive) days before D."""
        inside = (W.age() >= start) & (W.age() < end)
        return F.coalesce(F.sum(F.when(inside, F.col(measure))), F.lit(0))

    @staticmethod
    def distinct(sketch: str, days: int) -> Column:
        """Distinct count estimated from the union of the window's daily sketches."""
        union = F.hll_union_agg(F.when(W.age() < days, F.col(sketch)), True)
        return F.coalesce(F.hll_sketch_estimate(union), F.lit(0))

    @staticmethod
    def ratio(numerator: Column, denominator: Column) -> Column:
        """numerator / denominator, null when the denominator is zero."""
        return F.when(denominator != 0, numerator / denominator)

    @staticmethod
    def growth(measure: str, days: int = 30) -> Column:
        """The last ``days`` days over the ``days`` before them; null when those were 0."""
        return W.ratio(W.sum(measure, days), W.between(measure, days, 2 * days))

    @staticmethod
    def slope(measure: str, weeks: int = SLOPE_WEEKS) -> Column:
        """Least-squares slope of the weekly sums over the last ``weeks`` weeks, per week.

        Week 0 ends on the snapshot day. With t = weeks - 1 - week as time, the slope is
        sum((t - mean t) * y) / sum((t - mean t)^2), a weighted sum of the daily values.
        """
        centre = (weeks - 1) / 2
        denominator = sum((t - centre) ** 2 for t in range(weeks))
        weight = F.lit(centre) - F.floor(W.age() / 7)
        inside = W.age() < 7 * weeks
        return F.coalesce(F.sum(F.when(inside, weight * F.col(measure))), F.lit(0)) / denominator

    @staticmethod
    def active_days(activity: str, days: int) -> Column:
        return W.sum(f"{activity}_days", days)

    @staticmethod
    def days_since(activity: str) -> Column:
        """Days from the last active day within the lookback to the snapshot day."""
        last = F.max(F.when(W.age() < LOOKBACK, F.col(f"{activity}_last")))
        return F.datediff(F.col("as_of_date"), last)

    @staticmethod
    def level(measure: str, min_age: int = 0) -> Column:
        """The latest end-of-day value of ``measure`` at least ``min_age`` days before D."""
        old_enough = (W.age() >= min_age) & F.col(f"{measure}_day").isNotNull()
        return F.max_by(F.when(old_enough, F.col(measure)), F.when(old_enough, F.col(f"{measure}_day")))


@dataclass(frozen=True)
class Feature:
    """One snapshot column. ``expr`` is an aggregate over window rows, or, when
    ``per_entity``, an expression over the entity row (joined_at) and ``as_of_date``.
    ``fill`` is its value for an entity with no activity in the lookback."""

    name: str
    entity: str
    window: int | None
    unit: str
    definition: str
    expr: Callable[[], Column]
    fill: int | None = 0
    per_entity: bool = False
    sketch: str | None = None
    """The sketch column a distinct count unions (those aggregate apart, see windows)."""


def _distinct(name: str, sketch: str, days: int, unit: str, definition: str) -> tuple:
    return ("distinct", name, sketch, days, unit, definition)


def _features(entity: str, rows: list[tuple]) -> tuple[Feature, ...]:
    out = []
    for row in rows:
        if row[0] == "distinct":
            _, name, sketch, days, unit, definition = row
            out.append(Feature(name, entity, days, unit, definition,
                               lambda s=sketch, d=days: W.distinct(s, d), sketch=sketch))
            continue
        name, window, unit, definition, expr, *rest = row
        fill = rest[0] if rest else 0
        out.append(Feature(name, entity, window, unit, definition, expr, fill))
    out.append(Feature(
        "tenure_days", entity, None, "days",
        "Days from joining the marketplace to the snapshot day.",
        lambda: F.datediff(F.col("as_of_date"), F.to_date("joined_at")), None, per_entity=True,
    ))
    return tuple(out)


def _windows(stem: str, measure: str, unit: str, what: str, windows=WINDOWS) -> list[tuple]:
    return [
        (f"{stem}_{w}d", w, unit, f"{what} in the {w} days ending on the snapshot day.",
         lambda m=measure, w=w: W.sum(m, w))
        for w in windows
    ]


NULL = None
MERCHANT_FEATURES = _features("merchant", [
    *_windows("gmv_sum", "gmv", "currency", "GMV of the lines placed"),
    *_windows("orders_count", "orders", "orders", "Orders placed"),
    *_windows("units_sum", "units", "units", "Units sold", (30, 90)),
    ("aov_mean_90d", 90, "currency", "Average order value: GMV / orders.",
     lambda: W.ratio(W.sum("gmv", 90), W.sum("orders", 90)), NULL),
    _distinct("buyers_distinct_30d", "buyers_sketch", 30, "buyers", "Distinct buyers (HLL estimate)."),
    _distinct("buyers_distinct_90d", "buyers_sketch", 90, "buyers", "Distinct buyers (HLL estimate)."),
    _distinct("products_distinct_90d", "products_sketch", 90, "products", "Distinct products sold (HLL estimate)."),
    _distinct("creators_distinct_90d", "creators_sketch", 90, "creators", "Distinct creators credited with sales: creator collaborations (HLL estimate)."),
    ("gmv_growth_30d", 60, "ratio",
     "GMV of the last 30 days / GMV of the 30 days before; null when those were 0.",
     lambda: W.growth("gmv"), NULL),
    ("orders_growth_30d", 60, "ratio",
     "Orders of the last 30 days / orders of the 30 days before; null when those were 0.",
     lambda: W.growth("orders"), NULL),
    ("gmv_slope_8w", 56, "currency per week",
     "Least-squares slope of weekly GMV over the last 8 weeks.", lambda: W.slope("gmv")),
    ("days_since_last_order", 180, "days",
     "Days since the last day with a line placed; null when none in 180 days.",
     lambda: W.days_since("order"), NULL),
    ("active_days_30d", 30, "days", "Days with at least one line placed.",
     lambda: W.active_days("order", 30)),
    ("active_days_90d", 90, "days", "Days with at least one line placed.",
     lambda: W.active_days("order", 90)),
    ("cancel_rate_90d", 90, "share", "Lines cancelled / lines placed.",
     lambda: W.ratio(W.sum("cancelled_lines", 90), W.sum("order_lines", 90)), NULL),
    ("refund_rate_90d", 90, "share", "Lines refunded / lines placed.",
     lambda: W.ratio(W.sum("refunded_lines", 90), W.sum("order_lines", 90)), NULL),
    ("late_delivery_rate_90d", 90, "share", "Late deliveries / deliveries.",
     lambda: W.ratio(W.sum("late_deliveries", 90), W.sum("delivered_lines", 90)), NULL),
    ("failed_delivery_rate_90d", 90, "share",
     "Failed deliveries / (deliveries + failed deliveries).",
     lambda: W.ratio(W.sum("failed_deliveries", 90),
                     W.sum("delivered_lines", 90) + W.sum("failed_deliveries", 90)), NULL),
    ("rating_mean_90d", 90, "stars", "Mean stars of the reviews written.",
     lambda: W.ratio(W.sum("rating_sum", 90), W.sum("rating_count", 90)), NULL),
    ("reviews_count_90d", 90, "reviews", "Reviews written.", lambda: W.sum("rating_count", 90)),
    ("impressions_sum_30d", 30, "views", "Times the merchant was shown.",
     lambda: W.sum("impressions", 30)),
    ("clicks_sum_30d", 30, "clicks", "Clicks through to the merchant.",
     lambda: W.sum("clicks", 30)),
    ("click_rate_30d", 30, "share", "Clicks / impressions.",
     lambda: W.ratio(W.sum("clicks", 30), W.sum("impressions", 30)), NULL),
    ("conversion_30d", 30, "orders per click", "Orders / clicks.",
     lambda: W.ratio(W.sum("orders", 30), W.sum("clicks", 30)), NULL),
    ("affiliate_gmv_sum_30d", 30, "currency", "GMV credited to creators.",
     lambda: W.sum("affiliate_gmv", 30)),
    ("affiliate_share_90d", 90, "share", "GMV credited to creators / GMV.",
     lambda: W.ratio(W.sum("affiliate_gmv", 90), W.sum("gmv", 90)), NULL),
])

CREATOR_FEATURES = _features("creator", [
    *_windows("affiliate_gmv_sum", "affiliate_gmv", "currency", "GMV credited to the creator"),
    *_windows("affiliate_orders_count", "affiliate_orders", "orders",
              "Orders credited to the creator", (30, 90)),
    ("live_gmv_share_90d", 90, "share", "Credited GMV sold live / credited GMV.",
     lambda: W.ratio(W.sum("live_gmv", 90), W.sum("affiliate_gmv", 90)), NULL),
    _distinct("merchants_distinct_90d", "merchants_sketch", 90, "merchants", "Distinct merchants whose products the creator sold (HLL estimate)."),
    _distinct("buyers_distinct_30d", "buyers_sketch", 30, "buyers", "Distinct buyers of credited lines (HLL estimate)."),
    ("affiliate_gmv_growth_30d", 60, "ratio",
     "Credited GMV of the last 30 days / the 30 days before; null when those were 0.",
     lambda: W.growth("affiliate_gmv"), NULL),
    ("affiliate_gmv_slope_8w", 56, "currency per week",
     "Least-squares slope of weekly credited GMV over the last 8 weeks.",
     lambda: W.slope("affiliate_gmv")),
    ("followers_latest", 180, "followers",
     "Followers at the end of the latest day with statistics; null when none in 180 days.",
     lambda: W.level("followers"), NULL),
    ("follower_growth_30d", 180, "followers",
     "followers_latest minus followers 30 or more days earlier (latest such day).",
     lambda: W.level("followers") - W.level("followers", 30), NULL),
    ("follower_growth_rate_30d", 180, "ratio",
     "follower_growth_30d / followers 30 or more days earlier.",
     lambda: W.ratio(W.level("followers") - W.level("followers", 30),
                     W.level("followers", 30)), NULL),
    *_windows("posts_sum", "posts", "posts", "Posts published", (30, 90)),
    ("posting_cadence_30d", 30, "posts per week", "Posts per week over the last 30 days.",
     lambda: W.sum("posts", 30) * 7 / 30),
    ("views_sum_30d", 30, "views", "Views of the creator's content.",
     lambda: W.sum("views", 30)),
    ("engagement_rate_30d", 30, "share", "Likes / views.",
     lambda: W.ratio(W.sum("likes", 30), W.sum("views", 30)), NULL),
    *_windows("live_minutes_sum", "live_minutes", "minutes", "Minutes streamed live", (30, 90)),
    ("active_days_30d", 30, "days", "Days with a credited sale, a post or a live stream.",
     lambda: W.active_days("active", 30)),
    ("active_days_90d", 90, "days", "Days with a credited sale, a post or a live stream.",
     lambda: W.active_days("active", 90)),
    ("sale_days_90d", 90, "days", "Days with at least one credited line.",
     lambda: W.active_days("sale", 90)),
    ("days_since_last_post", 180, "days",
     "Days since the last day with a post; null when none in 180 days.",
     lambda: W.days_since("post"), NULL),
    ("impressions_sum_30d", 30, "views", "Times the creator's page was shown.",
     lambda: W.sum("impressions", 30)),
    ("clicks_sum_30d", 30, "clicks", "Clicks through to the creator.",
     lambda: W.sum("clicks", 30)),
    ("affiliate_conversion_30d", 30, "orders per click", "Credited orders / clicks.",
     lambda: W.ratio(W.sum("affiliate_orders", 30), W.sum("clicks", 30)), NULL),
])

FEATURES = {"merchant": MERCHANT_FEATURES, "creator": CREATOR_FEATURES}


HLL_TOLERANCE = 0.05
"""Relative difference within which two estimates of one distinct count agree: about three
standard errors of a union of lgConfigK=12 sketches (1.6%). A union's estimate depends on the
order its sketches were merged in, so a snapshot built from incrementally maintained daily
rows and one built from a full recompute agree within this, not exactly."""


def distinct_count_tolerances(entity: str) -> dict[str, float]:
    """The distinct-count features of ``entity`` mapped to ``HLL_TOLERANCE``."""
    return {f.name: HLL_TOLERANCE for f in FEATURES[entity] if f.sketch is not None}


def feature_names(entity: str) -> tuple[str, ...]:
    """The feature columns of ``<entity>_features`` (keys excluded), in table order."""
    return tuple(f.name for f in FEATURES[entity])


@dataclass(frozen=True)
class LabelColumn:
    name: str
    unit: str
    definition: str


def label_columns(entity: str) -> tuple[LabelColumn, ...]:
    """The outcome columns of ``<entity>_labels``; ``value`` is GMV (merchant) or credited
    GMV (creator), H the horizon in days, all outcomes in (as_of_date, as_of_date + H]."""
    value = "GMV" if entity == "merchant" else "credited GMV"
    return (
        LabelColumn("horizon_days", "days", "H, the length of the outcome window."),
        LabelColumn("past_value", "currency", f"{value} in the H days ending on as_of_date."),
        LabelColumn("future_value", "currency", f"{value} in (as_of_date, as_of_date + H]."),
        LabelColumn("future_orders", "orders", "Orders placed (or credited) in the horizon."),
        LabelColumn("future_active_days", "days", "Days with a line placed (or credited)."),
        LabelColumn(
            "grew", "flag",
            "future_value >= growth multiple x past_value and future_value >= the growth "
            "minimum (GROWTH_LABEL_GROWTH_MULTIPLE, GROWTH_LABEL_GROWTH_MIN_VALUE).",
        ),
        LabelColumn(
            "future_value_rank", "share",
            "Percentile rank of future_value among the entities of the same as_of_date.",
        ),
        LabelColumn(
            "reached_top_tier", "flag",
            "future_value > 0 and in the top share of the cutoff (GROWTH_LABEL_TOP_SHARE).",
        ),
        LabelColumn(
            "onboarded_after_outreach", "flag",
            "Contacted by an outreach campaign and onboarded within the horizon.",
        ),
    )
