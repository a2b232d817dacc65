"""Reading the raw landing zone: ``<lake>/raw/<source>/batch_date=YYYY-MM-DD/``."""

from __future__ import annotations

from datetime import date

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from growth.errors import GrowthError
from growth.features.ingest_rules import BATCH_DATE
from growth.jobs.config import Config


class RawDataMissingError(GrowthError, FileNotFoundError):
    """No landing folder for a source: nothing has ever been delivered for it."""


def path_exists(spark: SparkSession, path: str) -> bool:
    """Existence check through Hadoop's file system, so HDFS/S3 lake roots work too."""
    jvm = spark._jvm  # noqa: SLF001
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    fs = hadoop_path.getFileSystem(spark._jsc.hadoopConfiguration())  # noqa: SLF001
    return bool(fs.exists(hadoop_path))


def raw_source_path(cfg: Config, source: str) -> str:
    return str(cfg.raw_root / source)


def read_batches(
    spark: SparkSession,
    cfg: Config,
    source: str,
    batch_from: date | None,
    batch_to: date,
    columns: tuple[str, ...],
) -> DataFrame:
    """Raw rows of ``source`` landed in batches ``batch_from..batch_to`` (inclusive).

    Grain: one row per raw row. Adds ``_batch_date`` from the folder name. All columns are
    read as delivered (CSV as strings); typing happens in the contract check.
    """
    path = raw_source_path(cfg, source)
    if not path_exists(spark, path):
        raise RawDataMissingError(
            f"no raw data for source '{source}': {path} does not exist. Land batches there as "
            f"{path}/batch_date=YYYY-MM-DD/*.{cfg.raw_format}, or generate a marketplace with "
            "'growth simulate --profile demo'."
        )
    reader = spark.read.format(cfg.raw_format)
    if cfg.raw_format == "csv":
        reader = reader.option("header", "true").option("inferSchema", "false")
    else:
        # Batches may differ in columns (a feed that dropped one): the union of their
        # schemas keeps a missing column visible as nulls in the batches that lack it,
        # rather than whichever file's schema Spark happened to read.
        reader = reader.option("mergeSchema", "true")
    try:
        df = reader.option("basePath", path).load(path)
    except AnalysisException as exc:
        if exc.getCondition() != "UNABLE_TO_INFER_SCHEMA":
            raise
        ddl = ", ".join(f"`{c}` string" for c in (*columns, "batch_date"))
        df = spark.createDataFrame([], ddl)
    df = df.withColumnRenamed("batch_date", BATCH_DATE)
    df = df.withColumn(BATCH_DATE, F.col(BATCH_DATE).cast("date"))
    window = F.col(BATCH_DATE) <= F.lit(batch_to)
    if batch_from is not None:
        window &= F.col(BATCH_DATE) >= F.lit(batch_from)
    return df.where(window)
