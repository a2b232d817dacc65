"""Distribution shift of a snapshot against the previous one.

``profile`` summarises a snapshot from a sample of at most about ``SAMPLE_ROWS`` rows, on the
driver: decile edges per column, each column's share of rows per bin and its non-null share.
``shift_checks`` turns a profile into checks on the candidate:

- the population stability index, PSI = sum over bins (p - q) ln(p / q), of every column,
  one small query over a sample of the candidate (``psi_check``: a ``TABLESAMPLE`` of the
  validated frame, or a sample the job already drew, see ``Sample``); above ``psi_warn``
  recorded, above ``psi_error`` blocking, the value kept either way. A unit
  change (cents for currency units) puts every value in the top bin: PSI in the tens;
  consecutive daily snapshots of 7..180-day windows move by a few hundredths.
- a nullable column that was mostly filled must not go (nearly) all null (a row rule of the
  suite's single aggregate query).

A profile round-trips through JSON (``to_json``/``from_json``), so a job can keep the profile
of the snapshot it publishes and the next run compares against it without profiling the
published snapshot again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from great_expectations.expectations.expectation import Expectation
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from growth.expectations.rules import SAMPLE_SEED, RowRule, non_null_share_at_least, rule_query
from growth.expectations.validate import ERROR, WARN

BINS = 10
SAMPLE_ROWS = 20_000
"""Rows a profile and a PSI are computed on (a repeatable sample of larger frames): a decile
bin's share then has a standard error near 0.002, and an unchanged snapshot's PSI is about
(bins - 1) x (1/n + 1/n) = 0.001, a hundredth of the warning threshold."""
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
    """Rows profiled (of the sample, when one was drawn)."""
    columns: dict[str, ColumnProfile]
    partition_rows: int | None = None
    """Rows of the whole snapshot, when known (kept with a published snapshot's profile,
    the next run's volume baseline)."""


@dataclass(frozen=True)
class Sample:
    """A sample of the candidate's rows of one date, already drawn by the job and
    registered as the temporary view ``view``: the PSI query reads it instead of sampling
    the validated frame. ``share``: the fraction of the date's rows it holds."""

    view: str
    share: float


def to_json(profile: Profile) -> str:
    """``profile`` as JSON text (non-finite edges written as JSON's Infinity/NaN words)."""
    return json.dumps({
        "as_of": profile.as_of.isoformat(),
        "rows": profile.rows,
        "partition_rows": profile.partition_rows,
        "columns": {c: {"edges": list(p.edges), "shares": list(p.shares),
                        "non_null_share": p.non_null_share}
                    for c, p in profile.columns.items()},
    }, sort_keys=True)


def from_json(text: str) -> Profile:
    """The profile ``to_json`` wrote; ValueError (naming what is wrong) for anything else."""
    try:
        data = json.loads(text)
        columns = {c: ColumnProfile(tuple(float(e) for e in p["edges"]),
                                    tuple(float(q) for q in p["shares"]),
                                    float(p["non_null_share"]))
                   for c, p in data["columns"].items()}
        whole = data.get("partition_rows")
        profile = Profile(date.fromisoformat(data["as_of"]), int(data["rows"]), columns,
                          None if whole is None else int(whole))
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a stored profile: {exc!r}") from exc
    for c, p in columns.items():
        if len(p.shares) != len(p.edges) + 1:
            raise ValueError(f"not a stored profile: column {c} has {len(p.edges)} edges "
                             f"but {len(p.shares)} shares")
    return profile


def sample_share(rows: float | None) -> float:
    """The share of ``rows`` that makes about ``SAMPLE_ROWS`` (all of them when fewer or
    unknown)."""
    return 1.0 if not rows or rows <= SAMPLE_ROWS else SAMPLE_ROWS / rows


def profile(
    df: DataFrame, columns: Sequence[str], as_of: date, rows: float | None = None
) -> Profile | None:
    """The profile of ``df`` (one snapshot) over numeric ``columns``; None when empty.
    ``rows``: about how many rows ``df`` has; above ``SAMPLE_ROWS`` a sample is profiled.

    The (sampled) rows are brought to the driver and profiled there (``profile_frame``):
    at this size that takes a fraction of a second, where Spark's quantile sketches and a
    per-bin count cost seconds of scheduling on a small machine."""
    share = sample_share(rows)
    sample = df.sample(fraction=share, seed=SAMPLE_SEED) if share < 1 else df
    values = sample.select(*[F.col(c).cast("double").alias(c) for c in columns]).toPandas()
    return profile_frame(values, columns, as_of)


def profile_frame(values: pd.DataFrame, columns: Sequence[str], as_of: date) -> Profile | None:
    """The profile of the rows of ``values`` (numeric ``columns``; null and NaN count as
    missing, as in ``psi_check``); None when it has no row.

    Edges are the distinct deciles of the column's values (each an actual value: the
    smallest with at least that share of values at or below it); bin i holds the values
    in (edge i-1, edge i], the last bin those above the last edge."""
    total = len(values)
    if not total:
        return None
    probabilities = [k / BINS for k in range(1, BINS)]
    out = {}
    for c in columns:
        column = values[c].to_numpy(dtype=float, na_value=np.nan)
        present = column[~np.isnan(column)]
        if len(present):
            edges = tuple(float(e) for e in np.unique(
                np.quantile(present, probabilities, method="inverted_cdf")))
            counts = np.bincount(np.searchsorted(edges, present, side="left"),
                                 minlength=len(edges) + 1)
            shares = tuple(float(n) / len(present) for n in counts)
        else:
            edges, shares = (), (0.0,)
        out[c] = ColumnProfile(edges, shares, len(present) / total)
    return Profile(as_of, total, out)


def _bin(column: str, edges: Sequence[float]) -> str:
    """The bin of a value, as ``profile_frame`` counts it (NaN is missing, like null)."""
    cases = " ".join(f"WHEN `{column}` <= {e!r} THEN {i}" for i, e in enumerate(edges))
    return (f"CASE WHEN `{column}` IS NULL OR isnan(`{column}`) THEN NULL {cases} "
            f"ELSE {len(edges)} END")


def psi_check(
    reference: Profile,
    date_column: str,
    as_of: date,
    psi_warn: float,
    psi_error: float,
    rows: float | None = None,
    sample: Sample | None = None,
) -> Expectation | None:
    """The PSI of every profiled column of the candidate's ``as_of`` rows against
    ``reference``, checked at two severities per column: above ``psi_warn`` recorded, above
    ``psi_error`` blocking; the index is kept either way. ``rows``: about how many rows the
    candidate has; above ``SAMPLE_ROWS`` a repeatable sample is binned. ``sample``: the
    candidate's ``as_of`` rows already sampled (``rows`` is then not used).

    One small query: each sampled row is stacked into (column, bin) pairs, counted per pair,
    and set against the reference's shares. (Conditional counts per bin in one aggregate
    would scan once too, but their hundreds of expressions cost Spark seconds to plan.)"""
    names = [c for c, p in reference.columns.items()
             if p.non_null_share > 0 and all(math.isfinite(e) for e in p.edges)]
    if not names:
        return None
    if sample is not None:
        # The sample was drawn from the validated frame; naming the frame in a comment
        # keeps GX from printing that the query reads outside its batch.
        share, source = sample.share, f"`{sample.view}` /* a sample of {{batch}} */"
    else:
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
    sample: Sample | None = None,
) -> list[RowRule | Expectation]:
    """Checks comparing the candidate's ``as_of`` partition with ``reference``: the PSI of
    every column (``psi_check``, on ``sample`` when given) and, for a nullable column that
    was mostly filled, its non-null share."""
    if reference is None:
        return []
    psi = psi_check(reference, date_column, as_of, psi_warn, psi_error, rows, sample)
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
