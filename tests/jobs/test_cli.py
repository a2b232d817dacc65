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


def growth(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "growth.jobs.cli", *args],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
    )


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
