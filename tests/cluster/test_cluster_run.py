"""The daily jobs on a Spark standalone cluster publish what they publish on a local master.

One small simulated marketplace is landed into two lakes, each with its own
``GROWTH_LAKE_ROOT`` and so its own embedded Derby metastore. The same spark-submit
commands run the daily jobs for its last day (ingest of every source, daily aggregates,
feature snapshots, labels) against a two-worker standalone cluster on loopback
(``tests/cluster/standalone.py``) into the first lake, and against ``local[2]`` into the
second; the code goes to the executors as a zip of the ``growth`` package (``--py-files``),
the Delta jars through ``spark.jars.packages`` as ``growth spark-defaults`` writes them.

Then every published data table is compared row by row (``row_differences``: doubles
within a relative tolerance, HLL sketches by their estimate), the run log, data-quality
results and quarantine without their run ids and clocks, and the master's record and the
workers' work directories show that each cluster job's tasks ran in executors there.

Runs only with ``GROWTH_TEST_CLUSTER=1`` (``make test-cluster``; see conftest.py).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from growth.features.compare import row_differences
from growth.features.contracts import CONTRACTS
from growth.features.registry import DAILY_TABLES, distinct_count_tolerances
from growth.jobs import simulate
from growth.jobs.config import load_config
from growth.jobs.session import spark_conf
from growth.layout import (
    DQ_RESULTS_TABLE,
    QUARANTINE_TABLE,
    RUN_LOG_TABLE,
    SOURCE_ORDER,
    silver_table,
)
from tests.cluster.standalone import StandaloneCluster, spark_home, tail
from tests.conftest import ROOT

log = logging.getLogger(__name__)

AS_OF = date(2026, 10, 31)
SEED = 7
ENTITIES = ("merchant", "creator")
# One pass of each daily job, in the DAG's order; ingest takes every source in one driver.
JOBS: tuple[tuple[str, ...], ...] = (
    ("ingest", "--source", "all"),
    ("daily-aggregates",),
    ("features",),
    ("labels",),
)
APPLICATION = ROOT / "growth" / "jobs" / "cli.py"
SUBMIT_TIMEOUT = 1200
CLUSTER, LOCAL = "cluster", "local"
LOCAL_MASTER = "local[2]"  # as many task slots as the cluster's two one-core workers
# Settings of both lakes. The small profile spans 60 days: a 14-day label horizon puts the
# labels' cutoff and its outcome window inside it (the default 90 days would not).
SETTINGS = {
    "GROWTH_SHUFFLE_PARTITIONS": "2",
    "GROWTH_DRIVER_MEMORY": "2g",
    "GROWTH_LABEL_HORIZON_DAYS": "14",
}
# What makes two runs' bookkeeping differ although they did the same: ids and clocks. The
# data-quality gates' observed values are rendered doubles (sums, PSI) whose last digits
# depend on the order partial results were combined in.
VOLATILE = {
    RUN_LOG_TABLE: ("run_id", "started_at", "finished_at", "duration_s", "dq_seconds"),
    DQ_RESULTS_TABLE: ("run_id", "validated_at", "observed_value"),
    QUARANTINE_TABLE: ("run_id",),
}
DATA_TABLES = (
    *[silver_table(source) for source in SOURCE_ORDER],
    *[f"{entity}_{topic}" for topic in ("daily", "features", "labels") for entity in ENTITIES],
)
APP_ID = re.compile(r"Connected to Spark cluster with app ID (\S+)")


@dataclasses.dataclass(frozen=True)
class Submitted:
    """One finished spark-submit: its job, where it ran, its exit status, time and log."""

    job: str
    master: str
    returncode: int
    seconds: float
    log: Path

    @property
    def app_id(self) -> str | None:
        """The standalone master's application id, as the driver logged it on connecting."""
        found = APP_ID.search(self.log.read_text(errors="replace"))
        return found.group(1) if found else None


@dataclasses.dataclass
class Runs:
    lakes: dict[str, Path]
    submitted: dict[str, list[Submitted]]
    # The master's applications, read after the last cluster job, before it was stopped.
    applications: dict[str, dict]
    cluster: StandaloneCluster


