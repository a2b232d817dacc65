"""One real run of growth_daily through Airflow: spark-submit, SQLite, a small marketplace."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from growth.features.contracts import CONTRACTS
from growth.jobs import simulate
from growth.layout import SOURCE_ORDER, silver_table
from tests.conftest import ROOT
from tests.e2e.airflow_services import AirflowServices

AS_OF = date(2026, 10, 31)
pytestmark = pytest.mark.e2e


def airflow_env(home: Path, lake: Path) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "5",
        "AIRFLOW_CONN_GROWTH_SPARK": json.dumps({"conn_type": "spark", "host": "local[2]"}),
        "GROWTH_LAKE_ROOT": str(lake),
        "GROWTH_SHUFFLE_PARTITIONS": "2",
        "GROWTH_DRIVER_MEMORY": "1g",
        # The small profile's 60 days: a 14-day horizon and weekly cutoffs give the training
        # DAG's backtest its folds; fewer, shallower trees keep it short.
        "GROWTH_LABEL_HORIZON_DAYS": "14",
        "GROWTH_TRAIN_EVERY_DAYS": "7",
        "GROWTH_TRAIN_CUTOFFS": "6",
        "GROWTH_MODEL_TREES": "60",
        "PYSPARK_PYTHON": sys.executable,
    }


def run(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.CompletedProcess:
    with log.open("w") as out:
        done = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=2400)
    return done


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
    with sqlite3.connect(home / "airflow.db") as db:
        states = {task: (state, tries) for task, state, tries in db.execute(
            "SELECT task_id, state, try_number FROM task_instance")}
    held.rename(todays_orders)

    dag_log = work / "dags-test.log"
    done = run(["airflow", "dags", "test", "growth_daily", AS_OF.isoformat()], env, dag_log)
    return lake, done, dag_log, Blocked(blocked, blocked_log, states)


def delta(spark, lake: Path, table: str):
    return spark.read.format("delta").load(str(lake / "warehouse" / "growth.db" / table))


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


def latest_states(home: Path, dag_id: str) -> dict[str, str]:
    """Task states of the newest run of ``dag_id`` in Airflow's SQLite database."""
    with sqlite3.connect(home / "airflow.db") as db:
        (run_id,) = db.execute("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC "
                               "LIMIT 1", (dag_id,)).fetchone()
        return dict(db.execute("SELECT task_id, state FROM task_instance WHERE dag_id = ? AND "
                               "run_id = ?", (dag_id, run_id)))


@dataclasses.dataclass
class Trained:
    """growth_training for the day, then Airflow's backfill of growth_daily over the day
    twice: reprocessing the completed run (now with champions), then with the default
    behaviour, which must find the day done and run nothing."""

    training: subprocess.CompletedProcess
    training_log: Path
    training_states: dict[str, str]
    reprocessed: list[tuple[str, str]]
    rerun_states: dict[str, str]
    repeated: list[tuple[str, str]]
    before: dict[str, int]
    after_reprocess: dict[str, int]
    services_log: str


DAILY_TABLES = ("silver_orders", "silver_merchants", "merchant_daily", "merchant_features",
                "creator_features", "merchant_labels")


@pytest.fixture(scope="module")
def trained_run(spark, daily_run):
    """The weekly DAG on the lake the daily runs built, then the daily DAG once more: now it
    scores, lists and must leave what it had published unchanged."""
    lake, done, dag_log, _ = daily_run
    assert done.returncode == 0, dag_log.read_text()[-5000:]
    home, work = lake.parent / "airflow", lake.parent
    env = airflow_env(home, lake)
    before = {t: delta(spark, lake, t).count() for t in DAILY_TABLES}
    training_log = work / "dags-test-training.log"
    training = run(["airflow", "dags", "test", "growth_training", AS_OF.isoformat()], env,
                   training_log)
    training_states = latest_states(home, "growth_training")
    with AirflowServices(home, env).start() as airflow:
        # The README's backfill command over one day: the DAG test left a completed run for
        # it, which "completed" reprocesses in place through the scheduler.
        reprocessed = airflow.backfill("growth_daily", AS_OF, AS_OF,
                                       "--reprocess-behavior", "completed")
        rerun_states = latest_states(home, "growth_daily")
        after = {t: delta(spark, lake, t).count() for t in DAILY_TABLES}
        repeated = airflow.backfill("growth_daily", AS_OF, AS_OF)
        logs = airflow.logs()
    return Trained(training, training_log, training_states, reprocessed, rerun_states,
                   repeated, before, after, logs)


def test_the_training_dag_builds_trains_and_promotes_each_entity(spark, daily_run, trained_run):
    lake = daily_run[0]
    assert trained_run.training.returncode == 0, trained_run.training_log.read_text()[-5000:]
    assert trained_run.training_states == {
        f"{step}_{entity}": "success"
        for step in ("training_set", "train", "promote") for entity in ("merchant", "creator")}
    registry = {(r.model_name, r.status) for r in delta(spark, lake, "model_registry").collect()}
    # The train steps register winners as candidates; the promote steps leave none behind.
    assert not any(status == "candidate" for _, status in registry), registry
    assert ("merchant_potential", "champion") in registry, registry
    promoted = delta(spark, lake, "run_log").where(F.col("job") == "promote_models").collect()
    assert sorted(r.status for r in promoted) == ["success", "success"]


def test_a_backfill_reprocesses_the_day_with_champions_and_changes_nothing_else(
        spark, daily_run, trained_run):
    lake = daily_run[0]
    assert [state for _, state in trained_run.reprocessed] == ["success"], (
        trained_run.reprocessed, trained_run.services_log)
    states = trained_run.rerun_states
    assert states["score_merchant"] == "success" and states["outreach_merchant"] == "success"
    assert set(states.values()) <= {"success", "skipped"}, states
    listed = delta(spark, lake, "outreach_lists").where(F.col("as_of_date") == F.lit(AS_OF))
    assert listed.where("entity_type = 'merchant'").count() > 0
    # Reprocessing the day is idempotent: no row was added to what the first run published.
    assert trained_run.after_reprocess == trained_run.before
    logged = delta(spark, lake, "run_log").where(
        (F.col("target_table") == "growth.silver_orders") & (F.col("status") == "success"))
    assert logged.count() == 1  # the rerun found no new batch: its ingest run is "empty"


def test_backfilling_a_day_already_done_runs_nothing_and_changes_nothing(spark, daily_run,
                                                                        trained_run):
    lake = daily_run[0]
    assert trained_run.repeated == []
    assert {t: delta(spark, lake, t).count() for t in DAILY_TABLES} == trained_run.before
