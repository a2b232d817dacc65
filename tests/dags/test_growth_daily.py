"""growth_daily and growth_training parse cleanly and wire exactly their tasks, in order."""

from __future__ import annotations

import pytest

from growth.layout import SOURCE_GROUPS, SOURCE_ORDER


@pytest.fixture(scope="module")
def bag():
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import ROOT

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    assert set(bag.dags) == {"growth_daily", "growth_training"}
    return bag


@pytest.fixture(scope="module")
def dag(bag):
    return bag.dags["growth_daily"]


CHAIN = [
    "ingest_entities", "ingest_activity", "ingest_outreach",
    "daily_aggregates", "features", "labels",
]


def test_tasks_are_ingest_then_the_feature_store_then_scoring_then_lookalikes_and_lists(dag):
    assert {t.task_id for t in dag.tasks} == {
        *CHAIN, "score_merchant", "score_creator", "lookalike_merchant", "lookalike_creator",
        "outreach_merchant", "outreach_creator"}
    downstream = {t.task_id: t.downstream_task_ids for t in dag.tasks}
    assert downstream == {
        "ingest_entities": {"ingest_activity"},
        "ingest_activity": {"ingest_outreach"},
        "ingest_outreach": {"daily_aggregates"},
        "daily_aggregates": {"features"},
        "features": {"labels", "score_merchant"},
        "labels": set(),
        "score_merchant": {"score_creator", "lookalike_merchant", "outreach_merchant"},
        "score_creator": {"lookalike_creator", "outreach_creator"},
        "lookalike_merchant": set(),
        "lookalike_creator": set(),
        "outreach_merchant": set(),
        "outreach_creator": set(),
    }
    for entity in ("merchant", "creator"):
        task = dag.get_task(f"score_{entity}")
        assert task.application_args == ["score", "--entity", entity, "--as-of", "{{ ds }}"]
        assert {a.name for a in task.outlets} == {
            f"growth.{entity}_tiers", "growth.potential_scores", "growth.run_log",
            "growth.dq_results"}
        lookalike = dag.get_task(f"lookalike_{entity}")
        assert lookalike.application_args == [
            "lookalike", "--entity", entity, "--as-of", "{{ ds }}"]
        assert {a.name for a in lookalike.outlets} == {
            "growth.lookalike_scores", "growth.run_log", "growth.dq_results"}
        listed = dag.get_task(f"outreach_{entity}")
        assert listed.application_args == ["outreach", "--entity", entity, "--as-of", "{{ ds }}"]
        assert {a.name for a in listed.outlets} == {
            "growth.outreach_lists", "growth.run_log", "growth.dq_results"}


def test_weekly_training_builds_trains_then_promotes_each_entity(bag):
    from growth.scheduling import log_failure

    training = bag.dags["growth_training"]
    downstream = {t.task_id: t.downstream_task_ids for t in training.tasks}
    assert downstream == {
        "training_set_merchant": {"train_merchant"}, "train_merchant": {"promote_merchant"},
        "promote_merchant": set(),
        "training_set_creator": {"train_creator"}, "train_creator": {"promote_creator"},
        "promote_creator": set(),
    }
    assert training.timetable.expression == "0 3 * * 1"
    assert training.catchup is False and training.max_active_runs == 1
    assert training.tags == {"growth", "weekly", "models"}
    registry = {"growth.model_registry", "growth.run_log", "growth.dq_results"}
    for entity in ("merchant", "creator"):
        steps = {step: training.get_task(f"{step}_{entity}")
                 for step in ("training_set", "train", "promote")}
        assert {step: (t.application_args, {a.name for a in t.outlets})
                for step, t in steps.items()} == {
            "training_set": (["training-set", "--entity", entity, "--as-of", "{{ ds }}"],
                             {f"growth.{entity}_training_set", "growth.run_log",
                              "growth.dq_results"}),
            "train": (["train", "--entity", entity, "--existing-training-set", "--no-promote",
                       "--as-of", "{{ ds }}"], registry),
            "promote": (["models", "promote-candidates", "--entity", entity, "--as-of",
                         "{{ ds }}"], registry),
        }
        for task in steps.values():
            assert task.retries == 1
            assert task.on_failure_callback in (log_failure, [log_failure])


