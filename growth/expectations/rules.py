"""Building blocks of the suites: each returns expectations with a severity and a sentence.

Queries (``query.UnexpectedRowsOnce``) return the offending rows, which become the observed
value of a failure: the days below the volume floor with their counts, the missing days,
the lists whose ranks have a gap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.constants import MAX_RESULT_RECORDS
from great_expectations.expectations.expectation import Expectation
from pyspark.sql.types import StructType

from growth.expectations.query import UnexpectedRowsOnce
from growth.expectations.validate import ERROR, WARN, check, error, suite, warn

SAMPLE_SEED = 17
"""Seed of the checks computed on a sample: reruns see the same rows."""


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
    """A rule checked by an aggregate over the candidate, compiled with every other rule of
    its suite into one query (one pass over the candidate for all of them).

    ``violations``: a SQL aggregate, the number of offending rows (or 1/0 for a rule on the
    whole frame); ``lowest``/``highest``: SQL aggregates of the smallest and largest
    offending value, shown in a failure. ``value``: a SQL aggregate shown as the observed
    value instead, on every run, pass or fail (the newest date, a share)."""

    description: str
    column: str | None
    severity: str
    violations: str
    lowest: str = "NULL"
    highest: str = "NULL"
    value: str | None = None


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


def non_null_share_at_least(column: str, floor: float, description: str,
                            severity: str = ERROR) -> RowRule:
    """The share of non-null values of ``column`` is at least ``floor`` (empty: passes)."""
    share = f"try_divide(COUNT(`{column}`), COUNT(*))"
    return RowRule(description, column, severity,
                   f"CASE WHEN {share} < {floor!r} THEN 1 ELSE 0 END",
                   value=f"ROUND({share}, 4)")


def not_empty(what: str, severity: str = ERROR) -> RowRule:
    return RowRule(f"{what} is not empty", None, severity,
                   "CASE WHEN COUNT(*) = 0 THEN 1 ELSE 0 END", value="COUNT(*)")


def freshness(column: str, as_of: date, severity: str = ERROR) -> RowRule:
    """The newest date is the run date: neither stale nor from the future (nor absent)."""
    newest = f"MAX(`{column}`)"
    return RowRule(f"newest {column} is the run date {as_of}", column, severity,
                   f"CASE WHEN {newest} <=> {_sql_date(as_of)} THEN 0 ELSE 1 END",
                   value=newest)


def every_day_present(column: str, first: date, last: date, severity: str = ERROR) -> RowRule:
    """No gap: each day from ``first`` to ``last`` has at least one row."""
    missing = (f"array_except(sequence({_sql_date(first)}, {_sql_date(last)}), "
               f"collect_set(`{column}`))")
    return RowRule(f"a row for every {column} from {first} to {last}", column, severity,
                   f"size({missing})",
                   value=f"CASE WHEN size({missing}) = 0 THEN 'no day missing' ELSE "
                         f"concat('missing ', array_join({missing}, ', ')) END")


def compile_rules(rules: Sequence[RowRule]) -> list[Expectation]:
    """One query for every rule, whatever its severity, returning one row per broken rule
    and per rule with a ``value``: (rule, violations, rows_checked, lowest, highest).
    ``validate`` reports every rule apart, with the rule's own severity.

    Each query is a pass over the candidate, so one for all rules is the fewest there can
    be. The pass computes each rule's violations (and value) only: the lowest and highest
    offending values, which only a failure shows, are computed by ``validate`` after it,
    for the broken rules alone (a third of the aggregates, on every run that passes).
    GX keeps at most ``MAX_RESULT_RECORDS`` rows of a query: a longer list of rules is
    split, so that no rule's row can be cut."""
    return [_compiled(rules[start:start + MAX_RESULT_RECORDS])
            for start in range(0, len(rules), MAX_RESULT_RECORDS)]


def _compiled(rules: Sequence[RowRule]) -> Expectation:
    aggregates = ", ".join(
        f"CAST({r.violations} AS BIGINT) AS v{i}, "
        f"CAST({r.value if r.value is not None else 'NULL'} AS STRING) AS l{i}"
        for i, r in enumerate(rules)
    )
    stacked = ", ".join(f"{i}, v{i}, l{i}" for i in range(len(rules)))
    shown = [i for i, r in enumerate(rules) if r.value is not None]
    reported = f"violations > 0 OR rule IN ({', '.join(map(str, shown))})" if shown \
        else "violations > 0"
    query = (
        "SELECT rule, violations, rows_checked, lowest, CAST(NULL AS STRING) AS highest "
        f"FROM (SELECT stack({len(rules)}, {stacked}) AS (rule, violations, lowest), "
        f"rows_checked FROM (SELECT COUNT(*) AS rows_checked, {aggregates} FROM {{batch}}) "
        f"AS totals) AS per_rule WHERE {reported} ORDER BY rule"
    )
    blocking = ERROR if any(r.severity == ERROR for r in rules) else WARN
    expectation = rule_query(query, [(r.description, r.column, r.severity, r.value is not None)
                                     for r in rules], blocking)
    # Where a broken rule's offending values come from (``validate`` asks for them).
    for meta, r in zip(expectation.meta["rules"], rules, strict=True):
        if r.value is None and (r.lowest != "NULL" or r.highest != "NULL"):
            meta["offending"] = [r.lowest, r.highest]
    return expectation


