"""``growth serve sql``: the Spark Thrift server on a lake's metastore, queried by a real JDBC
client (the bundled beeline), answers as ``growth sql`` and ``spark-sql`` do.

Everything runs in subprocesses on a lake of its own (its own Derby metastore, not the suite's
session lake): spark-sql creates a small Delta table and answers the query, the server starts
through the CLI, beeline queries it over JDBC, a second server on the same lake and one on the
taken port are refused, Ctrl-C stops it, and ``growth sql`` answers last.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from growth.jobs import sql_server
from growth.jobs.cli import build_parser
from growth.jobs.config import load_config

TABLE = "sql_server_probe"
QUERY = f"SELECT merchant_id, orders, gmv, first_order, note FROM {TABLE} ORDER BY merchant_id"
CREATE = (
    "CREATE DATABASE IF NOT EXISTS growth; "
    f"CREATE TABLE growth.{TABLE} USING delta AS SELECT * FROM VALUES "
    "('m1', 3, CAST(12.5 AS DECIMAL(10, 2)), DATE'2026-10-01', 'first order'), "
    "('m2', 0, CAST(0 AS DECIMAL(10, 2)), DATE'2026-10-31', NULL), "
    "('m3', 12, CAST(1234.05 AS DECIMAL(10, 2)), DATE'2026-01-01', 'late') "
    "AS t(merchant_id, orders, gmv, first_order, note)"
)
EXPECTED = [
    ["merchant_id", "orders", "gmv", "first_order", "note"],
    ["m1", "3", "12.50", "2026-10-01", "first order"],
    ["m2", "0", "0.00", "2026-10-31", None],
    ["m3", "12", "1234.05", "2026-01-01", "late"],
]
# Bounds of the waits: a JVM start takes 10-60 s on a loaded 2-core machine.
JVM_TIMEOUT = 600
START_TIMEOUT = 400
STOP_TIMEOUT = 120


@dataclasses.dataclass
class Lake:
    root: Path
    env: dict[str, str]


@dataclasses.dataclass
class Running:
    process: subprocess.Popen
    port: int
    output: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _growth(lake: Lake, *args: str, timeout: float = JVM_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "growth.jobs.cli", *args], env=lake.env,
                          cwd=lake.root, capture_output=True, text=True, timeout=timeout)


def _rows(text: str, null: str, delimiter: str = ",") -> list[list[str | None]]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [[None if value == null else value for value in row]
            for row in csv.reader(lines, delimiter=delimiter)]


def _end_process_group(process: subprocess.Popen) -> None:
    """SIGTERM to the CLI and the JVM it started (one process group), then SIGKILL to
    whatever is left of the group, a JVM that outlived the CLI included."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("sql-server")
    env_file = root / "growth.env"
    env_file.write_text("# settings come from the environment\n")
    venv_bin = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "GROWTH_LAKE_ROOT": str(root / "lake"),
        "GROWTH_ENV_FILE": str(env_file),
        "GROWTH_MASTER": "local[1]",
        "GROWTH_DRIVER_MEMORY": "1g",
        "GROWTH_SHUFFLE_PARTITIONS": "1",
        "GROWTH_LOG_LEVEL": "INFO",
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    (root / "lake").mkdir()
    return Lake(root, env)


