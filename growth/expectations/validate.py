"""Running a suite on a candidate frame: ``validate`` and ``validate_or_raise``.

Every expectation carries a severity: ``error`` (GX ``critical``) blocks publishing, ``warn``
(GX ``warning``) is recorded only. Results come back as ``CheckResult`` rows, whose observed
value is text a person can act on ("3 of 1,200 rows (0.25%), e.g. -4.0, -1.5").

Speed: GX on Spark computes each metric with a Spark job, so the candidate should be cached
before it gets here, and the suites avoid GX's per-row (map) expectations: row rules (ranges,
nulls, freshness, volume, PSI, ...) are compiled into one aggregate query per suite
(``rules.compile_rules``), so a validation is a handful of passes whatever the number of
rules. The results are asked for in full
(``COMPLETE``): for queries that is the offending rows, already computed, at no extra cost.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from functools import cache
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from growth.errors import DATA_QUALITY_EXIT_STATUS, GrowthError

# GX phones home by default; a data platform must not (and the network may not reach).
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations as gx  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402
from great_expectations.expectations.expectation import Expectation  # noqa: E402
from great_expectations.expectations.metadata_types import FailureSeverity  # noqa: E402

log = logging.getLogger(__name__)

ERROR, WARN = "error", "warn"
_GX_SEVERITY = {ERROR: FailureSeverity.CRITICAL, WARN: FailureSeverity.WARNING}
_SEVERITY = {"critical": ERROR, "warning": WARN, "info": WARN}
EXAMPLES = 5


def check(expectation: Expectation, severity: str, description: str) -> Expectation:
    """``expectation`` with its severity and the sentence a failure report starts with."""
    if severity not in _GX_SEVERITY:
        raise ValueError(f"severity must be '{ERROR}' or '{WARN}', not '{severity}'")
    return expectation.copy(update={
        "severity": _GX_SEVERITY[severity], "description": description,
    })


def error(expectation: Expectation, description: str) -> Expectation:
    return check(expectation, ERROR, description)


def warn(expectation: Expectation, description: str) -> Expectation:
    return check(expectation, WARN, description)


def suite(name: str, expectations: list[Expectation]) -> gx.ExpectationSuite:
    """A suite of ``expectations``; each remembers its position (GX reorders results)."""
    _batch_definition()  # GX wants a context before anything is added to a suite
    out = gx.ExpectationSuite(name=name)
    for position, expectation in enumerate(expectations):
        meta = {**(expectation.meta or {}), "position": position}
        out.add_expectation(expectation.copy(update={"meta": meta}))
    return out


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one expectation on one candidate."""

    suite: str
    expectation: str
    description: str
    column: str | None
    severity: str
    success: bool
    observed: str | None

    @property
    def blocking(self) -> bool:
        return self.severity == ERROR and not self.success

    def line(self) -> str:
        where = f" [{self.column}]" if self.column else ""
        status = "ok" if self.success else "FAILED"
        return (f"{status} {self.severity}: {self.description}{where} "
                f"({self.expectation}); observed: {self.observed}")


class DataQualityError(GrowthError, RuntimeError):
    """A candidate failed an ``error`` expectation: it must not be published."""

    exit_status = DATA_QUALITY_EXIT_STATUS

    def __init__(self, table: str, results: list[CheckResult], note: str = "") -> None:
        self.table = table
        self.results = results
        failures = [r for r in results if r.blocking]
        lines = "\n".join(f"  - {r.line()}" for r in failures)
        super().__init__(
            f"data-quality gate failed for {table}: {len(failures)} blocking check(s) "
            f"failed, nothing was published{note}.\n{lines}\n"
            "Fix the input (or the suite's parameters, if the change is intended) and rerun; "
            "every result is in the dq_results table (growth dq --as-of <date>)."
        )


@cache
def _batch_definition() -> Any:
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_spark(name="growth")
    asset = source.add_dataframe_asset(name="candidate")
    return asset.add_batch_definition_whole_dataframe("whole")


def _run(df: DataFrame, expectations: gx.ExpectationSuite) -> list[Any]:
    """The results of ``expectations`` on ``df``, in suite order."""
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": df})
    results = batch.validate(expectations, result_format="COMPLETE").results
    return sorted(results, key=lambda r: r.expectation_config.meta["position"])


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _observed(result: dict) -> str | None:
    if "observed_value" in result:
        value = result["observed_value"]
        rows = (result.get("details") or {}).get("unexpected_rows")
        if rows is not None:
            rows = list(rows)
            shown = "; ".join(_row_text(r) for r in rows[:EXAMPLES])
            more = f"; and {len(rows) - EXAMPLES:,} more" if len(rows) > EXAMPLES else ""
            # A query's rows are capped by GX: then the count is a lower bound.
            least = "at least " if (result.get("details") or {}).get("truncated") else ""
            return (f"{least}{_number(value)} unexpected row(s): {shown}{more}" if value
                    else "0 unexpected rows")
        return _number(value)
    if "unexpected_count" in result:
        count = result["unexpected_count"] or 0
        text = (f"{count:,} of {result.get('element_count', 0):,} rows "
                f"({result.get('unexpected_percent') or 0.0:.3g}%)")
        examples = result.get("partial_unexpected_list") or []
        if examples:
            text += ", e.g. " + ", ".join(_number(v) for v in examples[:EXAMPLES])
        return text
    return None


def _exception_message(info: Any) -> str | None:
    """The first exception message in GX's exception info (flat, or keyed by metric)."""
    if not isinstance(info, dict):
        return None
    if info.get("exception_message"):
        return str(info["exception_message"])
    for value in info.values():
        found = _exception_message(value) if isinstance(value, dict) else None
        if found:
            return found
    return None


