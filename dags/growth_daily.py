"""The growth platform's DAGs: wiring only, each task a ``growth`` CLI command run by
spark-submit through the Airflow connection ``growth_spark`` (default: a local master).

growth_daily, for the day that just ended (a run with logical date D processes day D,
``--as-of D``, and starts after D has ended): ingest_entities -> ingest_activity ->
ingest_outreach -> daily_aggregates -> features -> labels, and after features
score_merchant -> score_creator (tiers and potential scores from the champion models),
and after each score_<entity> its lookalike_<entity> (look-alike scores of the new
entities, learnt from that day's tiers) and its outreach_<entity> (the day's outreach
list, ranked by the learnt effect of a contact and allocated to account managers).

growth_training, weekly (or triggered by hand), per entity: training_set_<entity> (the
training set over the regular cutoffs) -> train_<entity> (fit, then backtest against the
champion on the same folds; a model that beats it is registered as a candidate) ->
promote_<entity> (the candidates become champions; otherwise the champion is kept).

Every task retries (a lost executor, a busy metastore), except when a data-quality gate
blocked it; its failure callback logs the task, day, tables and failing gate or error
(``growth.scheduling``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib.util import find_spec

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, chain

from growth.layout import (
    DATABASE,
    DQ_RESULTS_TABLE,
    QUARANTINE_TABLE,
    RUN_LOG_TABLE,
    SOURCE_GROUPS,
    delta_maven_coordinates,
    silver_table,
)
from growth.scheduling import GrowthSparkSubmitOperator, launch_conf, log_failure

SPARK_CONN_ID = "growth_spark"
ENTITIES = ("merchant", "creator")
# (task id, growth command, table topic): each step reads what the previous one published.
FEATURE_STORE_STEPS = (
    ("daily_aggregates", "daily-aggregates", "daily"),
    ("features", "features", "features"),
    ("labels", "labels", "labels"),
)
# The CLI module doubles as the spark-submit application for every job.
APPLICATION = find_spec("growth.jobs.cli").origin


def table_asset(name: str) -> Asset:
    return Asset(name=f"{DATABASE}.{name}", uri=f"growth://{DATABASE}/{name}")


def spark_job(task_id: str, args: list[str], outlets: list[Asset]) -> SparkSubmitOperator:
    """A growth CLI command for the run's logical date."""
    return GrowthSparkSubmitOperator(
        task_id=task_id,
        conn_id=SPARK_CONN_ID,
        application=APPLICATION,
        application_args=[*args, "--as-of", "{{ ds }}"],
        packages=delta_maven_coordinates(),
        conf=launch_conf(),
        name=f"growth-{task_id}",
        # Every job records its gates' results beside its run log entry.
        outlets=[*outlets, table_asset(DQ_RESULTS_TABLE)],
    )


with DAG(
    dag_id="growth_daily",
    description=(
        "Ingest the day's sources into silver, update the daily aggregates, feature "
        "snapshots and labels, score tiers and potential, and publish outreach lists."
    ),
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    # The embedded metastore (Derby) admits one Spark driver at a time.
    max_active_runs=1,
    max_active_tasks=1,
    # The retry delay comes from Airflow's [core] default_task_retry_delay (300 s unless
    # configured), so the demo and tests can shorten it without another DAG.
    default_args={
        "owner": "growth",
        "retries": 2,
        "on_failure_callback": log_failure,
        "execution_timeout": timedelta(hours=2),
    },
    tags=["growth", "daily"],
) as dag:
    ingest_tasks = [
        spark_job(
            f"ingest_{group}",
            ["ingest", "--source", group],
            [table_asset(silver_table(s)) for s in sources]
            + [table_asset(QUARANTINE_TABLE), table_asset(RUN_LOG_TABLE)],
        )
        for group, sources in SOURCE_GROUPS.items()
    ]
    feature_store = [
        spark_job(
            task_id,
            [command],
            [table_asset(f"{entity}_{topic}") for entity in ENTITIES]
            + [table_asset(RUN_LOG_TABLE)],
        )
        for task_id, command, topic in FEATURE_STORE_STEPS
    ]
    scoring = [
        spark_job(
            f"score_{entity}",
            ["score", "--entity", entity],
            [table_asset(f"{entity}_tiers"), table_asset("potential_scores"),
             table_asset(RUN_LOG_TABLE)],
        )
        for entity in ENTITIES
    ]
    lookalikes = [
        spark_job(
            f"lookalike_{entity}",
            ["lookalike", "--entity", entity],
            [table_asset("lookalike_scores"), table_asset(RUN_LOG_TABLE)],
        )
        for entity in ENTITIES
    ]
    outreach = [
        spark_job(
            f"outreach_{entity}",
            ["outreach", "--entity", entity],
            [table_asset("outreach_lists"), table_asset(RUN_LOG_TABLE)],
        )
        for entity in ENTITIES
    ]
    chain(*ingest_tasks, *feature_store)
    # Scoring reads the day's snapshots, not its labels (those are for past cutoffs).
    chain(feature_store[1], *scoring)
    # A look-alike run learns from its entity's tiers of the day.
    # An outreach list ranks its entity's tiers and potential scores of the day.
    for scored, lookalike, listed in zip(scoring, lookalikes, outreach, strict=True):
        scored >> [lookalike, listed]


with DAG(
    dag_id="growth_training",
    description=(
        "Weekly: rebuild each entity's training set over the regular cutoffs, backtest and "
        "train its value and potential models, and promote those that beat the champion."
    ),
    # Monday 03:00 UTC, after the daily run of Sunday has had time to finish.
    schedule=CronDataIntervalTimetable("0 3 * * 1", timezone="UTC"),
    start_date=datetime(2026, 1, 5),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=1,
    default_args={
        "owner": "growth",
        "retries": 1,
        "on_failure_callback": log_failure,
        "execution_timeout": timedelta(hours=4),
    },
    tags=["growth", "weekly", "models"],
) as training_dag:
    for entity in ENTITIES:
        registry = [table_asset("model_registry"), table_asset(RUN_LOG_TABLE)]
        chain(
            spark_job(f"training_set_{entity}", ["training-set", "--entity", entity],
                      [table_asset(f"{entity}_training_set"), table_asset(RUN_LOG_TABLE)]),
            # Fit, then backtest against the champion on the same folds (the evaluation);
            # a model that beats it is registered as a candidate.
            spark_job(f"train_{entity}",
                      ["train", "--entity", entity, "--existing-training-set", "--no-promote"],
                      registry),
            spark_job(f"promote_{entity}",
                      ["models", "promote-candidates", "--entity", entity], registry),
        )