def test_feature_store_tasks_publish_their_tables(dag):
    for task_id, command, topic in (
        ("daily_aggregates", "daily-aggregates", "daily"),
        ("features", "features", "features"),
        ("labels", "labels", "labels"),
    ):
        task = dag.get_task(task_id)
        assert task.application_args == [command, "--as-of", "{{ ds }}"]
        assert {a.name for a in task.outlets} == {
            f"growth.merchant_{topic}", f"growth.creator_{topic}", "growth.run_log",
            "growth.dq_results",
        }


def test_groups_cover_every_source_once_parents_first():
    flat = [s for sources in SOURCE_GROUPS.values() for s in sources]
    assert sorted(flat) == sorted(SOURCE_ORDER)
    assert flat == list(SOURCE_ORDER)


def test_schedule_retries_tags_and_concurrency(dag):
    assert dag.tags == {"growth", "daily"}
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert dag.timetable.expression == "0 0 * * *"
    assert str(dag.timetable.timezone) == "UTC"
    # Data-interval semantics: the run for logical date D starts after D ends, ds == D.
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    from growth.scheduling import log_failure

    for task in dag.tasks:
        assert task.retries == 2
        assert task.execution_timeout.total_seconds() == 7200
        assert task.on_failure_callback in (log_failure, [log_failure])


def test_each_task_submits_the_cli_for_its_group_and_day(dag):
    for group, sources in SOURCE_GROUPS.items():
        task = dag.get_task(f"ingest_{group}")
        assert task.application.endswith("growth/jobs/cli.py")
        assert task.application_args == ["ingest", "--source", group, "--as-of", "{{ ds }}"]
        assert task._conn_id == "growth_spark"
        assert task.packages.startswith("io.delta:delta-spark_")
        outlets = {a.name for a in task.outlets}
        assert {f"growth.silver_{s}" for s in sources} <= outlets
        assert {"growth.quarantine", "growth.run_log"} <= outlets


GATE_OUTPUT = [
    "26/10/31 00:01:02 INFO SparkContext: Running Spark version 4.2.0",
    "00:01:40 ERROR growth: data-quality gate failed for growth.silver_orders: 2 blocking "
    "check(s) failed, nothing was published.",
    "  - order_id is never null: 3 of 120 rows unexpected",
    "  - amount >= 0: 1 of 120 rows unexpected",
    "Fix the input (or the suite's parameters, if the change is intended) and rerun; every "
    "result is in the dq_results table (growth dq --as-of <date>).",
]


def submits(lines, code):
    """SparkSubmitOperator.execute as if spark-submit printed ``lines`` and exited ``code``:
    the lines go through the hook's log processing, as the real submit streams them."""
    def execute(self, context):
        from airflow.sdk.exceptions import AirflowException

        self._get_hook()._process_spark_submit_log(iter(lines))
        raise AirflowException(f"Cannot execute: spark-submit ... Error code is: {code}.")
    return execute


