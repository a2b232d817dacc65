"""A simulated marketplace: merchants, creators, their sales, traffic and outreach.

Dynamics, in brief:
- sizes (merchant order rate, creator audience) are lognormal: a few giants, a long tail;
- every entity has a latent growth potential in [0, 1] that sets its yearly growth rate,
  so potential shows in its trajectory; 30% of entities join during the window;
- demand has yearly and weekly seasonality and festival-day spikes;
- creators promote a few merchants each; a merchant's sales rise with its creators' reach,
  and a share of its order lines is attributed to them (video or live channel);
- monthly outreach campaigns enrol a random slice, hold out a randomized control group, and
  contacted entities onboard with a heterogeneous true effect that grows with potential;
  onboarded merchants then sell 30% more.
Order lines are delivered twice: once when placed and once in their final state
(delivered, cancelled or refunded); 2% of placed versions arrive 1-3 days late, and a
small share (``Profile.junk_share``) also arrives as a corrupted copy that ingest must reject.
``ground_truth`` keeps the latent potential and the true outreach effect per entity.

Every frame returned carries ``batch_date``, the day its rows land in the raw zone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from growth.sim.profiles import Profile
from growth.sim.rand import lognormal_mean_one, normal, pick, poisson, uniform

CATEGORIES = (
    "fashion", "beauty", "electronics", "home", "sports", "toys",
    "food", "health", "books", "auto", "pets", "garden",
)
CATEGORY_WEIGHTS = (18, 14, 10, 12, 8, 6, 9, 7, 4, 4, 5, 3)
REGIONS = ("north", "south", "east", "west", "central")
REGION_LANGUAGE = {"north": "en", "south": "es", "east": "pt", "west": "en", "central": "fr"}
FESTIVAL_DAYS = ("06-18", "11-11", "11-12", "12-12")
CAMPAIGN_EVERY_DAYS = 30
OUTCOME_WINDOW_DAYS = 14
# Log-scale sd of a merchant's day-to-day demand around its expected demand.
DEMAND_NOISE = 0.15
# An order has a second line with this probability, and independently a third.
SECOND_LINE, THIRD_LINE = 0.2, 0.05
# A line's product is floor(u ** PRODUCT_SKEW * n_products): the first products sell most.
PRODUCT_SKEW = 1.5
# Quantity is 1 + floor(QUANTITY_SCALE * an exponential draw); discounts up to MAX_DISCOUNT.
QUANTITY_SCALE, MAX_DISCOUNT = 0.4, 0.1
# Log-scale sd of a product's price around its merchant's price level.
PRICE_SPREAD = 0.5


@dataclass(frozen=True)
class Simulation:
    """Parameters of one generated marketplace."""

    profile: Profile
    seed: int
    end_date: date

    @property
    def start_date(self) -> date:
        return self.end_date - timedelta(days=self.profile.days - 1)

    @property
    def start_ts(self) -> datetime:
        return datetime.combine(self.start_date, time(0, 0))

    @property
    def campaign_days(self) -> list[int]:
        last = self.profile.days - OUTCOME_WINDOW_DAYS - 1
        return list(range(5, max(last, 6), CAMPAIGN_EVERY_DAYS))

    def u(self, stream: str, *keys: Column) -> Column:
        return uniform(self.seed, stream, *keys)

    def z(self, stream: str, *keys: Column) -> Column:
        return normal(self.seed, stream, *keys)


def _day_date(sim: Simulation, day: Column) -> Column:
    return F.date_add(F.lit(sim.start_date), day.cast("int"))


def _at(sim: Simulation, day: Column, seconds: Column) -> Column:
    """Timestamp ``day`` days and ``seconds`` seconds after the simulation start."""
    return F.timestamp_seconds(
        F.lit(int(sim.start_ts.timestamp())) + day.cast("long") * 86400 + seconds.cast("long")
    )


def _batch(sim: Simulation, ts: Column) -> Column:
    """Rows describing the time before the window land with the first batch."""
    return F.greatest(F.to_date(ts), F.lit(sim.start_date))


def _entities(
    spark: SparkSession,
    sim: Simulation,
    kind: str,
    n: int,
    sigma: float,
    growth: tuple[float, float],
) -> DataFrame:
    """Shared traits of merchants and creators: size, potential, join day, place, the yearly
    log-growth rate ``growth[0] + growth[1] * potential`` plus noise, and the true effect."""
    idx = F.col("idx")
    prefix = "m" if kind == "merchant" else "c"
    existing = sim.u(f"{kind}/existing", idx) < 0.7
    join_u = sim.u(f"{kind}/join", idx)
    region = pick(REGIONS, sim.u(f"{kind}/region", idx))
    return (
        spark.range(n)
        .withColumnRenamed("id", "idx")
        .select(
            "idx",
            F.format_string(f"{prefix}%07d", idx).alias("entity_id"),
            lognormal_mean_one(sigma, sim.z(f"{kind}/size", idx)).alias("size"),
            sim.u(f"{kind}/potential", idx).alias("potential"),
            F.when(existing, -F.floor(join_u * 720) - 1)
            .otherwise(F.floor(join_u * sim.profile.days))
            .cast("int")
            .alias("join_day"),
            pick(CATEGORIES, sim.u(f"{kind}/category", idx), CATEGORY_WEIGHTS).alias("category"),
            region.alias("region"),
            sim.z(f"{kind}/growth", idx).alias("growth_noise"),
        )
        .withColumn(
            "language",
            F.element_at(
                F.create_map(*[F.lit(x) for kv in REGION_LANGUAGE.items() for x in kv]),
                F.col("region"),
            ),
        )
        .withColumn("joined_at", _at(sim, F.col("join_day"), sim.u(f"{kind}/jt", idx) * 86400))
        .withColumn(
            "growth_rate",
            growth[0] + growth[1] * F.col("potential") + 0.2 * F.col("growth_noise"),
        )
        .withColumn("true_effect", _true_effect())
    )


def _true_effect() -> Column:
    """The true lift in onboarding probability from a contact: larger for high-potential,
    smaller for already large entities, weaker outside the north and west; can be negative."""
    regional = F.when(F.col("region").isin("north", "west"), 1.0).otherwise(0.6)
    raw = -0.03 + 0.4 * F.col("potential") * regional - 0.04 * F.log1p(F.col("size"))
    return F.least(F.lit(0.5), F.greatest(F.lit(-0.05), raw))


def _merchant_traits(spark: SparkSession, sim: Simulation) -> DataFrame:
    m = _entities(spark, sim, "merchant", sim.profile.merchants, sigma=1.2, growth=(-0.6, 1.8))
    idx, pot = F.col("idx"), F.col("potential")
    return m.select(
        "*",
        (0.02 + 0.15 * F.pow(sim.u("m/late", idx), 2) * (1.3 - pot)).alias("late_rate"),
        (0.005 + 0.03 * F.pow(sim.u("m/failed", idx), 2)).alias("failed_rate"),
        (0.02 + 0.04 * sim.u("m/cancel", idx)).alias("cancel_rate"),
        (0.02 + 0.03 * sim.u("m/refund", idx)).alias("refund_rate"),
        (4.7 - 0.6 * sim.u("m/rating", idx)).alias("rating_mean"),
        F.exp(3.0 + 0.8 * sim.z("m/price", idx)).alias("price_level"),
        F.least(F.lit(40), 1 + F.floor(F.col("size") * 4)).cast("int").alias("n_products"),
        (0.03 + 0.09 * sim.u("m/ctr", idx)).alias("ctr"),
    )


def _creator_traits(spark: SparkSession, sim: Simulation) -> DataFrame:
    c = _entities(spark, sim, "creator", sim.profile.creators, sigma=1.6, growth=(-0.3, 1.5))
    idx, pot = F.col("idx"), F.col("potential")
    return c.select(
        "*",
        F.round(2000 * F.col("size") + 50).alias("followers0"),
        F.least(
            F.lit(0.9), 0.01 + 0.08 * F.log1p(F.col("size") * 2) * (0.5 + pot)
        ).alias("post_rate"),
        (0.1 + 0.3 * sim.u("c/live", idx)).alias("live_share"),
        F.when(F.col("size") > 0.5, 1 + F.floor(sim.u("c/links", idx) * 3))
        .when(sim.u("c/links0", idx) < 0.2, 1)
        .otherwise(0)
        .cast("int")
        .alias("n_links"),
    )


def _links(sim: Simulation, creators: DataFrame) -> DataFrame:
    """Which creator promotes which merchant. Grain: (merchant_idx, creator_id)."""
    j = F.col("j")
    return (
        creators.where(F.col("n_links") > 0)
        .select("idx", "entity_id", "size", "potential", "join_day",
                F.explode(F.sequence(F.lit(1), F.col("n_links"))).alias("j"))
        .select(
            F.floor(sim.u("link", F.col("idx"), j) * sim.profile.merchants)
            .cast("long")
            .alias("merchant_idx"),
            F.col("entity_id").alias("creator_id"),
            F.greatest(F.col("join_day"), F.lit(0)).alias("start_day"),
            (F.col("size") * (1 + F.col("potential"))).alias("reach"),
        )
        .dropDuplicates(["merchant_idx", "creator_id"])
    )


def _outreach(sim: Simulation, entities: DataFrame, kind: str) -> DataFrame:
    """Campaign enrolments with a randomized control arm. Grain: (campaign, entity)."""
    profile = sim.profile
    campaigns = [F.lit(d) for d in sim.campaign_days]
    idx, cday = F.col("idx"), F.col("campaign_day")
    team = 0 if kind == "merchant" else 1
    region_idx = F.array_position(F.array(*[F.lit(r) for r in REGIONS]), F.col("region")) - 1
    # Managers are numbered so that idx % 2 is the team and idx % 5 the region.
    offset = F.when(region_idx % 2 == team, region_idx).otherwise(region_idx + 5)
    blocks = max(profile.managers // 10, 1)
    manager = F.floor(sim.u(f"{kind}/mgr", idx, cday) * blocks) * 10 + offset
    base = 0.03 + 0.1 * F.col("potential")
    enrolled = (
        entities.select("*", F.explode(F.array(*campaigns)).alias("campaign_day"))
        .where(F.col("join_day") < cday)
        .where(sim.u(f"{kind}/enrol", idx, cday) < profile.campaign_share)
    )
    contacted = sim.u(f"{kind}/arm", idx, cday) < 0.8
    prob = base + F.when(F.col("arm") == "contacted", F.col("true_effect")).otherwise(0.0)
    return (
        enrolled.withColumn("arm", F.when(contacted, "contacted").otherwise("control"))
        .select(
            "idx",
            "entity_id",
            "campaign_day",
            "arm",
            "true_effect",
            F.format_string("am%04d", manager.cast("int")).alias("manager_id"),
            _at(sim, cday, 9 * 3600 + sim.u(f"{kind}/et", idx, cday) * 28800).alias("enrolled_at"),
            ((F.col("arm") == "contacted")
             & (sim.u(f"{kind}/resp", idx, cday) < 0.3 + 0.5 * F.col("potential"))
             ).alias("responded"),
            (sim.u(f"{kind}/onb", idx, cday) < prob).alias("onboarded"),
            (1 + F.floor(sim.u(f"{kind}/onbday", idx, cday) * (OUTCOME_WINDOW_DAYS - 1)))
            .cast("int")
            .alias("onboard_delay"),
        )
        .withColumn(
            "onboarded_at",
            F.when(
                F.col("onboarded"),
                F.col("enrolled_at") + F.make_interval(days=F.col("onboard_delay")),
            ),
        )
    )


def _outreach_rows(sim: Simulation, events: DataFrame, kind: str) -> DataFrame:
    """Two versions per enrolment: at enrolment, and when the outcome window closes."""
    event_id = F.format_string(f"ev-{kind[0]}-%s-%d", F.col("entity_id"), F.col("campaign_day"))
    closes = F.col("enrolled_at") + F.make_interval(days=F.lit(OUTCOME_WINDOW_DAYS))
    common = [
        event_id.alias("event_id"),
        F.format_string("camp-%s", _day_date(sim, F.col("campaign_day")).cast("string"))
        .alias("campaign_id"),
        F.lit(kind).alias("entity_type"),
        "entity_id",
        "manager_id",
        "arm",
        "enrolled_at",
    ]
    first = events.select(
        *common,
        F.lit(False).alias("responded"),
        F.lit(False).alias("onboarded"),
        F.lit(None).cast("timestamp").alias("onboarded_at"),
        F.col("enrolled_at").alias("updated_at"),
    )
    final = events.where(F.to_date(closes) <= F.lit(sim.end_date)).select(
        *common, "responded", "onboarded", "onboarded_at", closes.alias("updated_at")
    )
    both = first.unionByName(final)
    return both.withColumn("batch_date", F.to_date("updated_at"))


def _season(sim: Simulation, day: Column) -> Column:
    d = _day_date(sim, day)
    yearly = 1 + 0.15 * F.sin(2 * math.pi * (F.dayofyear(d) - 80) / 365.0)
    weekly = F.when(F.dayofweek(d).isin(1, 7), 1.15).otherwise(0.94)
    festival = F.when(F.date_format(d, "MM-dd").isin(*FESTIVAL_DAYS), 1.8).otherwise(1.0)
    return yearly * weekly * festival


def _expected_demand(sim: Simulation, day: Column) -> Column:
    """A merchant's expected orders on ``day`` before its day-to-day noise: size, growth,
    season, the ramp after joining, its creators' boost and the lift after onboarding."""
    ramp = F.least(F.lit(1.0), (day - F.col("join_day") + 1) / 30.0)
    onboarded = F.when(day >= F.col("onboard_day"), 1.3).otherwise(1.0)
    return (
        F.lit(sim.profile.orders_per_merchant_day)
        * F.col("size")
        * F.exp(F.col("growth_rate") * day / 365.0)
        * _season(sim, day)
        * ramp
        * F.col("boost")
        * onboarded
    )


