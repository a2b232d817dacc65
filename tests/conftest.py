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
            "GROWTH_DRIVER_MEMORY": "2g",
        },
        env_file=Path(os.devnull),
    )


@pytest.fixture(scope="session")
def spark(cfg) -> Iterator:
    from growth.jobs.session import get_spark

    session = get_spark(cfg, "growth-tests")
    yield session
    session.stop()
