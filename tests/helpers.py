"""Test helpers: land literal raw batches the way a marketplace would."""

from __future__ import annotations

from datetime import date

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
