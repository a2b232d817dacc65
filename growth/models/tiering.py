"""Tiers: eligibility gates, cut points on the value score, and hysteresis.

Grain: one row per entity of one as-of. Everything here works on numpy arrays or a pandas
frame of snapshot features, so the same code tiers a test frame and a batch inside a Spark
``mapInPandas`` task.

- An entity younger than ``new_days`` is tier ``new`` whatever its score.
- Every other entity gets the best tier whose cut point its score reaches (``raw_tiers``).
- An entity that fails an eligibility gate is capped: it can be no better than ``cap``.
- With hysteresis ``h``, an entity keeps its previous tier while its score stays above that
  tier's cut x (1 - h), and moves up only to a tier whose cut x (1 + h) it reaches. Scores
  jitter around a cut point every week; without this, the entity's manager would see its
  tier flip back and forth.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

RANKED = ("S", "A", "B", "C", "D")
"""Scored tiers, best first."""
NEW = "new"

_OPS = {">=": operator.ge, "<=": operator.le}


@dataclass(frozen=True)
class Gate:
    """An eligibility rule: ``column op threshold``. A null value passes only if
    ``null_passes`` (e.g. no reviews yet is not a bad rating)."""

    name: str
    column: str
    op: str
    threshold: float
    null_passes: bool = False

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"gate {self.name}: operator must be one of {sorted(_OPS)}")

    def describe(self) -> str:
        return f"{self.column} {self.op} {self.threshold:g}"

    def passes(self, frame: pd.DataFrame) -> np.ndarray:
        if self.column not in frame.columns:
            raise KeyError(f"gate {self.name} reads {self.column}, which the frame lacks")
        values = pd.to_numeric(frame[self.column], errors="coerce").to_numpy(dtype=float)
        missing = np.isnan(values)
        with np.errstate(invalid="ignore"):
            ok = _OPS[self.op](values, self.threshold)
        return np.where(missing, self.null_passes, ok)


def failed_gates(frame: pd.DataFrame, gates: Sequence[Gate]) -> list[list[str]]:
    """Per row, the names of the gates it fails (empty when eligible).

    Rows are grouped by which gates they fail (at most 2^gates patterns, in practice a
    handful), so the names are listed once per pattern; rows failing the same gates share
    one list (read-only: allocating a list per row was a third of scoring's Python time).
    """
    if not gates:
        return [[] for _ in range(len(frame))]
    failed = ~np.column_stack([g.passes(frame) for g in gates])
    pattern = failed.astype(np.int64) @ (1 << np.arange(len(gates), dtype=np.int64))
    names = [g.name for g in gates]
    lists = {int(p): [n for i, n in enumerate(names) if p >> i & 1] for p in np.unique(pattern)}
    return [lists[p] for p in pattern.tolist()]


@dataclass(frozen=True)
class TierPolicy:
    """Cut points: the minimum score of each ranked tier but the last (S, A, B, C); D is the
    rest. ``cap``: the best tier an ineligible entity may hold."""

    cuts: Mapping[str, float]
    hysteresis: float = 0.1
    new_days: int = 30
    cap: str = "C"

    def __post_init__(self) -> None:
        expected = RANKED[:-1]
        if tuple(self.cuts) != expected:
            raise ValueError(f"cut points must be given for {', '.join(expected)} in that "
                             f"order, got {', '.join(self.cuts)}")
        values = [self.cuts[t] for t in expected]
        if any(a < b for a, b in zip(values, values[1:], strict=False)):
            raise ValueError(f"cut points must not increase from S to C: {dict(self.cuts)}")
        if not 0 <= self.hysteresis < 1:
            raise ValueError(f"hysteresis must be in [0, 1), got {self.hysteresis}")
        if self.cap not in RANKED:
            raise ValueError(f"the ineligible cap must be one of {RANKED}, got {self.cap!r}")


_RANKED_INDEX = pd.Index(RANKED)
# Tier codes: positions in RANKED, then NEW.
_NAMES = np.array([*RANKED, NEW], dtype=object)


def _index(tiers: np.ndarray) -> np.ndarray:
    """Position of each tier in RANKED (0 = S), len(RANKED) for no/unknown tier."""
    codes = _RANKED_INDEX.get_indexer(np.asarray(tiers, dtype=object))
    return np.where(codes < 0, len(RANKED), codes)


def _best_reached(score: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Index of the best tier whose cut ``score`` reaches; D (the last) when none."""
    reached = score[:, None] >= cuts[None, :]
    return np.where(reached.any(axis=1), reached.argmax(axis=1), len(cuts))


def _tier_codes(score: np.ndarray, previous: np.ndarray | None, eligible: np.ndarray,
                new: np.ndarray, policy: TierPolicy) -> np.ndarray:
    """The code (position in ``_NAMES``) of every row's tier: with hysteresis against
    ``previous`` (``_index`` codes), or without when ``previous`` is None."""
    cuts = np.array([policy.cuts[t] for t in RANKED[:-1]])
    raw = _best_reached(score, cuts)
    if previous is not None:
        h = policy.hysteresis
        has_prev = previous < len(RANKED) - 1  # D needs no defending: nothing is below it
        prev_cut = cuts[np.minimum(previous, len(cuts) - 1)]
        holds = has_prev & (score >= prev_cut * (1 - h))
        up = _best_reached(score, cuts * (1 + h))
        tier = np.where(holds, np.minimum(previous, up),
                        np.where(previous == len(RANKED) - 1, up, raw))
    else:
        tier = raw
    capped = np.where(eligible, tier, np.maximum(tier, RANKED.index(policy.cap)))
    return np.where(new, len(RANKED), capped)


def _tier_inputs(score: Sequence[float], eligible: Sequence[bool], tenure_days: Sequence[float],
                 policy: TierPolicy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """score (float, checked), eligible (bool) and new (tenure below ``new_days``)."""
    score = np.asarray(score, dtype=float)
    if np.isnan(score).any():
        raise ValueError("tiering needs a score for every entity")
    tenure = np.asarray(tenure_days, dtype=float)
    new = ~np.isnan(tenure) & (tenure < policy.new_days)
    return score, np.asarray(eligible, dtype=bool), new


def assign_tiers(
    score: Sequence[float],
    previous: Sequence[str | None],
    eligible: Sequence[bool],
    tenure_days: Sequence[float],
    policy: TierPolicy,
    hysteresis: bool = True,
) -> np.ndarray:
    """The tier of every row (object array of RANKED names or ``new``)."""
    score, eligible, new = _tier_inputs(score, eligible, tenure_days, policy)
    prev = _index(previous) if hysteresis and policy.hysteresis > 0 else None
    return _NAMES[_tier_codes(score, prev, eligible, new, policy)]


def tier_pair(
    score: Sequence[float],
    previous: Sequence[str | None],
    eligible: Sequence[bool],
    tenure_days: Sequence[float],
    policy: TierPolicy,
) -> tuple[np.ndarray, np.ndarray]:
    """``assign_tiers`` with and without hysteresis (``tier``, ``raw_tier``), the inputs
    read once."""
    score, eligible, new = _tier_inputs(score, eligible, tenure_days, policy)
    prev = _index(previous) if policy.hysteresis > 0 else None
    return (_NAMES[_tier_codes(score, prev, eligible, new, policy)],
            _NAMES[_tier_codes(score, None, eligible, new, policy)])


def tier_churn(previous: Sequence[str | None], current: Sequence[str]) -> float:
    """Share of the entities that had a ranked tier before whose tier changed."""
    prev = np.asarray(previous, dtype=object)
    cur = np.asarray(current, dtype=object)
    had = np.isin(prev, RANKED)
    if not had.any():
        return float("nan")
    return float((prev[had] != cur[had]).mean())


def quantile_cuts(score: Sequence[float], shares: Mapping[str, float]) -> dict[str, float]:
    """Cut points that put the cumulative ``shares`` (S, S+A, S+A+B, S+A+B+C) of ``score``
    in each tier or better: the score quantiles at 1 - share, never rising from S to C
    (the daily scoring job cuts the same way, with Spark's approximate quantiles)."""
    values = np.quantile(np.asarray(score, dtype=float), [1 - s for s in shares.values()])
    return dict(zip(RANKED[:-1], sorted(values.tolist(), reverse=True), strict=True))


def churn_path(
    frame: pd.DataFrame,
    key: str,
    period: str,
    shares: Mapping[str, float],
    hysteresis: float,
    new_days: int,
    cap: str,
) -> pd.DataFrame:
    """Tier churn from each period to the next, with and without hysteresis.

    ``frame``: one row per (``key``, ``period``) with ``score``, ``eligible`` and
    ``tenure_days``. Periods are tiered in order, each with its own quantile cuts; with
    hysteresis an entity's previous tier is its tier of the previous period. Returns one
    row per period after the first: ``period``, ``entities`` (those with a ranked tier in
    the period before), ``churn_with`` and ``churn_without`` (shares that changed tier).
    """
    missing = {key, period, "score", "eligible", "tenure_days"} - set(frame.columns)
    if missing:
        raise KeyError(f"churn_path needs the column(s) {', '.join(sorted(missing))}")
    if frame.duplicated([key, period]).any():
        raise ValueError(f"churn_path needs one row per ({key}, {period})")
    previous: dict[bool, pd.Series] = {}
    rows = []
    for when, rows_of in frame.sort_values([period, key]).groupby(period, sort=True):
        policy = TierPolicy(quantile_cuts(rows_of["score"], shares), hysteresis, new_days, cap)
        churn = {}
        for with_h in (True, False):
            before = previous.get(with_h, pd.Series(dtype=object))
            prior = rows_of[key].map(before).to_numpy(dtype=object)
            tiers = assign_tiers(rows_of["score"].to_numpy(float), prior,
                                 rows_of["eligible"].to_numpy(bool),
                                 rows_of["tenure_days"].to_numpy(float), policy, with_h)
            churn[with_h] = (tier_churn(prior, tiers), int(np.isin(prior, RANKED).sum()))
            previous[with_h] = pd.Series(tiers, index=rows_of[key].to_numpy())
        # "new" depends on tenure alone, so both paths have the same ranked entities.
        rows.append((when, churn[True][1], churn[True][0], churn[False][0]))
    out = pd.DataFrame(rows[1:], columns=[period, "entities", "churn_with", "churn_without"])
    return out.reset_index(drop=True)
