"""A throwaway Airflow scheduler and API server on SQLite, for running Airflow's own backfill.

``airflow dags test`` runs a DAG in-process; a backfill is executed by the scheduler (its
LocalExecutor forks the tasks), and since Airflow 3 every task reports to the API server's
execution API. So a test that backfills starts both, each with the same settings, waits
until the scheduler heartbeats, creates the backfill with the CLI and polls Airflow's SQLite
database (read-only) until the backfill's runs are finished.

Usage::

    with AirflowServices(home, env).start() as airflow:
        runs = airflow.backfill("growth_daily", date(2026, 10, 30), date(2026, 10, 31))
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import TracebackType

START_TIMEOUT = 240.0
POLL_SECONDS = 1.0
LOG_TAIL_CHARS = 4000


class AirflowStartError(RuntimeError):
    """The scheduler or the API server died or did not become healthy in time."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(POLL_SECONDS)


class AirflowServices:
    """``airflow scheduler`` and ``airflow api-server`` for the Airflow home ``home``.

    ``env`` is the environment every Airflow process gets (AIRFLOW_HOME, the DAGs folder,
    the Spark connection, GROWTH_*); this adds what a scheduler-run task needs: the
    LocalExecutor with two worker slots, the execution API's URL and a shared JWT secret,
    DAGs unpaused at creation (a paused DAG's backfill stays queued) and no scheduled runs
    of its own (unpausing would otherwise add a run for the latest interval).
    """

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.port = free_port()
        self.env = {
            **env,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": "growth-e2e-only-" + "s" * 32,
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        }
        self._processes: dict[str, subprocess.Popen] = {}

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["airflow", *args], env=self.env, capture_output=True, text=True,
                              timeout=600)

    def start(self) -> AirflowServices:
        for args in (("db", "migrate"), ("dags", "reserialize")):
            done = self.cli(*args)
            if done.returncode != 0:
                raise AirflowStartError(f"airflow {' '.join(args)}: {done.stderr[-LOG_TAIL_CHARS:]}")
        for name, args in (("scheduler", ["scheduler"]),
                           ("api-server", ["api-server", "--port", str(self.port)])):
            with (self.home / f"{name}.log").open("w") as out:
                self._processes[name] = subprocess.Popen(
                    ["airflow", *args], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_until(self._healthy, START_TIMEOUT, "scheduler and API server healthy")
        except BaseException:
            self.stop()
            raise
        return self

    def _healthy(self) -> bool:
        dead = [name for name, p in self._processes.items() if p.poll() is not None]
        if dead:
            raise AirflowStartError(f"{', '.join(dead)} exited during start-up:\n{self.logs()}")
        url = f"http://127.0.0.1:{self.port}/api/v2/monitor/health"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                health = json.loads(response.read())
        except (OSError, ValueError):
            return False  # not listening yet
        return health.get("scheduler", {}).get("status") == "healthy"

    def query(self, sql: str, *params: object) -> list[tuple]:
        with sqlite3.connect(f"file:{self.home / 'airflow.db'}?mode=ro", uri=True,
                             timeout=30) as db:
            return db.execute(sql, params).fetchall()

    def backfill(self, dag_id: str, start: date, end: date, *options: str,
                 timeout: float = 1800) -> list[tuple[str, str]]:
        """``airflow backfill create`` over [start, end] (logical dates, one run at a time),
        then wait until its runs are finished; return (run_id, state) of each of its runs."""
        # One open backfill per DAG: the scheduler closes a finished one within ~30 s.
        wait_until(lambda: not self.query(
            "SELECT 1 FROM backfill WHERE dag_id = ? AND completed_at IS NULL", dag_id),
            120, f"the previous backfill of {dag_id} closed")
        done = self.cli("backfill", "create", "--dag-id", dag_id, "--from-date",
                        start.isoformat(), "--to-date", end.isoformat(),
                        "--max-active-runs", "1", *options)
        if done.returncode != 0:
            raise RuntimeError(f"airflow backfill create failed:\n{done.stdout}\n{done.stderr}")
        (backfill_id,) = self.query("SELECT max(id) FROM backfill WHERE dag_id = ?", dag_id)[0]
        wait_until(lambda: not self.query(
            "SELECT 1 FROM dag_run WHERE backfill_id = ? AND state IN ('queued', 'running')",
            backfill_id), timeout, f"backfill {backfill_id} of {dag_id} finished")
        return self.query(
            "SELECT r.run_id, r.state FROM backfill_dag_run b JOIN dag_run r "
            "ON r.id = b.dag_run_id WHERE b.backfill_id = ? ORDER BY r.logical_date",
            backfill_id)

    def logs(self) -> str:
        parts = []
        for name in self._processes:
            path = self.home / f"{name}.log"
            text = path.read_text(errors="replace") if path.is_file() else "(no log)"
            parts.append(f"--- {name} ({path}) ---\n{text[-LOG_TAIL_CHARS:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        for process in self._processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self._processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._processes.clear()

    def __enter__(self) -> AirflowServices:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
