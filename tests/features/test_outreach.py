"""Campaign enrolments: closed campaigns only, outcomes inside their window."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pyspark.testing import assertDataFrameEqual

from growth.features.outreach import campaign_enrolments
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
