"""Outreach ranking: what a contact is worth per entity, and the list's rows (pandas; no Spark).

Grain: one row per candidate entity of one type on one day.

- With experiment history (``UPLIFT``), a contact is worth its expected incremental value:
  the learnt change in the probability of onboarding (``effect``) times the value the
  entity is predicted to bring (``value``, the value model's prediction). An entity the
  model expects a call not to help (effect <= 0) is worth nothing and is never listed.
- Without it (``POTENTIAL``), the fallback ranks by potential x value: the potential model's
  probability of reaching tier A or better times the predicted value. Only the entities the
  potential model scores (below tier B) are candidates then: the others are already where
  growth outreach wants them. A list ranked so is marked with its basis.

``list_rows`` turns an allocation into the published rows: rank by priority within the
campaign, three readable reasons, the holdout flag.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

UPLIFT = "uplift"
POTENTIAL = "potential_x_value"
BASES = (UPLIFT, POTENTIAL)
NO_STANDOUT = "no single signal in its recent activity stands out"

LIST_COLUMNS = (
    "as_of_date", "campaign", "rank", "entity_type", "entity_id", "manager_id", "team",
    "ranking_basis", "expected_effect", "expected_value", "priority", "tier", "potential",
    "reasons", "holdout",
)


def priorities(basis: str, value: np.ndarray, effect: np.ndarray | None = None,
               potential: np.ndarray | None = None) -> np.ndarray:
    """The worth of contacting each row (see the module). NaN inputs are worth 0."""
    value = np.nan_to_num(np.asarray(value, dtype=float), nan=0.0).clip(min=0)
    if basis == UPLIFT:
        if effect is None:
            raise ValueError("an uplift ranking needs each row's effect")
        worth = np.asarray(effect, dtype=float) * value
    elif basis == POTENTIAL:
        if potential is None:
            raise ValueError("a potential x value ranking needs each row's potential")
        worth = np.asarray(potential, dtype=float) * value
    else:
        raise ValueError(f"basis must be one of {', '.join(BASES)}, got {basis!r}")
    return np.nan_to_num(worth, nan=0.0)


def _money(amount: float) -> str:
    return f"{amount:,.0f}"


def _known(number: float | None) -> bool:
    return number is not None and not math.isnan(number)


def _sentences(texts) -> list[str]:
    # Arrays read from Spark arrive as numpy arrays, None when the column is null.
    return [] if texts is None else [str(t) for t in texts]


def reasons(basis: str, effect: float | None, value: float, tier: str,
            potential: float | None, value_reasons, potential_reasons,
            horizon_days: int) -> list[str]:
    """Three sentences an account manager reads before the call: why a call matters (the
    effect, or the potential), what the entity is worth, and the strongest signal behind
    its scores (the models' own top reasons), without repeats; always three."""
    if basis == UPLIFT and _known(effect):
        first = f"a call adds about {effect * 100:.1f} points to its chance of onboarding"
    elif _known(potential):
        first = f"{potential:.0%} chance to reach tier A or better"
    else:
        first = "no potential estimate"
    chosen = [first, f"tier {tier}, expected value {_money(value)} over the next "
                     f"{horizon_days} days"]
    # When the models give fewer than one distinct reason, the potential (if the first
    # sentence did not already say it) and then a plain statement fill the third line: a
    # manager always reads three.
    extra = [f"{potential:.0%} chance to reach tier A or better"] if (
        basis == UPLIFT and _known(effect) and _known(potential)) else []
    for sentence in [*_sentences(potential_reasons), *_sentences(value_reasons), *extra,
                     NO_STANDOUT]:
        if len(chosen) == 3:
            break
        if sentence and sentence not in chosen:
            chosen.append(sentence)
    return chosen


def _nullable(numbers: pd.Series) -> pd.Series:
    # None, not NaN, where unknown: Spark stores a NaN as a number, and SQL would average it.
    return numbers.astype(object).where(numbers.notna(), None)


def list_rows(allocated: pd.DataFrame, candidates: pd.DataFrame, entity: str, as_of,
              campaign: str, basis: str, horizon_days: int) -> pd.DataFrame:
    """The published rows of one campaign (``LIST_COLUMNS``).

    ``allocated``: the allocation's rows (entity_type, entity_id, value = priority,
    manager_id, team, holdout). ``candidates``: entity_id, tier, expected_value,
    expected_effect (NaN without experiment history), potential (NaN where not scored),
    value_reasons, potential_reasons. Ranked by priority, highest first; a tie goes to the
    smaller entity id, so the order is the same on every run."""
    if allocated.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in LIST_COLUMNS})
    rows = allocated.rename(columns={"value": "priority"}).merge(
        candidates, on="entity_id", how="left", validate="one_to_one")
    rows = rows.sort_values(["priority", "entity_id"], ascending=[False, True],
                            kind="stable").reset_index(drop=True)
    effect = rows["expected_effect"].astype(float)
    potential = rows["potential"].astype(float)
    text = [
        reasons(basis, e, v, t, p, vr, pr, horizon_days)
        for e, v, t, p, vr, pr in zip(effect, rows["expected_value"], rows["tier"], potential,
                                      rows["value_reasons"], rows["potential_reasons"],
                                      strict=True)
    ]
    return pd.DataFrame({
        "as_of_date": as_of, "campaign": campaign,
        "rank": np.arange(1, len(rows) + 1, dtype=np.int32),
        "entity_type": entity, "entity_id": rows["entity_id"].astype(str),
        "manager_id": rows["manager_id"].astype(str), "team": rows["team"].astype(str),
        "ranking_basis": basis,
        "expected_effect": _nullable(effect),
        "expected_value": rows["expected_value"].astype(float),
        "priority": rows["priority"].astype(float), "tier": rows["tier"].astype(str),
        "potential": _nullable(potential),
        "reasons": text, "holdout": rows["holdout"].astype(bool),
    })[list(LIST_COLUMNS)]


# The columns a CRM import receives, in order; the three reasons become reason_1..reason_3
# (a spreadsheet has no arrays) and the holdout flag is kept only when asked for.
EXPORT_COLUMNS = (
    "as_of_date", "campaign", "rank", "entity_type", "entity_id", "manager_id", "team",
    "tier", "ranking_basis", "expected_effect", "expected_value", "priority", "potential",
    "reason_1", "reason_2", "reason_3",
)


def export_frames(rows: pd.DataFrame, include_holdout: bool = False) -> dict[str, pd.DataFrame]:
    """One frame per team of a day's published list rows (``LIST_COLUMNS``), for CRM import.

    Without ``include_holdout`` the holdout rows are left out: they must stay uncontacted, and
    a CRM list is what gets called. Each team's frame is ordered by campaign and rank, the
    rank being the list's own (gaps where holdout rows were left out)."""
    missing = sorted(set(LIST_COLUMNS) - set(rows.columns))
    if missing:
        raise ValueError(f"the list rows lack column(s) {', '.join(missing)}")
    kept = rows if include_holdout else rows[~rows["holdout"].astype(bool)]
    reasons_list = [list(_sentences(r)) + [None] * 3 for r in kept["reasons"]]
    flat = kept.drop(columns=["reasons"]).assign(**{
        f"reason_{i + 1}": [r[i] for r in reasons_list] for i in range(3)})
    columns = [*EXPORT_COLUMNS, "holdout"] if include_holdout else list(EXPORT_COLUMNS)
    return {
        team: frame.sort_values(["campaign", "rank"], kind="stable")[columns]
        .reset_index(drop=True)
        for team, frame in flat.groupby("team", sort=True)
    }
