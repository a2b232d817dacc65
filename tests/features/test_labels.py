"""Labels see only (D, D + H]; growth and top-tier flags; training-set pairing."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from pyspark.testing import assertDataFrameEqual

from growth.features.labels import complete_cutoffs, entity_labels, training_set
from tests.features.frames import daily, entities, silver

D = date(2026, 5, 31)
H = 10


def day(offset: int) -> date:
    return D + timedelta(days=offset)


@pytest.fixture(scope="module")
def labelled(spark):
    merchants = entities(spark, "merchant", {
        "m1": "2026-01-01 00:00:00", "m2": "2026-01-01 00:00:00", "m3": "2026-01-01 00:00:00",
        "late_joiner": "2026-06-01 00:00:00",
    })
    gmv = {  # offset from D -> GMV; 1, 10, 100 ... name the days each sum saw
        "m1": {-H: 1e5, -H + 1: 1.0, 0: 10.0, 1: 100.0, H: 1000.0, H + 1: 1e4},
        "m2": {0: 500.0, 1: 600.0},
        "m3": {-3: 20.0},
    }
    rows = [
        {"merchant_id": m, "date": day(o), "gmv": v, "orders": 1.0, "order_lines": 1.0}
        for m, days in gmv.items() for o, v in days.items()
    ]
    outreach = silver(spark, "outreach_events", [
        {"event_id": e, "campaign_id": "k", "entity_type": "merchant", "entity_id": m,
         "arm": arm, "enrolled_at": datetime(2026, 5, 1), "responded": arm == "contacted",
         "onboarded": True, "onboarded_at": at}
        for e, m, arm, at in (
            ("e1", "m1", "contacted", datetime(2026, 6, 1, 0, 0)),    # first instant after D
            ("e2", "m2", "contacted", datetime(2026, 5, 31, 23, 59)),  # still on D: before
            ("e3", "m3", "control", datetime(2026, 6, 2)),             # never contacted
        )
    ])
    return entity_labels(daily(spark, "merchant", rows), merchants, outreach, "merchant", [D],
                         H, growth_multiple=2.0, growth_min_value=500.0, top_share=0.34)


def test_outcomes_cover_exactly_the_horizon_after_the_cutoff(labelled):
    got = labelled.select("merchant_id", "as_of_date", "horizon_days", "past_value",
                          "future_value", "future_orders", "future_active_days", "grew",
                          "future_value_rank", "reached_top_tier", "onboarded_after_outreach")
    expected = [
        # m1: past (D-H, D] = 1 + 10; future (D, D+H] = 100 + 1000
        ("m1", D, H, 11.0, 1100.0, 2, 2, True, 1.0, True, True),
        # m2: future 600 >= 2 x 500? no
        ("m2", D, H, 500.0, 600.0, 1, 1, False, 0.5, False, False),
        ("m3", D, H, 20.0, 0.0, 0, 0, False, 0.0, False, False),
    ]
    assertDataFrameEqual(got, expected, checkRowOrder=False)


def test_complete_cutoffs_keep_only_passed_horizons():
    assert complete_cutoffs([D, day(1), day(-5)], H, day(H)) == [day(-5), D]
    assert complete_cutoffs([], H, D) == []


def test_bad_parameters_are_named(spark, labelled):
    empty = labelled.limit(0)
    with pytest.raises(ValueError, match="horizon"):
        entity_labels(empty, empty, empty, "merchant", [D], 0, 2.0, 1.0, 0.2)
    with pytest.raises(ValueError, match="top-tier share"):
        entity_labels(empty, empty, empty, "merchant", [D], 5, 2.0, 1.0, 1.5)


def test_training_set_pairs_snapshots_with_labels_of_the_same_cutoff(spark, labelled):
    features = spark.createDataFrame(
        [("m1", D, 1.0), ("m2", D, 2.0), ("m1", day(1), 3.0)],
        "merchant_id string, as_of_date date, gmv_sum_30d double",
    )
    got = training_set(features, labelled, "merchant_id").select(
        "merchant_id", "as_of_date", "gmv_sum_30d", "future_value")
    assertDataFrameEqual(got, [("m1", D, 1.0, 1100.0), ("m2", D, 2.0, 600.0)],
                         checkRowOrder=False)
