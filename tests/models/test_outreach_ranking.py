"""Outreach ranking: priorities by basis, the three reasons, the published rows."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from growth.models.outreach import (
    EXPORT_COLUMNS,
    LIST_COLUMNS,
    POTENTIAL,
    UPLIFT,
    export_frames,
    list_rows,
    priorities,
    reasons,
)


def test_priorities_are_effect_or_potential_times_value():
    value = np.array([100.0, 50.0, np.nan, -10.0])
    effect = np.array([0.1, -0.2, 0.5, 0.3])
    np.testing.assert_allclose(priorities(UPLIFT, value, effect=effect), [10.0, -10.0, 0.0, 0.0])
    potential = np.array([0.5, np.nan, 1.0, 1.0])
    np.testing.assert_allclose(priorities(POTENTIAL, value, potential=potential),
                               [50.0, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="needs each row's effect"):
        priorities(UPLIFT, value)
    with pytest.raises(ValueError, match="basis must be one of"):
        priorities("value", value)


def test_reasons_are_three_distinct_sentences_led_by_why_a_call_matters():
    assert reasons(UPLIFT, 0.0412, 12345.6, "C", 0.3, np.array(["GMV up 40%"]),
                   ["GMV up 40%", "rating 4.8 (90 days)"], 90) == [
        "a call adds about 4.1 points to its chance of onboarding",
        "tier C, expected value 12,346 over the next 90 days",
        "GMV up 40%",
    ]
    assert reasons(POTENTIAL, float("nan"), 10.0, "new", 0.25, None, None, 30) == [
        "25% chance to reach tier A or better", "tier new, expected value 10 over the next 30 days",
        "no single signal in its recent activity stands out"]
    # Without a model reason, an uplift row's third line is its potential when known.
    assert reasons(UPLIFT, 0.02, 10.0, "C", 0.4, [], ["", "tier C, expected value 10 over "
                   "the next 30 days"], 30) == [
        "a call adds about 2.0 points to its chance of onboarding",
        "tier C, expected value 10 over the next 30 days",
        "40% chance to reach tier A or better"]
    assert reasons(UPLIFT, None, 0.0, "S", None, ["a", "b", "c"], None, 90)[0] == \
        "no potential estimate"


def test_list_rows_rank_by_priority_with_ties_by_id_and_keep_the_holdout():
    allocated = pd.DataFrame({
        "entity_type": "merchant", "entity_id": ["m2", "m1", "m3"],
        "value": [5.0, 5.0, 9.0], "manager_id": ["am1", "am2", "am1"],
        "team": "merchant_growth", "holdout": [False, True, False]})
    candidates = pd.DataFrame({
        "entity_id": ["m1", "m2", "m3", "m4"], "tier": ["C", "D", "B", "A"],
        "expected_value": [50.0, 100.0, 90.0, 1.0], "expected_effect": [0.1, 0.05, 0.1, 0.2],
        "potential": [0.2, np.nan, np.nan, np.nan],
        "value_reasons": [["v1"], ["v2"], None, None], "potential_reasons": [["p1"], None, None, None]})
    got = list_rows(allocated, candidates, "merchant", date(2026, 10, 31), "camp", UPLIFT, 90)
    want = pd.DataFrame({
        "as_of_date": date(2026, 10, 31), "campaign": "camp",
        "rank": np.array([1, 2, 3], dtype=np.int32), "entity_type": "merchant",
        "entity_id": ["m3", "m1", "m2"], "manager_id": ["am1", "am2", "am1"],
        "team": "merchant_growth", "ranking_basis": UPLIFT,
        "expected_effect": pd.Series([0.1, 0.1, 0.05], dtype=object), "expected_value": [90.0, 50.0, 100.0],
        "priority": [9.0, 5.0, 5.0], "tier": ["B", "C", "D"],
        "potential": pd.Series([None, 0.2, None], dtype=object),
        "reasons": [
            ["a call adds about 10.0 points to its chance of onboarding",
             "tier B, expected value 90 over the next 90 days",
             "no single signal in its recent activity stands out"],
            ["a call adds about 10.0 points to its chance of onboarding",
             "tier C, expected value 50 over the next 90 days", "p1"],
            ["a call adds about 5.0 points to its chance of onboarding",
             "tier D, expected value 100 over the next 90 days", "v2"]],
        "holdout": [False, True, False]})
    assert_frame_equal(got, want)
    empty = list_rows(allocated.iloc[:0], candidates, "merchant", date(2026, 10, 31), "camp",
                      UPLIFT, 90)
    assert list(empty.columns) == list(LIST_COLUMNS) and len(empty) == 0
    with pytest.raises(pd.errors.MergeError):
        list_rows(allocated, pd.concat([candidates, candidates]), "merchant",
                  date(2026, 10, 31), "camp", UPLIFT, 90)


def _published(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame([
        dict(as_of_date=date(2026, 10, 31), campaign=c, rank=r, entity_type="merchant",
             entity_id=e, manager_id=m, team=t, ranking_basis=UPLIFT, expected_effect=0.1,
             expected_value=100.0, priority=10.0, tier="C", potential=None, reasons=why,
             holdout=h)
        for c, r, e, m, t, why, h in rows], columns=list(LIST_COLUMNS))


def test_export_frames_split_by_team_flatten_reasons_and_leave_out_the_holdout():
    rows = _published([
        ("c1", 2, "m2", "am02", "south", np.array(["x", "y", "z"]), False),
        ("c1", 1, "m1", "am01", "north", ["a", "b"], False),
        ("c1", 3, "m3", "am01", "north", ["p", "q", "r"], True),
        ("c1", 4, "m4", "am01", "north", None, False),
    ])
    got = export_frames(rows)
    assert list(got) == ["north", "south"]
    base = dict(as_of_date=date(2026, 10, 31), campaign="c1", entity_type="merchant",
                ranking_basis=UPLIFT, expected_effect=0.1, expected_value=100.0,
                priority=10.0, tier="C", potential=None)
    north = pd.DataFrame([
        {**base, "rank": 1, "entity_id": "m1", "manager_id": "am01", "team": "north",
         "reason_1": "a", "reason_2": "b", "reason_3": None},
        {**base, "rank": 4, "entity_id": "m4", "manager_id": "am01", "team": "north",
         "reason_1": None, "reason_2": None, "reason_3": None},
    ])[list(EXPORT_COLUMNS)]
    assert_frame_equal(got["north"], north, check_dtype=False)
    assert list(got["south"][["entity_id", "reason_1", "reason_2", "reason_3"]].iloc[0]) == [
        "m2", "x", "y", "z"]

    with_holdout = export_frames(rows, include_holdout=True)["north"]
    assert list(with_holdout.columns) == [*EXPORT_COLUMNS, "holdout"]
    assert list(with_holdout["entity_id"]) == ["m1", "m3", "m4"]
    assert list(with_holdout["holdout"]) == [False, True, False]


def test_export_frames_of_nothing_or_of_a_holdout_only_list_are_empty_and_bad_input_is_named():
    assert export_frames(_published([])) == {}
    only_holdout = _published([("c1", 1, "m1", "am01", "north", ["a"], True)])
    assert export_frames(only_holdout) == {}
    with pytest.raises(ValueError, match="lack column.*reasons"):
        export_frames(only_holdout.drop(columns=["reasons"]))
