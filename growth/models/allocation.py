"""Outreach allocation: who is contacted this week, by whom (pandas, numpy, scipy; no Spark).

Grain of the output: one row per listed entity (entity_type, entity_id) with its manager, or
none for the randomized holdout.

1. ``contactable`` drops the suppressed entities (opted out, already managed, blocked) and
   those contacted within the cooldown.
2. ``allocate`` assigns candidates to account managers to maximise the summed value (the
   expected incremental value of a contact) subject to:
   - a manager takes only candidates of the region they cover, in a language they speak and
     a category they cover;
   - each candidate goes to at most one manager, each manager gets at most their weekly
     capacity of contacts;
   - no category takes more than ``max_category_share`` of the list;
   - a randomized holdout (``holdout_share`` of each manager's list, drawn with ``seed``) is
     kept uncontacted, so that future campaigns can measure the effect.
   The holdout is drawn from the allocated list itself, so it is comparable with the
   contacted entities; capacity is inflated by 1 / (1 - holdout share) before the
   assignment and each manager's holdout is at least their overflow, so no manager ever
   contacts more than their capacity.

The assignment is an integer program solved exactly with scipy's HiGHS (``milp``) when its
candidate-manager pairs number at most ``exact_max_pairs``; above, a greedy pass (value
order, the matching manager with the most room) is used and its gap to the LP relaxation's
bound is reported. Above ``lp_bound_max_pairs`` pairs the LP itself no longer fits (750,000
creators x their matching managers make 8M pairs: the constraint matrices alone take 3.6 GB
and HiGHS does not finish in 10 minutes), so the gap is taken to a looser bound that costs
one sort: each manager's best ``capacity`` matching values, summed (see ``capacity_bound``),
and the constraint matrices are never built. Candidates with a value of 0 or less are never
listed: contacting them is expected to change nothing, or to hurt.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

CANDIDATE_COLUMNS = ("entity_type", "entity_id", "region", "language", "category", "value")
MANAGER_COLUMNS = ("manager_id", "team", "region", "languages", "categories",
                   "weekly_capacity")


@dataclass(frozen=True)
class AllocationPolicy:
    """Settings of one allocation. Deterministic for a ``seed``."""

    max_category_share: float = 0.4
    holdout_share: float = 0.1
    seed: int = 0
    exact_max_pairs: int = 200_000
    lp_bound_max_pairs: int = 2_000_000

    def __post_init__(self) -> None:
        if not 0 < self.max_category_share <= 1:
            raise ValueError(f"max_category_share must be in (0, 1], got "
                             f"{self.max_category_share}")
        if not 0 <= self.holdout_share < 1:
            raise ValueError(f"holdout_share must be in [0, 1), got {self.holdout_share}")
        if self.lp_bound_max_pairs < self.exact_max_pairs:
            raise ValueError(f"lp_bound_max_pairs ({self.lp_bound_max_pairs}) must be at least "
                             f"exact_max_pairs ({self.exact_max_pairs}): up to that size the "
                             "assignment is solved exactly")


@dataclass(frozen=True)
class Allocation:
    """The listed rows and how they were found.

    ``rows``: entity_type, entity_id, value, manager_id (the assigned manager, also for the
    holdout: the one who would have called), team, holdout. ``objective``: the summed value
    of the assignment before the holdout; ``bound``: an upper bound of the best possible
    (the optimum for the exact solver, the LP relaxation's for the greedy one, the capacity
    bound for the greedy one above ``lp_bound_max_pairs``); ``gap``:
    (bound - objective) / bound."""

    rows: pd.DataFrame
    solver: str
    objective: float
    bound: float

    @property
    def gap(self) -> float:
        return 0.0 if self.bound <= 0 else max(0.0, (self.bound - self.objective) / self.bound)


def contactable(candidates: pd.DataFrame, suppressed: Iterable[tuple[str, str]],
                last_contacted: pd.DataFrame, as_of: date, cooldown_days: int) -> pd.DataFrame:
    """``candidates`` without the suppressed (entity_type, entity_id) pairs and those last
    contacted less than ``cooldown_days`` before ``as_of`` (``last_contacted``:
    entity_type, entity_id, contacted_on, a date)."""
    if cooldown_days < 0:
        raise ValueError(f"cooldown_days must be >= 0, got {cooldown_days}")
    keys = list(zip(candidates["entity_type"], candidates["entity_id"], strict=True))
    blocked = set(suppressed)
    recent = last_contacted[
        pd.to_datetime(last_contacted["contacted_on"]).dt.date
        > as_of - timedelta(days=cooldown_days)]
    blocked |= set(zip(recent["entity_type"], recent["entity_id"], strict=True))
    keep = np.array([k not in blocked for k in keys], dtype=bool)
    return candidates[keep].reset_index(drop=True)


def _check(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lack column(s): {', '.join(missing)}")


def _split(text: object) -> set[str]:
    return {p.strip() for p in str(text or "").split(",") if p.strip()}


def _pairs(candidates: pd.DataFrame, managers: pd.DataFrame) -> pd.DataFrame:
    """Every (candidate, manager) pair the manager may call: columns i, m (positions)."""
    cand = candidates.reset_index(drop=True).assign(i=lambda f: np.arange(len(f)))
    rows = []
    for m, manager in enumerate(managers.itertuples(index=False)):
        if manager.weekly_capacity <= 0:
            continue
        match = cand[(cand["region"] == manager.region)
                     & cand["language"].isin(_split(manager.languages))
                     & cand["category"].isin(_split(manager.categories))]
        rows.append(pd.DataFrame({"i": match["i"].to_numpy(), "m": m}))
    if not rows:
        return pd.DataFrame({"i": pd.Series(dtype=int), "m": pd.Series(dtype=int)})
    return pd.concat(rows, ignore_index=True)


def _constraints(pairs: pd.DataFrame, n: int, capacity: np.ndarray, category: np.ndarray,
                 share: float) -> list[LinearConstraint]:
    k = len(pairs)
    cols = np.arange(k)
    one_each = sparse.csr_matrix((np.ones(k), (pairs["i"], cols)), shape=(n, k))
    per_manager = sparse.csr_matrix((np.ones(k), (pairs["m"], cols)),
                                    shape=(len(capacity), k))
    constraints = [LinearConstraint(one_each, -np.inf, 1),
                   LinearConstraint(per_manager, -np.inf, capacity)]
    if share < 1:
        codes, names = pd.factorize(category[pairs["i"]])
        # count(category) - share * count(all) <= 0, per category
        shares = sparse.csr_matrix(
            (np.ones(k), (codes, cols)), shape=(len(names), k)) - share * sparse.csr_matrix(
            np.ones((len(names), k)))
        constraints.append(LinearConstraint(shares, -np.inf, 0))
    return constraints


def _solve(values: np.ndarray, constraints: list[LinearConstraint], integral: bool):
    k = len(values)
    result = milp(-values, constraints=constraints, bounds=Bounds(0, 1),
                  integrality=np.ones(k) if integral else np.zeros(k))
    if result.x is None:
        raise RuntimeError(f"the allocation solver failed: {result.message}")
    return result


def _greedy(pairs: pd.DataFrame, values: np.ndarray, capacity: np.ndarray,
            category: np.ndarray, share: float) -> np.ndarray:
    """Pairs chosen in value order, each candidate to its matching manager with the most
    room; then the lowest-valued rows of any category above its share are dropped."""
    ii, mm = pairs["i"].to_numpy(), pairs["m"].to_numpy()
    order = np.lexsort((mm, ii, -values))
    room = capacity.astype(float).copy()
    taken = np.zeros(len(pairs), dtype=bool)
    options: dict[int, list[int]] = {}  # a candidate's pairs
    for p in order.tolist():
        options.setdefault(int(ii[p]), []).append(p)
    # Each candidate once, best value first (dicts keep that order); among its managers the
    # one with the most room left, the first on a tie.
    for pairs_of in options.values():
        if values[pairs_of[0]] <= 0:
            continue
        best = max(pairs_of, key=lambda q: (room[mm[q]], -mm[q]))
        if room[mm[best]] >= 1:
            taken[best] = True
            room[mm[best]] -= 1
    while share < 1:
        chosen = np.flatnonzero(taken)
        if len(chosen) == 0:
            break
        names, counts = np.unique(category[ii[chosen]], return_counts=True)
        limit = math.floor(share * len(chosen))
        if counts.max() <= limit:
            break
        # Dropping r rows of the most crowded category brings it to share x (N - r) when
        # r >= (count - share N) / (1 - share); the floor may ask for one more next round.
        worst = int(np.argmax(counts))
        drop = max(1, math.ceil((counts[worst] - share * len(chosen)) / (1 - share) - 1e-9))
        in_cat = chosen[category[ii[chosen]] == names[worst]]
        taken[in_cat[np.argsort(values[in_cat], kind="stable")[:drop]]] = False
    return taken


def capacity_bound(pairs: pd.DataFrame, values: np.ndarray, capacity: np.ndarray) -> float:
    """An upper bound of any assignment's value: per manager, the ``capacity`` best values
    among the pairs it may take, summed over managers.

    Valid because an assignment gives each manager at most its capacity of its own pairs; a
    candidate counted under two managers, and the category share, only loosen it. ``pairs``:
    i, m (positions); ``values``: per pair; ``capacity``: per manager position.
    """
    if len(pairs) == 0:
        return 0.0
    mm = pairs["m"].to_numpy()
    order = np.lexsort((-values, mm))  # by manager, best value first
    _, first = np.unique(mm[order], return_index=True)
    rank = np.arange(len(order)) - np.repeat(first, np.diff(np.append(first, len(order))))
    kept = rank < capacity[mm[order]]
    return float(values[order][kept].sum())


def allocate(candidates: pd.DataFrame, managers: pd.DataFrame,
             policy: AllocationPolicy = AllocationPolicy()) -> Allocation:
    """The week's list (see the module docstring)."""
    _check(candidates, CANDIDATE_COLUMNS, "candidates")
    _check(managers, MANAGER_COLUMNS, "managers")
    if candidates.duplicated(["entity_type", "entity_id"]).any():
        raise ValueError("candidates list an entity twice")
    if managers["manager_id"].duplicated().any():
        raise ValueError("managers list a manager twice")
    candidates = candidates.reset_index(drop=True)
    managers = managers.reset_index(drop=True)
    capacity = managers["weekly_capacity"].to_numpy(dtype=float).clip(min=0)
    inflated = np.floor(capacity / (1 - policy.holdout_share))
    pairs = _pairs(candidates, managers)
    worth = candidates["value"].to_numpy(dtype=float)
    pairs = pairs[worth[pairs["i"].to_numpy()] > 0].reset_index(drop=True)
    values = worth[pairs["i"].to_numpy()]
    category = candidates["category"].astype(str).to_numpy()
    if len(pairs) == 0:
        return Allocation(_rows(candidates, managers, pairs, np.zeros(0, bool), policy),
                          "exact", 0.0, 0.0)
    if len(pairs) > policy.lp_bound_max_pairs:
        taken = _greedy(pairs, values, inflated, category, policy.max_category_share)
        solver, bound = "greedy (capacity bound)", capacity_bound(pairs, values, inflated)
        return Allocation(_rows(candidates, managers, pairs, taken, policy), solver,
                          float(values[taken].sum()), bound)
    constraints = _constraints(pairs, len(candidates), inflated, category,
                               policy.max_category_share)
    if len(pairs) <= policy.exact_max_pairs:
        result = _solve(values, constraints, integral=True)
        taken = result.x > 0.5
        solver, bound = "exact", float(values[taken].sum())
    else:
        taken = _greedy(pairs, values, inflated, category, policy.max_category_share)
        solver, bound = "greedy", float(-_solve(values, constraints, integral=False).fun)
    return Allocation(_rows(candidates, managers, pairs, taken, policy), solver,
                      float(values[taken].sum()), bound)


