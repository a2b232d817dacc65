"""Published inputs a downstream job reads, with the error that names the command to run
first when one is missing (the day's tiers, a silver table)."""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from growth.errors import GrowthError
from growth.features.windows import AS_OF
from growth.jobs import delta_io
from growth.jobs.config import Config
from growth.layout import silver_table


class TiersMissingError(GrowthError, RuntimeError):
    """An input a job reads (the day's tiers, a silver table) is not published."""


def tiers_table(entity: str) -> str:
    """Unqualified name of an entity's tiers table (``merchant_tiers``)."""
    return f"{entity}_tiers"


def day_tiers(spark: SparkSession, cfg: Config, entity: str, as_of: date) -> DataFrame:
    """The published ``<entity>_tiers`` rows of ``as_of`` (every column)."""
    name = cfg.table(tiers_table(entity))
    hint = (f"run 'growth score --entity {entity} --as-of {as_of}' first (the daily DAG "
            "runs it before this job)")
    if not delta_io.table_exists(spark, name):
        raise TiersMissingError(f"{name} does not exist: {hint}")
    tiers = spark.table(name).where(F.col(AS_OF) == F.lit(as_of))
    if tiers.limit(1).count() == 0:
        raise TiersMissingError(f"{name} has no tiers for {as_of}: {hint}")
    return tiers


def silver(spark: SparkSession, cfg: Config, source: str, as_of: date) -> DataFrame:
    """The silver table of ``source``, or the error that says to ingest it."""
    name = cfg.table(silver_table(source))
    if not delta_io.table_exists(spark, name):
        raise TiersMissingError(f"{name} does not exist: ingest it first (growth ingest "
                                f"--source {source} --as-of {as_of})")
    return spark.table(name)