def _merchant_days(sim: Simulation, merchants: DataFrame, days: DataFrame) -> DataFrame:
    """Expected demand per merchant and day. Grain: (merchant, day) from the join day on."""
    idx, day = F.col("idx"), F.col("day")
    lam = _expected_demand(sim, day) * F.exp(DEMAND_NOISE * sim.z("md/noise", idx, day))
    return (
        merchants.crossJoin(days)
        .where(day >= F.col("join_day"))
        .withColumn("lam", lam)
        .withColumn(
            "n_orders", poisson(F.col("lam"), sim.u("md/n", idx, day), sim.z("md/nz", idx, day))
        )
    )


def _product_price(sim: Simulation, product_id: Column) -> Column:
    """A product's fixed price: lognormal around its merchant's ``price_level``."""
    return F.col("price_level") * F.exp(PRICE_SPREAD * normal(sim.seed, "product/price", product_id))


def _merchants_full(
    sim: Simulation, merchants: DataFrame, links: DataFrame, events: DataFrame
) -> DataFrame:
    """Merchant traits plus what their sales depend on: the creators promoting them (sorted
    ``creators`` array), their ``boost`` from those creators' reach, and ``onboard_day``, the
    day of their first onboarding after outreach (far in the future if never)."""
    per_merchant = links.groupBy("merchant_idx").agg(
        F.sort_array(F.collect_list(F.struct("creator_id", "start_day"))).alias("creators"),
        F.sum("reach").alias("reach"),
    )
    first_onboarding = (
        events.where("onboarded")
        .groupBy("idx")
        .agg(F.min(F.datediff(F.to_date("onboarded_at"), F.lit(sim.start_date))).alias("onboard_day"))
    )
    return (
        merchants.join(per_merchant.withColumnRenamed("merchant_idx", "idx"), "idx", "left")
        .join(first_onboarding, "idx", "left")
        .select(
            "*",
            (1 + 0.25 * F.log1p(F.coalesce(F.col("reach"), F.lit(0.0)))).alias("boost"),
        )
        .withColumn(
            "creators",
            F.coalesce(
                "creators", F.array().cast("array<struct<creator_id:string,start_day:int>>")
            ),
        )
        .withColumn("onboard_day", F.coalesce("onboard_day", F.lit(10**6)))
    )


