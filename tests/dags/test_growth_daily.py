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


def test_weekly_training_trains_each_entity_in_turn(bag):
    training = bag.dags["growth_training"]
    assert [t.task_id for t in training.topological_sort()] == ["train_merchant", "train_creator"]
    assert training.timetable.expression == "0 3 * * 1"
    assert training.catchup is False and training.max_active_runs == 1
    assert training.tags == {"growth", "weekly", "models"}
    for entity in ("merchant", "creator"):
        task = training.get_task(f"train_{entity}")
        assert task.application_args == ["train", "--entity", entity, "--as-of", "{{ ds }}"]
        assert task.retries == 1
        assert {a.name for a in task.outlets} == {
            f"growth.{entity}_training_set", "growth.model_registry", "growth.run_log",
            "growth.dq_results"}


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
    for task in dag.tasks:
        assert task.retries == 2
        assert task.execution_timeout.total_seconds() == 7200


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


def test_a_blocked_gate_fails_the_task_without_retries_other_failures_retry(dag, monkeypatch):
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    task = dag.get_task("ingest_activity")
    assert task.retries == 2

    def exits(code):
        def execute(self, context):
            raise AirflowException(f"Cannot execute: spark-submit ... Error code is: {code}.")
        return execute

    monkeypatch.setattr(SparkSubmitOperator, "execute", exits(3))
    with pytest.raises(AirflowFailException, match="data-quality gate blocked.*2026-10-31"):
        task.execute({"ds": "2026-10-31"})
    monkeypatch.setattr(SparkSubmitOperator, "execute", exits(1))
    with pytest.raises(AirflowException) as raised:
        task.execute({"ds": "2026-10-31"})
    assert not isinstance(raised.value, AirflowFailException)


def test_scoring_without_a_champion_is_skipped_not_failed(dag, monkeypatch):
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
    from airflow.sdk.exceptions import AirflowException, AirflowSkipException

    def execute(self, context):
        raise AirflowException("Cannot execute: spark-submit ... Error code is: 4.")

    monkeypatch.setattr(SparkSubmitOperator, "execute", execute)
    with pytest.raises(AirflowSkipException, match="no champion model yet"):
        dag.get_task("score_merchant").execute({"ds": "2026-10-31"})
