"""One SparkSession for the whole suite, on a throwaway lake."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


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