def build_package(package: Path, out: Path) -> Path:
    """Zip ``package`` (a Python package directory) for ``--py-files``: every file except
    bytecode caches, under the package's own name so that ``import growth`` finds it."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(package.parent))
    return out


def submit_env(lake: Path) -> dict[str, str]:
    """The environment of a spark-submit on ``lake``: none of the caller's ``GROWTH_*``
    settings (``scripts/env.sh`` points ``GROWTH_LAKE_ROOT`` at the project's lake), only
    the lake and ``SETTINGS``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GROWTH_", "PYSPARK_GATEWAY_"))}
    env.update(SETTINGS)
    env.update({
        "GROWTH_LAKE_ROOT": str(lake),
        "PYSPARK_PYTHON": sys.executable,
        # The driver binds to loopback, where the cluster is, instead of the first interface.
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    })
    return env


def properties_file(lake: Path) -> Path:
    """``growth spark-defaults`` for ``lake``, written where the README puts it."""
    cfg = load_config(environ=submit_env(lake), env_file=Path(os.devnull))
    path = lake / "spark-defaults.conf"
    path.write_text("".join(f"{key} {value}\n" for key, value in spark_conf(cfg).items()))
    return path


def spark_submit(master: str, lake: Path, package: Path, job: tuple[str, ...],
                 logs: Path) -> Submitted:
    """Run one growth job through spark-submit, as the DAG's tasks do, plus ``--py-files``."""
    name = f"{logs.name}-{job[0]}"
    command = [
        str(spark_home() / "bin" / "spark-submit"),
        "--master", master,
        "--deploy-mode", "client",
        # The Delta packages, metastore, warehouse and driver memory of the lake.
        "--properties-file", str(properties_file(lake)),
        # No driver web UI: nothing here looks at it, and it would compete for port 4040.
        "--conf", "spark.ui.enabled=false",
        "--py-files", str(package),
        str(APPLICATION), *job, "--as-of", AS_OF.isoformat(),
    ]
    log_path = logs / f"{name}.log"
    started = time.perf_counter()
    with log_path.open("w") as out:
        # The working directory holds no growth.env, so only submit_env configures the job.
        done = subprocess.run(command, env=submit_env(lake), cwd=logs, stdout=out,
                              stderr=subprocess.STDOUT, timeout=SUBMIT_TIMEOUT)
    seconds = time.perf_counter() - started
    log.info("%s on %s: exit %d in %.1f s", " ".join(job), master, done.returncode, seconds)
    return Submitted(job[0], master, done.returncode, seconds, log_path)


def run_chain(master: str, lake: Path, package: Path, logs: Path) -> list[Submitted]:
    """Every job of ``JOBS`` in order; stops at the first failure, with the log's tail."""
    logs.mkdir(parents=True, exist_ok=True)
    submitted = []
    for job in JOBS:
        result = spark_submit(master, lake, package, job, logs)
        submitted.append(result)
        if result.returncode != 0:
            pytest.fail(f"growth {' '.join(job)} on {master} exited {result.returncode}; "
                        f"{result.log}:\n{tail(result.log)}")
    return submitted


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The growth package as spark-submit ships it, built once for every job."""
    return build_package(ROOT / "growth", tmp_path_factory.mktemp("package") / "growth.zip")


@pytest.fixture(scope="module")
def marketplace(spark: SparkSession, cfg, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small profile's raw zone, generated once on the suite's session."""
    lake = tmp_path_factory.mktemp("marketplace")
    # The simulator also writes its ground truth table; keep it out of the suite's database.
    spark.sql("CREATE DATABASE IF NOT EXISTS cluster_sim")
    simulate.run(spark, dataclasses.replace(cfg, lake_root=lake, database="cluster_sim"),
                 "small", SEED, AS_OF)
    return lake / "raw"


@pytest.fixture(scope="module")
def runs(package: Path, marketplace: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    """The daily jobs on the standalone cluster into one lake, then on a local master into
    another, from the same raw zone."""
    work = tmp_path_factory.mktemp("cluster-run")
    lakes = {CLUSTER: work / "lake-cluster", LOCAL: work / "lake-local"}
    for lake in lakes.values():
        shutil.copytree(marketplace, lake / "raw")
    cluster = StandaloneCluster(work / "standalone", workers=2, cores=1, memory="2g")
    submitted = {}
    with cluster.start():
        submitted[CLUSTER] = run_chain(cluster.master_url, lakes[CLUSTER], package,
                                       work / "logs-cluster")
        applications = {app["id"]: app for app in cluster.applications()}
    # The cluster is stopped before the local run: its work directories stay behind.
    submitted[LOCAL] = run_chain(LOCAL_MASTER, lakes[LOCAL], package, work / "logs-local")
    yield Runs(lakes, submitted, applications, cluster)
    # Each executor fetched its own copy of the Delta jars (~90 MB); keep the logs only.
    for jar in work.glob("standalone/work-*/*/*/*.jar"):
        jar.unlink()


def delta(spark: SparkSession, lake: Path, table: str) -> DataFrame:
    return spark.read.format("delta").load(str(lake / "warehouse" / "growth.db" / table))


def keys_of(table: str) -> list[str]:
    """The grain of a published data table."""
    if table.startswith("silver_"):
        return list(CONTRACTS[table.removeprefix("silver_")].keys)
    entity, topic = table.split("_", 1)
    if topic == "daily":
        return [DAILY_TABLES[entity].key, "date"]
    return [f"{entity}_id", "as_of_date"]


def test_the_package_alone_provides_growth(package, tmp_path):
    """The zip holds the whole package and wins over the venv's editable install: an
    executor with it on PYTHONPATH imports growth from the zip."""
    probe = subprocess.run(
        [sys.executable, "-c", "import growth, growth.jobs.cli; print(growth.__file__)"],
        env={**os.environ, "PYTHONPATH": str(package)}, cwd=tmp_path,
        capture_output=True, text=True, timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == str(package / "growth" / "__init__.py")


def test_every_job_ran_on_its_master_and_logged_success(spark, runs):
    for where, lake in runs.lakes.items():
        assert [s.job for s in runs.submitted[where]] == [job[0] for job in JOBS]
        statuses = {
            (r.job, r.target_table): r.status
            for r in delta(spark, lake, RUN_LOG_TABLE).collect()
        }
        assert {job for job, _ in statuses} == {
            "ingest", "build_daily", "build_features", "build_labels"}, statuses
        failed = {k: v for k, v in statuses.items() if v not in ("success", "empty")}
        assert not failed, (where, failed)
    timings = {
        where: ", ".join(f"{s.job} {s.seconds:.0f} s" for s in submitted)
        for where, submitted in runs.submitted.items()
    }
    log.info("spark-submit wall times: %s", timings)


def test_the_cluster_jobs_ran_in_the_workers_executors(runs):
    cluster, apps = runs.cluster, runs.applications
    app_ids = [s.app_id for s in runs.submitted[CLUSTER]]
    assert all(app_ids), "a cluster job's driver did not log its application id"
    # The master saw exactly the cluster jobs, each finished; the local runs never came by.
    assert sorted(apps) == sorted(app_ids), apps
    assert all(s.app_id is None for s in runs.submitted[LOCAL])
    workers_with_tasks = set()
    for submitted in runs.submitted[CLUSTER]:
        app = apps[submitted.app_id]
        assert app["state"] == "FINISHED", app
        executors = cluster.executor_dirs(submitted.app_id)
        # One executor per one-core worker, each with the package it was shipped.
        assert {e.parent.parent for e in executors} == set(cluster.work_dirs), executors
        assert all((e / "growth.zip").is_file() for e in executors), executors
        ran = [e for e in executors if "Finished task" in (e / "stderr").read_text()]
        assert ran, f"{submitted.job}: no executor of {submitted.app_id} finished a task"
        workers_with_tasks.update(e.parent.parent for e in ran)
    assert workers_with_tasks == set(cluster.work_dirs)


@pytest.mark.parametrize("table", DATA_TABLES)
def test_a_published_table_is_the_same_on_the_cluster_and_locally(spark, runs, table):
    on_cluster = delta(spark, runs.lakes[CLUSTER], table)
    local = delta(spark, runs.lakes[LOCAL], table)
    assert not local.isEmpty(), f"{table} is empty: the comparison would prove nothing"
    entity = table.split("_", 1)[0]
    # Distinct counts are unions of HLL sketches, whose estimate depends (within the
    # sketch's error) on the order the sketches were merged in.
    approx = distinct_count_tolerances(entity) if table.endswith("_features") else None
    differences = row_differences(on_cluster, local, keys_of(table), approx=approx)
    assert differences.isEmpty(), differences.take(5)


@pytest.mark.parametrize("table", sorted(VOLATILE))
def test_the_runs_bookkeeping_is_the_same_but_for_ids_and_clocks(spark, runs, table):
    on_cluster = delta(spark, runs.lakes[CLUSTER], table).drop(*VOLATILE[table])
    local = delta(spark, runs.lakes[LOCAL], table).drop(*VOLATILE[table])
    assert not local.isEmpty()
    assert on_cluster.exceptAll(local).isEmpty(), on_cluster.exceptAll(local).take(5)
    assert local.exceptAll(on_cluster).isEmpty(), local.exceptAll(on_cluster).take(5)