def _order_lines(sim: Simulation, merchant_days: DataFrame) -> DataFrame:
    """One row per order line in its final state. Grain: (order_id, line_id)."""
    o, ln = F.col("o"), F.col("line_id")
    key = (F.col("idx"), F.col("day"), o, ln)
    orders = merchant_days.where(F.col("n_orders") > 0).select(
        "*", F.explode(F.sequence(F.lit(1), F.col("n_orders"))).alias("o")
    )
    n_lines = (1 + (sim.u("ol/n1", F.col("idx"), F.col("day"), o) < SECOND_LINE).cast("int")
               + (sim.u("ol/n2", F.col("idx"), F.col("day"), o) < THIRD_LINE).cast("int"))
    lines = orders.select(
        "*", F.explode(F.sequence(F.lit(1), n_lines)).alias("line_id")
    )
    product_k = F.floor(
        F.pow(sim.u("ol/product", *key), PRODUCT_SKEW) * F.col("n_products")
    ).cast("int")
    product_id = F.format_string("%s-p%02d", F.col("entity_id"), product_k)
    # Only creators who have joined by the order's day can be credited with it.
    joined = F.filter(F.col("creators"), lambda c: c["start_day"] <= F.col("day"))
    attributed = (F.size(joined) > 0) & (
        sim.u("ol/attr", *key) < (F.col("boost") - 1) / F.col("boost")
    )
    creator = F.element_at(
        joined, (1 + F.floor(sim.u("ol/creator", *key) * F.size(joined))).cast("int")
    )["creator_id"]
    channel = F.when(
        attributed, F.when(sim.u("ol/ch", *key) < 0.7, "video").otherwise("live")
    ).otherwise(F.when(sim.u("ol/ch", *key) < 0.6, "shop").otherwise("search"))
    quantity = (1 + F.floor(-F.log(sim.u("ol/qty", *key)) * QUANTITY_SCALE)).cast("int")
    ordered_at = _at(sim, F.col("day"), (0.3 + 0.7 * sim.u("ol/time", *key)) * 86400)
    ordered_date = F.to_date(ordered_at)
    promised = F.date_add(ordered_date, (3 + F.floor(sim.u("ol/prom", *key) * 4)).cast("int"))
    late_days = (1 + F.floor(sim.u("ol/lated", *key) * 5)).cast("int")
    early_days = F.floor(sim.u("ol/early", *key) * 3).cast("int")
    hour = F.make_interval(hours=(8 + F.floor(sim.u("ol/dh", *key) * 12)).cast("int"))
    on_time_at = F.greatest(
        F.to_timestamp(F.date_sub(promised, early_days)) + hour,
        ordered_at + F.make_interval(days=F.lit(1)),
    )
    fate = sim.u("ol/fate", *key)
    cancelled = fate < F.col("cancel_rate")
    failed = ~cancelled & (fate < F.col("cancel_rate") + F.col("failed_rate"))
    late = ~cancelled & ~failed & (sim.u("ol/late", *key) < F.col("late_rate"))
    refunded = ~cancelled & ~failed & (sim.u("ol/refund", *key) < F.col("refund_rate"))
    delivered_at = (
        F.when(cancelled | failed, F.lit(None).cast("timestamp"))
        .when(late, F.to_timestamp(F.date_add(promised, late_days)) + hour)
        .otherwise(on_time_at)
    )
    final_at = (
        F.when(cancelled, ordered_at + F.make_interval(
            hours=(1 + F.floor(sim.u("ol/ch_h", *key) * 23)).cast("int")))
        .when(failed, F.to_timestamp(F.date_add(promised, 1)) + hour)
        .when(refunded, delivered_at + F.make_interval(
            days=(2 + F.floor(sim.u("ol/rd", *key) * 8)).cast("int")))
        .otherwise(delivered_at)
    )
    price = _product_price(sim, product_id)
    return (
        lines.select(
            F.format_string("o%d-%d-%d", F.col("idx"), F.col("day"), o).alias("order_id"),
            ln,
            ordered_at.alias("ordered_at"),
            F.col("entity_id").alias("merchant_id"),
            F.format_string(
                "b%d", F.floor(F.pow(sim.u("ol/buyer", *key), 2) * sim.profile.merchants * 20)
            ).alias("buyer_id"),
            product_id.alias("product_id"),
            F.when(attributed, creator).alias("creator_id"),
            channel.alias("channel"),
            F.round(price * quantity * (1 - MAX_DISCOUNT * sim.u("ol/disc", *key)), 2)
            .alias("amount"),
            quantity.alias("quantity"),
            promised.alias("promised_delivery_date"),
            delivered_at.alias("delivered_at"),
            F.when(cancelled, "cancelled").when(failed | refunded, "refunded")
            .otherwise("delivered").alias("final_status"),
            F.when(cancelled, None).when(failed, "failed").when(late, "late")
            .otherwise("on_time").alias("delivery_outcome"),
            (sim.u("ol/delay", *key) < 0.02).alias("arrives_late"),
            (1 + F.floor(sim.u("ol/delayd", *key) * 3)).cast("int").alias("delay_days"),
            F.col("rating_mean"),
            sim.z("ol/rating", *key).alias("rating_noise"),
            sim.u("ol/review", *key).alias("review_u"),
            (1 + F.floor(sim.u("ol/reviewd", *key) * 7)).cast("int").alias("review_days"),
            final_at.alias("final_at"),
        )
    )