def _row_text(row: Any) -> str:
    mapping = row.asDict() if hasattr(row, "asDict") else dict(row)
    return ", ".join(f"{k}={_number(v)}" for k, v in mapping.items())


def _column(config: Any) -> str | None:
    kwargs = config.kwargs
    if "column" in kwargs:
        return kwargs["column"]
    if "column_list" in kwargs:
        return ",".join(kwargs["column_list"])
    return None


def validate(df: DataFrame, expectations: gx.ExpectationSuite) -> list[CheckResult]:
    """Every expectation of the suite on ``df`` (cache it first), in suite order."""
    results = _run(df, expectations)
    # Broken row rules whose offending values are computed after the validation:
    # (position in ``out``, lowest SQL, highest SQL).
    offending: list[tuple[int, str, str]] = []
    out: list[CheckResult] = []
    for expectation, result in zip(expectations.expectations, results, strict=True):
        config = result.expectation_config
        severity = _SEVERITY[str(getattr(config.severity, "value", config.severity))]
        error_info = result.exception_info or {}
        if error_info.get("raised_exception"):
            failure = f"the check itself failed: {_exception_message(error_info)}"
            out.append(CheckResult(expectations.name, config.type,
                                   expectation.description or config.type, _column(config),
                                   severity, False, failure))
            continue
        if "rules" in (expectation.meta or {}):
            out += _rule_results(expectations.name, expectation, result, severity, offending,
                                  len(out))
            continue
        observed = _observed(result.result or {})
        if observed is None and not result.success:
            observed = ("could not be evaluated: "
                        f"{_exception_message(error_info) or 'GX returned no observed value'}")
        out.append(CheckResult(
            suite=expectations.name,
            expectation=config.type,
            description=expectation.description or config.type,
            column=_column(config),
            severity=severity,
            success=bool(result.success),
            observed=observed,
        ))
    if offending:
        _add_offending_values(df, out, offending)
    return out


def _add_offending_values(
    df: DataFrame, out: list[CheckResult], offending: list[tuple[int, str, str]]
) -> None:
    """Append the lowest and highest offending value to the observed value of each broken
    row rule in ``offending``: one more pass over ``df``, on a failure only."""
    columns = [f"CAST({sql} AS STRING)" for _, lowest, highest in offending
               for sql in (lowest, highest)]
    try:
        row = df.agg(*[F.expr(c).alias(f"x{i}") for i, c in enumerate(columns)]).first()
    except Exception as exc:  # noqa: BLE001 - the verdict stands without the examples
        log.warning("could not compute the offending values of %d broken rule(s): %s",
                    len(offending), str(exc).splitlines()[0] if str(exc) else exc)
        return
    for k, (position, _, _) in enumerate(offending):
        lowest, highest = row[2 * k], row[2 * k + 1]
        if lowest is None:
            continue
        result = out[position]
        shown = (f", offending values {lowest}" if lowest == highest
                 else f", offending values from {lowest} to {highest}")
        out[position] = dataclasses.replace(result, observed=f"{result.observed}{shown}")


ROW_RULE = "row_rule"
"""The ``expectation`` of a rule checked inside a compiled row-rules query."""


def _rule_results(
    suite_name: str, expectation: Expectation, result: Any, severity: str,
    offending: list[tuple[int, str, str]], first: int = 0,
) -> list[CheckResult]:
    """One result per rule of a compiled row-rules query (see ``rules.compile_rules``), each
    with the rule's own severity (``severity``: the query's, for rules from older suites).
    A broken rule whose offending values the query left out is added to ``offending``
    (``first``: where these results start in the validation's results)."""
    rules = expectation.meta["rules"]
    rows = ((result.result or {}).get("details") or {}).get("unexpected_rows")
    if rows is None and not result.success:
        # Without the rows we cannot tell which rule broke: fail them all, never pass them.
        why = _exception_message(result.exception_info) or "GX returned no detail rows"
        return [CheckResult(suite_name, ROW_RULE, rule["description"], rule["column"],
                            rule.get("severity", severity), False,
                            f"could not be evaluated: {why[:300]}")
                for rule in rules]
    reported = {int(row["rule"]): row for row in rows or []}
    out = []
    for index, rule in enumerate(rules):
        row = reported.get(index)
        broken = row is not None and row["violations"] > 0
        if rule.get("value"):
            observed = "None" if row is None or row["lowest"] is None else row["lowest"]
        elif not broken:
            observed = "0 rows"
        else:
            observed = (f"{row['violations']:,} of {row['rows_checked']:,} rows "
                        f"({100 * row['violations'] / max(row['rows_checked'], 1):.3g}%)")
            if rule.get("offending"):
                offending.append((first + index, *rule["offending"]))
            elif row["lowest"] is not None:
                observed += (f", offending values {row['lowest']}" if row["lowest"] == row["highest"]
                             else f", offending values from {row['lowest']} to {row['highest']}")
        out.append(CheckResult(suite_name, ROW_RULE, rule["description"], rule["column"],
                               rule.get("severity", severity), not broken, observed))
    return out


def validate_or_raise(
    df: DataFrame, expectations: gx.ExpectationSuite, table: str
) -> list[CheckResult]:
    """``validate``, then raise ``DataQualityError`` naming the table, each failed ``error``
    expectation and its observed value when any failed. The error carries every result."""
    results = validate(df, expectations)
    for result in results:
        if not result.success:
            log.warning("%s: %s", table, result.line())
    if any(r.blocking for r in results):
        raise DataQualityError(table, results)
    return results
