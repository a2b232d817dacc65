"""The ``run_log`` table: one row per job run, with its reconciliation and what it wrote."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

from pyspark.sql import Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from growth.jobs import delta_io
from growth.jobs.config import Config
from growth.layout import DQ_RESULTS_TABLE, RUN_LOG_TABLE

RUN_LOG_SCHEMA = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("job", StringType(), False),
        StructField("target_table", StringType(), False),
        StructField("as_of", DateType(), False),
        StructField("batch_from", DateType(), True),
        StructField("batch_to", DateType(), True),
        StructField("rows_in", LongType(), True),
        StructField("rows_accepted", LongType(), True),
        StructField("rows_quarantined", LongType(), True),
        StructField("rows_duplicate", LongType(), True),
        StructField("rows_inserted", LongType(), True),
        StructField("rows_updated", LongType(), True),
        StructField("rows_unchanged", LongType(), True),
        StructField("table_version", LongType(), True),
        StructField("status", StringType(), False),
        StructField("message", StringType(), True),
        StructField("started_at", TimestampType(), False),
        StructField("finished_at", TimestampType(), False),
        StructField("duration_s", DoubleType(), False),
        # JSON {table: Delta version} of the inputs a run read: where the next run resumes.
        StructField("versions_read", StringType(), True),
        # Seconds spent in data-quality gates: the validation overhead of the run.
        StructField("dq_seconds", DoubleType(), True),
        # JSON {table: Delta version} of every table the run published (table_version is the
        # target's alone): a job publishing both entities' tables names each, so that
        # freshness covers every published table. Last, as Delta adds it to older logs.
        StructField("versions_written", StringType(), True),
    ]
)


DQ_RESULTS_SCHEMA = StructType([
    StructField("run_id", StringType(), False),
    StructField("job", StringType(), False),
    StructField("table_name", StringType(), False),
    StructField("as_of", DateType(), False),
    StructField("suite", StringType(), False),
    StructField("expectation", StringType(), False),
    StructField("description", StringType(), False),
    StructField("column_name", StringType(), True),
    StructField("severity", StringType(), False),
    StructField("success", BooleanType(), False),
    StructField("observed_value", StringType(), True),
    StructField("rows_validated", LongType(), True),
    StructField("validated_at", TimestampType(), False),
])
"""``dq_results``: one row per expectation per validation; severity error (blocks) or warn."""


def new_run_id(job: str) -> str:
    """The Airflow run id when Airflow launched us (so logs join up), else a fresh one."""
    airflow_run = os.environ.get("AIRFLOW_CTX_DAG_RUN_ID")
    suffix = uuid.uuid4().hex[:8]
    return f"{airflow_run}:{job}:{suffix}" if airflow_run else f"{job}:{suffix}"


@dataclasses.dataclass
class RunRecord:
    """What one run did. Fill the counts as they become known, then ``write``."""

    job: str
    target_table: str
    as_of: date
    run_id: str = ""
    batch_from: date | None = None
    batch_to: date | None = None
    rows_in: int | None = None
    rows_accepted: int | None = None
    rows_quarantined: int | None = None
    rows_duplicate: int | None = None
    rows_inserted: int | None = None
    rows_updated: int | None = None
    rows_unchanged: int | None = None
    table_version: int | None = None
    versions_read: str | None = None
    dq_seconds: float | None = None
    versions_written: dict[str, int | None] = dataclasses.field(default_factory=dict)
    # dq_results rows of this run's gates (DQ_RESULTS_SCHEMA without the run's own columns),
    # written with the run log in one commit per run whatever the outcome.
    checks: list[tuple] = dataclasses.field(default_factory=list)
    status: str = "running"
    message: str | None = None
    # Wall-clock times describe the run itself, never the data it computes.
    started_at: datetime = dataclasses.field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if not self.run_id:
            self.run_id = new_run_id(self.job)

    def wrote(self, spark: SparkSession, name: str) -> int | None:
        """Note that the run published table ``name`` (or found it already up to date): its
        version now, also ``table_version`` when it is the target table; return it."""
        version = delta_io.current_version(spark, name)
        self.versions_written[name] = version
        if name == self.target_table:
            self.table_version = version
        return version

    def write(self, spark: SparkSession, cfg: Config) -> None:
        finished = datetime.now(UTC)
        if self.checks:
            rows = [(self.run_id, self.job, *check) for check in self.checks]
            delta_io.append(spark, spark.createDataFrame(rows, DQ_RESULTS_SCHEMA),
                            cfg.table(DQ_RESULTS_TABLE))
            self.checks = []
        values = dataclasses.asdict(self)
        # Aware datetimes: PySpark converts them to UTC instants whatever the local zone.
        values["finished_at"] = finished
        values["duration_s"] = (finished - self.started_at).total_seconds()
        values["versions_written"] = (
            json.dumps(self.versions_written, sort_keys=True) if self.versions_written else None)
        row = tuple(values[f.name] for f in RUN_LOG_SCHEMA.fields)
        delta_io.append(spark, spark.createDataFrame([row], RUN_LOG_SCHEMA), cfg.table(RUN_LOG_TABLE))


def report_problems(found: list[str], check: bool) -> None:
    """Print each problem the run log shows as a ``problem:`` line on stderr; with
    ``check``, exit with status 1 when there is any (for monitoring and the demo)."""
    for problem in found:
        sys.stderr.write(f"problem: {problem}\n")
    if check and found:
        sys.exit(1)


def successful_runs(spark: SparkSession, cfg: Config, job: str) -> list[Row]:
    """The successful runs of ``job``, newest first (empty when the log does not exist)."""
    name = cfg.table(RUN_LOG_TABLE)
    if not delta_io.table_exists(spark, name):
        return []
    return (
        spark.table(name)
        .where((F.col("job") == job) & F.col("status").isin("success", "empty"))
        .orderBy(F.col("finished_at").desc())
        .collect()
    )


@contextmanager
def recorded(spark: SparkSession, cfg: Config, record: RunRecord) -> Iterator[RunRecord]:
    """Log ``record`` when the block ends: as it was set on success, ``failed`` (or the
    exception's ``run_status``) with the error on an exception (which propagates). The block sets status ``success``/``empty``."""
    try:
        yield record
    except Exception as exc:
        # An error may name a milder outcome (scoring before any model exists is "skipped").
        record.status = getattr(exc, "run_status", "failed")
        record.message = f"{type(exc).__name__}: {exc}"[:2000]
        raise
    finally:
        record.write(spark, cfg)
