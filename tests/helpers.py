"""Test helpers: land literal raw batches the way a marketplace would."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from growth.features.contracts import CONTRACTS


def land(spark: SparkSession, raw_root, source: str, batch: date, rows: list[dict],
         extra: tuple[str, ...] = (), drop: tuple[str, ...] = ()) -> DataFrame:
    """Write ``rows`` (dicts of strings) as one Parquet batch of ``source``; return the frame."""
    cols = [c for c in (*CONTRACTS[source].column_names, *extra) if c not in drop]
    ddl = ", ".join(f"`{c}` string" for c in cols)
    df = spark.createDataFrame([tuple(r.get(c) for c in cols) for r in rows], ddl)
    df.coalesce(1).write.mode("overwrite").parquet(f"{raw_root}/{source}/batch_date={batch}")
    return df


PARENT_MERCHANT = dict(merchant_id="m1", merchant_name="M", category="toys", region="north",
                       language="en", joined_at="2026-01-01 00:00:00",
                       updated_at="2026-01-01 00:00:00")


def land_parents(spark: SparkSession, lake, batch: date) -> None:
    """Land and ingest one merchant m1, creator c1 and product p1: the parents of an order."""
    from growth.jobs import ingest

    land(spark, lake.raw_root, "merchants", batch, [PARENT_MERCHANT])
    land(spark, lake.raw_root, "creators", batch, [dict(
        creator_id="c1", creator_name="C", category="toys", region="north", language="en",
        joined_at="2026-01-01 00:00:00", updated_at="2026-01-01 00:00:00")])
    land(spark, lake.raw_root, "products", batch, [dict(
        product_id="p1", merchant_id="m1", category="toys", list_price="10.5",
        created_at="2026-01-01 00:00:00", updated_at="2026-01-01 00:00:00")])
    for source in ("merchants", "creators", "products"):
        ingest.run(spark, lake, batch, source)


def fresh_lake(spark: SparkSession, cfg, database: str, root: Path):
    """``cfg`` pointed at an empty database ``database`` (dropped first) and lake ``root``,
    on the shared session."""
    spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")
    spark.sql(f"CREATE DATABASE {database}")
    return dataclasses.replace(cfg, database=database, lake_root=root)