ORDER_COLUMNS = (
    "order_id", "line_id", "ordered_at", "merchant_id", "buyer_id", "product_id", "creator_id",
    "channel", "amount", "quantity", "status", "promised_delivery_date", "delivered_at",
    "delivery_outcome", "updated_at",
)


def _order_rows(sim: Simulation, lines: DataFrame) -> DataFrame:
    """The placed version of every line, and its final version once it has happened."""
    placed_batch = F.to_date("ordered_at") + F.when(
        F.col("arrives_late"), F.col("delay_days")
    ).otherwise(0)
    placed = lines.select(
        *[c for c in ORDER_COLUMNS if c not in ("status", "delivered_at", "delivery_outcome",
                                                  "updated_at")],
        F.lit("placed").alias("status"),
        F.lit(None).cast("timestamp").alias("delivered_at"),
        F.lit(None).cast("string").alias("delivery_outcome"),
        F.col("ordered_at").alias("updated_at"),
        F.least(placed_batch, F.lit(sim.end_date)).alias("batch_date"),
    )
    final = lines.where(F.to_date("final_at") <= F.lit(sim.end_date)).select(
        *[c for c in ORDER_COLUMNS if c not in ("status", "updated_at")],
        F.col("final_status").alias("status"),
        F.col("final_at").alias("updated_at"),
        F.to_date("final_at").alias("batch_date"),
    )
    clean = placed.select(*ORDER_COLUMNS, "batch_date").unionByName(
        final.select(*ORDER_COLUMNS, "batch_date")
    )
    return clean.unionByName(_junk_copies(sim, clean))


