"""Airflow glue for the DAGs in ``dags/``: the spark-submit operator of a growth job and the
failure callback that names the failing table and gate. No Spark, pandas or model code here:
the jobs run in the spark-submit child process; this module only reads its output lines.

The DAG files import from here so that they stay wiring only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from growth.errors import (
    DATA_QUALITY_EXIT_STATUS,
    NO_CHAMPION_EXIT_STATUS,
    UNTRAINABLE_EXIT_STATUS,
)
from growth.jobs.config import load_config

log = logging.getLogger(__name__)

# The CLI's message when a gate blocks (growth.expectations.validate.DataQualityError),
# followed by one "  - <check>" line per blocking check.
GATE_LINE = re.compile(r"data-quality gate failed for (?P<table>[\w.]+): (?P<what>.*)$")
CHECK_LINE = re.compile(r"^\s*- (?P<check>.+)$")
# Any other error the CLI reports ("HH:MM:SS ERROR growth...: message") or the last line of
# a Python traceback ("package.module.SomeError: message").
ERROR_LINE = re.compile(r"\bERROR growth[\w.]*: (?P<message>.+)$")
TRACEBACK_LAST = re.compile(r"^(?P<message>[\w.]*(?:Error|Exception): .+)$")
MAX_CHECKS = 5


def launch_conf(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The Spark settings spark-submit must pass before the driver's JVM starts.

    In client mode (every master this platform submits to from Airflow) the driver is the
    spark-submit process itself: a ``spark.driver.memory`` set later in the job's session
    builder is ignored, and the driver would run with spark-submit's default heap of 1 GiB,
    too small for the large profile. So the DAG passes ``GROWTH_DRIVER_MEMORY`` (read where
    the DAG is parsed: the scheduler's environment is the platform's) on the command line.
    """
    return {"spark.driver.memory": load_config(environ).driver_memory}


class FailureWatcher:
    """Reads a job's output lines as they stream by and keeps what a failure message needs:
    the table whose gate blocked and its first blocking checks, else the last error line."""

    def __init__(self) -> None:
        self.gate_table: str | None = None
        self.gate_summary: str | None = None
        self.checks: list[str] = []
        self.error: str | None = None
        self._in_gate = False

    def feed(self, line: str) -> None:
        text = line.rstrip()
        gate = GATE_LINE.search(text)
        if gate:
            self.gate_table, self.gate_summary = gate["table"], gate["what"]
            self.checks, self._in_gate = [], True
            return
        check = CHECK_LINE.match(text) if self._in_gate else None
        if check:
            if len(self.checks) < MAX_CHECKS:
                self.checks.append(check["check"])
            return
        self._in_gate = False
        error = ERROR_LINE.search(text) or TRACEBACK_LAST.match(text.strip())
        if error:
            self.error = error["message"]

    def tee(self, lines: Iterable[Any]) -> Iterator[Any]:
        """Pass ``lines`` through unchanged, watching each."""
        for raw in lines:
            self.feed(raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw))
            yield raw

    def describe(self) -> str:
        """One paragraph: the gate and its checks, or the last error, or that nothing was
        recognised in the output."""
        if self.gate_table:
            checks = "".join(f"\n  - {c}" for c in self.checks)
            return f"data-quality gate of {self.gate_table}: {self.gate_summary}{checks}"
        if self.error:
            return f"error: {self.error}"
        return "no growth error in the job's output (see the task log above)"


class GrowthSparkSubmitOperator(SparkSubmitOperator):
    """spark-submit of a growth job; a blocked data-quality gate, or a training set that
    cannot train a model, fails the task at once.

    Retries are for what a second try can fix (a lost executor, a busy metastore); a batch
    that failed its gate fails again until someone fixes the input, and a training set with
    one outcome (or too few of either) fails again until it is widened, so such a task is
    failed without retrying and nothing downstream runs. Scoring before any model was trained is
    not a failure of the day's data: that task is skipped. The job's output is watched as it
    streams into the task log, so that the failure names the table and the checks."""

    def _get_hook(self):  # noqa: ANN202 - the provider's signature
        hook = super()._get_hook()
        self.watcher = FailureWatcher()
        stream = hook._process_spark_submit_log
        hook._process_spark_submit_log = lambda lines: stream(self.watcher.tee(lines))
        return hook

    def execute(self, context):  # noqa: ANN001, ANN201 - Airflow's signature
        try:
            return super().execute(context)
        except AirflowException as exc:
            found = self.watcher.describe() if getattr(self, "watcher", None) else ""
            if f"Error code is: {DATA_QUALITY_EXIT_STATUS}." in str(exc):
                raise AirflowFailException(
                    f"{self.task_id}: {found}; nothing was published (see 'growth dq --as-of "
                    f"{context['ds']}'); fix the input, then clear the task"
                ) from exc
            if f"Error code is: {UNTRAINABLE_EXIT_STATUS}." in str(exc):
                raise AirflowFailException(
                    f"{self.task_id}: {found}; a retry on the same training set fails the "
                    "same way: widen it (GROWTH_TRAIN_CUTOFFS, GROWTH_TRAIN_EVERY_DAYS, "
                    "GROWTH_LABEL_HORIZON_DAYS), then clear the task"
                ) from exc
            if f"Error code is: {NO_CHAMPION_EXIT_STATUS}." in str(exc):
                raise AirflowSkipException(
                    f"{self.task_id}: no champion model yet; the growth_training DAG trains "
                    "one ('growth models list' shows the registry)"
                ) from exc
            raise AirflowException(f"{self.task_id}: {found}") from exc


def failure_message(context: dict[str, Any]) -> str:
    """What a failed growth task says in its log: the DAG, task and day, the try, the tables
    it publishes, and the failing gate or error from the exception."""
    task = context["task"]
    ti = context.get("ti") or context.get("task_instance")
    tables = sorted(a.name for a in getattr(task, "outlets", []) or [] if hasattr(a, "name"))
    try_number = getattr(ti, "try_number", None)
    retries = getattr(task, "retries", 0) or 0
    tries = f" (try {try_number} of {retries + 1})" if try_number else ""
    exception = context.get("exception")
    why = str(exception) if exception else "no exception recorded"
    return (
        f"{task.dag_id}.{task.task_id} failed for {context.get('ds')}{tries}; it publishes "
        f"{', '.join(tables) or 'no table'}; {why}. Inspect with 'growth status' and "
        f"'growth dq --as-of {context.get('ds')}'."
    )


def log_failure(context: dict[str, Any]) -> None:
    """on_failure_callback of every growth task: one ERROR line naming table and gate."""
    log.error("%s", failure_message(context))
