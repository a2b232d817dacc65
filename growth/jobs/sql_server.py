"""``growth serve sql``: the Spark Thrift server (HiveServer2 protocol: JDBC, ODBC, beeline) on
the lake's metastore, so analysts and BI tools query the published tables of database
``growth`` by the names the jobs publish them under.

The server is Spark's own ``HiveThriftServer2`` started by ``spark-submit`` in the foreground,
with every setting of ``growth spark-defaults`` (``session.spark_conf``): the same Delta
catalog, warehouse and embedded Derby metastore as the jobs, ``growth sql`` and ``spark-sql``.
One addition: the Delta jars are also put on the JVM's class path (``SPARK_DIST_CLASSPATH``,
which comes after Spark's own jars). Jars given by ``spark.jars.packages`` alone are invisible
to the class loader a JDBC session runs under, and every connection would fail with
``ClassNotFoundException: ...DeltaCatalog`` (delta-io/delta#1332). They are resolved once per
package list by Spark itself (the cache of ``spark.jars.packages``) and remembered in
``<lake>/sql_server/``. Clients choose the database in the URL (``jdbc:hive2://HOST:PORT/growth``):
the Hive JDBC driver sends ``default`` when the URL names none.

Derby admits one Spark driver per metastore at a time: while the server runs, no other growth
command, Airflow task or spark-sql can open the lake, and the server cannot start while one of
them has it open. Both that and a taken port are checked before the JVM starts (a lock probe
on Derby's ``dbex.lck``, a bind on the port), and recognised in the server's log if they
happen during start-up anyway, so the command stops with a message instead of a stack trace.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import fcntl
import hashlib
import logging
import os
import re
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

from growth.errors import GrowthError
from growth.jobs.config import Config, load_config

log = logging.getLogger(__name__)

SERVER_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
APP_NAME = "growth-sql-server"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 10000
# A cold start resolves the Delta jars (downloads them the first time) and boots the metastore.
START_TIMEOUT_SECONDS = 300.0
STOP_TIMEOUT_SECONDS = 60.0
LOG_TAIL_LINES = 25


class SqlServerError(GrowthError, RuntimeError):
    """The SQL server could not start or stopped unexpectedly; the message says why."""


class MetastoreInUseError(SqlServerError):
    """Another Spark driver has the lake's embedded Derby metastore open."""


class PortInUseError(SqlServerError):
    """Something already listens on the requested port."""


def server_dir(cfg: Config) -> Path:
    """Where the server keeps its properties file, log and resolved class path."""
    return cfg.lake_root / "sql_server"


def log_path(cfg: Config) -> Path:
    return server_dir(cfg) / "server.log"


def spark_home() -> Path:
    """The Spark installation whose ``bin/spark-submit`` and ``bin/beeline`` are used."""
    if os.environ.get("SPARK_HOME"):
        return Path(os.environ["SPARK_HOME"])
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def jdbc_url(host: str, port: int, database: str) -> str:
    return f"jdbc:hive2://{_client_host(host)}:{port}/{database}"


def beeline_command(url: str) -> list[str]:
    """The bundled beeline, connected to ``url``: paste it into a shell to start querying."""
    return [str(spark_home() / "bin" / "beeline"), "-u", url]