JUNK_KINDS = (
    "negative_amount", "unknown_product", "future_time", "bad_status", "null_key", "zero_qty",
)


def _junk_copies(sim: Simulation, orders: DataFrame) -> DataFrame:
    """Corrupted copies of a few placed lines, one corruption each (quarantine fodder).

    A copy shares its line's key but breaks the contract, so ingest must reject it while the
    genuine line goes through untouched.
    """
    key = (F.col("order_id"), F.col("line_id"))
    kind = pick(JUNK_KINDS, sim.u("junk/kind", *key))
    picked = orders.where(
        (F.col("status") == "placed") & (sim.u("junk/pick", *key) < sim.profile.junk_share)
    ).withColumn("kind", kind)
    future = F.to_timestamp(F.date_add(F.col("batch_date"), 2))
    return picked.select(
        F.when(F.col("kind") == "null_key", F.lit(None)).otherwise(F.col("order_id"))
        .alias("order_id"),
        "line_id",
        F.when(F.col("kind") == "future_time", future).otherwise(F.col("ordered_at"))
        .alias("ordered_at"),
        "merchant_id",
        "buyer_id",
        F.when(F.col("kind") == "unknown_product", F.concat("product_id", F.lit("x")))
        .otherwise(F.col("product_id")).alias("product_id"),
        "creator_id",
        "channel",
        F.when(F.col("kind") == "negative_amount", -F.col("amount")).otherwise(F.col("amount"))
        .alias("amount"),
        F.when(F.col("kind") == "zero_qty", F.lit(0)).otherwise(F.col("quantity"))
        .alias("quantity"),
        F.when(F.col("kind") == "bad_status", F.lit("lost")).otherwise(F.col("status"))
        .alias("status"),
        "promised_delivery_date",
        "delivered_at",
        "delivery_outcome",
        F.when(F.col("kind") == "future_time", future).otherwise(F.col("updated_at"))
        .alias("updated_at"),
        "batch_date",
    )


