"""Write, audit, publish: the gate every published table passes, and ``dq_results``.

A job materialises its candidate output once (cached), hands it to ``gate`` with the table's
suite, and publishes only when ``gate`` returns. Every expectation's result goes to
``dq_results`` with the run's log entry, whatever the outcome; on a failed ``error`` expectation it also keeps the
rejected candidate under ``<lake>/dq_rejected/<table>/<run id>`` for inspection and raises
``DataQualityError``, so the published table stays at its previous Delta version and the
task fails before anything downstream runs.

The helpers below read what a suite compares against: the previous run's volume, the
published schema, the previous snapshot's distribution.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import great_expectations as gx
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from growth.expectations.drift import Profile, profile
from growth.expectations.validate import CheckResult, DataQualityError, validate_or_raise
from growth.jobs import delta_io
from growth.jobs.config import Config
from growth.jobs.run_log import RunRecord
from growth.layout import RUN_LOG_TABLE

log = logging.getLogger(__name__)

def rejected_path(cfg: Config, table: str, run_id: str) -> str:
    safe = run_id.replace(":", "_").replace("/", "_").replace("+", "_")
    return str(cfg.lake_root / "dq_rejected" / table / safe)


def gate(
    spark: SparkSession,
    cfg: Config,
    record: RunRecord,
    table: str,
    candidate: DataFrame,
    expectations: gx.ExpectationSuite,
    rows: int | None = None,
) -> list[CheckResult]:
    """Validate ``candidate`` (cached by the caller) before it may replace ``table``.

    Adds the results to ``record`` (written to ``dq_results`` with the run log) and the time
    spent to ``record.dq_seconds`` (the run's gate overhead). When an ``error`` expectation
    failed, keeps the candidate for inspection and raises ``DataQualityError``."""
    started = time.perf_counter()
    with gate_time(record):
        try:
            results = validate_or_raise(candidate, expectations, table)
        except DataQualityError as blocked:
            _record(record, table, blocked.results, rows)
            path = rejected_path(cfg, table, record.run_id)
            candidate.write.mode("overwrite").parquet(path)
            raise DataQualityError(table, blocked.results,
                                   note=f"; the rejected candidate is kept at {path}") from None
        _record(record, table, results, rows)
    warnings = sum(not r.success for r in results)
    log.info("%s: %d check(s) passed%s in %.1fs (suite %s)", table, len(results) - warnings,
             f", {warnings} warning(s)" if warnings else "", time.perf_counter() - started,
             expectations.name)
    return results


def _record(record: RunRecord, table: str, results: list[CheckResult], rows: int | None) -> None:
    now = datetime.now(UTC)
    record.checks += [
        (table, record.as_of, r.suite, r.expectation, r.description, r.column, r.severity,
         r.success, r.observed, rows, now)
        for r in results
    ]


@contextmanager
def gate_time(record: RunRecord) -> Iterator[None]:
    """Count the time of the block in ``record.dq_seconds``: the work a gate needs before it
    validates (the previous run's volume, the previous snapshot's profile) is its cost too."""
    started = time.perf_counter()
    try:
        yield
    finally:
        record.dq_seconds = (record.dq_seconds or 0.0) + time.perf_counter() - started


def partition_audit(
    spark: SparkSession,
    cfg: Config,
    record: RunRecord,
    table: str,
    column: str,
    newest: date,
    suite_for: Callable[[StructType | None, tuple[date, float] | None], gx.ExpectationSuite],
    partitions: int = 1,
    lookback_days: int = 35,
) -> Callable[[DataFrame, int], None]:
    """The ``audit`` of ``delta_io.replace_dates`` for a date-partitioned table: the gate
    with ``suite_for(published schema, previous (date, mean rows))``, the previous volume
    taken over the last ``partitions`` published dates before ``newest``."""

    def audit(candidate: DataFrame, rows: int) -> None:
        started = time.perf_counter()
        with gate_time(record):  # what the suite compares against is part of the gate
            previous = previous_partition_rows(spark, table, column, newest, partitions,
                                               lookback_days)
            counted = time.perf_counter()
            expectations = suite_for(published_schema(spark, table), previous)
        log.info("%s: suite prepared in %.1fs (previous volume %.1fs)", table,
                 time.perf_counter() - started, counted - started)
        gate(spark, cfg, record, table, candidate, expectations, rows)

    return audit


def published_schema(spark: SparkSession, table: str) -> StructType | None:
    """The published table's schema, which a candidate must keep (None: not published)."""
    return spark.table(table).schema if delta_io.table_exists(spark, table) else None


def previous_partition_rows(
    spark: SparkSession, table: str, column: str, before: date, partitions: int = 1,
    lookback_days: int = 35,
) -> tuple[date, float] | None:
    """(latest date, mean rows) over the last ``partitions`` published ``column`` dates
    before ``before`` within ``lookback_days``; None when there is none."""
    if not delta_io.table_exists(spark, table):
        return None
    counts = (
        spark.table(table)
        .where(F.col(column).between(before - timedelta(days=lookback_days),
                                     before - timedelta(days=1)))
        .groupBy(column).count()
        .orderBy(F.col(column).desc())
        .limit(partitions)
        .collect()
    )
    if not counts:
        return None
    return counts[0][0], sum(r["count"] for r in counts) / len(counts)


def previous_batch_rows_per_day(spark: SparkSession, cfg: Config, target: str) -> float | None:
    """Raw rows per batch day of the last successful ingest of ``target`` that read any."""
    name = cfg.table(RUN_LOG_TABLE)
    if not delta_io.table_exists(spark, name):
        return None
    last = (
        spark.table(name)
        .where((F.col("target_table") == target) & (F.col("job") == "ingest")
               & (F.col("status") == "success") & (F.col("rows_in") > 0)
               & F.col("batch_from").isNotNull())
        .orderBy(F.col("finished_at").desc())
        .select("rows_in", "batch_from", "batch_to")
        .first()
    )
    if last is None:
        return None
    days = (last.batch_to - last.batch_from).days + 1
    return last.rows_in / days


def reference_profile(
    spark: SparkSession, table: str, column: str, reference_date: date, columns: list[str],
    rows: float | None = None,
) -> Profile | None:
    """The distribution of the published ``reference_date`` partition of ``table``, which
    has about ``rows`` rows (sampled above ``drift.SAMPLE_ROWS``)."""
    snapshot = spark.table(table).where(F.col(column) == F.lit(reference_date))
    return profile(snapshot, columns, reference_date, rows)
