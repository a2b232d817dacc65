"""Outreach ranking: priorities by basis, the three reasons, the published rows."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from growth.models.outreach import LIST_COLUMNS, POTENTIAL, UPLIFT, list_rows, priorities, reasons


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
        "25% chance to reach tier A or better", "tier new, expected value 10 over the next 30 days"]
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
             "tier B, expected value 90 over the next 90 days"],
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