def _review_rows(sim: Simulation, lines: DataFrame) -> DataFrame:
    reviewed_at = F.col("delivered_at") + F.make_interval(days=F.col("review_days"))
    rating = (
        F.col("rating_mean")
        + 0.8 * F.col("rating_noise")
        - F.when(F.col("delivery_outcome") == "late", 1.2).otherwise(0.0)
        - F.when(F.col("final_status") == "refunded", 1.5).otherwise(0.0)
    )
    return lines.where(
        F.col("delivered_at").isNotNull()
        & (F.col("review_u") < 0.25)
        & (F.to_date(reviewed_at) <= F.lit(sim.end_date))
    ).select(
        F.format_string("r%s-%d", F.col("order_id"), F.col("line_id")).alias("review_id"),
        "order_id",
        "merchant_id",
        "product_id",
        F.least(F.lit(5), F.greatest(F.lit(1), F.round(rating))).cast("int").alias("rating"),
        reviewed_at.alias("reviewed_at"),
        F.to_date(reviewed_at).alias("batch_date"),
    )


def _creator_stats(sim: Simulation, creators: DataFrame) -> DataFrame:
    """Creator activity on active days. Grain: (creator_id, date)."""
    idx = F.col("idx")
    first = F.greatest(F.col("join_day"), F.lit(0))
    span = F.lit(sim.profile.days) - first
    expected = F.col("post_rate") * span
    k = poisson(expected, sim.u("cs/k", idx), sim.z("cs/kz", idx))
    active = creators.where(span > 0).select(
        "*", first.alias("first_day"), span.alias("span"),
        F.explode(F.sequence(F.lit(0), k)).alias("j"),
    ).where(F.col("j") > 0)
    j = F.col("j")
    day = (F.col("first_day") + F.floor(sim.u("cs/day", idx, j) * F.col("span"))).cast("int")
    stats = active.select("*", day.alias("day")).dropDuplicates(["idx", "day"])
    key = (idx, F.col("day"))
    live = sim.u("cs/live", *key) < F.col("live_share")
    posts = F.when(sim.u("cs/posts", *key) < 0.85,
                   1 + F.floor(-F.log(sim.u("cs/np", *key)) * 0.7)).otherwise(0).cast("int")
    live_minutes = F.when(live, 20 + F.floor(sim.u("cs/lm", *key) * 120)).otherwise(0).cast("int")
    followers = F.round(
        F.col("followers0") * F.exp(F.col("growth_rate") * F.col("day") / 365.0)
        * (1 + 0.01 * sim.z("cs/f", *key))
    )
    views = F.round(followers * 0.15 * (posts + live_minutes / 60.0)
                    * F.exp(0.4 * sim.z("cs/v", *key)))
    likes = F.round(views * (0.02 + 0.05 * F.col("potential")) * F.exp(0.2 * sim.z("cs/l", *key)))
    return stats.select(
        _day_date(sim, F.col("day")).alias("date"),
        F.col("entity_id").alias("creator_id"),
        followers.cast("long").alias("followers"),
        posts.alias("posts"),
        views.cast("long").alias("views"),
        likes.cast("long").alias("likes"),
        live_minutes.alias("live_minutes"),
        _day_date(sim, F.col("day")).alias("batch_date"),
    )


