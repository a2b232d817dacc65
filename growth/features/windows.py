"""Point-in-time window features: daily tables -> ``<entity>_features`` snapshots.

Grain: one row per (entity, as_of_date) for every entity that had joined by as_of_date.
Reads the daily table (key, date, measures) and the entity table (key, joined_at); writes
the key, ``as_of_date`` and the registry's features, in registry order.

A snapshot for D reads only daily rows dated in (D - 180, D]: nothing after D can reach it.

Many snapshot dates are computed in one pass. The days the windows need are cut into buckets
at every window edge of every requested date (D, D-7, ..., D-180), each daily row is summed
into its bucket once (stage 1), and each bucket then feeds the snapshots whose lookback
contains it (stage 2), with ``age`` = D - bucket end deciding which windows it belongs to.
Because each window edge is a bucket edge, a bucket lies wholly inside or outside a window,
so the result is exactly the per-date computation. One date costs two small aggregations;
twelve monthly dates cost a single read of the daily rows they span.

Distinct counts (sketch unions) are aggregated apart from the other features, over buckets
cut at the distinct-count windows' edges only (0, 30, 90 days), and joined back; an entity
with sums but no sketch in its distinct-count windows counts 0.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from datetime import date, timedelta
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, IntegerType, StructField, StructType

from growth.features.registry import (
    DAILY_TABLES,
    EDGE_OFFSETS,
    FEATURES,
    DailyTable,
    Feature,
)

AS_OF = "as_of_date"
_DAY_MAP = StructType([StructField("date", DateType()), StructField("bucket_end", DateType())])
_WINDOW_MAP = StructType(
    [
        StructField("bucket_end", DateType()),
        StructField(AS_OF, DateType()),
        StructField("age", IntegerType()),
    ]
)


def bucket_plan(
    as_of_dates: Iterable[date], offsets: Iterable[int] = EDGE_OFFSETS
) -> tuple[list[tuple[date, date]], list[tuple[date, date, int]]]:
    """The day -> bucket map and the bucket -> (as_of_date, age) map for these dates.

    ``offsets`` are the window edges in days before each date (0 included); the largest is
    the lookback. Days not in any window of any requested date (after the last date, or on
    or before the first date's lookback start) are absent from the day map, so they are
    never read.
    """
    dates = sorted(set(as_of_dates))
    offsets = sorted({0, *offsets})
    lookback = offsets[-1]
    if not dates or lookback < 1:
        return [], []
    edges = sorted({d - timedelta(days=o) for d in dates for o in offsets})
    day_map: list[tuple[date, date]] = []
    day = edges[0] + timedelta(days=1)
    for end in edges[1:]:
        while day <= end:
            day_map.append((day, end))
            day += timedelta(days=1)
    window_map = [
        (end, d, (d - end).days)
        for d in dates
        for end in edges[1:]
        if 0 <= (d - end).days < lookback
    ]
    return day_map, window_map


def _bucket_aggregates(table: DailyTable) -> list[Column]:
    """Stage 1 of every measure but the sketches."""
    aggs: list[Column] = [F.sum(m).alias(m) for m in table.of_kind("sum")]
    for m in table.of_kind("level"):
        known = F.when(F.col(m).isNotNull(), F.col("date"))
        aggs += [F.max_by(m, known).alias(m), F.max(known).alias(f"{m}_day")]
    for a in table.activities:
        active = F.expr(a.condition)
        aggs += [
            F.sum(F.when(active, 1).otherwise(0)).alias(f"{a.name}_days"),
            F.max(F.when(active, F.col("date"))).alias(f"{a.name}_last"),
        ]
    return aggs


def _two_stages(
    daily: DataFrame,
    key: str,
    dates: list[date],
    offsets: Iterable[int],
    stage1: list[Column],
    features: list[Feature],
) -> DataFrame:
    """Stage 1 sums ``daily`` into the buckets cut at ``offsets`` before each of ``dates``;
    stage 2 computes ``features`` per (key, as_of_date) from the buckets in its windows."""
    spark = daily.sparkSession
    day_map, window_map = bucket_plan(dates, offsets)
    days = spark.createDataFrame(day_map, _DAY_MAP)
    windows = spark.createDataFrame(window_map, _WINDOW_MAP)
    buckets = daily.join(F.broadcast(days), "date").groupBy(key, "bucket_end").agg(*stage1)
    return (
        buckets.join(F.broadcast(windows), "bucket_end")
        .groupBy(key, AS_OF)
        .agg(*[f.expr().alias(f.name) for f in features])
    )


def snapshot_features(
    daily: DataFrame, entities: DataFrame, entity: str, as_of_dates: Iterable[date]
) -> DataFrame:
    """Feature snapshots of ``entity`` for every date in ``as_of_dates``, in one pass.

    ``daily`` is the entity's daily table, ``entities`` its silver entity table (key,
    joined_at). An entity with no daily row in a lookback gets each feature's fill value.
    """
    table = DAILY_TABLES[entity]
    features = FEATURES[entity]
    dates = sorted(set(as_of_dates))
    spark = daily.sparkSession
    snapshot_days = spark.createDataFrame([(d,) for d in dates], f"{AS_OF} date")

    # Sketch unions are object aggregates, which Spark neither compiles nor keeps hashed past
    # a few keys; aggregated beside the sums they would slow every column down. So the
    # sums run as one compiled aggregation, and the distinct counts apart, over the rows
    # with a sketch inside the longest distinct-count window only, bucketed at the
    # distinct-count windows' own edges: for monthly cutoffs those edges coincide, so each
    # sketch bucket feeds a few snapshots instead of every snapshot's weekly buckets.
    plain = [f for f in features if not f.per_entity and f.sketch is None]
    counted = [f for f in features if f.sketch is not None]
    windowed = _two_stages(daily, table.key, dates, EDGE_OFFSETS,
                           _bucket_aggregates(table), plain)
    if counted:
        sketches = sorted({f.sketch for f in counted})
        reach = max(f.window for f in counted)
        has_sketch = reduce(operator.or_, [F.col(s).isNotNull() for s in sketches])
        recent = (
            daily.where((F.col("date") > F.lit(dates[0] - timedelta(days=reach))) & has_sketch)
            if dates else daily.limit(0)
        )
        distinct = _two_stages(
            recent, table.key, dates, {f.window for f in counted},
            [F.hll_union_agg(s, True).alias(s) for s in sketches], counted,
        )
        windowed = windowed.join(distinct, [table.key, AS_OF], "left")
    windowed = windowed.withColumn("__active", F.lit(True))
    base = (
        entities.select(table.key, "joined_at")
        .crossJoin(F.broadcast(snapshot_days))
        .where(F.to_date("joined_at") <= F.col(AS_OF))
    )
    joined = base.join(windowed, [table.key, AS_OF], "left")
    columns = []
    for f in features:
        if f.per_entity:
            columns.append(f.expr().alias(f.name))
        elif f.fill is None:
            columns.append(F.col(f.name))
        else:
            filled = F.coalesce(F.col(f.name), F.lit(f.fill)) if f.sketch else F.col(f.name)
            columns.append(
                F.when(F.col("__active"), filled).otherwise(F.lit(f.fill)).alias(f.name)
            )
    return joined.select(table.key, AS_OF, *columns)