@pytest.fixture(scope="module")
def spark_sql_rows(lake: Lake) -> list[list[str | None]]:
    """Create the table with spark-sql on the growth spark-defaults, and its answer."""
    defaults = _growth(lake, "spark-defaults")
    assert defaults.returncode == 0, defaults.stderr
    properties = lake.root / "spark-defaults.conf"
    properties.write_text(defaults.stdout)
    done = subprocess.run(
        [str(sql_server.spark_home() / "bin" / "spark-sql"), "--master", "local[1]",
         "--properties-file", str(properties), "--conf", "spark.sql.cli.print.header=true",
         "-e", f"{CREATE}; USE growth; {QUERY}"],
        env=lake.env, cwd=lake.root, capture_output=True, text=True, timeout=JVM_TIMEOUT,
        stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    # With headers on, spark-sql prints a "Response code" header for each command (CREATE,
    # USE) before the query's own header and rows.
    answer = "\n".join(line for line in done.stdout.splitlines() if line != "Response code")
    return _rows(answer, null="NULL", delimiter="\t")


@pytest.fixture(scope="module")
def server(lake: Lake, spark_sql_rows) -> Iterator[Running]:
    """``growth serve sql`` in a process group of its own, ended in teardown whatever happens."""
    port = _free_port()
    output = lake.root / "serve.out"
    with open(output, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "growth.jobs.cli", "serve", "sql", "--port", str(port)],
            env=lake.env, cwd=lake.root, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        sql_server.wait_until_ready(process, "127.0.0.1", port, START_TIMEOUT, output)
        yield Running(process, port, output)
    finally:
        _end_process_group(process)


@pytest.fixture(scope="module")
def beeline_rows(server: Running) -> list[list[str | None]]:
    url = sql_server.jdbc_url("127.0.0.1", server.port, "growth")
    done = subprocess.run(
        [*sql_server.beeline_command(url), "--silent=true", "--outputformat=csv2", "-e", QUERY],
        capture_output=True, text=True, timeout=JVM_TIMEOUT, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    # beeline echoes its prompt before the result in -e mode
    result = re.sub(r"\d+: jdbc:hive2://\S*> ", "", done.stdout)
    return _rows(result, null="NULL")


@pytest.fixture(scope="module")
def stopped(server: Running, beeline_rows) -> tuple[int, str]:
    """Ctrl-C, as a terminal sends it (SIGINT to the foreground group): exit status, output."""
    os.killpg(server.process.pid, signal.SIGINT)
    status = server.process.wait(timeout=STOP_TIMEOUT)
    return status, server.output.read_text()


def test_serve_sql_is_a_command_with_port_and_host():
    args = build_parser().parse_args(["serve", "sql", "--port", "10001"])
    assert (args.func, args.port, args.host) == (sql_server.execute, 10001, "127.0.0.1")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve"])


def test_start_up_failures_are_named_from_the_server_log(tmp_path):
    cfg = load_config(environ={"GROWTH_LAKE_ROOT": str(tmp_path)}, env_file=Path(os.devnull))
    log_file = tmp_path / "server.log"
    locked = sql_server.classify_failure(
        "ERROR XSDB6: Another instance of Derby may have already booted the database "
        f"{cfg.metastore_dir}.", cfg, "127.0.0.1", 10000, 1, log_file)
    taken = sql_server.classify_failure(
        "Caused by: java.net.BindException: Address already in use", cfg, "127.0.0.1", 10000,
        255, log_file)
    log_file.write_text("starting\nException in thread main: something else\n\tat x.y(Z)\n")
    other = sql_server.classify_failure(log_file.read_text(), cfg, "127.0.0.1", 10000, 1,
                                        log_file)
    assert isinstance(locked, sql_server.MetastoreInUseError)
    assert "one Spark driver at a time" in str(locked) and str(cfg.metastore_dir) in str(locked)
    assert isinstance(taken, sql_server.PortInUseError)
    assert "port 10000 on 127.0.0.1 is already in use" in str(taken) and "--port" in str(taken)
    assert type(other) is sql_server.SqlServerError
    assert "something else" in str(other) and "at x.y" not in str(other)


def test_the_metastore_probe_sees_a_lock_held_by_another_process(tmp_path):
    cfg = load_config(environ={"GROWTH_LAKE_ROOT": str(tmp_path)}, env_file=Path(os.devnull))
    assert not sql_server.metastore_in_use(cfg)  # no metastore yet
    cfg.metastore_dir.mkdir()
    lock_file = cfg.metastore_dir / "dbex.lck"
    lock_file.touch()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR); "
         "fcntl.lockf(fd, fcntl.LOCK_EX); print('locked', flush=True); sys.stdin.read()",
         str(lock_file)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert sql_server.metastore_in_use(cfg)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert not sql_server.metastore_in_use(cfg)


def test_beeline_reads_the_table_over_jdbc(beeline_rows):
    assert beeline_rows == EXPECTED


def test_a_second_server_on_the_same_lake_is_refused_with_the_fix(lake: Lake, server: Running):
    done = _growth(lake, "serve", "sql", "--port", str(_free_port()), timeout=120)
    assert done.returncode == 1
    assert "is open in another process" in done.stderr
    assert "one Spark driver at a time" in done.stderr and "Stop that process" in done.stderr
    assert "Traceback" not in done.stderr and "Exception" not in done.stderr
    assert server.process.poll() is None  # the running server is untouched


def test_a_taken_port_is_refused_with_the_fix(lake: Lake, server: Running, tmp_path):
    other = Lake(lake.root, {**lake.env, "GROWTH_LAKE_ROOT": str(tmp_path)})
    done = _growth(other, "serve", "sql", "--port", str(server.port), timeout=120)
    assert done.returncode == 1
    assert f"port {server.port} on 127.0.0.1 is already in use" in done.stderr
    assert "--port" in done.stderr and "Traceback" not in done.stderr


def test_ctrl_c_stops_the_server_and_frees_the_lake(lake: Lake, server: Running, stopped):
    status, output = stopped
    assert status == 0, output[-3000:]
    url = f"jdbc:hive2://127.0.0.1:{server.port}/growth"
    assert f"SQL server ready at {url}" in output
    assert f"bin/beeline -u {url}" in output
    assert "admits one Spark driver at a time" in output
    assert "SQL server stopped" in output
    cfg = load_config(environ=lake.env, env_file=Path(os.devnull))
    assert not sql_server.metastore_in_use(cfg)
    assert not sql_server.port_in_use("127.0.0.1", server.port)


def test_growth_sql_spark_sql_and_jdbc_give_the_same_answer(lake: Lake, stopped, beeline_rows,
                                                            spark_sql_rows):
    done = _growth(lake, "sql", "--format", "csv", QUERY)
    assert done.returncode == 0, done.stderr[-3000:]
    growth_rows = _rows(done.stdout, null="")
    assert growth_rows == beeline_rows == spark_sql_rows == EXPECTED