def _opt_outs(sim: Simulation, entities: DataFrame, kind: str) -> DataFrame:
    idx = F.col("idx")
    day = F.greatest(F.col("join_day"), F.lit(0)) + F.floor(
        sim.u(f"{kind}/optday", idx) * sim.profile.days
    )
    at = _at(sim, day, sim.u(f"{kind}/optt", idx) * 86400)
    return entities.where(
        (sim.u(f"{kind}/opt", idx) < sim.profile.opt_out_share) & (day < sim.profile.days)
    ).select(
        F.lit(kind).alias("entity_type"),
        "entity_id",
        at.alias("opted_out_at"),
        pick(("too many calls", "not interested", None), sim.u(f"{kind}/optr", idx)).alias("reason"),
        F.to_date(at).alias("batch_date"),
    )


def _account_managers(spark: SparkSession, sim: Simulation) -> DataFrame:
    idx = F.col("idx")
    region = F.element_at(F.array(*[F.lit(r) for r in REGIONS]), (idx % 5 + 1).cast("int"))
    language = F.element_at(
        F.create_map(*[F.lit(x) for kv in REGION_LANGUAGE.items() for x in kv]), region
    )
    categories = F.array_distinct(
        F.array(*[pick(CATEGORIES, sim.u(f"am/cat{i}", idx), CATEGORY_WEIGHTS) for i in range(3)])
    )
    return (
        spark.range(sim.profile.managers)
        .withColumnRenamed("id", "idx")
        .select(
            F.format_string("am%04d", idx).alias("manager_id"),
            F.when(idx % 2 == 0, "merchant_growth").otherwise("creator_growth").alias("team"),
            region.alias("region"),
            F.when(language == "en", "en")
            .otherwise(F.concat(language, F.lit(",en")))
            .alias("languages"),
            F.array_join(categories, ",").alias("categories"),
            (20 + F.floor(sim.u("am/cap", idx) * 40)).cast("int").alias("weekly_capacity"),
            F.lit(sim.start_ts).alias("updated_at"),
            F.lit(sim.start_date).alias("batch_date"),
        )
    )


def generate(
    spark: SparkSession,
    sim: Simulation,
    reuse: Callable[[DataFrame], DataFrame] = lambda frame: frame,
) -> dict[str, DataFrame]:
    """Every raw source of the marketplace, plus ``ground_truth``, as lazy frames.

    Each source frame has the contract columns of its source plus ``batch_date``.
    ``ground_truth`` has one row per entity: entity_type, entity_id, latent_potential,
    base_size, growth_rate, true_outreach_effect, joined_at.
    """
    merchants = _merchant_traits(spark, sim)
    creators = _creator_traits(spark, sim)
    links = _links(sim, creators)
    m_events = _outreach(sim, merchants, "merchant")
    c_events = _outreach(sim, creators, "creator")

    merchants_full = _merchants_full(sim, merchants, links, m_events)
    days = spark.range(sim.profile.days).select(F.col("id").cast("int").alias("day"))
    # Both feed several outputs; ``reuse`` lets the caller cache them (how is its decision).
    merchant_days = reuse(_merchant_days(sim, merchants_full, days))
    lines = reuse(_order_lines(sim, merchant_days))

    clicks = F.round(
        F.col("lam") * 6.5 * F.exp(0.2 * sim.z("md/clicks", F.col("idx"), F.col("day")))
    ).cast("long")
    traffic = (
        merchant_days.select(
            _day_date(sim, F.col("day")).alias("date"),
            F.lit("merchant").alias("entity_type"),
            "entity_id",
            clicks.alias("clicks"),
            "ctr",
        )
        .select(
            "date", "entity_type", "entity_id",
            F.ceil(F.col("clicks") / F.col("ctr")).cast("long").alias("impressions"),
            "clicks",
            F.col("date").alias("batch_date"),
        )
        .where(F.col("impressions") > 0)
    )

    def dimension(frame: DataFrame, id_name: str, name_prefix: str) -> DataFrame:
        return frame.select(
            F.col("entity_id").alias(id_name),
            F.format_string(f"{name_prefix} %s", F.col("entity_id")).alias(f"{name_prefix}_name"),
            "category", "region", "language", "joined_at",
            F.col("joined_at").alias("updated_at"),
            _batch(sim, F.col("joined_at")).alias("batch_date"),
        )

    products = merchants_full.select(
        "entity_id", "category", "price_level", "joined_at",
        F.explode(F.sequence(F.lit(0), F.col("n_products") - 1)).alias("k"),
    ).select(
        F.format_string("%s-p%02d", F.col("entity_id"), F.col("k")).alias("product_id"),
        F.col("entity_id").alias("merchant_id"),
        "category",
        F.round(_product_price(
            sim, F.format_string("%s-p%02d", F.col("entity_id"), F.col("k"))
        ), 2).alias("list_price"),
        F.col("joined_at").alias("created_at"),
        F.col("joined_at").alias("updated_at"),
        _batch(sim, F.col("joined_at")).alias("batch_date"),
    )

    truth = [
        frame.select(
            F.lit(kind).alias("entity_type"),
            "entity_id",
            F.col("potential").alias("latent_potential"),
            F.col("size").alias("base_size"),
            "growth_rate",
            F.col("true_effect").alias("true_outreach_effect"),
            "joined_at",
        )
        for kind, frame in (("merchant", merchants), ("creator", creators))
    ]
    return {
        "merchants": dimension(merchants, "merchant_id", "merchant"),
        "creators": dimension(creators, "creator_id", "creator"),
        "account_managers": _account_managers(spark, sim),
        "products": products,
        "orders": _order_rows(sim, lines),
        "reviews": _review_rows(sim, lines),
        "traffic_daily": traffic,
        "creator_daily_stats": _creator_stats(sim, creators),
        "outreach_events": _outreach_rows(sim, m_events, "merchant").unionByName(
            _outreach_rows(sim, c_events, "creator")
        ),
        "opt_outs": _opt_outs(sim, merchants, "merchant").unionByName(
            _opt_outs(sim, creators, "creator")
        ),
        "ground_truth": truth[0].unionByName(truth[1]),
    }


