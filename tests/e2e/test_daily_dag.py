"""One real run of growth_daily through Airflow: spark-submit, SQLite, a small marketplace."""

from __future__ import annotations

import dataclasses
import subprocess
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from growth.features.contracts import CONTRACTS
from growth.jobs import simulate
from growth.layout import SOURCE_ORDER, silver_table
from tests.e2e.airflow_run import airflow_env, delta, run, task_states

AS_OF = date(2026, 10, 31)
pytestmark = pytest.mark.e2e


@dataclasses.dataclass
class Blocked:
    """The first DAG run, whose orders batch for the day had not arrived."""

    done: subprocess.CompletedProcess
    log: Path
    states: dict[str, tuple[str, int]]


@pytest.fixture(scope="module")
def daily_run(spark, cfg, tmp_path_factory):
    """Simulate the small profile into a fresh lake and run the DAG for its last day twice:
    first with that day's orders held back (the gate must block the run), then with them
    landed, as a late delivery followed by a rerun would."""
    work = tmp_path_factory.mktemp("e2e")
    lake, home = work / "lake", work / "airflow"
    sim_cfg = dataclasses.replace(cfg, lake_root=lake, database="e2e_sim")
    spark.sql("CREATE DATABASE IF NOT EXISTS e2e_sim")
    simulate.run(spark, sim_cfg, "small", 7, AS_OF)
    env = airflow_env(home, lake)
    migrate = run(["airflow", "db", "migrate"], env, work / "migrate.log")
    assert migrate.returncode == 0, (work / "migrate.log").read_text()[-3000:]

    todays_orders = lake / "raw" / "orders" / f"batch_date={AS_OF}"
    held = work / "late-orders"
    todays_orders.rename(held)
    blocked_log = work / "dags-test-blocked.log"
    blocked = run(["airflow", "dags", "test", "growth_daily", AS_OF.isoformat()], env, blocked_log)
    states = task_states(home, "growth_daily")
    held.rename(todays_orders)

    dag_log = work / "dags-test.log"
    done = run(["airflow", "dags", "test", "growth_daily", AS_OF.isoformat()], env, dag_log)
    return lake, done, dag_log, Blocked(blocked, blocked_log, states)


def test_the_dag_succeeds_and_every_source_reconciles(spark, daily_run):
    lake, done, dag_log, _ = daily_run
    assert done.returncode == 0, dag_log.read_text()[-5000:]
    runs = delta(spark, lake, "run_log").where(
        (F.col("as_of") == F.lit(AS_OF)) & (F.col("job") == "ingest")
    ).orderBy("started_at")
    rows = {r.target_table: r for r in runs.collect()}  # the latest run of each source
    assert set(rows) == {f"growth.{silver_table(s)}" for s in SOURCE_ORDER}
    for table, row in rows.items():
        # The rerun finds no new batch for the entity sources the blocked run had ingested.
        assert row.status in ("success", "empty"), (table, row.message)
        assert row.rows_in == row.rows_accepted + row.rows_quarantined + row.rows_duplicate
    assert rows["growth.silver_orders"].rows_quarantined > 0  # the simulator's junk


def test_silver_holds_one_row_per_key_and_quarantine_the_rest(spark, daily_run):
    lake, done, _, _ = daily_run
    assert done.returncode == 0
    raw_orders = spark.read.parquet(str(lake / "raw" / "orders"))
    keys = CONTRACTS["orders"].keys
    silver = delta(spark, lake, "silver_orders")
    assert silver.count() == silver.select(*keys).distinct().count()
    expected_keys = raw_orders.where("order_id IS NOT NULL").select(*keys).distinct().count()
    assert silver.count() == expected_keys
    quarantined = delta(spark, lake, "quarantine").where("source = 'orders'")
    # Every rejected junk copy is in quarantine with a reason; nothing was lost.
    assert quarantined.where("reason IS NULL OR raw IS NULL").isEmpty()
    counted = delta(spark, lake, "run_log").where(
        "target_table = 'growth.silver_orders' AND status = 'success'")
    assert quarantined.count() == counted.first().rows_quarantined


def test_the_feature_store_is_built_after_ingest(spark, daily_run):
    lake, done, _, _ = daily_run
    assert done.returncode == 0
    jobs = {
        r.job: r.status
        for r in delta(spark, lake, "run_log").where(F.col("job") != "ingest").collect()
    }
    # No model was trained yet: scoring is skipped, and says why.
    assert jobs == {
        "build_daily": "success", "build_features": "success", "build_labels": "success",
        "score": "skipped",
    }
    score = delta(spark, lake, "run_log").where(F.col("job") == "score").collect()
    assert len(score) == 1  # score_creator is skipped by Airflow without starting
    assert "no champion model for merchant_value" in score[0].message
    merchants = delta(spark, lake, "silver_merchants").count()
    snapshot = delta(spark, lake, "merchant_features")
    assert [r[0] for r in snapshot.select("as_of_date").distinct().collect()] == [AS_OF]
    assert snapshot.count() == merchants  # every merchant of the small profile has joined
    orders = delta(spark, lake, "silver_orders").where(
        F.to_date("ordered_at") > F.date_sub(F.lit(AS_OF), 30)
    ).agg(F.sum("amount")).first()[0]
    gmv = snapshot.agg(F.sum("gmv_sum_30d")).first()[0]
    assert gmv == pytest.approx(orders)
    for table in ("merchant_daily", "creator_daily", "creator_features",
                  "merchant_labels", "creator_labels"):
        assert delta(spark, lake, table).count() > 0, table


def test_a_blocked_gate_fails_its_task_once_nothing_downstream_runs_and_a_rerun_succeeds(
    spark, daily_run
):
    lake, done, dag_log, blocked = daily_run
    assert blocked.done.returncode != 0
    text = blocked.log.read_text()
    assert "newest _batch_date is the run date 2026-10-31" in text, text[-5000:]
    assert blocked.states == {
        "ingest_entities": ("success", 1),
        "ingest_activity": ("failed", 1),  # no retry: the same input cannot pass
        "ingest_outreach": ("upstream_failed", 0),
        "daily_aggregates": ("upstream_failed", 0),
        "features": ("upstream_failed", 0),
        "labels": ("upstream_failed", 0),
        "score_merchant": ("upstream_failed", 0),
        "score_creator": ("upstream_failed", 0),
        "lookalike_merchant": ("upstream_failed", 0),
        "lookalike_creator": ("upstream_failed", 0),
        "outreach_merchant": ("upstream_failed", 0),
        "outreach_creator": ("upstream_failed", 0),
    }
    results = delta(spark, lake, "dq_results").where(
        (F.col("table_name") == "growth.silver_orders") & ~F.col("success"))
    assert [(r.description, r.observed_value) for r in results.collect()] == [
        ("newest _batch_date is the run date 2026-10-31", "2026-10-30")]

    assert done.returncode == 0, dag_log.read_text()[-5000:]
    orders = delta(spark, lake, "run_log").where(
        F.col("target_table") == "growth.silver_orders").orderBy("started_at")
    assert [r.status for r in orders.collect()] == ["failed", "success"]
