"""Outreach allocation: a worked example, both solvers, and properties over random inputs."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from growth.models.allocation import AllocationPolicy, allocate, capacity_bound, contactable

MANAGERS = pd.DataFrame([
    ("am1", "merchant_growth", "north", "en", "toys,garden", 2),
    ("am2", "merchant_growth", "south", "pt,en", "fashion", 1),
    ("idle", "creator_partnerships", "north", "en", "toys", 0),
], columns=["manager_id", "team", "region", "languages", "categories", "weekly_capacity"])


def candidates(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["entity_type", "entity_id", "region", "language",
                                       "category", "value"])


EXAMPLE = candidates([
    ("merchant", "m1", "north", "en", "toys", 9.0),
    ("merchant", "m2", "north", "en", "garden", 7.0),
    ("merchant", "m3", "north", "en", "toys", 8.0),
    ("merchant", "m4", "north", "de", "toys", 50.0),   # nobody speaks German up north
    ("merchant", "m5", "south", "pt", "fashion", 3.0),
    ("merchant", "m6", "south", "en", "fashion", 4.0),
    ("merchant", "m7", "north", "en", "toys", 0.0),    # contacting changes nothing
    ("creator", "m1", "north", "en", "toys", -1.0),    # same id, other type: a separate entity
])


def test_the_exact_solver_takes_the_best_matching_candidates_within_every_rule():
    policy = AllocationPolicy(max_category_share=1.0, holdout_share=0.0)
    got = allocate(EXAMPLE, MANAGERS, policy)
    expected = pd.DataFrame([
        ("merchant", "m1", 9.0, "am1", "merchant_growth", False),
        ("merchant", "m3", 8.0, "am1", "merchant_growth", False),
        ("merchant", "m6", 4.0, "am2", "merchant_growth", False),
    ], columns=["entity_type", "entity_id", "value", "manager_id", "team", "holdout"])
    pd.testing.assert_frame_equal(got.rows, expected)
    assert (got.solver, got.objective, got.bound, got.gap) == ("exact", 21.0, 21.0, 0.0)


def test_a_category_share_cap_trades_value_for_variety():
    policy = AllocationPolicy(max_category_share=0.5, holdout_share=0.0)
    got = allocate(EXAMPLE, MANAGERS, policy)
    assert sorted(got.rows["entity_id"]) == ["m1", "m2", "m6"]  # toys: 1 of 3, not 2 of 3
    assert got.objective == 20.0


def test_the_greedy_solver_reports_its_gap_to_the_lp_bound():
    policy = AllocationPolicy(max_category_share=1.0, holdout_share=0.0, exact_max_pairs=0)
    got = allocate(EXAMPLE, MANAGERS, policy)
    assert got.solver == "greedy"
    assert got.objective == 21.0 and got.bound == pytest.approx(21.0) and got.gap < 1e-9


def test_above_the_lp_size_the_greedy_gap_is_to_the_capacity_bound():
    policy = AllocationPolicy(max_category_share=1.0, holdout_share=0.0, exact_max_pairs=0,
                              lp_bound_max_pairs=0)
    got = allocate(EXAMPLE, MANAGERS, policy)
    # am1 may take 2 of m1 9, m3 8, m2 7 -> 17; am2 1 of m6 4, m5 3 -> 4; idle none.
    assert (got.solver, got.objective, got.bound, got.gap) == (
        "greedy (capacity bound)", 21.0, 21.0, 0.0)


def test_an_lp_bound_limit_below_the_exact_limit_is_refused():
    with pytest.raises(ValueError, match=r"lp_bound_max_pairs \(10\) must be at least "
                                         r"exact_max_pairs \(20\)"):
        AllocationPolicy(exact_max_pairs=20, lp_bound_max_pairs=10)


def test_the_capacity_bound_counts_each_managers_best_values_only():
    pairs = pd.DataFrame({"i": [0, 0, 1, 2, 3], "m": [0, 1, 0, 1, 2]})
    values = np.array([5.0, 5.0, 3.0, 2.0, 9.0])
    # Candidate 0 counts under both managers (the bound 10 is above the optimum 7); the
    # manager without capacity adds nothing.
    assert capacity_bound(pairs, values, np.array([1.0, 1.0, 0.0])) == 10.0
    assert capacity_bound(pairs, values, np.array([2.0, 0.0, 1.0])) == 17.0
    assert capacity_bound(pairs.iloc[:0], values[:0], np.array([1.0])) == 0.0


def test_the_holdout_is_drawn_from_each_managers_list_and_never_uses_capacity():
    many = candidates([("merchant", f"m{i:02d}", "north", "en", "toys", float(100 - i))
                       for i in range(40)])
    managers = MANAGERS.assign(weekly_capacity=[18, 1, 0])
    got = allocate(many, managers, AllocationPolicy(max_category_share=1.0, holdout_share=0.1,
                                                    seed=3))
    # Capacity 18 inflated to 20 listed; 2 held out at random among them, 18 contacted.
    assert len(got.rows) == 20 and got.rows["holdout"].sum() == 2
    assert set(got.rows["entity_id"]) == {f"m{i:02d}" for i in range(20)}
    again = allocate(many, managers, AllocationPolicy(max_category_share=1.0,
                                                      holdout_share=0.1, seed=3))
    pd.testing.assert_frame_equal(got.rows, again.rows)
    other = allocate(many, managers, AllocationPolicy(max_category_share=1.0,
                                                      holdout_share=0.1, seed=4))
    assert set(other.rows.loc[other.rows["holdout"], "entity_id"]) != set(
        got.rows.loc[got.rows["holdout"], "entity_id"])


def test_contactable_drops_the_suppressed_and_those_within_the_cooldown():
    last = pd.DataFrame([("merchant", "m1", date(2026, 10, 18)),   # 13 days before: blocked
                         ("merchant", "m2", date(2026, 10, 17)),   # 14 days before: allowed
                         ("creator", "m3", date(2026, 10, 30))],   # another entity type
                        columns=["entity_type", "entity_id", "contacted_on"])
    got = contactable(EXAMPLE, [("merchant", "m5")], last, date(2026, 10, 31), 14)
    assert list(got["entity_id"]) == ["m2", "m3", "m4", "m6", "m7", "m1"]
    assert list(got["entity_type"]) == ["merchant"] * 5 + ["creator"]
    with pytest.raises(ValueError, match="cooldown_days must be >= 0"):
        contactable(EXAMPLE, [], last, date(2026, 10, 31), -1)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="candidates lack column"):
        allocate(EXAMPLE.drop(columns="value"), MANAGERS)
    with pytest.raises(ValueError, match="managers lack column"):
        allocate(EXAMPLE, MANAGERS.drop(columns="languages"))
    with pytest.raises(ValueError, match="candidates list an entity twice"):
        allocate(pd.concat([EXAMPLE, EXAMPLE.head(1)]), MANAGERS)
    with pytest.raises(ValueError, match="managers list a manager twice"):
        allocate(EXAMPLE, pd.concat([MANAGERS, MANAGERS.head(1)]))
    with pytest.raises(ValueError, match="holdout_share"):
        AllocationPolicy(holdout_share=1.0)
    with pytest.raises(ValueError, match="max_category_share"):
        AllocationPolicy(max_category_share=0)
    empty = allocate(EXAMPLE.head(0), MANAGERS)
    assert empty.rows.empty and empty.objective == 0.0


REGIONS, LANGS, CATS = ["north", "south"], ["en", "pt"], ["toys", "garden", "fashion"]


@st.composite
def worlds(draw):
    n = draw(st.integers(0, 60))
    rows = [("merchant" if k % 3 else "creator", f"e{k}", draw(st.sampled_from(REGIONS)),
             draw(st.sampled_from(LANGS)), draw(st.sampled_from(CATS)),
             draw(st.floats(-5, 100, allow_nan=False))) for k in range(n)]
    managers = [(f"am{j}", "merchant_growth", draw(st.sampled_from(REGIONS)),
                 ",".join(draw(st.sets(st.sampled_from(LANGS), min_size=1))),
                 ",".join(draw(st.sets(st.sampled_from(CATS), min_size=1))),
                 draw(st.integers(0, 12))) for j in range(draw(st.integers(1, 5)))]
    suppressed = [(r[0], r[1]) for r in rows if draw(st.booleans()) and draw(st.booleans())]
    # Some entities were contacted 0..20 days before the list's day (cooldown: 7 days).
    contacts = pd.DataFrame(
        [(r[0], r[1], date(2026, 10, 31) - timedelta(days=draw(st.integers(0, 20))))
         for r in rows if draw(st.booleans())],
        columns=["entity_type", "entity_id", "contacted_on"])
    policy = AllocationPolicy(
        max_category_share=draw(st.sampled_from([0.34, 0.5, 1.0])),
        holdout_share=draw(st.sampled_from([0.0, 0.1, 0.25])),
        seed=draw(st.integers(0, 9)),
        exact_max_pairs=draw(st.sampled_from([0, 10_000])))
    return (candidates(rows), pd.DataFrame(managers, columns=MANAGERS.columns), suppressed,
            contacts, policy)


@settings(max_examples=60, deadline=None)
@given(worlds())
def test_properties_hold_for_any_input(world):
    cands, managers, suppressed, contacts, policy = world
    allowed = contactable(cands, suppressed, contacts, date(2026, 10, 31), 7)
    got = allocate(allowed, managers, policy)
    rows = got.rows
    keys = set(zip(rows["entity_type"], rows["entity_id"], strict=True))
    assert not keys & set(suppressed)                       # no suppressed entity listed
    recent = contacts[contacts["contacted_on"] > date(2026, 10, 24)]
    assert not keys & set(zip(recent["entity_type"], recent["entity_id"], strict=True))  # cooldown
    assert len(keys) == len(rows)                           # each entity at most once
    assert (rows["value"] > 0).all()
    merged = rows.merge(managers, on="manager_id").merge(
        cands, on=["entity_type", "entity_id"], suffixes=("", "_c"))
    for r in merged.itertuples():                           # every match rule holds
        assert r.region_c == r.region and r.language in r.languages.split(",")
        assert r.category in r.categories.split(",")
    capacity = managers.set_index("manager_id")["weekly_capacity"]
    for manager, group in rows.groupby("manager_id"):
        contacted = int((~group["holdout"]).sum())
        assert contacted <= capacity[manager]               # capacity never exceeded
        held = int(group["holdout"].sum())
        assert abs(held - policy.holdout_share * len(group)) < 1   # the holdout's share
    if len(rows) and policy.max_category_share < 1:
        shares = merged["category"].value_counts() / len(rows)
        assert (shares <= policy.max_category_share + 1e-9).all()
    assert got.objective <= got.bound + 1e-6 and 0 <= got.gap <= 1
    again = allocate(allowed, managers, policy)             # deterministic for the seed
    pd.testing.assert_frame_equal(rows, again.rows)
