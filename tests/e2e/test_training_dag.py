"""One real run of growth_training through Airflow: the medium profile's daily tables, then
per entity training_set -> train -> promote, every task by spark-submit."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from growth.jobs import simulate
from growth.jobs.build_training_set import regular_cutoffs
from tests.e2e.airflow_run import airflow_env, delta, run, task_states

AS_OF = date(2026, 10, 31)
HORIZON, EVERY, CUTOFFS = 28, 7, 6
# The small profile's 40 merchants never give a classifier two outcomes to learn from; the
# medium profile's 300 do, with a 28-day horizon over weekly cutoffs and tiers whose A-or-
# better band (the potential label) starts where B ends: about 1 in 12 merchants below B
# climbs into it per cutoff, where the default 20% band would take 1 in 100 (none on the
# backtest's first training cutoff).
SETTINGS = {
    "GROWTH_LABEL_HORIZON_DAYS": str(HORIZON),
    "GROWTH_TRAIN_EVERY_DAYS": str(EVERY),
    "GROWTH_TRAIN_CUTOFFS": str(CUTOFFS),
    "GROWTH_BACKTEST_FOLDS": "2",
    "GROWTH_MODEL_TREES": "60",
    "GROWTH_LABEL_TOP_SHARE": "0.45",
    "GROWTH_TIER_SHARES": "0.1,0.45,0.55,0.8",
}
TASKS = [f"{step}_{entity}" for entity in ("merchant", "creator")
         for step in ("training_set", "train", "promote")]
pytestmark = pytest.mark.e2e


@dataclasses.dataclass
class TrainingRun:
    lake: Path
    returncode: int
    log: Path
    states: dict[str, tuple[str, int]]


@pytest.fixture(scope="module")
def training_run(spark, cfg, tmp_path_factory) -> TrainingRun:
    """Simulate the medium profile, ingest it and build its daily tables with the growth
    CLI (what growth_daily's first tasks run), then run growth_training for its last day."""
    work = tmp_path_factory.mktemp("e2e-training")
    lake, home = work / "lake", work / "airflow"
    spark.sql("CREATE DATABASE IF NOT EXISTS e2e_training_sim")
    simulate.run(spark, dataclasses.replace(cfg, lake_root=lake, database="e2e_training_sim"),
                 "medium", 7, AS_OF)
    env = airflow_env(home, lake, **SETTINGS)
    for step, cmd in (
        ("ingest", ["growth", "ingest", "--source", "all", "--as-of", AS_OF.isoformat()]),
        ("daily", ["growth", "daily-aggregates", "--as-of", AS_OF.isoformat()]),
        ("migrate", ["airflow", "db", "migrate"]),
    ):
        done = run(cmd, env, work / f"{step}.log")
        assert done.returncode == 0, (work / f"{step}.log").read_text()[-3000:]
    log = work / "dags-test-training.log"
    done = run(["airflow", "dags", "test", "growth_training", AS_OF.isoformat()], env, log)
    return TrainingRun(lake, done.returncode, log, task_states(home, "growth_training"))


def test_every_task_succeeds_at_its_first_try(training_run):
    assert training_run.returncode == 0, training_run.log.read_text()[-5000:]
    assert training_run.states == {task: ("success", 1) for task in TASKS}


def test_each_training_set_holds_the_regular_cutoffs(spark, training_run):
    assert training_run.returncode == 0
    expected = regular_cutoffs(AS_OF, HORIZON, EVERY, CUTOFFS)
    runs = {r.target_table: r for r in delta(spark, training_run.lake, "run_log")
            .where(F.col("job") == "build_training_set").collect()}
    assert set(runs) == {"growth.merchant_training_set", "growth.creator_training_set"}
    for entity, key in (("merchant", "merchant_id"), ("creator", "creator_id")):
        rows = delta(spark, training_run.lake, f"{entity}_training_set")
        cutoffs = sorted(r[0] for r in rows.select("as_of_date").distinct().collect())
        assert cutoffs == expected, entity
        assert rows.count() == rows.select(key, "as_of_date").distinct().count()
        run_row = runs[f"growth.{entity}_training_set"]
        assert (run_row.status, run_row.rows_inserted) == ("success", rows.count())
        assert (run_row.batch_from, run_row.batch_to) == (expected[0], expected[-1])


def test_the_first_models_are_promoted_to_champions(spark, training_run):
    assert training_run.returncode == 0
    registry = delta(spark, training_run.lake, "model_registry").collect()
    assert sorted((r.model_name, r.version, r.status) for r in registry) == [
        ("creator_potential", 1, "champion"), ("creator_value", 1, "champion"),
        ("merchant_potential", 1, "champion"), ("merchant_value", 1, "champion"),
    ]
    rows = {entity: delta(spark, training_run.lake, f"{entity}_training_set").count()
            for entity in ("merchant", "creator")}
    for model in registry:
        # Each champion names the training set it learnt from and its cutoffs.
        assert model.training_set_table == f"growth.{model.entity}_training_set"
        assert model.training_cutoffs == CUTOFFS
        assert model.training_rows <= rows[model.entity]
        assert model.promoted_at is not None
        assert Path(model.artifact_path.removeprefix("file:")).exists(), model.artifact_path
