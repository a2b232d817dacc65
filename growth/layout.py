"""Names shared by jobs and DAGs: database, tables, source ingest order, Delta coordinates.

This module imports nothing heavy (no Spark, no pandas) so that Airflow can import it while
parsing DAG files.
"""

from __future__ import annotations

from importlib import metadata

DATABASE = "growth"

# Sources in the order they must be ingested: a source is ingested after every source its
# foreign keys point to, so that the key check sees this run's new parents.
SOURCE_ORDER: tuple[str, ...] = (
    "merchants",
    "creators",
    "account_managers",
    "products",
    "orders",
    "reviews",
    "traffic_daily",
    "creator_daily_stats",
    "outreach_events",
    "opt_outs",
)

# Sources ingested together by one task of the daily DAG (one Spark start-up each). Each
# group only references sources of earlier groups or earlier in its own list.
SOURCE_GROUPS: dict[str, tuple[str, ...]] = {
    "entities": ("merchants", "creators", "account_managers", "products"),
    "activity": ("orders", "reviews", "traffic_daily", "creator_daily_stats"),
    "outreach": ("outreach_events", "opt_outs"),
}

QUARANTINE_TABLE = "quarantine"
RUN_LOG_TABLE = "run_log"
DQ_RESULTS_TABLE = "dq_results"
GROUND_TRUTH_TABLE = "sim_ground_truth"


def silver_table(source: str) -> str:
    """Unqualified name of the silver Delta table of a source (``silver_orders``)."""
    return f"silver_{source}"


def delta_maven_coordinates() -> str:
    """Maven coordinates of the Delta jar matching the installed pyspark and delta-spark.

    Delta publishes one artifact per Spark minor release (``delta-spark_4.2_2.13``); the jar
    version follows the installed ``delta-spark`` Python package so the two never drift.
    """
    spark_minor = ".".join(metadata.version("pyspark").split(".")[:2])
    delta_version = metadata.version("delta-spark")
    return f"io.delta:delta-spark_{spark_minor}_2.13:{delta_version}"
