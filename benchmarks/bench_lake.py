"""The environment every large-profile benchmark runs in; import it before ``growth``.

The lake is ``BENCH_LAKE_ROOT`` (default ``./lake-bench``), the driver gets enough memory for
1M creators, Spark's Python workers run the interpreter running the benchmark, and labels
use a 30-day horizon so that monthly cutoffs fit in the profile's 365 days (a training set
read later carries its own horizon).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def use_bench_lake(driver_memory: str = "12g", horizon_days: str | None = "30") -> None:
    os.environ["GROWTH_LAKE_ROOT"] = os.environ.get(
        "BENCH_LAKE_ROOT", str(Path("lake-bench").resolve()))
    os.environ.setdefault("GROWTH_DRIVER_MEMORY", driver_memory)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if horizon_days is not None:
        os.environ.setdefault("GROWTH_LABEL_HORIZON_DAYS", horizon_days)
