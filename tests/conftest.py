"""One SparkSession for the whole suite, on a throwaway lake."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
# Airflow reads its home when first imported: keep the suite's Airflow state out of the
# project's airflow_home and out of the user's ~/airflow.
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="growth-airflow-")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"


@pytest.fixture(scope="session")
def cfg(tmp_path_factory: pytest.TempPathFactory):
    from growth.jobs.config import load_config

    lake = tmp_path_factory.mktemp("lake")
    return load_config(
        environ={
            "GROWTH_LAKE_ROOT": str(lake),
            "GROWTH_MASTER": "local[2]",
            "GROWTH_SHUFFLE_PARTITIONS": "2",
            # Two suite workers run side by side: 4g each leaves the shuffle's hash maps room
            # when earlier modules' cached frames hold part of the memory (2g ran out in CI).
            "GROWTH_DRIVER_MEMORY": "4g",
        },
        env_file=Path(os.devnull),
    )


@pytest.fixture(scope="session")
def spark(cfg) -> Iterator:
    from growth.jobs.session import get_spark

    session = get_spark(cfg, "growth-tests")
    yield session
    session.stop()


@pytest.fixture(scope="module", autouse=True)
def _free_cached_frames() -> Iterator[None]:
    """Drop every cached frame when a module ends, so one module's caches never crowd the
    next module's queries out of memory on the shared session."""
    yield
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()  # None in modules that never started Spark
    if session is not None:
        session.catalog.clearCache()

