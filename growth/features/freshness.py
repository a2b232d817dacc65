"""How fresh each published table is, from the run log: pure transforms behind ``growth status``.

``table_freshness``. Grain: one row per table a run published: each table named in a run's
``versions_written`` (a job publishing both entities' tables names both), else its
``target_table`` (runs that published nothing, and logs written before that column existed).
A weekly job counts for its target alone: the snapshots and labels a training set fills in
for its past cutoffs are history, not the run date's publication.
Reads run_log (job, target_table, as_of, status, message, started_at, finished_at,
table_version, versions_written when present). Writes target_table, job, last_as_of (the
newest run date with a ``success`` or ``empty`` run), last_success_at, table_version (the
version that run left the table at), latest_status and latest_message (of the newest run
whatever its outcome), behind_days (days between last_as_of and the newest successful run
date of any daily job: the day the platform has reached), age_hours (``now`` -
last_success_at), allowed_days (the cadence's tolerance) and fresh.

A table is fresh when it is at most ``allowed_days`` behind: 0 for the daily jobs (every
daily table should reach the newest day), ``WEEKLY_ALLOWED_DAYS`` for the weekly training
jobs. A table whose latest run failed keeps the date of its last good run, so a failure on
the newest day shows as ``behind_days`` > 0 and, for a rerun that failed after a success,
as ``latest_status`` = failed beside a fresh date.

``recent_runs``. Grain: one row per run, the ``limit`` newest by start. Writes started_at,
job, target_table, as_of, status, rows_in, rows_out, duration_s, dq_seconds, table_version,
versions_read, message.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

GOOD_STATUSES = ("success", "empty")
# The growth_training DAG runs weekly: its tables may lag the daily ones by a week.
WEEKLY_JOBS = ("build_training_set", "train_models")
WEEKLY_ALLOWED_DAYS = 7


def _allowed_days(job: Column) -> Column:
    return F.when(job.isin(*WEEKLY_JOBS), F.lit(WEEKLY_ALLOWED_DAYS)).otherwise(F.lit(0))


def per_published_table(run_log: DataFrame) -> DataFrame:
    """One row per (run, table it published): the run's row with ``target_table`` and
    ``table_version`` taken from each entry of ``versions_written``; a run without entries,
    or of a weekly job, keeps its own target and version."""
    if "versions_written" not in run_log.columns:  # a log from before the column
        return run_log
    written = F.from_json("versions_written", "map<string,bigint>")
    daily_run = ~F.col("job").isin(*WEEKLY_JOBS)
    tables = F.when(daily_run & (F.coalesce(F.size(written), F.lit(0)) > 0), written).otherwise(
        F.create_map(F.col("target_table"), F.col("table_version")))
    return (
        run_log.select("*", F.explode(tables).alias("_table", "_version"))
        .drop("target_table", "table_version")
        .withColumnsRenamed({"_table": "target_table", "_version": "table_version"})
    )


def table_freshness(run_log: DataFrame, now: datetime) -> DataFrame:
    """See the module docstring. ``now`` is passed in (never read here) so that ages are
    testable; an empty run log gives an empty frame."""
    run_log = per_published_table(run_log)
    newest_first = Window.partitionBy("target_table").orderBy(
        F.col("started_at").desc(), F.col("finished_at").desc())
    latest = (
        run_log.withColumn("_n", F.row_number().over(newest_first)).where("_n = 1")
        .select("target_table", "job", F.col("status").alias("latest_status"),
                F.col("message").alias("latest_message"))
    )
    good = run_log.where(F.col("status").isin(*GOOD_STATUSES))
    # The newest good run per table: its date, when it finished, the version it wrote.
    newest_good = Window.partitionBy("target_table").orderBy(
        F.col("as_of").desc(), F.col("finished_at").desc())
    last_good = (
        good.withColumn("_n", F.row_number().over(newest_good)).where("_n = 1")
        .select("target_table", F.col("as_of").alias("last_as_of"),
                F.col("finished_at").alias("last_success_at"), "table_version")
    )
    reached = (
        good.where(~F.col("job").isin(*WEEKLY_JOBS))
        .agg(F.max("as_of").alias("reached"))
    )
    now_ts = F.lit(now).cast("timestamp")
    return (
        latest.join(last_good, "target_table", "left")
        .crossJoin(reached)
        # Without any good daily run, the weekly tables are measured against themselves.
        .withColumn("reached", F.coalesce("reached", "last_as_of"))
        .withColumn("behind_days", F.datediff("reached", "last_as_of"))
        .withColumn("age_hours", F.round(
            (F.unix_timestamp(now_ts) - F.unix_timestamp("last_success_at")) / 3600.0, 1))
        .withColumn("allowed_days", _allowed_days(F.col("job")))
        # A table never published is not fresh (behind_days is null then).
        .withColumn("fresh", F.coalesce(F.col("behind_days") <= F.col("allowed_days"),
                                        F.lit(False)))
        .select("target_table", "job", "last_as_of", "last_success_at", "table_version",
                "latest_status", "latest_message", "behind_days", "age_hours",
                "allowed_days", "fresh")
        .orderBy("target_table")
    )


def recent_runs(run_log: DataFrame, limit: int) -> DataFrame:
    """See the module docstring. rows_out is what the run kept: the rows accepted into
    silver for an ingest, else the rows it inserted and updated."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    written = F.coalesce(F.col("rows_inserted"), F.lit(0)) + F.coalesce(
        F.col("rows_updated"), F.lit(0))
    rows_out = F.coalesce(
        F.col("rows_accepted"),
        F.when(F.col("rows_inserted").isNotNull() | F.col("rows_updated").isNotNull(), written),
    )
    return (
        run_log.orderBy(F.col("started_at").desc(), F.col("run_id").desc()).limit(limit)
        .select("started_at", "job", "target_table", "as_of", "status", "rows_in",
                rows_out.alias("rows_out"), F.round("duration_s", 1).alias("duration_s"),
                F.round("dq_seconds", 1).alias("dq_seconds"), "table_version",
                "versions_read", "message")
    )
