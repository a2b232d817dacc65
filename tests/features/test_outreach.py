"""Outreach inputs: campaign enrolments (closed campaigns only, outcomes inside their window),
suppressions, last contacts and the capacity earlier lists used, on their day boundaries."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pyspark.testing import assertDataFrameEqual

from growth.features.outreach import (
    campaign_enrolments,
    last_contacts,
    suppressions,
    used_capacity,
)
from tests.features.frames import silver


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_campaign_enrolments_keep_closed_campaigns_and_outcomes_inside_their_window(spark):
    def event(eid, camp, entity_id, arm, enrolled, onboarded=False, at=None, kind="creator"):
        return dict(event_id=eid, campaign_id=camp, entity_type=kind, entity_id=entity_id,
                    manager_id="am1", arm=arm, enrolled_at=ts(enrolled), responded=False,
                    onboarded=onboarded, onboarded_at=ts(at) if at else None,
                    updated_at=ts(enrolled))

    events = silver(spark, "outreach_events", [
        event("e1", "c-may", "c1", "contacted", "2026-05-10 09:00:00", True,
              "2026-05-23 23:59:59"),                                  # inside 14 days
        event("e2", "c-may", "c2", "control", "2026-05-10 16:00:00", True,
              "2026-05-24 16:00:00"),                                  # just outside
        event("e3", "c-may", "m1", "contacted", "2026-05-11 09:00:00", kind="merchant"),
        event("e4", "c-jun", "c1", "contacted", "2026-06-16 09:00:00"),  # closes after the end
        event("e5", "c-jun", "c3", "control", "2026-06-01 09:00:00"),
    ])
    got = campaign_enrolments(events, "creator", date(2026, 6, 29), 14)
    assertDataFrameEqual(got, [
        ("c-may", "c1", date(2026, 5, 9), 1, 1),
        ("c-may", "c2", date(2026, 5, 9), 0, 0),
    ], checkRowOrder=False)
    assert got.columns == ["campaign_id", "entity_id", "as_of_date", "treated", "onboarded"]
    # once June's last window has closed, its campaign comes in whole
    june = campaign_enrolments(events, "creator", date(2026, 6, 30), 14).where("campaign_id = 'c-jun'")
    assert sorted(r.entity_id for r in june.collect()) == ["c1", "c3"]
    with pytest.raises(ValueError, match="outcome window must be at least 1 day"):
        campaign_enrolments(events, "creator", date(2026, 6, 30), 0)


LIST_DDL = "as_of_date date, entity_type string, entity_id string, manager_id string, holdout boolean"


def _event(eid, entity_id, arm, enrolled, onboarded=False, at=None, kind="merchant"):
    return dict(event_id=eid, campaign_id="camp", entity_type=kind, entity_id=entity_id,
                manager_id="am1", arm=arm, enrolled_at=ts(enrolled), responded=False,
                onboarded=onboarded, onboarded_at=ts(at) if at else None,
                updated_at=ts(enrolled))


def test_suppressions_name_each_reason_up_to_the_end_of_the_day(spark):
    d = date(2026, 10, 31)
    opt_outs = silver(spark, "opt_outs", [
        dict(entity_type="merchant", entity_id="m1", opted_out_at=ts("2026-10-31 23:59:59")),
        dict(entity_type="merchant", entity_id="m2", opted_out_at=ts("2026-11-01 00:00:00")),
        dict(entity_type="creator", entity_id="m3", opted_out_at=ts("2026-01-01 00:00:00")),
    ])
    events = silver(spark, "outreach_events", [
        _event("e1", "m4", "contacted", "2026-10-01 09:00:00", True, "2026-10-31 23:59:59"),
        _event("e2", "m5", "contacted", "2026-10-01 09:00:00", True, "2026-11-01 00:00:00"),
        _event("e3", "m1", "control", "2026-10-01 09:00:00", True, "2026-10-02 00:00:00"),
        _event("e4", "m6", "contacted", "2026-10-01 09:00:00"),
    ])
    tiers = spark.createDataFrame([
        ("m7", ["max_failed_rate", "min_orders_90d"]), ("m8", ["min_orders_90d"]),
        ("m9", []), ("m1", ["min_rating"]),
    ], "merchant_id string, failed_gates array<string>")
    got = suppressions(opt_outs, events, tiers, "merchant", "merchant_id", d,
                       ("min_rating", "max_late_rate", "max_failed_rate"))
    assertDataFrameEqual(got, [
        ("m1", "opted_out"), ("m4", "already_managed"), ("m1", "already_managed"),
        ("m7", "blocked"), ("m1", "blocked"),
    ], checkRowOrder=False)
    assert got.columns == ["entity_id", "reason"]
    # no blocking gates (creators): only opt-outs and onboardings
    none = suppressions(opt_outs, events.where("false"), tiers, "creator", "merchant_id", d, ())
    assertDataFrameEqual(none, [("m3", "opted_out")])


def test_last_contacts_count_contacted_enrolments_and_earlier_lists_not_holdouts(spark):
    d = date(2026, 10, 31)
    events = silver(spark, "outreach_events", [
        _event("e1", "m1", "contacted", "2026-09-01 09:00:00"),
        _event("e2", "m1", "contacted", "2026-10-31 23:59:59"),   # the day itself counts
        _event("e3", "m2", "contacted", "2026-11-01 00:00:00"),   # the future does not
        _event("e4", "m3", "control", "2026-10-30 09:00:00"),     # control: never contacted
        _event("e5", "c1", "contacted", "2026-10-30 09:00:00", kind="creator"),
    ])
    lists = spark.createDataFrame([
        (date(2026, 10, 20), "merchant", "m4", "am1", False),
        (date(2026, 10, 25), "merchant", "m4", "am1", False),
        (date(2026, 10, 30), "merchant", "m5", "am1", True),      # holdout: not called
        (date(2026, 10, 31), "merchant", "m6", "am1", False),     # today's own list: a rerun
        (date(2026, 10, 30), "creator", "m7", "am2", False),
    ], LIST_DDL)
    got = last_contacts(events, lists, "merchant", d)
    assertDataFrameEqual(got, [("m1", d), ("m4", date(2026, 10, 25))], checkRowOrder=False)
    assert got.columns == ["entity_id", "contacted_on"]
    assertDataFrameEqual(last_contacts(events, None, "merchant", d), [("m1", d)])


def test_used_capacity_counts_the_six_days_before_and_no_holdouts(spark):
    lists = spark.createDataFrame([
        (date(2026, 10, 24), "merchant", "a", "am1", False),   # 7 days before: a new week
        (date(2026, 10, 25), "merchant", "b", "am1", False),   # 6 days before: counted
        (date(2026, 10, 30), "merchant", "c", "am1", False),
        (date(2026, 10, 30), "merchant", "d", "am1", True),    # holdout
        (date(2026, 10, 30), "merchant", "e", "am2", False),
        (date(2026, 10, 30), "merchant", "f", None, False),
        (date(2026, 10, 31), "merchant", "g", "am2", False),   # the day itself: a rerun
    ], LIST_DDL)
    got = used_capacity(lists, date(2026, 10, 31))
    assertDataFrameEqual(got, [("am1", 2), ("am2", 1)], checkRowOrder=False)
    assert used_capacity(lists.where("false"), date(2026, 10, 31)).count() == 0