def _client_host(host: str) -> str:
    # A server bound to every interface is reached locally through the loopback address.
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def metastore_in_use(cfg: Config) -> bool:
    """True when a running process has the lake's Derby metastore open.

    A booted Derby database holds a POSIX lock on ``metastore_db/dbex.lck`` (Java's
    ``FileChannel.tryLock``); probing it is instant, where a second driver would only learn
    it after starting Spark. The probe takes and drops the lock at once.
    """
    lock_file = cfg.metastore_dir / "dbex.lck"
    try:
        fd = os.open(lock_file, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            return True
        raise
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def port_in_use(host: str, port: int) -> bool:
    """True when ``host:port`` cannot be bound because something listens there already."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise SqlServerError(f"cannot listen on host {host!r}: {exc}; pass --host with a "
                             "local address (127.0.0.1 for this machine only)") from exc
    with socket.socket(family, kind, proto) as probe:
        # The JVM binds with SO_REUSEADDR too: sockets in TIME_WAIT do not count as taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise SqlServerError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return False


def metastore_in_use_message(cfg: Config) -> str:
    return (
        f"the lake's metastore ({cfg.metastore_dir}) is open in another process: a growth "
        "command, an Airflow task, spark-sql or another 'growth serve sql' is using this lake. "
        "The embedded Derby metastore admits one Spark driver at a time. Stop that process (or "
        "let it finish) and start the server again; to serve SQL while jobs run, point the "
        "platform at a shared metastore (a Hive metastore service or a JDBC database)."
    )


def port_in_use_message(host: str, port: int) -> str:
    return (
        f"port {port} on {host} is already in use (perhaps by a 'growth serve sql' still "
        f"running). Choose another port with --port, or stop the process that listens on it "
        f"(ss -ltnp 'sport = :{port}' names it)."
    )


def _ensure_free(cfg: Config, host: str, port: int) -> None:
    if metastore_in_use(cfg):
        raise MetastoreInUseError(metastore_in_use_message(cfg))
    if port_in_use(host, port):
        raise PortInUseError(port_in_use_message(host, port))
    if not cfg.metastore_dir.is_dir():
        raise SqlServerError(_no_database_message(cfg))


def _no_database_message(cfg: Config) -> str:
    return (
        f"the lake {cfg.lake_root} has no database '{cfg.database}' yet, so there is nothing "
        f"to serve. Run the jobs first, or create the empty database with "
        f"growth sql \"SHOW TABLES IN {cfg.database}\"; check GROWTH_LAKE_ROOT if the lake "
        "is elsewhere."
    )


def _jar_paths(jars: str) -> list[str]:
    paths = []
    for jar in filter(None, (j.strip() for j in jars.split(","))):
        parsed = urlparse(jar)
        paths.append(unquote(parsed.path) if parsed.scheme in ("file", "local") else jar)
    return paths


def delta_classpath(cfg: Config) -> list[str]:
    """Local paths of the Delta jars and their dependencies, as ``spark.jars.packages``
    resolves them (``GROWTH_SPARK_JARS`` when set).

    The result of a resolution is remembered per package list in ``<lake>/sql_server/`` and
    reused while every jar is still there; resolving starts a JVM (a few seconds).
    """
    if cfg.spark_jars:
        return _jar_paths(cfg.spark_jars)
    key = hashlib.sha256(cfg.delta_packages.encode()).hexdigest()[:16]
    remembered = server_dir(cfg) / f"classpath-{key}.txt"
    if remembered.is_file():
        jars = remembered.read_text().split("\n")
        if jars and all(Path(jar).is_file() for jar in jars):
            return jars
    jars = _resolve_packages(cfg)
    remembered.parent.mkdir(parents=True, exist_ok=True)
    remembered.write_text("\n".join(jars))
    return jars


def _resolve_packages(cfg: Config) -> list[str]:
    # Spark's own resolution (ivy settings, ~/.ivy2.5.2 cache, ~/.m2) in a bare py4j JVM that
    # starts no SparkContext: spark-submit resolves spark.jars.packages before its main
    # class runs and leaves the local paths in the system property spark.jars.
    from pyspark import SparkConf
    from pyspark.errors import PySparkRuntimeError
    from pyspark.java_gateway import launch_gateway

    from growth.jobs.session import SparkStartError, _how_to_fix

    log.info("resolving the Delta jars %s for the server's class path", cfg.delta_packages)
    conf = SparkConf(loadDefaults=False).set("spark.jars.packages", cfg.delta_packages)
    log_file = log_path(cfg)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as out:
        try:
            gateway = launch_gateway(
                conf, popen_kwargs={"stdout": out, "stderr": subprocess.STDOUT})
        except PySparkRuntimeError as exc:
            raise SparkStartError(f"{_how_to_fix(cfg)}\nSee {log_file}.") from exc
        try:
            jars = _jar_paths(gateway.jvm.System.getProperty("spark.jars") or "")
        finally:
            gateway.shutdown()
            # The gateway JVM exits when its stdin closes.
            gateway.proc.stdin.close()
            gateway.proc.wait(timeout=STOP_TIMEOUT_SECONDS)
    if not jars:
        raise SparkStartError(_how_to_fix(cfg))
    return jars


def server_command(cfg: Config, host: str, port: int, properties_file: Path) -> list[str]:
    """The spark-submit command line of the server (the Delta class path goes in its
    environment, see ``server_environment``)."""
    return [
        str(spark_home() / "bin" / "spark-submit"),
        "--master", cfg.master,
        "--properties-file", str(properties_file),
        "--name", APP_NAME,
        "--class", SERVER_CLASS,
        "--hiveconf", f"hive.server2.thrift.port={port}",
        "--hiveconf", f"hive.server2.thrift.bind.host={host}",
    ]


def server_environment(classpath: Sequence[str]) -> dict[str, str]:
    env = dict(os.environ)
    env["SPARK_DIST_CLASSPATH"] = os.pathsep.join(
        [*filter(None, [env.get("SPARK_DIST_CLASSPATH")]), *classpath])
    return env


def write_properties(cfg: Config) -> Path:
    """``growth spark-defaults`` as a file the server reads."""
    from growth.jobs.session import spark_conf

    path = server_dir(cfg) / "spark-defaults.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{key} {value}\n" for key, value in spark_conf(cfg).items()))
    return path


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log without Java stack frames, which bury the message."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    kept = [line for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith(("at ", "... "))]
    return "\n".join(kept[-lines:])


_METASTORE_LOCKED = re.compile(r"XSDB6|Another instance of Derby may have already booted")
_PORT_TAKEN = re.compile(r"Address already in use|Could not create ServerSocket")


def classify_failure(log_text: str, cfg: Config, host: str, port: int, status: int,
                     log_file: Path, when: str = "during start-up") -> SqlServerError:
    """The error for a server process that exited, from what its log says."""
    if _METASTORE_LOCKED.search(log_text):
        return MetastoreInUseError(f"{metastore_in_use_message(cfg)}\n(server log: {log_file})")
    if _PORT_TAKEN.search(log_text):
        return PortInUseError(f"{port_in_use_message(host, port)}\n(server log: {log_file})")
    return SqlServerError(
        f"the SQL server stopped {when} (exit status {status}). The end of its log "
        f"({log_file}):\n{log_tail(log_file)}"
    )


@dataclasses.dataclass
class SqlServer:
    """A running server process and where to reach it."""

    cfg: Config
    process: subprocess.Popen
    host: str
    port: int
    log_file: Path
    log_offset: int  # where this run's lines start in log_file
    own_process_group: bool

    @property
    def url(self) -> str:
        return jdbc_url(self.host, self.port, self.cfg.database)

    def failure(self, when: str = "during start-up") -> SqlServerError:
        """Why the (exited) server stopped, from this run's part of its log."""
        this_run = self.log_file.read_bytes()[self.log_offset:].decode(errors="replace")
        return classify_failure(this_run, self.cfg, self.host, self.port,
                                self.process.returncode, self.log_file, when)

    def _signal(self, sig: int) -> None:
        try:
            if self.own_process_group:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        """Stop the server (SIGTERM lets Spark shut down; SIGKILL after ``timeout``) and
        return its exit status. The metastore is free once this returns."""
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("the SQL server did not stop within %.0f s; killing it", timeout)
                self._signal(signal.SIGKILL)
                self.process.wait(timeout=timeout)
        elif self.own_process_group:
            self._signal(signal.SIGKILL)  # anything the JVM left behind in its group
        return self.process.returncode


def wait_until_ready(process: subprocess.Popen, host: str, port: int,
                     timeout: float = START_TIMEOUT_SECONDS,
                     log_file: Path | None = None) -> None:
    """Return once ``host:port`` accepts connections while ``process`` still runs.

    Raises ``SqlServerError`` (with the end of ``log_file``) when the process exits first or
    when ``timeout`` seconds pass; the process is left as it is. A connection proves that
    something listens, not who: ``start`` checks the port is free before launching, and a
    server that then loses the port to another process exits with "Address already in use".
    """
    deadline = time.monotonic() + timeout
    target = (_client_host(host), port)
    tail = (lambda: log_tail(log_file)) if log_file else (lambda: "(no log)")
    while True:
        status = process.poll()
        if status is not None:
            raise SqlServerError(f"the server process exited (status {status}) before it "
                                 f"accepted connections on {host}:{port}:\n{tail()}")
        try:
            with socket.create_connection(target, timeout=2):
                return
        except OSError:
            pass
        if time.monotonic() >= deadline:
            raise SqlServerError(f"the server did not accept connections on {host}:{port} "
                                 f"within {timeout:.0f} s:\n{tail()}")
        time.sleep(0.5)


def start(cfg: Config, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          timeout: float = START_TIMEOUT_SECONDS, own_process_group: bool = True) -> SqlServer:
    """Start the Thrift server for ``cfg``'s lake and return once it accepts connections.

    ``own_process_group`` puts the JVM in a process group of its own (``stop`` then ends the
    whole group); the foreground command keeps it in the terminal's group instead, so that
    Ctrl-C reaches it. On any failure, or an interrupt during start-up, the server is stopped
    before the error propagates; a metastore in use or a taken port raise
    ``MetastoreInUseError`` / ``PortInUseError`` without starting a JVM.
    """
    _ensure_free(cfg, host, port)
    classpath = delta_classpath(cfg)
    properties = write_properties(cfg)
    command = server_command(cfg, host, port, properties)
    log_file = log_path(cfg)
    with open(log_file, "a") as out:
        out.write(f"\n== growth serve sql: SPARK_DIST_CLASSPATH={os.pathsep.join(classpath)} "
                  f"{shlex.join(command)}\n")
    run_starts_at = log_file.stat().st_size  # earlier runs' lines are not this run's
    log.debug("server command: %s", shlex.join(command))
    with open(log_file, "ab") as out:
        process = subprocess.Popen(
            command, env=server_environment(classpath),
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=own_process_group,
        )
    server = SqlServer(cfg, process, host, port, log_file, run_starts_at, own_process_group)
    try:
        wait_until_ready(process, host, port, timeout, log_file)
    except SqlServerError:
        exited = process.poll()
        server.stop()
        if exited is None:
            raise
        raise server.failure() from None
    except BaseException:
        server.stop()
        raise
    return server


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``growth serve sql``: ``serve`` takes what to serve as a sub-target."""
    targets = parser.add_subparsers(dest="target", required=True, metavar="target")
    p = targets.add_parser(
        "sql", help="a Spark Thrift server (JDBC/ODBC, beeline) on the growth database",
        description="Run the Spark Thrift server in the foreground (Ctrl-C stops it) on the "
        "lake's metastore: JDBC clients and beeline query the growth database at "
        "jdbc:hive2://HOST:PORT/growth. While it runs, no other growth command can open the "
        "lake (the embedded Derby metastore admits one Spark driver at a time).")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port of the JDBC endpoint (default {DEFAULT_PORT})")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST}: this machine only; "
                   "the server has no authentication)")
    p.add_argument("--start-timeout", type=float, default=START_TIMEOUT_SECONDS,
                   help="seconds to wait for the server to accept connections")
    p.set_defaults(func=execute)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def execute(args: argparse.Namespace) -> None:
    cfg = load_config()
    # Ctrl-C stops the server even where SIGINT was inherited as ignored (a background job of
    # a script); `kill` and schedulers send SIGTERM: both stop it, never orphan it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    url = jdbc_url(args.host, args.port, cfg.database)
    log.info(
        "starting the Spark Thrift server for %s on %s:%s (log %s). While it runs it holds "
        "the lake's embedded Derby metastore, which admits one Spark driver at a time: no "
        "other growth command, Airflow task or spark-sql can open this lake until it stops.",
        cfg.lake_root, args.host, args.port, log_path(cfg))
    try:
        server = start(cfg, args.host, args.port, args.start_timeout, own_process_group=False)
    except KeyboardInterrupt:
        log.info("start-up interrupted; the server is stopped")
        return
    log.info("SQL server ready at %s (database %s); connect with:\n    %s\n"
             "Ctrl-C stops it and frees the lake for the jobs.",
             url, cfg.database, shlex.join(beeline_command(url)))
    try:
        server.process.wait()
    except KeyboardInterrupt:
        log.info("stopping the SQL server")
        server.stop()
        log.info("SQL server stopped; the lake's metastore is free")
        return
    raise server.failure(when="by itself")
