"""Benchmark: one incremental growth_daily run on the large profile, through Airflow, per task.

Needs the large profile's raw zone in ``BENCH_LAKE_ROOT`` (default ``./lake-bench``)::

    make bench-simulate          # raw zone, ~13 min
    make bench-daily             # or: .venv/bin/python benchmarks/daily_run_large.py

The day run is the profile's last day D (``GROWTH_SIM_END_DATE``). Before it, the lake is
brought to the state the run of D - 1 leaves (not timed; each step is skipped when done):
every source ingested through D - 1, the daily tables built, the snapshots and labels of
D - 1 published, a champion for each model (fitted on one cutoff on the driver, as
``make bench-models`` does, when the lake has none), and D - 1's tiers and outreach lists
(so D's lists find the week's capacity partly used and the effect model's choice made).

Then ``airflow dags test growth_daily D`` runs the DAG exactly as the scheduler would, with
its spark-submit tasks on the local master (one task at a time, the DAG's limit): ingest of
D's batch, daily aggregates of the days it touched, the day's snapshots, labels, scores and
tiers, look-alikes and outreach lists, each behind its gates. It prints, per task, the
Airflow task's wall time (spark-submit's JVM start, Delta jar lookup and the job) and the
job's own time from ``run_log``, then the run's total. Target: under 15 minutes.

Rerunning it reruns day D: its batch is ingested again (silver is already past it) and the
days it touches are recomputed, which is the same incremental work.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench_lake import use_bench_lake  # noqa: E402  (benchmarks/ is on sys.path)

use_bench_lake()

import logging  # noqa: E402

from models_large import ensure_champions  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from growth.features.ingest_rules import BATCH_DATE  # noqa: E402
from growth.jobs import (  # noqa: E402
    build_daily,
    build_features,
    build_labels,
    build_outreach,
    delta_io,
    ingest,
    score,
)
from growth.jobs.config import load_config  # noqa: E402
from growth.jobs.inputs import tiers_table  # noqa: E402
from growth.jobs.session import get_spark  # noqa: E402
from growth.layout import RUN_LOG_TABLE, SOURCE_ORDER, silver_table  # noqa: E402

DAG = "growth_daily"
TARGET_MINUTES = 15
ROOT = Path(__file__).resolve().parent.parent
# The platform's own progress lines, as the demo shows them.
PROGRESS = re.compile(r" (INFO|WARNING|ERROR) growth|^problem:|^data-quality")


def say(text: str) -> None:
    sys.stdout.write(f"{datetime.now(UTC):%H:%M:%S} {text}\n")
    sys.stdout.flush()


def prepare(spark, cfg, day: date) -> None:
    """Bring the lake to the state the run of ``day`` - 1 leaves (skipping what is done)."""
    before = day - timedelta(days=1)
    silver = cfg.table(silver_table("orders"))
    if not delta_io.table_exists(spark, silver):
        for source in SOURCE_ORDER:
            started = time.perf_counter()
            ingest.run(spark, cfg, before, source)
            say(f"setup: {source} ingested through {before} ({time.perf_counter() - started:.0f} s)")
    newest = spark.table(silver).agg(F.max(BATCH_DATE)).first()[0]
    if newest is not None and newest >= day:
        say(f"setup: silver already holds the batch of {day}: the run below reruns that day")
    if not delta_io.table_exists(spark, cfg.table("merchant_daily")):
        started = time.perf_counter()
        build_daily.run(spark, cfg, before)
        say(f"setup: daily tables built ({time.perf_counter() - started:.0f} s)")
    if not delta_io.table_exists(spark, cfg.table("creator_features")):
        started = time.perf_counter()
        build_features.run(spark, cfg, before)
        build_labels.run(spark, cfg, before)
        say(f"setup: snapshots and labels of {before} ({time.perf_counter() - started:.0f} s)")
    for entity in ("merchant", "creator"):
        ensure_champions(spark, cfg, entity, before)
    # The day before's tiers and outreach lists: the run of D finds this week's earlier list
    # (capacity used, cooldown) and the effect model's choice its outreach jobs made, as a
    # daily schedule leaves them.
    for entity in ("merchant", "creator"):
        if not _published(spark, cfg.table(tiers_table(entity)), before):
            started = time.perf_counter()
            score.run(spark, cfg, before, entity)
            say(f"setup: {entity} tiers of {before} ({time.perf_counter() - started:.0f} s)")
        if not _published(spark, cfg.table(build_outreach.TABLE), before, entity):
            started = time.perf_counter()
            build_outreach.run(spark, cfg, before, entity)
            say(f"setup: {entity} outreach list of {before} "
                f"({time.perf_counter() - started:.0f} s)")


def _published(spark, table: str, day: date, entity: str | None = None) -> bool:
    """Whether ``table`` has rows of ``day`` (of ``entity``'s type, for outreach lists)."""
    if not delta_io.table_exists(spark, table):
        return False
    rows = spark.table(table).where(F.col("as_of_date") == F.lit(day))
    if entity is not None:
        rows = rows.where(F.col("entity_type") == entity)
    return rows.limit(1).count() > 0


def airflow_env(cfg) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "AIRFLOW_HOME": str(cfg.lake_root / "airflow_home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "5",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_CONN_GROWTH_SPARK": json.dumps({"conn_type": "spark", "host": cfg.master}),
    }


def run_dag(cfg, day: date, log_path: Path) -> float:
    """``airflow dags test growth_daily day``; its output goes to ``log_path``, the
    platform's progress lines to the screen. Returns the wall time."""
    env = airflow_env(cfg)
    # A fresh Airflow database each time: the run is the only one of its day.
    shutil.rmtree(env["AIRFLOW_HOME"], ignore_errors=True)
    subprocess.run(["airflow", "db", "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    started = time.perf_counter()
    with log_path.open("w") as log, subprocess.Popen(
            ["airflow", "dags", "test", DAG, str(day)], env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc:
        for line in proc.stdout:
            log.write(line)
            if PROGRESS.search(line):
                sys.stdout.write("  " + line.split("] ", 1)[-1].split(" [airflow.task")[0]
                                 .rstrip() + "\n")
                sys.stdout.flush()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"airflow dags test failed (exit {proc.returncode}); full log: {log_path}")
    return wall


def task_times(cfg) -> list[tuple[str, str, int, datetime, datetime]]:
    """(task, state, try, start, end) of the newest growth_daily run, in start order."""
    with sqlite3.connect(cfg.lake_root / "airflow_home" / "airflow.db") as db:
        (run_id,) = db.execute("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC "
                               "LIMIT 1", (DAG,)).fetchone()
        rows = db.execute(
            "SELECT task_id, state, try_number, start_date, end_date FROM task_instance "
            "WHERE dag_id = ? AND run_id = ? ORDER BY start_date", (DAG, run_id)).fetchall()

    def stamp(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text).replace(tzinfo=None) if text else None
    return [(t, s, n, stamp(a), stamp(b)) for t, s, n, a, b in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setup-only", action="store_true",
                        help="only bring the lake to the state of the day before (what the "
                             "benchmark runs first, in a process of its own)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    cfg = load_config()
    day = cfg.sim_end_date
    if args.setup_only:
        prepare(get_spark(cfg, "bench-daily-setup"), cfg, day)
        return
    print(f"\nlake {cfg.lake_root}; {os.cpu_count()} cores, driver memory {cfg.driver_memory}; "
          f"growth_daily for {day} on master {cfg.master}")
    if not (cfg.lake_root / "raw").is_dir():
        sys.exit(f"no raw zone in {cfg.lake_root}: run 'make bench-simulate' first")
    # A process of its own: a stopped session's JVM lives on with the embedded metastore
    # (Derby) booted, and the DAG's drivers could not open it.
    subprocess.run([sys.executable, __file__, "--setup-only"], check=True)

    log_path = cfg.lake_root / "logs" / f"bench-daily-{day}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    say(f"airflow dags test {DAG} {day} (log: {log_path})")
    wall = run_dag(cfg, day, log_path)
    tasks = task_times(cfg)

    spark = get_spark(cfg, "bench-daily-report")
    first = min(start for *_, start, _ in tasks if start)
    jobs = (spark.table(cfg.table(RUN_LOG_TABLE))
            .where((F.col("as_of") == F.lit(day)) & (F.col("started_at") >= F.lit(first)))
            .select("job", "target_table", "started_at", "duration_s", "dq_seconds",
                    "rows_in", "rows_inserted", "rows_updated", "status")
            .orderBy("started_at").collect())
    spark.stop()

    print(f"\nper task, growth_daily {day} (task = Airflow's start..end; job = run_log)")
    print(f"  {'task':<20} {'state':<8} {'try':>3} {'task s':>8} {'job s':>8} {'gates s':>8}  "
          "jobs (rows in -> inserted/updated)")
    summed = 0.0
    for task, state, tries, start, end in tasks:
        seconds = (end - start).total_seconds() if start and end else float("nan")
        summed += 0 if seconds != seconds else seconds
        mine = [j for j in jobs if start and end and start <= j.started_at <= end]
        job_s = sum(j.duration_s for j in mine)
        dq_s = sum(j.dq_seconds or 0 for j in mine)
        detail = "; ".join(
            f"{j.target_table.split('.')[-1]} {j.rows_in or 0:,} -> "
            f"{(j.rows_inserted or 0) + (j.rows_updated or 0):,}" for j in mine)
        print(f"  {task:<20} {state:<8} {tries:>3} {seconds:>8.1f} {job_s:>8.1f} {dq_s:>8.1f}  "
              f"{detail}")
    print(f"  {'sum of tasks':<33} {summed:>8.1f}")
    print(f"\nairflow dags test wall time {wall:.0f} s = {wall / 60:.1f} min "
          f"(target < {TARGET_MINUTES} min: {'MET' if wall < TARGET_MINUTES * 60 else 'MISSED'})")


if __name__ == "__main__":
    main()
