"""Labels: what happened after each cutoff, and training sets that pair them with snapshots.

Grain: one row per (entity, as_of_date) for every entity that had joined by the cutoff.
Outcomes read only daily rows dated in (as_of_date, as_of_date + horizon], the mirror image
of the snapshot's window, so that a feature and a label never share a day. The caller passes
only cutoffs whose horizon has fully passed (``complete_cutoffs``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from growth.features.registry import DAILY_TABLES, label_columns
from growth.features.windows import AS_OF

# The value an entity is ranked and tiered by, its order count and its kind of active day.
VALUE = {"merchant": "gmv", "creator": "affiliate_gmv"}
ORDERS = {"merchant": "orders", "creator": "affiliate_orders"}
ACTIVE = {"merchant": "order_lines > 0", "creator": "affiliate_lines > 0"}


def complete_cutoffs(cutoffs: Iterable[date], horizon_days: int, data_end: date) -> list[date]:
    """The cutoffs whose whole horizon lies on or before ``data_end``."""
    return sorted(d for d in set(cutoffs) if d + timedelta(days=horizon_days) <= data_end)


def entity_labels(
    daily: DataFrame,
    entities: DataFrame,
    outreach: DataFrame,
    entity: str,
    cutoffs: Iterable[date],
    horizon_days: int,
    growth_multiple: float,
    growth_min_value: float,
    top_share: float,
) -> DataFrame:
    """Outcome columns (``label_columns(entity)``) per entity and cutoff.

    Reads the daily table (key, date, value, orders, activity measures), the entity table
    (key, joined_at) and silver outreach_events (entity_type, entity_id, arm, onboarded,
    onboarded_at).
    """
    if horizon_days < 1:
        raise ValueError(f"the label horizon must be at least 1 day, got {horizon_days}")
    if not 0 < top_share < 1:
        raise ValueError(f"the top-tier share must be between 0 and 1, got {top_share}")
    table = DAILY_TABLES[entity]
    key, value = table.key, VALUE[entity]
    dates = sorted(set(cutoffs))
    spark = daily.sparkSession
    # day -> (cutoff, side): past days (D - H, D], future days (D, D + H].
    calendar = spark.createDataFrame(
        [
            (d + timedelta(days=offset), d, offset > 0)
            for d in dates
            for offset in range(1 - horizon_days, horizon_days + 1)
        ],
        f"date date, {AS_OF} date, future boolean",
    )
    future = F.col("future")
    outcomes = (
        daily.join(F.broadcast(calendar), "date")
        .groupBy(key, AS_OF)
        .agg(
            F.sum(F.when(~future, F.col(value))).alias("past_value"),
            F.sum(F.when(future, F.col(value))).alias("future_value"),
            F.sum(F.when(future, F.col(ORDERS[entity]))).cast("bigint").alias("future_orders"),
            F.sum(F.when(future & F.expr(ACTIVE[entity]), 1)).cast("int")
            .alias("future_active_days"),
        )
    )
    cutoff_days = spark.createDataFrame([(d,) for d in dates], f"{AS_OF} date")
    onboarded = (
        outreach.where(
            (F.col("entity_type") == entity) & (F.col("arm") == "contacted") & F.col("onboarded")
        )
        .crossJoin(F.broadcast(cutoff_days))
        .where(
            (F.col("onboarded_at") >= F.to_timestamp(F.date_add(F.col(AS_OF), 1)))
            & (F.col("onboarded_at")
               < F.to_timestamp(F.date_add(F.col(AS_OF), horizon_days + 1)))
        )
        .select(F.col("entity_id").alias(key), AS_OF, F.lit(True).alias("__onboarded"))
        .distinct()
    )
    base = (
        entities.select(key, "joined_at")
        .crossJoin(F.broadcast(cutoff_days))
        .where(F.to_date("joined_at") <= F.col(AS_OF))
    )
    filled = (
        base.join(outcomes, [key, AS_OF], "left")
        .join(onboarded, [key, AS_OF], "left")
        .select(
            key,
            AS_OF,
            F.lit(horizon_days).alias("horizon_days"),
            F.coalesce("past_value", F.lit(0.0)).alias("past_value"),
            F.coalesce("future_value", F.lit(0.0)).alias("future_value"),
            F.coalesce("future_orders", F.lit(0)).cast("bigint").alias("future_orders"),
            F.coalesce("future_active_days", F.lit(0)).alias("future_active_days"),
            F.coalesce("__onboarded", F.lit(False)).alias("onboarded_after_outreach"),
        )
    )
    rank = F.percent_rank().over(Window.partitionBy(AS_OF).orderBy("future_value"))
    return (
        filled.withColumn("future_value_rank", rank)
        .withColumn(
            "grew",
            (F.col("future_value") >= F.col("past_value") * growth_multiple)
            & (F.col("future_value") >= growth_min_value),
        )
        .withColumn(
            "reached_top_tier",
            (F.col("future_value") > 0) & (F.col("future_value_rank") >= 1 - top_share),
        )
        .select(key, AS_OF, *[c.name for c in label_columns(entity)])
    )


def training_set(features: DataFrame, labels: DataFrame, key: str) -> DataFrame:
    """Snapshots paired with their outcomes: one row per (entity, cutoff) present in both."""
    return features.join(labels, [key, AS_OF], "inner")
