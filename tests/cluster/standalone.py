"""A throwaway Spark standalone cluster on the loopback interface, for tests.

One master and N workers started with the ``spark-class`` launcher of the pyspark pip
distribution (no separate Spark install), each daemon a child process with its log in the
cluster's directory. Ports are picked free at start, so two clusters (or a cluster and an
unrelated Spark) can run side by side; everything binds to 127.0.0.1.

Usage::

    with StandaloneCluster(tmp_path / "cluster").start() as cluster:
        subprocess.run(["spark-submit", "--master", cluster.master_url, ...])
        cluster.applications()   # what the master saw: ids, names, states
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import pyspark

HOST = "127.0.0.1"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
LOG_TAIL_CHARS = 4000


class ClusterStartError(RuntimeError):
    """The master or a worker did not come up (or register) in time; the message holds the
    tail of every daemon's log."""


def spark_home() -> Path:
    """The Spark shipped inside the pyspark package: ``bin/spark-class``, ``jars/``."""
    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it; a race is possible but
    unlikely, and would surface as a start error naming the port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def tail(path: Path, chars: int = LOG_TAIL_CHARS) -> str:
    """The last ``chars`` characters of a log file, or a note that there is none."""
    if not path.is_file():
        return f"({path} does not exist)"
    text = path.read_text(errors="replace")
    return text[-chars:]


@dataclass
class _Daemon:
    name: str
    process: subprocess.Popen
    log: Path


@dataclass
class StandaloneCluster:
    """A master and ``workers`` workers of ``cores`` cores and ``memory`` each, under ``root``.

    ``root`` holds one log per daemon (``master.log``, ``worker-<i>.log``) and one work
    directory per worker (``work-<i>/<app id>/<executor id>/``: the executor's stdout, stderr
    and the files and py-files it fetched), which is where tests look for proof that an
    application's executors ran on this cluster.
    """

    root: Path
    workers: int = 2
    cores: int = 1
    memory: str = "2g"
    # Heap of each daemon (not of the executors they launch): a master or worker needs little.
    daemon_memory: str = "512m"
    start_timeout: float = 180.0
    stop_timeout: float = 60.0
    port: int = 0
    ui_port: int = 0
    _daemons: list[_Daemon] = field(default_factory=list)

    @property
    def master_url(self) -> str:
        return f"spark://{HOST}:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://{HOST}:{self.ui_port}"

    @property
    def work_dirs(self) -> list[Path]:
        return [self.root / f"work-{i}" for i in range(self.workers)]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "SPARK_HOME": str(spark_home()),
            # Binds the RPC endpoints and the web UIs to loopback instead of every interface.
            "SPARK_LOCAL_IP": HOST,
            "SPARK_DAEMON_MEMORY": self.daemon_memory,
        })
        # A driver's gateway variables in the environment would mislead the launcher.
        for leaked in ("PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET"):
            env.pop(leaked, None)
        return env

    def _launch(self, name: str, args: list[str]) -> None:
        log = self.root / f"{name}.log"
        with log.open("w") as out:
            # spark-class execs the JVM, so this pid is the daemon's own: a SIGTERM to it
            # runs the daemon's shutdown hooks (a worker then kills its executors).
            process = subprocess.Popen(
                [str(spark_home() / "bin" / "spark-class"), *args],
                env=self._env(), cwd=self.root, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        self._daemons.append(_Daemon(name, process, log))

    def start(self) -> StandaloneCluster:
        """Start the master and the workers; return once every worker has registered."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.port, self.ui_port = free_port(), free_port()
        self._launch("master", [
            MASTER_CLASS, "--host", HOST, "--port", str(self.port),
            "--webui-port", str(self.ui_port),
        ])
        for i, work_dir in enumerate(self.work_dirs):
            work_dir.mkdir(exist_ok=True)
            self._launch(f"worker-{i}", [
                WORKER_CLASS, "--host", HOST, "--port", str(free_port()),
                "--webui-port", str(free_port()), "--cores", str(self.cores),
                "--memory", self.memory, "--work-dir", str(work_dir), self.master_url,
            ])
        try:
            self._wait_for_workers()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_for_workers(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        alive = 0
        while time.monotonic() < deadline:
            dead = [d for d in self._daemons if d.process.poll() is not None]
            if dead:
                raise ClusterStartError(self._report(
                    f"{', '.join(d.name for d in dead)} exited (status "
                    f"{', '.join(str(d.process.returncode) for d in dead)}) during start-up"))
            try:
                alive = self.state()["aliveworkers"]
            except (OSError, ValueError, KeyError):
                alive = 0  # the master's web UI is not up yet
            if alive >= self.workers:
                return
            time.sleep(1.0)
        raise ClusterStartError(self._report(
            f"{alive} of {self.workers} worker(s) registered with {self.master_url} within "
            f"{self.start_timeout:.0f} s"))

    def _report(self, what: str) -> str:
        logs = "\n".join(f"--- {d.name} ({d.log}) ---\n{tail(d.log)}" for d in self._daemons)
        return f"standalone cluster under {self.root}: {what}\n{logs}"

    def state(self) -> dict[str, Any]:
        """The master's view as its web UI serves it at ``/json/``: ``aliveworkers``,
        ``workers``, ``activeapps``, ``completedapps`` (each with ``id``, ``name``,
        ``state``, ``cores``, ``duration``)."""
        with urllib.request.urlopen(f"{self.ui_url}/json/", timeout=5) as response:
            return json.loads(response.read())

    def applications(self) -> list[dict[str, Any]]:
        """Every application the master has seen, running or completed."""
        state = self.state()
        return [*state.get("activeapps", []), *state.get("completedapps", [])]

    def executor_dirs(self, app_id: str) -> list[Path]:
        """The executor directories of one application, across all workers."""
        return sorted(p for w in self.work_dirs for p in (w / app_id).glob("*") if p.is_dir())

    def logs(self) -> str:
        """Every daemon's log tail, for assertion messages."""
        return self._report("logs")

    def stop(self) -> None:
        """Stop the workers, then the master (SIGTERM, then SIGKILL after the timeout)."""
        # Workers first: stopping the master first makes them retry the connection and log
        # errors until they are stopped too.
        for daemon in reversed(self._daemons):
            if daemon.process.poll() is None:
                daemon.process.send_signal(signal.SIGTERM)
                try:
                    daemon.process.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    daemon.process.kill()
                    daemon.process.wait()
        self._daemons.clear()

    def __enter__(self) -> StandaloneCluster:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


__all__ = ["ClusterStartError", "StandaloneCluster", "free_port", "spark_home"]


def _main() -> None:  # pragma: no cover - manual check: python -m tests.cluster.standalone
    import tempfile

    with StandaloneCluster(Path(tempfile.mkdtemp(prefix="growth-cluster-"))).start() as c:
        print(c.master_url, c.ui_url, c.state()["aliveworkers"], "workers")


if __name__ == "__main__":  # pragma: no cover
    _main()
