"""Typed literal frames for transform tests: silver sources and daily tables from dicts."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from growth.features.contracts import CONTRACTS
from growth.features.registry import DAILY_TABLES


def silver(spark: SparkSession, source: str, rows: list[dict]) -> DataFrame:
    """A silver frame of ``source``: contract columns, typed; absent keys are null."""
    contract = CONTRACTS[source]
    return spark.createDataFrame(
        [tuple(r.get(c) for c in contract.column_names) for r in rows], contract.ddl
    )


def daily(spark: SparkSession, entity: str, rows: list[dict]) -> DataFrame:
    """A daily-table frame. Sums default to 0, levels to null; a sketch column is given as
    the list of its members (default: none) and built with ``hll_sketch_agg``."""
    table = DAILY_TABLES[entity]
    types = {"sum": "double", "level": "bigint", "sketch": "array<string>"}
    defaults = {"sum": 0.0, "level": None, "sketch": []}
    ddl = ", ".join(
        [f"`{table.key}` string", "`date` date"]
        + [f"`{m.name}` {types[m.kind]}" for m in table.measures]
    )
    data = [
        (r[table.key], r["date"], *[r.get(m.name, defaults[m.kind]) for m in table.measures])
        for r in rows
    ]
    df = spark.createDataFrame(data, ddl)
    for s in table.of_kind("sketch"):
        sketch = (
            df.select(table.key, "date", F.explode_outer(s).alias("__member"))
            .groupBy(table.key, "date")
            .agg(F.hll_sketch_agg("__member", 12).alias(s))
        )
        df = df.drop(s).join(sketch, [table.key, "date"])
    return df.select(table.key, "date", *table.measure_names)


def entities(spark: SparkSession, entity: str, joined: dict[str, str]) -> DataFrame:
    """An entity table: key -> joined_at (ISO timestamp)."""
    key = DAILY_TABLES[entity].key
    return spark.createDataFrame(list(joined.items()), f"{key} string, joined_at string").select(
        key, F.to_timestamp("joined_at").alias("joined_at")
    )
