"""``UnexpectedRowsOnce``: GX's unexpected-rows expectation, with its query run once.

GX's ``UnexpectedRowsExpectation`` asks for two metrics of its query, the rows (at most
``MAX_RESULT_RECORDS`` of them) and their count, and on Spark each is a job of its own: the
query, an aggregate over the whole candidate for most of our checks, runs twice. This
subclass asks for the rows only and counts them. A check whose query can return more rows
than GX keeps says so (``truncated``), and the count reads "at least N"; the compiled rule
queries return at most one row per rule and are split to stay under the limit.
"""

from __future__ import annotations

from typing import Any, ClassVar

import great_expectations.expectations as gxe
from great_expectations.constants import MAX_RESULT_RECORDS

ROWS_METRIC = "unexpected_rows_query.table"


class UnexpectedRowsOnce(gxe.UnexpectedRowsExpectation):
    """Expect ``unexpected_rows_query`` to return no row; the query runs once."""

    metric_dependencies: ClassVar[tuple[str, ...]] = (ROWS_METRIC,)

    def _validate(
        self,
        metrics: dict,
        runtime_configuration: dict | None = None,
        execution_engine: Any = None,
    ) -> dict:
        rows = metrics[ROWS_METRIC]
        return {
            "success": not rows,
            "result": {
                "observed_value": len(rows),
                "details": {"unexpected_rows": rows,
                            "truncated": len(rows) >= MAX_RESULT_RECORDS},
            },
        }
