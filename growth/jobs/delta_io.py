"""Delta read/merge/replaceWhere/append helpers: the only place tables are written."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date

from delta.tables import DeltaTable
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType


def table_exists(spark: SparkSession, name: str) -> bool:
    return spark.catalog.tableExists(name)


CHANGE_FEED = {"delta.enableChangeDataFeed": "true"}
"""Table properties of tables whose changes downstream jobs read incrementally."""


def ensure_table(
    spark: SparkSession,
    name: str,
    schema: StructType,
    partition_by: Sequence[str] = (),
    properties: Mapping[str, str] | None = None,
) -> None:
    """Create an empty Delta table with this schema unless it exists already."""
    builder = DeltaTable.createIfNotExists(spark).tableName(name).addColumns(schema)
    if partition_by:
        builder = builder.partitionedBy(*partition_by)
    for key, value in (properties or {}).items():
        builder = builder.property(key, value)
    builder.execute()


def enable_change_feed(spark: SparkSession, name: str) -> bool:
    """Turn on Delta's change data feed; return False when it was already on."""
    props = DeltaTable.forName(spark, name).detail().select("properties").first()[0] or {}
    if props.get("delta.enableChangeDataFeed") == "true":
        return False
    spark.sql(f"ALTER TABLE {name} SET TBLPROPERTIES (delta.enableChangeDataFeed = true)")
    return True


def changes(spark: SparkSession, name: str, after_version: int, to_version: int) -> DataFrame:
    """Rows changed by the commits after ``after_version`` up to ``to_version``, from the
    change data feed: the table's columns plus ``_change_type`` (insert, delete,
    update_preimage, update_postimage). Raises when the feed does not cover the range."""
    return (
        spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", after_version + 1)
        .option("endingVersion", to_version)
        .table(name)
    )


def current_version(spark: SparkSession, name: str) -> int | None:
    """The table's latest Delta version, or None when the table does not exist."""
    if not table_exists(spark, name):
        return None
    return DeltaTable.forName(spark, name).history(1).select("version").first()[0]


def merge_latest(
    spark: SparkSession,
    df: DataFrame,
    name: str,
    keys: Sequence[str],
    update_when: str,
    partition_by: Sequence[str] = (),
    properties: Mapping[str, str] | None = None,
) -> dict[str, int]:
    """Upsert ``df`` into ``name`` on ``keys``; update a match only when ``update_when`` holds.

    ``update_when`` refers to the incoming row as ``s`` and the stored one as ``t``. Returns
    the rows inserted and updated by this merge (zero when it committed nothing).
    """
    ensure_table(spark, name, df.schema, partition_by, properties)
    on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
    counts = (
        DeltaTable.forName(spark, name)
        .alias("t")
        .merge(df.alias("s"), on)
        .whenMatchedUpdateAll(condition=update_when)
        .whenNotMatchedInsertAll()
        .execute()
        .first()
    )
    # The merge returns its own counts (one row, computed with the commit): reading them
    # from the table's newest history entry instead cost three history reads per merge and
    # could report another writer's commit made just after this one.
    return {"inserted": int(counts["num_inserted_rows"]),
            "updated": int(counts["num_updated_rows"])}


def replace_where(
    spark: SparkSession,
    df: DataFrame,
    name: str,
    predicate: str,
    partition_by: Sequence[str] = (),
) -> None:
    """Atomically replace the rows matching ``predicate`` with ``df`` (idempotent reruns)."""
    ensure_table(spark, name, df.schema, partition_by)
    # The V2 writer's conditional overwrite is Delta's replaceWhere without touching the
    # Hive schema entry (saveAsTable tries, and fails noisily, to re-register it).
    df.writeTo(name).overwrite(F.expr(predicate))


def replace_dates(
    spark: SparkSession,
    df: DataFrame,
    name: str,
    column: str,
    dates: Sequence[date] | None,
    audit: Callable[[DataFrame, int], None] | None = None,
    also: str | None = None,
) -> int:
    """Replace the ``dates`` partitions of a table partitioned by ``column`` (None: all of
    it) with ``df``, written one file per date; return the rows written.

    Write, audit, publish: the candidate is materialised once (cached), ``audit(candidate,
    rows)`` may inspect it and raise, and only then does one Delta commit replace the
    partitions; an audit that raises leaves the table at its previous version. ``also``
    narrows the replaced rows further (a SQL predicate, e.g. one entity type's rows)."""
    df = df.repartition(column).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        rows = df.count()
        if audit is not None:
            audit(df, rows)
        if dates is None:
            predicate = "true"
        else:
            predicate = f"`{column}` IN (" + ", ".join(f"DATE'{d}'" for d in dates) + ")"
        if also:
            predicate = f"({predicate}) AND ({also})"
        replace_where(spark, df, name, predicate, partition_by=(column,))
        return rows
    finally:
        df.unpersist()


LOG_PROPERTIES = {"delta.autoOptimize.autoCompact": "true"}
"""Table properties of append-only logs. Every run appends a file or two; without
compaction a year of daily runs leaves thousands of tiny files, and every job that reads
the log (the previous volume, the last run's versions) pays for listing and opening them."""

_PROPERTIES_SET: set[tuple[str, str]] = set()


def ensure_properties(spark: SparkSession, name: str, properties: Mapping[str, str]) -> None:
    """Set ``properties`` on an existing table where they differ (once per process and
    table: logs created by an older release get them on their next append)."""
    if (name, repr(sorted(properties.items()))) in _PROPERTIES_SET:
        return
    current = DeltaTable.forName(spark, name).detail().select("properties").first()[0] or {}
    changed = {k: v for k, v in properties.items() if current.get(k) != v}
    if changed:
        assignments = ", ".join(f"'{k}' = '{v}'" for k, v in sorted(changed.items()))
        spark.sql(f"ALTER TABLE {name} SET TBLPROPERTIES ({assignments})")
    _PROPERTIES_SET.add((name, repr(sorted(properties.items()))))


def append(spark: SparkSession, df: DataFrame, name: str) -> None:
    """Append rows (for logs, where every run adds its own record); the table compacts its
    small files itself (``LOG_PROPERTIES``).

    New columns of ``df`` are added to the table, so a log written by an older release
    keeps working after the log gains a column."""
    ensure_table(spark, name, df.schema, properties=LOG_PROPERTIES)
    ensure_properties(spark, name, LOG_PROPERTIES)
    df.writeTo(name).option("mergeSchema", "true").append()


def overwrite(spark: SparkSession, df: DataFrame, name: str) -> None:
    """Replace a whole table (for tables regenerated in full, like simulator ground truth)."""
    # CREATE OR REPLACE keeps the table's history (each rebuild is a new Delta version). It
    # syncs the new columns to the Hive metastore, which session.spark_conf lets Hive accept.
    df.writeTo(name).using("delta").createOrReplace()