def expected_daily_value(spark: SparkSession, sim: Simulation) -> DataFrame:
    """What each entity is expected to sell per day, from its latent traits: the simulator's
    noise-free answer to "how much will this entity sell", against which predictions of
    future value and potential can be scored.

    Grain: (entity_type, entity_id, date); columns ``expected_value`` (merchants: expected
    GMV of the order lines placed that day; creators: expected affiliate GMV credited to
    them). Rows exist from the entity's join day (merchants) or its first credited day
    (creators) to the simulation's end. The expectation is over every draw made per order
    and per day (order counts, lines, products, quantities, discounts, attribution, the
    day's demand noise); the entity's traits, links and onboarding are taken as they were
    drawn, since they are the truth being predicted.
    """
    merchants = _merchant_traits(spark, sim)
    creators = _creator_traits(spark, sim)
    links = _links(sim, creators)
    merchants_full = _merchants_full(
        sim, merchants, links, _outreach(sim, merchants, "merchant")
    )
    days = spark.range(sim.profile.days).select(F.col("id").cast("int").alias("day"))
    # Per order: expected lines x (expected quantity) x (expected discount factor); per day
    # the lognormal demand noise's mean. A product's price is fixed, so the merchant's
    # expected price is its products' prices weighted by how often each is picked.
    per_order = (
        (1 + SECOND_LINE + THIRD_LINE)
        * (1 + math.exp(-1 / QUANTITY_SCALE) / (1 - math.exp(-1 / QUANTITY_SCALE)))
        * (1 - MAX_DISCOUNT / 2)
        * math.exp(DEMAND_NOISE**2 / 2)
    )
    k, n = F.col("k"), F.col("n_products")
    pick_share = F.pow((k + 1) / n, 1 / PRODUCT_SKEW) - F.pow(k / n, 1 / PRODUCT_SKEW)
    price = (
        merchants_full.select(
            "idx", "entity_id", "price_level", "n_products",
            F.explode(F.sequence(F.lit(0), n - 1)).alias("k"),
        )
        .groupBy("idx")
        .agg(F.sum(pick_share * _product_price(
            sim, F.format_string("%s-p%02d", F.col("entity_id"), k))).alias("expected_price"))
    )
    day = F.col("day")
    merchant_days = (
        merchants_full.join(price, "idx")
        .crossJoin(days)
        .where(day >= F.col("join_day"))
        .select(
            "idx", "entity_id", "day", "boost",
            (_expected_demand(sim, day) * F.col("expected_price") * per_order)
            .alias("expected_value"),
        )
    )
    # An order line is credited to a creator with probability (boost - 1) / boost, split
    # evenly among the merchant's creators who have started promoting it by that day.
    credited = (
        links.withColumnRenamed("merchant_idx", "idx")
        .join(merchant_days, "idx")
        .where(day >= F.col("start_day"))
        .withColumn("sharing", F.count(F.lit(1)).over(Window.partitionBy("idx", "day")))
        .groupBy("creator_id", "day")
        .agg(F.sum(
            F.col("expected_value") * (F.col("boost") - 1) / F.col("boost") / F.col("sharing")
        ).alias("expected_value"))
    )
    return merchant_days.select(
        F.lit("merchant").alias("entity_type"), "entity_id", "day", "expected_value"
    ).unionByName(credited.select(
        F.lit("creator").alias("entity_type"), F.col("creator_id").alias("entity_id"), "day",
        "expected_value",
    )).select("entity_type", "entity_id", _day_date(sim, day).alias("date"), "expected_value")