def _rows(candidates: pd.DataFrame, managers: pd.DataFrame, pairs: pd.DataFrame,
          taken: np.ndarray, policy: AllocationPolicy) -> pd.DataFrame:
    chosen = pairs[taken]
    listed = candidates.iloc[chosen["i"].to_numpy()][["entity_type", "entity_id", "value"]]
    listed = listed.assign(
        manager_id=managers["manager_id"].to_numpy()[chosen["m"].to_numpy()],
        team=managers["team"].to_numpy()[chosen["m"].to_numpy()],
        holdout=False,
    ).sort_values(["manager_id", "value", "entity_type", "entity_id"],
                  ascending=[True, False, True, True]).reset_index(drop=True)
    capacity = dict(zip(managers["manager_id"], managers["weekly_capacity"], strict=True))
    rng = np.random.default_rng(policy.seed)
    holdout = np.zeros(len(listed), dtype=bool)
    for manager, rows in listed.groupby("manager_id", sort=True).indices.items():
        n = len(rows)
        k = max(n - int(capacity[manager]), round(policy.holdout_share * n))
        if k > 0:
            holdout[rng.choice(rows, size=k, replace=False)] = True
    listed["holdout"] = holdout
    return listed.sort_values(["value", "entity_type", "entity_id"],
                              ascending=[False, True, True]).reset_index(drop=True)
