"""Write, audit, publish: the gate every published table passes, and ``dq_results``.

A job materialises its candidate output once (cached), hands it to ``gate`` with the table's
suite, and publishes only when ``gate`` returns. Every expectation's result goes to
``dq_results`` with the run's log entry, whatever the outcome; on a failed ``error`` expectation it also keeps the
rejected candidate under ``<lake>/dq_rejected/<table>/<run id>`` for inspection and raises
``DataQualityError``, so the published table stays at its previous Delta version and the
task fails before anything downstream runs.

The helpers below read what a suite compares against: the previous run's volume, the
published schema, the previous snapshot's distribution. ``DriftReference`` keeps the
distribution of each snapshot it publishes under ``<lake>/dq_profiles/<table>/<date>.json``,
so the next run compares against that file instead of profiling the published snapshot again.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import great_expectations as gx
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from growth.expectations import drift
from growth.expectations.drift import Profile, Sample, profile
from growth.expectations.rules import SAMPLE_SEED
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
    suite_for: Callable[[StructType | None, tuple[date, float] | None, DataFrame],
                        gx.ExpectationSuite],
    partitions: int = 1,
    lookback_days: int = 35,
    previous_for: Callable[[], tuple[date, float] | None] | None = None,
) -> Callable[[DataFrame, int], None]:
    """The ``audit`` of ``delta_io.replace_dates`` for a date-partitioned table: the gate
    with ``suite_for(published schema, previous (date, mean rows), candidate)``, the
    previous volume taken over the last ``partitions`` published dates before ``newest``
    (or given by ``previous_for``, which knows it without a query)."""

    def audit(candidate: DataFrame, rows: int) -> None:
        started = time.perf_counter()
        with gate_time(record):  # what the suite compares against is part of the gate
            previous = previous_for() if previous_for is not None else \
                previous_partition_rows(spark, table, column, newest, partitions,
                                        lookback_days)
            counted = time.perf_counter()
            expectations = suite_for(published_schema(spark, table), previous, candidate)
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


@dataclasses.dataclass(frozen=True)
class IngestHistory:
    """What the run log says about a silver table's earlier ingests."""

    done_through: date | None
    """The last batch day a successful (or empty) run ingested."""
    rows_per_day: float | None
    """Raw rows per batch day of the last successful run that read any: the volume
    baseline of the next batch."""


def ingest_history(spark: SparkSession, cfg: Config, target: str) -> IngestHistory:
    """The run log's ``IngestHistory`` of ``target``, in one read of the log (the ingest
    needs both the last batch it took and the volume baseline of its gate)."""
    name = cfg.table(RUN_LOG_TABLE)
    if not delta_io.table_exists(spark, name):
        return IngestHistory(None, None)
    baseline = ((F.col("job") == "ingest") & (F.col("status") == "success")
                & (F.col("rows_in") > 0) & F.col("batch_from").isNotNull())
    row = (
        spark.table(name)
        .where((F.col("target_table") == target) & F.col("status").isin("success", "empty"))
        .agg(F.max("batch_to").alias("done"),
             F.max_by(F.struct("rows_in", "batch_from", "batch_to"),
                      F.when(baseline, F.col("finished_at"))).alias("last"))
        .first()
    )
    last = row["last"]
    if last is None or last.rows_in is None:
        return IngestHistory(row["done"], None)
    return IngestHistory(row["done"],
                         last.rows_in / ((last.batch_to - last.batch_from).days + 1))


def reference_profile(
    spark: SparkSession, table: str, column: str, reference_date: date, columns: list[str],
    rows: float | None = None,
) -> Profile | None:
    """The distribution of the published ``reference_date`` partition of ``table``, which
    has about ``rows`` rows (sampled above ``drift.SAMPLE_ROWS``)."""
    snapshot = spark.table(table).where(F.col(column) == F.lit(reference_date))
    return profile(snapshot, columns, reference_date, rows)


PROFILES = "dq_profiles"


def profile_path(cfg: Config, table: str, as_of: date) -> Path:
    return cfg.lake_root / PROFILES / table / f"{as_of.isoformat()}.json"


def stored_profile(cfg: Config, table: str, as_of: date) -> Profile | None:
    """The profile kept when ``table``'s ``as_of`` snapshot was published (None: none kept,
    or unreadable, which is logged: the caller then profiles the snapshot itself)."""
    path = profile_path(cfg, table, as_of)
    if not path.is_file():
        return None
    try:
        kept = drift.from_json(path.read_text())
    except (OSError, ValueError) as exc:
        log.warning("%s: ignoring the stored profile %s (%s); profiling the published "
                    "snapshot instead", table, path, exc)
        return None
    return kept if kept.as_of == as_of else None


def keep_profile(cfg: Config, table: str, kept: Profile) -> None:
    """Store ``kept`` for its date, replacing any earlier one (written whole, then renamed:
    a reader never sees half a file)."""
    path = profile_path(cfg, table, kept.as_of)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
    partial.write_text(drift.to_json(kept))
    os.replace(partial, path)


