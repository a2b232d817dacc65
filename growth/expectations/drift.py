"""Distribution shift of a snapshot against the previous one.

``profile`` summarises the reference snapshot in two passes over a sample of at most about
``SAMPLE_ROWS`` rows: decile edges per column (approximate quantiles), then each column's
share of rows per bin and its non-null share.
``shift_checks`` turns a profile into checks on the candidate:

- the population stability index, PSI = sum over bins (p - q) ln(p / q), of every column,
  one small query over a sample of the candidate (``psi_check``); above ``psi_warn``
  recorded, above ``psi_error`` blocking, the value kept either way. A unit
  change (cents for currency units) puts every value in the top bin: PSI in the tens;
  consecutive daily snapshots of 7..180-day windows move by a few hundredths.
- a nullable column that was mostly filled must not go (nearly) all null (a row rule of the
  suite's single aggregate query).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from great_expectations.expectations.expectation import Expectation
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from growth.expectations.rules import SAMPLE_SEED, RowRule, non_null_share_at_least, rule_query
from growth.expectations.validate import ERROR, WARN

BINS = 10
SAMPLE_ROWS = 100_000
"""Rows a profile and a PSI are computed on (a repeatable sample of larger frames): a bin's
share then has a standard error near 0.001, and the PSI one far below its thresholds."""
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


def sample_share(rows: float | None) -> float:
    """The share of ``rows`` that makes about ``SAMPLE_ROWS`` (all of them when fewer or
    unknown)."""
    return 1.0 if not rows or rows <= SAMPLE_ROWS else SAMPLE_ROWS / rows


def profile(
    df: DataFrame, columns: Sequence[str], as_of: date, rows: float | None = None
) -> Profile | None:
    """The profile of ``df`` (one snapshot) over numeric ``columns``; None when empty.
    ``rows``: about how many rows ``df`` has; above ``SAMPLE_ROWS`` a sample is profiled."""
    share = sample_share(rows)
    sample = df.sample(fraction=share, seed=SAMPLE_SEED).persist() if share < 1 else df
    try:
        probabilities = [k / BINS for k in range(1, BINS)]
        quantiles = sample.approxQuantile(list(columns), probabilities, 0.001)
        edges = {c: tuple(sorted(set(float(v) for v in q)))
                 for c, q in zip(columns, quantiles, strict=True)}
        # Rows per (column, bin) as stacked pairs, k = -1 counting every row: a small plan
        # (conditional counts per bin would be hundreds of expressions).
        pairs = ", ".join(["-1, 0", *(f"{k}, {_bin(c, edges[c])}" for k, c in enumerate(columns))])
        counts = (sample.select(F.expr(f"stack({len(columns) + 1}, {pairs}) AS (k, bin)"))
                  .where(F.col("bin").isNotNull()).groupBy("k", "bin").count().collect())
    finally:
        if sample is not df:
            sample.unpersist()
    per_bin = {(r["k"], r["bin"]): r["count"] for r in counts}
    total = per_bin.get((-1, 0), 0)
    if not total:
        return None
    out = {}
    for k, c in enumerate(columns):
        bins = [per_bin.get((k, b), 0) for b in range(len(edges[c]) + 1)]
        filled = sum(bins)
        shares = tuple(n / filled if filled else 0.0 for n in bins)
        out[c] = ColumnProfile(edges[c], shares, filled / total)
    return Profile(as_of, total, out)


def _bin(column: str, edges: Sequence[float]) -> str:
    cases = " ".join(f"WHEN `{column}` <= {e!r} THEN {i}" for i, e in enumerate(edges))
    return f"CASE WHEN `{column}` IS NULL THEN NULL {cases} ELSE {len(edges)} END"


def psi_check(
    reference: Profile,
    date_column: str,
    as_of: date,
    psi_warn: float,
    psi_error: float,
    rows: float | None = None,
) -> Expectation | None:
    """The PSI of every profiled column of the candidate's ``as_of`` rows against
    ``reference``, checked at two severities per column: above ``psi_warn`` recorded, above
    ``psi_error`` blocking; the index is kept either way. ``rows``: about how many rows the
    candidate has; above ``SAMPLE_ROWS`` a repeatable sample is binned.

    One small query: each sampled row is stacked into (column, bin) pairs, counted per pair,
    and set against the reference's shares. (Conditional counts per bin in one aggregate
    would scan once too, but their hundreds of expressions cost Spark seconds to plan.)"""
    names = [c for c, p in reference.columns.items()
             if p.non_null_share > 0 and all(math.isfinite(e) for e in p.edges)]
    if not names:
        return None
    share = sample_share(rows)
    source = "{batch}" if share == 1 else \
        f"{{batch}} TABLESAMPLE ({100 * share:.6f} PERCENT) REPEATABLE ({SAMPLE_SEED})"
    stacked = ", ".join(f"{k}, {_bin(c, reference.columns[c].edges)}" for k, c in enumerate(names))
    expected = ", ".join(f"({k}, {b}, {max(q, FLOOR)!r})" for k, c in enumerate(names)
                         for b, q in enumerate(reference.columns[c].shares))
    p = f"GREATEST(COALESCE(a.p, 0), {FLOOR})"
    query = (
        f"WITH v AS (SELECT stack({len(names)}, {stacked}) AS (k, bin) FROM {source} "
        f"WHERE `{date_column}` = DATE'{as_of.isoformat()}'), "
        "a AS (SELECT k, bin, COUNT(*) / SUM(COUNT(*)) OVER (PARTITION BY k) AS p FROM v "
        "WHERE bin IS NOT NULL GROUP BY k, bin), "
        f"e AS (SELECT * FROM VALUES {expected} AS e(k, bin, q)), "
        f"s AS (SELECT e.k, CASE WHEN COUNT(a.p) > 0 THEN ROUND(SUM(({p} - e.q) * LN({p} / e.q)), "
        "3) END AS psi FROM e LEFT JOIN a ON a.k = e.k AND a.bin = e.bin GROUP BY e.k), "
        f"t AS (SELECT * FROM VALUES (0, {psi_warn!r}), (1, {psi_error!r}) AS t(severity, threshold)) "
        "SELECT 2 * s.k + t.severity AS rule, CASE WHEN s.psi > t.threshold THEN 1 ELSE 0 END "
        "AS violations, CAST(NULL AS BIGINT) AS rows_checked, CAST(s.psi AS STRING) AS lowest, "
        "CAST(NULL AS STRING) AS highest FROM s CROSS JOIN t ORDER BY rule"
    )
    against = f"against the snapshot of {reference.as_of}"
    sampled = "" if share == 1 else f", on a {share:.2%} sample"
    checks = []
    for column in names:
        checks.append((f"population stability index at most {psi_warn:g} {against}{sampled}",
                       column, WARN, True))
        checks.append((f"population stability index at most {psi_error:g} {against}{sampled} "
                       "(a unit change or a broken feed)", column, ERROR, True))
    return rule_query(query, checks, ERROR)


def shift_checks(
    reference: Profile | None,
    date_column: str,
    as_of: date,
    psi_warn: float,
    psi_error: float,
    nullable: Sequence[str],
    rows: float | None = None,
) -> list[RowRule | Expectation]:
    """Checks comparing the candidate's ``as_of`` partition with ``reference``: the PSI of
    every column (``psi_check``) and, for a nullable column that was mostly filled, its
    non-null share."""
    if reference is None:
        return []
    psi = psi_check(reference, date_column, as_of, psi_warn, psi_error, rows)
    out: list[RowRule | Expectation] = [] if psi is None else [psi]
    for column in nullable:
        was = reference.columns.get(column)
        if was is None or was.non_null_share < 0.2:
            continue
        floor = was.non_null_share / 4
        out.append(non_null_share_at_least(
            column, round(floor, 4),
            f"non-null share at least {floor:.0%} (a quarter of {was.non_null_share:.0%} on "
            f"{reference.as_of})",
        ))
    return out
