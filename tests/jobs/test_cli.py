"""The growth command as users meet it: help, and errors without tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from growth.jobs.cli import build_parser

COMMANDS = {
    "simulate", "ingest", "daily-aggregates", "features", "labels", "training-set", "sql",
    "runs", "dq", "spark-defaults", "config", "docs", "import", "run", "evaluate-real", "report",
}


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["--help"])
    assert done.value.code == 0
    listed = capsys.readouterr().out
    assert all(f"    {command}" in listed for command in COMMANDS)


def test_ingest_rejects_an_unknown_source_by_name(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["ingest", "--source", "ordres", "--as-of", "2026-05-01"])
    assert "unknown source 'ordres'" in capsys.readouterr().err


def test_training_set_rejects_a_malformed_cutoff_by_value(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(
            ["training-set", "--entity", "merchant", "--as-of", "2026-10-31",
             "--cutoffs", "2026-07-01,2026-13-01"]
        )
    assert "expected YYYY-MM-DD" in capsys.readouterr().err


def modules_loaded(*argv: str, then: str = "") -> set[str]:
    """The growth.jobs modules and heavy libraries a fresh interpreter holds after ``growth
    <argv>`` parsed its arguments (help exits there) and ``then`` (a statement) ran."""
    probe = (
        "import sys\n"
        "from growth.jobs import cli\n"
        "try:\n"
        "    cli.build_parser(cli._command_in(sys.argv[1:])).parse_args(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"{then}\n"
        "heavy = ('pyspark', 'pandas', 'xgboost', 'great_expectations')\n"
        "print('loaded:', *sorted(m for m in sys.modules if m in heavy\n"
        "                          or m.startswith('growth.jobs.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    last = done.stdout.splitlines()[-1].split()
    assert last[0] == "loaded:", done.stdout
    return set(last[1:])


def test_help_imports_no_job_and_a_command_only_what_its_own_job_needs():
    assert modules_loaded("--help") == {"growth.jobs.cli"}
    assert modules_loaded("config") == {"growth.jobs.cli"}
    loaded = modules_loaded("outreach", "--help")
    assert {"growth.jobs.build_outreach", "pyspark"} <= loaded
    assert loaded == modules_loaded(then="import growth.jobs.build_outreach")
    assert "growth.jobs.report" not in loaded  # another command's job


def test_every_command_parses_its_arguments_alone_as_with_all():
    argv = ["training-set", "--entity", "merchant", "--as-of", "2026-10-31"]
    alone, every = build_parser("training-set").parse_args(argv), build_parser().parse_args(argv)
    assert vars(alone) == vars(every)
    assert alone.func.__module__ == "growth.jobs.build_training_set"


def growth(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "growth.jobs.cli", *args],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
    )


def test_job_logs_keep_library_warnings_and_drop_their_info_chatter():
    # A fresh interpreter: the levels are process-wide, and other tests log through them.
    script = (
        "import logging\n"
        "from growth.jobs.cli import _configure_logging\n"
        "_configure_logging('INFO')\n"
        "ge = logging.getLogger('great_expectations.expectations.expectation')\n"
        "ge.info('_get_default_value called with key row_condition')\n"
        "ge.warning('a deprecated argument')\n"
        "logging.getLogger('py4j.clientserver').info('Received command c on object id p0')\n"
        "logging.getLogger('growth.jobs.quality').info('growth.t: 3 check(s) passed')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    lines = [line.split(" ", 1)[1] for line in done.stderr.splitlines()]  # drop the time
    assert lines == [
        "WARNING great_expectations.expectations.expectation: a deprecated argument",
        "INFO growth.jobs.quality: growth.t: 3 check(s) passed",
    ]


def test_a_user_error_is_one_clear_line_and_exit_status_1(tmp_path):
    done = growth("ingest", "--source", "merchants", "--as-of", "2026-05-01",
                  env={"GROWTH_LAKE_ROOT": str(tmp_path)})
    assert done.returncode == 1
    assert "no raw data for source 'merchants'" in done.stderr
    assert "growth simulate" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_misspelt_setting_stops_before_spark_starts(tmp_path):
    done = growth("config", env={"GROWTH_MASTRE": "local[1]"})
    assert done.returncode != 0
    assert "GROWTH_MASTRE" in done.stderr and "Traceback" not in done.stderr


def test_a_bad_query_names_the_problem_without_a_traceback(tmp_path):
    done = growth("sql", "SELECT * FROM no_such_table", env={"GROWTH_LAKE_ROOT": str(tmp_path)})
    assert done.returncode == 1
    assert "the query failed" in done.stderr and "no_such_table" in done.stderr
    assert "Traceback" not in done.stderr
