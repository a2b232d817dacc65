"""Building blocks of the suites: each returns expectations with a severity and a sentence.

Queries (``UnexpectedRowsExpectation``) return the offending rows, which become the observed
value of a failure: the days below the volume floor with their counts, the missing days,
the lists whose ranks have a gap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.expectation import Expectation
from pyspark.sql.types import StructType

from growth.expectations.validate import ERROR, WARN, check, error, suite, warn


def _sql_date(day: date) -> str:
    return f"DATE'{day.isoformat()}'"


def _sql_list(values: Iterable[str]) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def schema(columns: StructType) -> list[Expectation]:
    """Exactly the declared columns, each of its declared type."""
    out = [error(
        gxe.ExpectTableColumnsToMatchSet(column_set=columns.fieldNames(), exact_match=True),
        "the columns are exactly the declared ones",
    )]
    out += [
        error(gxe.ExpectColumnValuesToBeOfType(column=f.name, type_=type(f.dataType).__name__),
              f"column has its declared type {f.dataType.simpleString()}")
        for f in columns.fields
    ]
    return out


@dataclass(frozen=True)
class RowRule:
    """A rule checked by counting the rows that break it, compiled with the other rules of
    its suite into one aggregate query (one pass over the candidate for all of them).

    ``violations``: a SQL aggregate, the number of offending rows; ``lowest``/``highest``:
    SQL aggregates of the smallest and largest offending value, shown in a failure."""

    description: str
    column: str | None
    severity: str
    violations: str
    lowest: str = "NULL"
    highest: str = "NULL"


def _offending(column: str, condition: str, description: str, severity: str) -> RowRule:
    return RowRule(
        description, column, severity, f"COUNT_IF({condition})",
        f"MIN(CASE WHEN {condition} THEN `{column}` END)",
        f"MAX(CASE WHEN {condition} THEN `{column}` END)",
    )


def not_null(columns: Iterable[str], severity: str = ERROR) -> list[RowRule]:
    return [RowRule("never null", c, severity, f"COUNT(*) - COUNT(`{c}`)") for c in columns]


def between(
    column: str, low: float | None, high: float | None, severity: str = ERROR
) -> RowRule:
    if low is None and high is None:
        raise ValueError(f"a range for {column} needs a low or a high bound")
    outside = " OR ".join(
        ([f"`{column}` < {low!r}"] if low is not None else [])
        + ([f"`{column}` > {high!r}"] if high is not None else [])
    )
    what = (f"between {low:g} and {high:g}" if low is not None and high is not None
            else f"at least {low:g}" if low is not None else f"at most {high:g}")
    return _offending(column, f"({outside})", f"values {what}", severity)


def allowed(column: str, values: Iterable[str], severity: str = ERROR) -> RowRule:
    """Values in the set; null passes (nullability is a rule of its own)."""
    values = sorted(values)
    condition = f"(`{column}` IS NOT NULL AND `{column}` NOT IN ({_sql_list(values)}))"
    return _offending(column, condition,
                      f"values in the allowed set ({', '.join(values)})", severity)


def not_all_null(column: str, severity: str = WARN) -> RowRule:
    """A nullable column that is null on every row: a feed that lost the column."""
    return RowRule("not null on every row", column, severity,
                   f"CASE WHEN COUNT(*) > 0 AND COUNT(`{column}`) = 0 THEN COUNT(*) ELSE 0 END")


def compile_rules(rules: Sequence[RowRule]) -> list[Expectation]:
    """At most one query per severity, each returning one row per broken rule: (rule,
    violations, rows_checked, lowest, highest). ``validate`` reports every rule apart."""
    out = []
    for severity in (ERROR, WARN):
        group = [r for r in rules if r.severity == severity]
        if not group:
            continue
        aggregates = ", ".join(
            f"CAST({r.violations} AS BIGINT) AS v{i}, CAST({r.lowest} AS STRING) AS l{i}, "
            f"CAST({r.highest} AS STRING) AS h{i}"
            for i, r in enumerate(group)
        )
        stacked = ", ".join(f"{i}, v{i}, l{i}, h{i}" for i in range(len(group)))
        query = (
            "SELECT rule, violations, rows_checked, lowest, highest FROM (SELECT "
            f"stack({len(group)}, {stacked}) AS (rule, violations, lowest, highest), "
            f"rows_checked FROM (SELECT COUNT(*) AS rows_checked, {aggregates} FROM {{batch}}) "
            "AS totals) AS per_rule WHERE violations > 0 ORDER BY rule"
        )
        expectation = check(gxe.UnexpectedRowsExpectation(unexpected_rows_query=query), severity,
                            f"{len(group)} row rule(s)")
        out.append(expectation.copy(update={"meta": {"rules": [
            {"description": r.description, "column": r.column} for r in group
        ]}}))
    return out


def build(name: str, items: Sequence[RowRule | Expectation]) -> gx.ExpectationSuite:
    """A suite of the expectations in ``items``, its row rules compiled into one query per
    severity (placed first: they are the bulk of most suites)."""
    row_rules = [i for i in items if isinstance(i, RowRule)]
    others = [i for i in items if not isinstance(i, RowRule)]
    return suite(name, [*compile_rules(row_rules), *others])


def keys(columns: Sequence[str]) -> list[RowRule | Expectation]:
    """Key columns never null, and unique together (offending keys shown, most copies first)."""
    listed = ", ".join(f"`{c}`" for c in columns)
    query = (f"SELECT {listed}, COUNT(*) AS copies FROM {{batch}} GROUP BY {listed} "
             "HAVING COUNT(*) > 1 ORDER BY copies DESC")
    return [*not_null(columns), error(gxe.UnexpectedRowsExpectation(unexpected_rows_query=query),
                                      f"one row per key ({', '.join(columns)})")]


def not_empty(what: str, severity: str = ERROR) -> Expectation:
    return check(gxe.ExpectTableRowCountToBeBetween(min_value=1), severity, f"{what} is not empty")


def freshness(column: str, as_of: date, severity: str = ERROR) -> Expectation:
    """The newest date is the run date: neither stale nor from the future."""
    return check(
        gxe.ExpectColumnMaxToBeBetween(column=column, min_value=as_of, max_value=as_of),
        severity, f"newest {column} is the run date {as_of}",
    )


def every_day_present(column: str, first: date, last: date, severity: str = ERROR) -> Expectation:
    """No gap: each day from ``first`` to ``last`` has at least one row."""
    query = (
        f"SELECT d AS missing_{column} FROM (SELECT explode(sequence({_sql_date(first)}, "
        f"{_sql_date(last)})) AS d) AS days WHERE d NOT IN "
        f"(SELECT DISTINCT `{column}` FROM {{batch}} WHERE `{column}` IS NOT NULL) ORDER BY d"
    )
    return check(gxe.UnexpectedRowsExpectation(unexpected_rows_query=query), severity,
                 f"a row for every {column} from {first} to {last}")


def volume(
    column: str, previous_rows: float | None, tolerance: float, only: date | None = None
) -> list[Expectation]:
    """Rows per ``column`` value within ``tolerance`` of the previous run's rows per value:
    a drop below (1 - tolerance) x previous blocks, a rise above previous / (1 - tolerance)
    is recorded. No previous run, no check. ``only``: check that one partition alone."""
    if previous_rows is None or previous_rows <= 0:
        return []
    if not 0 < tolerance < 1:
        raise ValueError(f"volume tolerance must be in (0, 1), not {tolerance}")
    low, high = previous_rows * (1 - tolerance), previous_rows / (1 - tolerance)
    where = f"WHERE `{column}` = {_sql_date(only)} " if only is not None else ""

    def rows_outside(condition: str) -> str:
        return (f"SELECT `{column}`, COUNT(*) AS row_count FROM {{batch}} {where}"
                f"GROUP BY `{column}` HAVING {condition} ORDER BY `{column}`")

    return [
        error(gxe.UnexpectedRowsExpectation(unexpected_rows_query=rows_outside(f"COUNT(*) < {low:.0f}")),
              f"rows per {column} at least {low:,.0f} ({1 - tolerance:.0%} of the previous "
              f"{previous_rows:,.0f})"),
        warn(gxe.UnexpectedRowsExpectation(unexpected_rows_query=rows_outside(f"COUNT(*) > {high:.0f}")),
             f"rows per {column} at most {high:,.0f} (previous {previous_rows:,.0f})"),
    ]


def rejected_share_at_most(reason: str, share: float) -> Expectation:
    """At most ``share`` of the rows carry a ``reason``; above it, the reasons by count (the
    top one usually names the column: a feed that lost it, or changed its type)."""
    query = (
        f"SELECT b.`{reason}` AS quarantine_reason, COUNT(*) AS rows_rejected, "
        f"FIRST(t.share) AS batch_share FROM {{batch}} AS b CROSS JOIN (SELECT "
        f"ROUND(try_divide(COUNT(`{reason}`), COUNT(*)), 4) AS share FROM {{batch}}) AS t "
        f"WHERE b.`{reason}` IS NOT NULL AND t.share > {share!r} "
        f"GROUP BY b.`{reason}` ORDER BY rows_rejected DESC, quarantine_reason"
    )
    return error(gxe.UnexpectedRowsExpectation(unexpected_rows_query=query),
                 f"rows quarantined at most {share:.0%} of the batch")


def ranks_contiguous(rank: str, within: Sequence[str]) -> list[Expectation]:
    """Within each group, ranks are unique and run 1..n with no gap."""
    group = ", ".join(f"`{c}`" for c in within)
    query = (
        f"SELECT {group}, COUNT(*) AS rows, COUNT(DISTINCT `{rank}`) AS distinct_ranks, "
        f"MIN(`{rank}`) AS first_rank, MAX(`{rank}`) AS last_rank FROM {{batch}} "
        f"GROUP BY {group} HAVING MIN(`{rank}`) <> 1 OR MAX(`{rank}`) <> COUNT(*) "
        f"OR COUNT(DISTINCT `{rank}`) <> COUNT(*) OR COUNT(`{rank}`) <> COUNT(*)"
    )
    return [error(gxe.UnexpectedRowsExpectation(unexpected_rows_query=query),
                  f"{rank} unique and running 1..n without gaps within ({', '.join(within)})")]


def none_of(columns: Sequence[str], excluded: Iterable[tuple], what: str) -> Expectation:
    """No row whose ``columns`` tuple is one of ``excluded`` (e.g. opted-out entities)."""
    pairs = sorted({tuple(str(v) for v in row) for row in excluded})
    if not pairs:
        condition = "false"
    else:
        values = ", ".join("(" + _sql_list(p) + ")" for p in pairs)
        condition = f"({', '.join(f'`{c}`' for c in columns)}) IN ({values})"
    query = f"SELECT {', '.join(f'`{c}`' for c in columns)} FROM {{batch}} WHERE {condition}"
    return error(gxe.UnexpectedRowsExpectation(unexpected_rows_query=query), f"no {what}")


def capacity(
    group: str, limits: Mapping[str, int], default: int | None, what: str, counted: str = "true"
) -> Expectation:
    """Rows where ``counted`` holds, per non-null ``group`` value, at most its limit
    (``default`` for values without one; None: a value without a limit is a failure)."""
    cases = " ".join(f"WHEN '{k}' THEN {int(v)}" for k, v in sorted(limits.items()))
    fallback = "NULL" if default is None else str(int(default))
    limit = f"CASE `{group}` {cases} ELSE {fallback} END" if cases else fallback
    query = (
        f"SELECT `{group}`, COUNT(*) AS assigned, FIRST({limit}) AS capacity FROM {{batch}} "
        f"WHERE `{group}` IS NOT NULL AND ({counted}) GROUP BY `{group}` HAVING FIRST({limit}) IS NULL OR COUNT(*) > FIRST({limit}) "
        f"ORDER BY `{group}`"
    )
    return error(gxe.UnexpectedRowsExpectation(unexpected_rows_query=query),
                 f"no {what} over capacity")
