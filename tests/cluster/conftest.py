"""The cluster tests start a Spark standalone cluster and run every daily job twice (on the
cluster and on a local master): about a quarter of an hour on a 2-core machine. They only
run when asked for, ``GROWTH_TEST_CLUSTER=1`` (``make test-cluster`` sets it, CI runs that
target); ``make test`` collects them and reports them skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ENABLE_VARIABLE = "GROWTH_TEST_CLUSTER"
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip this folder's tests unless ``GROWTH_TEST_CLUSTER=1``.

    A skip marker, not a collection filter, so that ``make test`` says why they did not run;
    the hook sees the whole session's items, hence the filter on the path.
    """
    if os.environ.get(ENABLE_VARIABLE) == "1":
        return
    skip = pytest.mark.skip(
        reason=f"Spark standalone cluster tests: set {ENABLE_VARIABLE}=1 (make test-cluster)")
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(skip)
