"""Traits: what is known of an entity without any history of its own, for look-alike models.

Grain: one row per (entity, as_of_date) for every entity that had joined by the end of
as_of_date, for one or many dates. Reads the silver entity table (key, category, region, language, joined_at) and,
for merchants, silver products (merchant_id, list_price, created_at). Writes ``TRAITS``'
columns: the key, ``as_of_date``, the categorical traits and the numeric ones.

A merchant's catalogue counts only the products listed by the end of as_of_date, so a trait
never sees the future either. A merchant without a listed product has 0 products and null
prices. Creators have no catalogue: their traits are their category, region and language.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from growth.features.registry import DAILY_TABLES
from growth.features.windows import AS_OF


@dataclass(frozen=True)
class Traits:
    """The trait columns of one entity: categorical (one-hot encoded by the model) and
    numeric, with the unit each numeric trait is read in."""

    categorical: tuple[str, ...]
    numeric: dict[str, str]


TRAITS = {
    "merchant": Traits(
        categorical=("category", "region", "language"),
        numeric={"products_listed": "products", "list_price_median": "currency",
                 "list_price_max": "currency"},
    ),
    "creator": Traits(categorical=("category", "region", "language"), numeric={}),
}


def entity_traits(
    entity: str, entities: DataFrame, as_of_dates: Iterable[date],
    products: DataFrame | None = None,
) -> DataFrame:
    """The traits of every ``entity`` joined by the end of each of ``as_of_dates`` (see the
    module), all dates in one pass over the entity and product tables."""
    key = DAILY_TABLES[entity].key
    traits = TRAITS[entity]
    dates = sorted(set(as_of_dates))
    days = entities.sparkSession.createDataFrame([(d,) for d in dates], f"{AS_OF} date")
    end_of_day = F.date_add(F.col(AS_OF), 1).cast("timestamp")
    joined = (entities.crossJoin(F.broadcast(days))
              .where(F.col("joined_at") < end_of_day)
              .select(key, AS_OF, *traits.categorical))
    if entity != "merchant":
        return joined
    if products is None:
        raise ValueError("merchant traits need the products table")
    catalogue = (
        products.crossJoin(F.broadcast(days))
        .where(F.col("created_at") < end_of_day)
        .groupBy("merchant_id", AS_OF)
        .agg(
            F.count(F.lit(1)).alias("products_listed"),
            F.median("list_price").alias("list_price_median"),
            F.max("list_price").alias("list_price_max"),
        )
    )
    return (
        joined.join(catalogue, [key, AS_OF], "left")
        .select(
            key, AS_OF, *traits.categorical,
            F.coalesce("products_listed", F.lit(0)).cast("bigint").alias("products_listed"),
            F.col("list_price_median").cast("double").alias("list_price_median"),
            F.col("list_price_max").cast("double").alias("list_price_max"),
        )
    )