def forget_profiles(cfg: Config, table: str, dates: Sequence[date] | None = None) -> None:
    """Drop the stored profiles of ``dates`` (None: all of ``table``'s)."""
    if dates is None:
        shutil.rmtree(cfg.lake_root / PROFILES / table, ignore_errors=True)
        return
    for day in dates:
        profile_path(cfg, table, day).unlink(missing_ok=True)


def latest_stored_profile(cfg: Config, table: str) -> Profile | None:
    """The stored profile of ``table``'s latest date (None: none stored)."""
    folder = cfg.lake_root / PROFILES / table
    days = []
    for path in folder.glob("*.json") if folder.is_dir() else ():
        try:
            days.append(date.fromisoformat(path.stem))
        except ValueError:
            continue
    return stored_profile(cfg, table, max(days)) if days else None


class DriftReference:
    """The distribution side of a snapshot table's gate, for one run publishing ``dates``.

    Every run keeps the profile of the newest snapshot it publishes, with its row count,
    and forgets those of the other dates it replaced (their rows changed); a table written
    for the first time starts its store afresh; a blocked run stores nothing. So a stored
    profile always describes the published rows of its date, and the latest stored date is
    the latest published one (a run replacing it has it as its newest date, a run going
    past it stores its own). A run publishing past that date, as the daily run does, reads
    the previous volume and the reference profile from the file (``previous``, then
    ``prepare``); any other run (a rerun, a backfill of older dates) asks the table for the
    previous date and volume, and profiles that snapshot unless its profile is stored.

    ``prepare`` (inside the gate) also draws a repeatable sample of the candidate's newest
    rows, which the PSI query reads and which is profiled to be kept; ``published`` (after
    the commit) keeps it; ``close`` frees the sample."""

    def __init__(self, spark: SparkSession, cfg: Config, record: RunRecord, table: str,
                 column: str, dates: Sequence[date], columns: Sequence[str],
                 lookback_days: int) -> None:
        self.spark, self.cfg, self.record, self.table = spark, cfg, record, table
        self.column, self.dates, self.columns = column, sorted(set(dates)), list(columns)
        self.newest = self.dates[-1]
        self.lookback_days = lookback_days
        self._kept: Profile | None = None
        self._sample: DataFrame | None = None
        self._view: str | None = None
        self._profile: Profile | None = None
        self._new_table = False

    def previous(self) -> tuple[date, float] | None:
        """(latest published date before the newest, its rows), as ``partition_audit``
        wants it."""
        if not delta_io.table_exists(self.spark, self.table):
            return None  # and what a dropped table left in the store is wiped on publish
        latest = latest_stored_profile(self.cfg, self.table)
        if (latest is not None and latest.partition_rows is not None
                and self.newest - timedelta(days=self.lookback_days) <= latest.as_of
                < self.newest):
            self._kept = latest
            return latest.as_of, float(latest.partition_rows)
        return previous_partition_rows(self.spark, self.table, self.column, self.newest,
                                       lookback_days=self.lookback_days)

    def prepare(
        self, candidate: DataFrame, schema: StructType | None,
        previous: tuple[date, float] | None,
    ) -> tuple[Profile | None, Sample]:
        """(reference profile or None, the sample of the candidate's newest rows)."""
        self._new_table = schema is None
        reference = None
        if previous is not None:
            started = time.perf_counter()
            kept = self._kept if self._kept is not None and self._kept.as_of == previous[0] \
                else stored_profile(self.cfg, self.table, previous[0])
            reference = kept or reference_profile(self.spark, self.table, self.column,
                                                  previous[0], self.columns, previous[1])
            log.info("%s: reference profile of %s %s in %.1fs", self.table, previous[0],
                     "read from its stored file" if kept else "computed from the table",
                     time.perf_counter() - started)
        newest_rows = candidate.where(F.col(self.column) == F.lit(self.newest))
        rows = newest_rows.count()
        share = drift.sample_share(rows)
        sample = newest_rows.sample(fraction=share, seed=SAMPLE_SEED) if share < 1 \
            else newest_rows
        self._sample = sample.persist()
        self._view = f"dq_sample_{uuid.uuid4().hex}"
        self._sample.createOrReplaceTempView(self._view)
        profiled = profile(self._sample, self.columns, self.newest)
        if profiled is not None:
            self._profile = dataclasses.replace(profiled, partition_rows=rows)
        return reference, Sample(self._view, share)

    def published(self) -> None:
        """After the commit: keep the newest snapshot's profile, forget the replaced ones."""
        with gate_time(self.record):
            if self._new_table:
                forget_profiles(self.cfg, self.table)
            forget_profiles(self.cfg, self.table, self.dates)
            if self._profile is not None:
                keep_profile(self.cfg, self.table, self._profile)

    def close(self) -> None:
        if self._view is not None:
            self.spark.catalog.dropTempView(self._view)
        if self._sample is not None:
            self._sample.unpersist()
        self._sample = self._view = None