@pytest.fixture
def spark_connection(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_GROWTH_SPARK", '{"conn_type": "spark", "host": "local[1]"}')


def failed_at_once(task, monkeypatch, lines, code) -> str:
    """The message of the AirflowFailException (a failure without retries) ``task`` raises
    when spark-submit prints ``lines`` and exits ``code``."""
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.setattr(SparkSubmitOperator, "execute", submits(lines, code))
    with pytest.raises(AirflowFailException) as raised:
        task.execute({"ds": "2026-10-31"})
    return str(raised.value)


def test_a_blocked_gate_fails_the_task_without_retries_naming_table_and_checks(
        dag, monkeypatch, spark_connection):
    task = dag.get_task("ingest_activity")
    assert task.retries == 2
    assert failed_at_once(task, monkeypatch, GATE_OUTPUT, 3) == (
        "ingest_activity: data-quality gate of growth.silver_orders: 2 blocking check(s) "
        "failed, nothing was published.\n"
        "  - order_id is never null: 3 of 120 rows unexpected\n"
        "  - amount >= 0: 1 of 120 rows unexpected; nothing was published (see 'growth dq "
        "--as-of 2026-10-31'); fix the input, then clear the task")


def test_other_failures_retry_and_name_the_last_error(dag, monkeypatch, spark_connection):
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    crash = ["Traceback (most recent call last):", '  File "cli.py", line 3, in <module>',
             "py4j.protocol.Py4JJavaError: An error occurred while calling o42.save."]
    monkeypatch.setattr(SparkSubmitOperator, "execute", submits(crash, 1))
    with pytest.raises(AirflowException) as raised:
        dag.get_task("features").execute({"ds": "2026-10-31"})
    assert not isinstance(raised.value, AirflowFailException)
    assert str(raised.value) == (
        "features: error: py4j.protocol.Py4JJavaError: An error occurred while calling o42.save.")
    monkeypatch.setattr(SparkSubmitOperator, "execute", submits([], 1))
    with pytest.raises(AirflowException, match="no growth error in the job's output"):
        dag.get_task("features").execute({"ds": "2026-10-31"})


def test_the_failure_callback_names_dag_task_day_try_tables_and_gate(dag):
    from types import SimpleNamespace

    from growth.scheduling import failure_message, log_failure

    task = dag.get_task("features")
    assert task.on_failure_callback in (log_failure, [log_failure])
    context = {"task": task, "ti": SimpleNamespace(try_number=3), "ds": "2026-10-31",
               "exception": RuntimeError("features: data-quality gate of "
                                         "growth.merchant_features: 1 blocking check(s) failed")}
    assert failure_message(context) == (
        "growth_daily.features failed for 2026-10-31 (try 3 of 3); it publishes "
        "growth.creator_features, growth.dq_results, growth.merchant_features, growth.run_log; "
        "features: data-quality gate of growth.merchant_features: 1 blocking check(s) failed. "
        "Inspect with 'growth status' and 'growth dq --as-of 2026-10-31'.")


def test_scoring_without_a_champion_is_skipped_not_failed(dag, monkeypatch):
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
    from airflow.sdk.exceptions import AirflowException, AirflowSkipException

    def execute(self, context):
        raise AirflowException("Cannot execute: spark-submit ... Error code is: 4.")

    monkeypatch.setattr(SparkSubmitOperator, "execute", execute)
    with pytest.raises(AirflowSkipException, match="no champion model yet"):
        dag.get_task("score_merchant").execute({"ds": "2026-10-31"})


def test_a_training_set_that_cannot_train_fails_without_retries(bag, monkeypatch,
                                                                 spark_connection):
    task = bag.dags["growth_training"].get_task("train_merchant")
    assert task.retries == 1
    output = ["00:02:00 ERROR growth: the training set has 0 positive(s) in 87 rows: a "
              "classifier needs both outcomes; widen the cutoffs or the population"]
    assert failed_at_once(task, monkeypatch, output, 5) == (
        "train_merchant: error: the training set has 0 positive(s) in 87 rows: a classifier "
        "needs both outcomes; widen the cutoffs or the population; a retry on the same "
        "training set fails the same way: widen it (GROWTH_TRAIN_CUTOFFS, "
        "GROWTH_TRAIN_EVERY_DAYS, GROWTH_LABEL_HORIZON_DAYS), then clear the task")


def test_every_driver_starts_with_the_configured_memory(monkeypatch, spark_connection):
    """spark-submit, not the job's session, sizes a client-mode driver: the DAG passes
    GROWTH_DRIVER_MEMORY on the command line, read where the DAG is parsed."""
    from airflow.dag_processing.dagbag import DagBag

    from growth.scheduling import launch_conf
    from tests.conftest import ROOT

    assert launch_conf({}) == {"spark.driver.memory": "6g"}
    monkeypatch.setenv("GROWTH_DRIVER_MEMORY", "3g")
    parsed = DagBag(dag_folder=str(ROOT / "dags"))
    assert parsed.import_errors == {}
    tasks = [t for d in parsed.dags.values() for t in d.tasks]
    assert len(tasks) == 18
    for task in tasks:
        command = task._get_hook()._build_spark_submit_command(task.application)
        assert command[command.index("--conf") + 1] == "spark.driver.memory=3g", task.task_id
        assert command.count("--conf") == 1


def test_an_unusable_driver_memory_setting_is_an_import_error_naming_it(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import ROOT

    monkeypatch.setenv("GROWTH_DRIVER_MEMORY_TYPO", "3g")
    parsed = DagBag(dag_folder=str(ROOT / "dags"))
    (error,) = parsed.import_errors.values()
    assert "unknown setting(s) GROWTH_DRIVER_MEMORY_TYPO" in error
