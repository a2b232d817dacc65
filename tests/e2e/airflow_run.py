"""Running the project's DAGs through a real Airflow (SQLite home, spark-submit tasks) in
tests: the environment, a logged command, the task states a run left, the tables it
published."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def airflow_env(home: Path, lake: Path, **settings: str) -> dict[str, str]:
    """Airflow and the growth jobs it starts, on ``lake`` with a local[2] master;
    ``settings`` are extra GROWTH_* variables every task sees."""
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
        "PYSPARK_PYTHON": sys.executable,
        **settings,
    }


def run(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.CompletedProcess:
    """``cmd`` with its output in ``log`` (read it when an assertion fails)."""
    with log.open("w") as out:
        return subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=2400)


def task_states(home: Path, dag_id: str) -> dict[str, tuple[str, int]]:
    """(state, try number) of every task instance of ``dag_id`` in the Airflow database."""
    with sqlite3.connect(home / "airflow.db") as db:
        return {task: (state, tries) for task, state, tries in db.execute(
            "SELECT task_id, state, try_number FROM task_instance WHERE dag_id = ?", (dag_id,))}


def delta(spark, lake: Path, table: str):
    """A table the DAG published in ``lake``, read by path (the test's own session has
    its own metastore)."""
    return spark.read.format("delta").load(str(lake / "warehouse" / "growth.db" / table))
