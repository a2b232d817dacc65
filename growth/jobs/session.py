"""The one SparkSession factory: Delta, an embedded metastore under the lake, UTC, AQE."""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark.errors import PySparkRuntimeError
from pyspark.sql import SparkSession

from growth.errors import GrowthError
from growth.jobs.config import Config


class SparkStartError(GrowthError, RuntimeError):
    """Spark could not start, almost always because the Delta jars could not be obtained."""


def spark_conf(cfg: Config) -> dict[str, str]:
    """Every Spark setting the platform relies on, for the session and for spark-submit."""
    lake = cfg.lake_root
    conf = {
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(cfg.warehouse_dir),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={cfg.metastore_dir};create=true"
        ),
        # Derby writes derby.log into the working directory unless told otherwise.
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={lake}",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        "spark.sql.shuffle.partitions": str(cfg.shuffle_partitions),
        "spark.driver.memory": cfg.driver_memory,
        "spark.ui.showConsoleProgress": "false",
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        # A Delta table sits in the Hive metastore with placeholder columns; replacing it
        # (CREATE OR REPLACE: training sets, ground truth) makes Delta sync the real columns,
        # which Hive's type-change check refuses with an ERROR and a Java stack trace in
        # every such run's log (harmless: Spark then keeps the schema in table properties).
        # The check guards Hive-format partitions, which this platform does not have.
        "spark.hadoop.hive.metastore.disallow.incompatible.col.type.changes": "false",
        # Delta rebuilds a table's state with 50 tasks by default; on this platform's table
        # sizes that is mostly scheduling overhead, so follow the shuffle setting instead.
        "spark.databricks.delta.snapshotPartitions": str(cfg.shuffle_partitions),
        # Logs with auto-compaction (delta_io.LOG_PROPERTIES) compact once they hold this
        # many small files: Delta's default of 50 leaves every reader opening 50 files.
        "spark.databricks.delta.autoCompact.minNumFiles": "10",
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
    }
    if cfg.spark_jars:
        conf["spark.jars"] = cfg.spark_jars
    else:
        conf["spark.jars.packages"] = cfg.delta_packages
    return conf


def _delta_loaded(spark: SparkSession) -> bool:
    # Spark's own lookup uses the class loader that holds --packages jars; a plain
    # Class.forName from py4j would only see the JVM's boot class path.
    utils = spark._jvm.org.apache.spark.util.Utils  # noqa: SLF001
    return bool(utils.classIsLoadable("io.delta.sql.DeltaSparkSessionExtension"))


def _how_to_fix(cfg: Config) -> str:
    wanted = cfg.spark_jars or cfg.delta_packages
    group, artifact, version = cfg.delta_packages.split(":")
    return (
        f"Spark could not load the Delta Lake jars ({wanted}).\n"
        "Spark resolves them from Maven Central on first use and caches them in ~/.ivy2.5.2;\n"
        "it also looks in the local Maven repository (~/.m2). To fix, either:\n"
        "  - allow access to https://repo1.maven.org once and rerun, or\n"
        f"  - fetch them with Maven: mvn dependency:get -Dartifact={group}:{artifact}:{version}\n"
        f"    (and io.delta:delta-storage:{version}), or\n"
        "  - point GROWTH_SPARK_JARS at local copies: "
        "GROWTH_SPARK_JARS=/path/delta-spark.jar,/path/delta-storage.jar\n"
        "The lines printed by Spark above name the artifact that could not be resolved."
    )


# Spark's package resolver (Ivy) is not safe across processes: two sessions starting at
# once on a fresh machine (two pytest workers, two jobs) download into the same cache and
# each can find the other's half-written jar, failing with "download failed".
RESOLVE_LOCK = Path.home() / ".ivy2.5.2" / ".growth-resolve.lock"


@contextmanager
def _one_start_at_a_time() -> Iterator[None]:
    try:
        RESOLVE_LOCK.parent.mkdir(parents=True, exist_ok=True)
        handle = RESOLVE_LOCK.open("a")
    except OSError:
        # A read-only home (some cluster users): start unserialised, as Spark itself would.
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def get_spark(cfg: Config, app_name: str = "growth") -> SparkSession:
    """Return the session for this process, creating it (and the ``growth`` database) once.

    Under spark-submit the master and jars come from the submit command; the settings
    here are then only defaults and ``spark.master`` is left as submitted.
    """
    builder = SparkSession.builder.appName(app_name)
    for key, value in spark_conf(cfg).items():
        builder = builder.config(key, value)
    # spark-submit starts the JVM first and hands its port to the Python driver.
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        builder = builder.master(cfg.master)
    try:
        with _one_start_at_a_time():
            spark = builder.enableHiveSupport().getOrCreate()
    except PySparkRuntimeError as exc:
        raise SparkStartError(_how_to_fix(cfg)) from exc
    if not _delta_loaded(spark):
        raise SparkStartError(_how_to_fix(cfg))
    spark.sparkContext.setLogLevel("WARN")
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {cfg.database}")
    return spark