def rule_query(
    query: str, rules: Sequence[tuple[str, str | None, str, bool]], severity: str
) -> Expectation:
    """An expectation checking several rules at once: ``query`` returns (rule, violations,
    rows_checked, lowest, highest) rows, ``rule`` indexing ``rules``, whose items are
    (description, column, severity, shows a value). ``validate`` reports each rule apart;
    a rule without a row passed."""
    expectation = check(UnexpectedRowsOnce(unexpected_rows_query=query), severity,
                        f"{len(rules)} rule(s)")
    return expectation.copy(update={"meta": {"rules": [
        {"description": d, "column": c, "severity": s, "value": v} for d, c, s, v in rules
    ]}})


def build(name: str, items: Sequence[RowRule | Expectation]) -> gx.ExpectationSuite:
    """A suite of the expectations in ``items``, its row rules compiled into one query
    (placed first: they are the bulk of most suites)."""
    row_rules = [i for i in items if isinstance(i, RowRule)]
    others = [i for i in items if not isinstance(i, RowRule)]
    return suite(name, [*compile_rules(row_rules), *others])


def keys(columns: Sequence[str]) -> list[RowRule | Expectation]:
    """Key columns never null, and unique together (offending keys shown, most copies first)."""
    listed = ", ".join(f"`{c}`" for c in columns)
    query = (f"SELECT {listed}, COUNT(*) AS copies FROM {{batch}} GROUP BY {listed} "
             "HAVING COUNT(*) > 1 ORDER BY copies DESC")
    return [*not_null(columns), error(UnexpectedRowsOnce(unexpected_rows_query=query),
                                      f"one row per key ({', '.join(columns)})")]


def volume(
    column: str, previous_rows: float | None, tolerance: float, only: date | None = None
) -> list[RowRule | Expectation]:
    """Rows per ``column`` value within ``tolerance`` of the previous run's rows per value:
    a drop below (1 - tolerance) x previous blocks, a rise above previous / (1 - tolerance)
    is recorded. No previous run, no check. ``only``: check that one partition alone (two
    row rules); otherwise every value present (a query grouping by ``column``)."""
    if previous_rows is None or previous_rows <= 0:
        return []
    if not 0 < tolerance < 1:
        raise ValueError(f"volume tolerance must be in (0, 1), not {tolerance}")
    low, high = previous_rows * (1 - tolerance), previous_rows / (1 - tolerance)
    floor = (f"rows per {column} at least {low:,.0f} ({1 - tolerance:.0%} of the previous "
             f"{previous_rows:,.0f})")
    ceiling = f"rows per {column} at most {high:,.0f} (previous {previous_rows:,.0f})"
    if only is not None:
        rows = f"COUNT_IF(`{column}` = {_sql_date(only)})"
        shown = f"concat({rows}, ' rows on {only}')"
        return [
            RowRule(floor, column, ERROR, f"CASE WHEN {rows} < {low:.0f} THEN 1 ELSE 0 END",
                    value=shown),
            RowRule(ceiling, column, WARN, f"CASE WHEN {rows} > {high:.0f} THEN 1 ELSE 0 END",
                    value=shown),
        ]

    def rows_outside(condition: str) -> str:
        return (f"SELECT `{column}`, COUNT(*) AS row_count FROM {{batch}} "
                f"GROUP BY `{column}` HAVING {condition} ORDER BY `{column}`")

    return [
        error(UnexpectedRowsOnce(unexpected_rows_query=rows_outside(f"COUNT(*) < {low:.0f}")),
              floor),
        warn(UnexpectedRowsOnce(unexpected_rows_query=rows_outside(f"COUNT(*) > {high:.0f}")),
             ceiling),
    ]


def rejected_share_at_most(reason: str, share: float) -> RowRule:
    """At most ``share`` of the rows carry a ``reason``; the observed value names the most
    common reason, which usually names the column (a feed that lost it, or changed its
    type)."""
    rejected = f"try_divide(COUNT(`{reason}`), COUNT(*))"
    return RowRule(
        f"rows quarantined at most {share:.0%} of the batch", reason, ERROR,
        f"CASE WHEN {rejected} > {share!r} THEN 1 ELSE 0 END",
        value=(f"concat(COUNT(`{reason}`), ' of ', COUNT(*), ' rows (', "
               f"format_number(coalesce({rejected}, 0) * 100, 1), '%)', "
               f"coalesce(concat(', most often ', mode(`{reason}`, true)), ''))"),
    )


def ranks_contiguous(rank: str, within: Sequence[str]) -> list[Expectation]:
    """Within each group, ranks are unique and run 1..n with no gap."""
    group = ", ".join(f"`{c}`" for c in within)
    query = (
        f"SELECT {group}, COUNT(*) AS rows, COUNT(DISTINCT `{rank}`) AS distinct_ranks, "
        f"MIN(`{rank}`) AS first_rank, MAX(`{rank}`) AS last_rank FROM {{batch}} "
        f"GROUP BY {group} HAVING MIN(`{rank}`) <> 1 OR MAX(`{rank}`) <> COUNT(*) "
        f"OR COUNT(DISTINCT `{rank}`) <> COUNT(*) OR COUNT(`{rank}`) <> COUNT(*)"
    )
    return [error(UnexpectedRowsOnce(unexpected_rows_query=query),
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
    return error(UnexpectedRowsOnce(unexpected_rows_query=query), f"no {what}")


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
    return error(UnexpectedRowsOnce(unexpected_rows_query=query),
                 f"no {what} over capacity")
