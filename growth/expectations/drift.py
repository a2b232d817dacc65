"""Distribution shift of a snapshot against the previous one.

``profile`` summarises the reference snapshot in two passes: decile edges per column
(approximate quantiles), then each column's share of rows per bin and its non-null share.
``shift_checks`` turns a profile into expectations on the candidate:

- the population stability index, PSI = sum over bins (p - q) ln(p / q), of every column,
  computed in one query; above ``psi_warn`` recorded, above ``psi_error`` blocking. A unit
  change (cents for currency units) puts every value in the top bin: PSI in the tens;
  consecutive daily snapshots of 7..180-day windows move by a few hundredths.
- a nullable column that was mostly filled must not go (nearly) all null.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import great_expectations.expectations as gxe
from great_expectations.expectations.expectation import Expectation
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from growth.expectations.validate import error, warn

BINS = 10
FLOOR = 1e-4
"""Share given to an empty bin, so an empty bin on either side costs a finite amount."""


@dataclass(frozen=True)
class ColumnProfile:
    edges: tuple[float, ...]
    """Upper bounds of bins 0..n-1; bin n holds what is above the last edge."""
    shares: tuple[float, ...]
    """Share of the non-null values in each of the n+1 bins."""
    non_null_share: float


@dataclass(frozen=True)
class Profile:
    as_of: date
    rows: int
    columns: dict[str, ColumnProfile]


def _bin(column: str, edges: Sequence[float]) -> str:
    cases = " ".join(f"WHEN `{column}` <= {e!r} THEN {i}" for i, e in enumerate(edges))
    return f"CASE {cases} ELSE {len(edges)} END" if cases else "0"


def profile(df: DataFrame, columns: Sequence[str], as_of: date) -> Profile | None:
    """The profile of ``df`` (one snapshot) over numeric ``columns``; None when empty."""
    probabilities = [k / BINS for k in range(1, BINS)]
    quantiles = df.approxQuantile(list(columns), probabilities, 0.001)
    edges = {c: tuple(sorted(set(float(v) for v in q))) for c, q in zip(columns, quantiles, strict=True)}
    aggregates = [F.count(F.lit(1)).alias("__rows")]
    for c in columns:
        aggregates.append(F.count(c).alias(f"{c}__n"))
        bins = F.expr(_bin(c, edges[c]))
        for b in range(len(edges[c]) + 1):
            aggregates.append(F.count(F.when(F.col(c).isNotNull() & (bins == b), 1))
                              .alias(f"{c}__{b}"))
    row = df.agg(*aggregates).first().asDict()
    rows = row["__rows"]
    if not rows:
        return None
    out = {}
    for c in columns:
        filled = row[f"{c}__n"]
        shares = tuple((row[f"{c}__{b}"] / filled) if filled else 0.0
                       for b in range(len(edges[c]) + 1))
        out[c] = ColumnProfile(edges[c], shares, filled / rows)
    return Profile(as_of, rows, out)


def psi_query(reference: Profile, threshold: float, date_column: str, as_of: date) -> str:
    """Rows (column, psi) of the columns whose PSI against ``reference`` exceeds
    ``threshold``, on the candidate's ``as_of`` partition."""
    names = [c for c, p in reference.columns.items() if p.non_null_share > 0]
    stacked = ", ".join(f"'{c}', CAST(`{c}` AS DOUBLE)" for c in names)
    cases = " ".join(
        f"WHEN '{c}' THEN {_bin('value', reference.columns[c].edges)}" for c in names
    )
    expected = ", ".join(
        f"('{c}', {b}, {share!r})"
        for c in names for b, share in enumerate(reference.columns[c].shares)
    )
    return (
        f"WITH v AS (SELECT stack({len(names)}, {stacked}) AS (feature, value) FROM {{batch}} "
        f"WHERE `{date_column}` = DATE'{as_of.isoformat()}'), "
        f"b AS (SELECT feature, CASE feature {cases} END AS bin FROM v WHERE value IS NOT NULL), "
        "a AS (SELECT feature, bin, COUNT(*) / SUM(COUNT(*)) OVER (PARTITION BY feature) AS p "
        "FROM b GROUP BY feature, bin), "
        f"e AS (SELECT * FROM VALUES {expected} AS e(feature, bin, q)), "
        f"s AS (SELECT e.feature, SUM((GREATEST(COALESCE(a.p, 0), {FLOOR}) - GREATEST(e.q, {FLOOR}))"
        f" * LN(GREATEST(COALESCE(a.p, 0), {FLOOR}) / GREATEST(e.q, {FLOOR}))) AS psi, "
        "COUNT(a.p) AS bins_seen FROM e LEFT JOIN a ON a.feature = e.feature AND a.bin = e.bin "
        "GROUP BY e.feature) "
        f"SELECT feature, ROUND(psi, 3) AS psi FROM s WHERE bins_seen > 0 AND psi > {threshold!r} "
        "ORDER BY psi DESC"
    )


def shift_checks(
    reference: Profile | None,
    date_column: str,
    as_of: date,
    psi_warn: float,
    psi_error: float,
    nullable: Sequence[str],
) -> list[Expectation]:
    """Expectations comparing the candidate's ``as_of`` partition with ``reference``."""
    if reference is None:
        return []
    names = [c for c, p in reference.columns.items() if p.non_null_share > 0]
    out: list[Expectation] = []
    if names:
        against = f"the snapshot of {reference.as_of}"
        out.append(warn(
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=psi_query(reference, psi_warn, date_column, as_of)),
            f"population stability index of every feature at most {psi_warn:g} against {against}",
        ))
        out.append(error(
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=psi_query(reference, psi_error, date_column, as_of)),
            f"population stability index of every feature at most {psi_error:g} against "
            f"{against} (a unit change or a broken feed)",
        ))
    for column in nullable:
        was = reference.columns.get(column)
        if was is None or was.non_null_share < 0.2:
            continue
        floor = was.non_null_share / 4
        out.append(error(
            gxe.ExpectColumnProportionOfNonNullValuesToBeBetween(
                column=column, min_value=round(floor, 4)),
            f"non-null share at least {floor:.0%} (a quarter of {was.non_null_share:.0%} on "
            f"{reference.as_of})",
        ))
    return out
