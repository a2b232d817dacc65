"""Profiles of a snapshot's distribution: computed on the driver, kept as JSON."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from growth.expectations.drift import (
    ColumnProfile,
    Profile,
    from_json,
    profile,
    profile_frame,
    to_json,
)

D = date(2026, 10, 30)


def test_profile_frame_takes_deciles_as_edges_and_counts_every_bin():
    values = pd.DataFrame({
        "even": np.arange(1.0, 21.0),  # deciles 2, 4, ..., 18; 20 in the top bin
        # ties and a missing value: 9 present, 6 zeros, 2 fives, one 10
        "tied": [0.0] * 6 + [np.nan, 5.0, 5.0, 10.0] + [np.nan] * 10,
        "empty": [np.nan] * 20,
    })
    got = profile_frame(values, ["even", "tied", "empty"], D)
    assert got == Profile(D, 20, {
        "even": ColumnProfile(tuple(float(v) for v in range(2, 20, 2)), (0.1,) * 10, 1.0),
        # F(0) = 6/9 covers deciles 1-6, F(5) = 8/9 deciles 7-8, 10 the 9th
        "tied": ColumnProfile((0.0, 5.0, 10.0), (6 / 9, 2 / 9, 1 / 9, 0.0), 9 / 20),
        "empty": ColumnProfile((), (0.0,), 0.0),
    })


def test_profile_frame_of_no_rows_is_none():
    assert profile_frame(pd.DataFrame({"a": []}, dtype=float), ["a"], D) is None


def test_a_spark_frame_is_profiled_like_its_rows_on_the_driver(spark):
    rows = [(float(i % 7), None if i % 5 == 0 else float(i)) for i in range(50)]
    frame = spark.createDataFrame(rows, "a double, b double")
    expected = profile_frame(pd.DataFrame(rows, columns=["a", "b"], dtype=float), ["a", "b"], D)
    assert profile(frame, ["a", "b"], D) == expected
    assert profile(frame.limit(0), ["a", "b"], D) is None


def test_a_profile_round_trips_through_json_infinite_edges_included():
    kept = Profile(D, 3, {"a": ColumnProfile((0.0, float("inf")), (0.5, 0.5, 0.0), 1.0),
                          "b": ColumnProfile((), (0.0,), 0.0)}, partition_rows=1234)
    assert from_json(to_json(kept)) == kept
    # a file written before profiles carried the snapshot's rows still reads
    older = to_json(kept).replace('"partition_rows": 1234, ', "")
    assert from_json(older) == Profile(D, 3, kept.columns)


@pytest.mark.parametrize("text, problem", [
    ("not json", "JSONDecodeError"),
    ('{"as_of": "2026-10-30", "rows": 3}', "KeyError('columns')"),
    ('{"as_of": "2026-10-30", "rows": 3, "columns": {"a": {"edges": [1.0], "shares": [1.0],'
     ' "non_null_share": 1.0}}}', "column a has 1 edges but 1 shares"),
])
def test_anything_but_a_stored_profile_is_refused_by_name(text, problem):
    with pytest.raises(ValueError, match="not a stored profile") as raised:
        from_json(text)
    assert problem in str(raised.value)
