"""Show that Airflow's own backfill of growth_daily is idempotent, on an existing lake.

Usage (after `make demo`, which leaves a lake and a run of its last day):

    source scripts/env.sh
    python scripts/check_backfill.py --from-date 2026-10-31 --to-date 2026-10-31

What it does, with a real scheduler and API server (LocalExecutor, SQLite, one run at a time):
1. notes the Delta version of every table in the lake's `growth` database;
2. `airflow backfill create --reprocess-behavior completed`: every day of the range runs
   again in place; waits until each day's run has finished;
3. `airflow backfill create` again with the default `--reprocess-behavior none`: no day may
   run again (each already has a run);
4. compares each table as it was before (Delta time travel) with the table now: every row
   must be equal (doubles rounded to 9 significant digits; HLL sketches by their estimate;
   without lineage columns such as quarantine's run_id, which name the rerun). The run log,
   the data-quality results and the registry are append-only by design: reported, not compared.

Exit status 0 when every table is unchanged and the second backfill ran nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

DAG = "growth_daily"
# Tables that record each run rather than the day's results: they grow on every rerun.
APPEND_ONLY = {"run_log", "dq_results", "model_registry"}
# Lineage columns naming the run that last wrote a row (quarantine's run_id joins run_log): a
# rerun rightly replaces them, so rows are compared without them.
LINEAGE = {"run_id"}
POLL_SECONDS = 10


def say(text: str) -> None:
    sys.stdout.write(f"{datetime.now(UTC):%H:%M:%S} {text}\n")
    sys.stdout.flush()


def service_env(port: int) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": os.environ.get(
            "AIRFLOW__API_AUTH__JWT_SECRET", "growth-backfill-check-" + "x" * 40),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        # Backfills run only on an unpaused DAG, which the scheduler would otherwise also
        # run for its latest interval (today): a day the lake has no data for.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
    }


def airflow(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["airflow", *args], env=env, capture_output=True, text=True)


def must(done: subprocess.CompletedProcess, what: str) -> str:
    if done.returncode != 0:
        raise SystemExit(f"{what} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


@contextmanager
def services(env: dict[str, str], port: int, logs: Path) -> Iterator[None]:
    """A scheduler and an API server for the duration of the check."""
    logs.mkdir(parents=True, exist_ok=True)
    started = []
    for name, cmd in (("scheduler", ["airflow", "scheduler"]),
                      ("api-server", ["airflow", "api-server", "--port", str(port)])):
        out = (logs / f"backfill-{name}.log").open("w")
        started.append((subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True), out))
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health",
                                            timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"the API server did not answer on port {port} in 3 min; "
                                     f"see {logs}/backfill-api-server.log") from None
                time.sleep(2)
        say(f"scheduler and API server up (logs in {logs})")
        yield
    finally:
        for process, out in started:
            os.killpg(process.pid, 15)
            process.wait(timeout=60)
            out.close()


def runs(env: dict[str, str], days: set[date]) -> dict[date, dict]:
    out = must(airflow(["dags", "list-runs", DAG, "-o", "json"], env), "airflow dags list-runs")
    # Airflow may print warnings (e.g. about graphviz) to stdout before the JSON line.
    lines = [line for line in out.splitlines() if line.startswith(("[{", "[]"))]
    listed = json.loads(lines[-1]) if lines else []
    found = {}
    for run in listed:
        day = datetime.fromisoformat(run["logical_date"]).date()
        if day in days:
            found[day] = run
    return found


def create_backfill(env: dict[str, str], start: date, end: date, reprocess: str) -> str:
    """Create the backfill, waiting (up to 3 min) for the previous one to be closed."""
    deadline = time.monotonic() + 180
    while True:
        done = airflow(["backfill", "create", "--dag-id", DAG, "--from-date", str(start),
                        "--to-date", str(end), "--reprocess-behavior", reprocess,
                        "--max-active-runs", "1"], env)
        text = done.stdout + done.stderr
        if done.returncode == 0:
            return done.stdout
        if "already" in text.lower() and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            continue
        raise SystemExit(f"airflow backfill create failed (exit {done.returncode}):\n{text[-3000:]}")


def wait_for_runs(env: dict[str, str], days: set[date], since: datetime, limit_s: int) -> dict:
    deadline = time.monotonic() + limit_s
    last = ""
    while True:
        found = runs(env, days)
        fresh = {d: r for d, r in found.items()
                 if r.get("start_date") and datetime.fromisoformat(r["start_date"]) >= since}
        line = ", ".join(f"{d}: {r['state']}" for d, r in sorted(fresh.items())) or "queued"
        if line != last:
            say(f"backfill runs: {line}")
            last = line
        if len(fresh) == len(days) and all(r["state"] in ("success", "failed")
                                          for r in fresh.values()):
            return fresh
        if time.monotonic() > deadline:
            raise SystemExit(f"the backfill did not finish in {limit_s // 60} min: {line}")
        time.sleep(POLL_SECONDS)


def delta_versions(database_dir: Path) -> dict[str, int]:
    """The latest committed version of each Delta table, read from its transaction log."""
    versions = {}
    for table in sorted(p for p in database_dir.iterdir() if (p / "_delta_log").is_dir()):
        commits = [int(f.name.split(".")[0]) for f in (table / "_delta_log").glob("*.json")
                   if f.name.split(".")[0].isdigit()]
        if commits:
            versions[table.name] = max(commits)
    return versions


def compare_tables(database_dir: Path, before: dict[str, int]) -> list[str]:
    """Each table at its version before the backfills against now; returns the problems."""
    from pyspark.sql import SparkSession

    from growth.jobs.config import load_config
    from growth.jobs.session import spark_conf

    builder = SparkSession.builder.appName("backfill-check").master("local[2]")
    conf = spark_conf(load_config())
    # Read the tables by path: no metastore, so nothing else is locked out of Derby.
    conf["spark.sql.catalogImplementation"] = "in-memory"
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    problems = []
    try:
        now = delta_versions(database_dir)
        for table, version in sorted(before.items()):
            path = str(database_dir / table)
            old = spark.read.format("delta").option("versionAsOf", version).load(path)
            new = spark.read.format("delta").load(path)
            rows_old, rows_new = old.count(), new.count()
            written = now.get(table, version) - version
            if table in APPEND_ONLY:
                say(f"  {table:<32} {rows_old:>9} -> {rows_new:>9} rows, {written} commit(s) "
                    "(append-only record of runs)")
                continue
            if old.columns != new.columns:
                problems.append(f"{table}: columns changed {old.columns} -> {new.columns}")
                continue
            lineage = sorted(LINEAGE & set(old.columns))
            changed = _exact_differences(old.drop(*lineage), new.drop(*lineage))
            say(f"  {table:<32} {rows_old:>9} -> {rows_new:>9} rows, {written} commit(s), "
                f"{changed} row(s) differ" + (f" (without {', '.join(lineage)})" if lineage else ""))
            if rows_old != rows_new or changed:
                problems.append(f"{table}: {rows_old} -> {rows_new} rows, {changed} differ")
    finally:
        spark.stop()
    return problems


def _exact_differences(old, new) -> int:
    """Rows in one version and not the other, doubles rounded to 9 significant digits
    (sums taken in another order differ in the last bits) and sketches by estimate."""
    from pyspark.sql import functions as F

    def normal(frame):
        cols = []
        for field in frame.schema.fields:
            col = F.col(f"`{field.name}`")
            if field.name.endswith("_sketch"):
                col = F.hll_sketch_estimate(col)
            elif field.dataType.typeName() in ("double", "float"):
                scale = F.pow(F.lit(10.0), F.lit(8) - F.floor(F.log10(F.abs(col) + F.lit(1e-300))))
                col = F.round(col * scale) / scale
            cols.append(col.alias(field.name))
        return frame.select(*cols)

    a, b = normal(old), normal(new)
    return a.exceptAll(b).count() + b.exceptAll(a).count()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--from-date", type=date.fromisoformat, required=True)
    parser.add_argument("--to-date", type=date.fromisoformat, required=True)
    parser.add_argument("--port", type=int, default=8781, help="the API server's port")
    parser.add_argument("--timeout-min", type=int, default=90,
                        help="how long the reprocessing backfill may take")
    args = parser.parse_args()
    lake = Path(os.environ["GROWTH_LAKE_ROOT"])
    database_dir = lake / "warehouse" / "growth.db"
    if not database_dir.is_dir():
        raise SystemExit(f"no published tables under {database_dir}: run `make demo` first")
    days = {date.fromordinal(d) for d in range(args.from_date.toordinal(),
                                                args.to_date.toordinal() + 1)}
    env = service_env(args.port)
    must(airflow(["db", "migrate"], env), "airflow db migrate")
    must(airflow(["dags", "reserialize"], env), "airflow dags reserialize")
    must(airflow(["dags", "unpause", DAG], env), "airflow dags unpause")
    before = delta_versions(database_dir)
    say(f"{len(before)} tables noted; backfilling {args.from_date} .. {args.to_date}")
    with services(env, args.port, lake / "logs"):
        t0 = datetime.now(UTC)
        create_backfill(env, args.from_date, args.to_date, "completed")
        done = wait_for_runs(env, days, t0, args.timeout_min * 60)
        took = (datetime.now(UTC) - t0).total_seconds()
        say(f"reprocessing backfill finished in {took / 60:.1f} min: "
            + ", ".join(f"{d} {r['state']}" for d, r in sorted(done.items())))
        failed = [d for d, r in done.items() if r["state"] != "success"]
        t1 = datetime.now(UTC)
        create_backfill(env, args.from_date, args.to_date, "none")
        time.sleep(3 * POLL_SECONDS)  # give the scheduler time to start anything it would
        rerun = {d: r for d, r in runs(env, days).items()
                 if r.get("start_date") and datetime.fromisoformat(r["start_date"]) >= t1}
        say(f"second backfill (reprocess none): {len(rerun)} day(s) ran again")
    say("tables before the backfills against now:")
    problems = compare_tables(database_dir, before)
    if failed:
        problems.append(f"backfill runs failed for {sorted(failed)}")
    if rerun:
        problems.append(f"the second backfill ran {sorted(rerun)} again")
    for problem in problems:
        say(f"PROBLEM {problem}")
    say("idempotent: every table unchanged, nothing run twice" if not problems
        else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
