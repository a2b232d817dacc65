"""Table freshness and the newest runs, from literal run logs: cadences, failures after a
success, a table never published, an empty log."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from pyspark.testing import assertDataFrameEqual

from growth.features.freshness import recent_runs, table_freshness
from growth.jobs.run_log import RUN_LOG_SCHEMA

FRESHNESS = ("target_table string, job string, last_as_of date, last_success_at timestamp, "
             "table_version bigint, latest_status string, latest_message string, "
             "behind_days int, age_hours double, allowed_days int, fresh boolean")

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


def run(job: str, table: str, as_of: date, status: str, start: datetime, *, version=None,
        message=None, rows_in=None, accepted=None, inserted=None, updated=None,
        run_id=None, written: dict[str, int] | None = None) -> tuple:
    values = dict(
        run_id=run_id or f"{job}:{table}:{start:%d%H}", job=job, target_table=table,
        as_of=as_of, batch_from=None, batch_to=None, rows_in=rows_in, rows_accepted=accepted,
        rows_quarantined=None, rows_duplicate=None, rows_inserted=inserted,
        rows_updated=updated, rows_unchanged=None, table_version=version, status=status,
        message=message, started_at=start, finished_at=start.replace(minute=30),
        duration_s=1800.0, versions_read=None, dq_seconds=2.25,
        versions_written=json.dumps(written) if written else None,
    )
    return tuple(values[f.name] for f in RUN_LOG_SCHEMA.fields)


D1, D2 = date(2026, 11, 1), date(2026, 11, 2)

LOG = [
    # Daily tables: silver_orders reached D2; merchant_features failed on D2 after D1 went
    # well; merchant_daily succeeded on D2 and then a rerun failed.
    run("ingest", "growth.silver_orders", D1, "success", at(1, 1), version=1),
    run("ingest", "growth.silver_orders", D2, "success", at(2, 1), version=2),
    run("build_features", "growth.merchant_features", D1, "success", at(1, 2), version=5),
    run("build_features", "growth.merchant_features", D2, "failed", at(2, 2),
        message="boom"),
    run("build_daily", "growth.merchant_daily", D2, "success", at(2, 3), version=7),
    run("build_daily", "growth.merchant_daily", D2, "failed", at(2, 4), message="rerun"),
    # Never published: the only run was skipped.
    run("score", "growth.merchant_tiers", D2, "skipped", at(2, 5), message="no champion"),
    # Weekly: 6 days behind is within the week allowed.
    run("build_training_set", "growth.merchant_training_set", date(2026, 10, 27), "success",
        at(1, 6), version=0),
]


def test_freshness_per_table_against_the_newest_daily_day_and_its_cadence(spark):
    got = table_freshness(spark.createDataFrame(LOG, RUN_LOG_SCHEMA), NOW)
    expected = spark.createDataFrame([
        ("growth.merchant_daily", "build_daily", D2, at(2, 3).replace(minute=30), 7,
         "failed", "rerun", 0, 8.5, 0, True),
        ("growth.merchant_features", "build_features", D1, at(1, 2).replace(minute=30), 5,
         "failed", "boom", 1, 33.5, 0, False),
        ("growth.merchant_tiers", "score", None, None, None, "skipped", "no champion", None,
         None, 0, False),
        ("growth.merchant_training_set", "build_training_set", date(2026, 10, 27),
         at(1, 6).replace(minute=30), 0, "success", None, 6, 29.5, 7, True),
        ("growth.silver_orders", "ingest", D2, at(2, 1).replace(minute=30), 2, "success",
         None, 0, 10.5, 0, True),
    ], FRESHNESS)
    assertDataFrameEqual(got, expected, checkRowOrder=True)


# Jobs that publish more than their target table: the daily tables of both entities in one
# run, each entity's tiers beside its rows of the shared potential_scores.
MULTI = [
    run("build_daily", "growth.merchant_daily", D2, "success", at(2, 3), version=7,
        written={"growth.merchant_daily": 7, "growth.creator_daily": 4}),
    # A failed rerun published nothing: it names its target alone.
    run("build_daily", "growth.merchant_daily", D2, "failed", at(2, 4), message="rerun"),
    run("score", "growth.merchant_tiers", D2, "success", at(2, 5), version=3,
        written={"growth.merchant_tiers": 3, "growth.potential_scores": 9}),
    run("score", "growth.creator_tiers", D2, "success", at(2, 6), version=2,
        written={"growth.creator_tiers": 2, "growth.potential_scores": 10}),
    # A training set filling in past snapshots does not publish the run date's snapshot.
    run("build_features", "growth.merchant_features", D1, "success", at(1, 2), version=5,
        written={"growth.merchant_features": 5, "growth.creator_features": 3}),
    run("build_training_set", "growth.merchant_training_set", D2, "success", at(2, 7),
        version=0, written={"growth.merchant_training_set": 0, "growth.merchant_features": 6}),
]


def test_every_table_a_run_published_has_its_own_freshness_and_version(spark):
    got = table_freshness(spark.createDataFrame(MULTI, RUN_LOG_SCHEMA), NOW)
    expected = spark.createDataFrame([
        ("growth.creator_daily", "build_daily", D2, at(2, 3).replace(minute=30), 4,
         "success", None, 0, 8.5, 0, True),
        ("growth.creator_features", "build_features", D1, at(1, 2).replace(minute=30), 3,
         "success", None, 1, 33.5, 0, False),
        ("growth.creator_tiers", "score", D2, at(2, 6).replace(minute=30), 2, "success", None,
         0, 5.5, 0, True),
        ("growth.merchant_daily", "build_daily", D2, at(2, 3).replace(minute=30), 7,
         "failed", "rerun", 0, 8.5, 0, True),
        ("growth.merchant_features", "build_features", D1, at(1, 2).replace(minute=30), 5,
         "success", None, 1, 33.5, 0, False),
        ("growth.merchant_tiers", "score", D2, at(2, 5).replace(minute=30), 3, "success", None,
         0, 6.5, 0, True),
        ("growth.merchant_training_set", "build_training_set", D2,
         at(2, 7).replace(minute=30), 0, "success", None, 0, 4.5, 7, True),
        # Written by both score runs: the newest one's version.
        ("growth.potential_scores", "score", D2, at(2, 6).replace(minute=30), 10, "success",
         None, 0, 5.5, 0, True),
    ], FRESHNESS)
    assertDataFrameEqual(got, expected, checkRowOrder=True)


def test_a_run_log_from_before_versions_written_gives_each_target_table(spark):
    legacy = spark.createDataFrame(MULTI, RUN_LOG_SCHEMA).drop("versions_written")
    got = table_freshness(legacy, NOW).select("target_table", "table_version", "latest_status")
    assertDataFrameEqual(got, spark.createDataFrame([
        ("growth.creator_tiers", 2, "success"),
        ("growth.merchant_daily", 7, "failed"),
        ("growth.merchant_features", 5, "success"),
        ("growth.merchant_tiers", 3, "success"),
        ("growth.merchant_training_set", 0, "success"),
    ], "target_table string, table_version bigint, latest_status string"), checkRowOrder=True)


def test_a_weekly_table_more_than_a_week_behind_is_stale_and_an_empty_log_gives_nothing(spark):
    log = [
        run("ingest", "growth.silver_orders", date(2026, 11, 10), "success", at(10, 1)),
        run("build_training_set", "growth.merchant_training_set", D1, "success", at(1, 6)),
    ]
    got = table_freshness(spark.createDataFrame(log, RUN_LOG_SCHEMA), NOW).select(
        "target_table", "behind_days", "allowed_days", "fresh")
    assertDataFrameEqual(got, spark.createDataFrame([
        ("growth.merchant_training_set", 9, 7, False),
        ("growth.silver_orders", 0, 0, True),
    ], "target_table string, behind_days int, allowed_days int, fresh boolean"))
    assert table_freshness(spark.createDataFrame([], RUN_LOG_SCHEMA), NOW).isEmpty()


def test_recent_runs_are_the_newest_first_with_what_each_kept(spark):
    got = recent_runs(spark.createDataFrame(LOG, RUN_LOG_SCHEMA), 3).select(
        "job", "target_table", "status", "rows_in", "rows_out", "duration_s")
    expected = spark.createDataFrame([
        ("score", "growth.merchant_tiers", "skipped", None, None, 1800.0),
        ("build_daily", "growth.merchant_daily", "failed", None, None, 1800.0),
        ("build_daily", "growth.merchant_daily", "success", None, None, 1800.0),
    ], "job string, target_table string, status string, rows_in bigint, rows_out bigint, "
       "duration_s double")
    assertDataFrameEqual(got, expected, checkRowOrder=True)


def test_rows_out_is_accepted_rows_for_an_ingest_else_inserted_plus_updated(spark):
    log = [
        run("ingest", "growth.silver_orders", D1, "success", at(1, 1), rows_in=10, accepted=8,
            inserted=6, updated=2),
        run("build_features", "growth.merchant_features", D1, "success", at(1, 2),
            inserted=5),
        run("build_daily", "growth.merchant_daily", D1, "success", at(1, 3), inserted=4,
            updated=3),
    ]
    got = recent_runs(spark.createDataFrame(log, RUN_LOG_SCHEMA), 10).select(
        "job", "rows_in", "rows_out")
    assertDataFrameEqual(got, spark.createDataFrame(
        [("build_daily", None, 7), ("build_features", None, 5), ("ingest", 10, 8)],
        "job string, rows_in bigint, rows_out bigint"), checkRowOrder=True)
    with pytest.raises(ValueError, match="at least 1"):
        recent_runs(spark.createDataFrame(log, RUN_LOG_SCHEMA), 0)
