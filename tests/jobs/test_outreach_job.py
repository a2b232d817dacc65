"""The outreach job on a small lake: tiers, potential and past campaigns -> outreach_lists.

Past campaigns enrolled 240 historical merchants with a randomized 30% control arm; a call
works in the north only. Today's 60 merchants are tiered; some are opted out, onboarded,
blocked by a service gate or contacted within the cooldown. Three managers of the merchant
team and one of the creator team share the week's capacity.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from growth.features.registry import feature_names
from growth.jobs import build_outreach, delta_io, export_outreach, inputs
from growth.layout import silver_table
from growth.models.outreach import EXPORT_COLUMNS
from tests.features.frames import daily, silver
from tests.helpers import fresh_lake

D = date(2026, 10, 31)
CAMPAIGNS = [date(2026, 7, 1), date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)]
TODAY = [f"m{i:03d}" for i in range(60)]
HISTORY = [f"h{i:03d}" for i in range(240)]
MANAGERS = [
    dict(manager_id="am01", team="merchant_growth", region="north", languages="en",
         categories="toys,fashion,garden", weekly_capacity=5),
    dict(manager_id="am02", team="merchant_growth", region="south", languages="en",
         categories="toys,garden", weekly_capacity=4),
    dict(manager_id="am03", team="creator_growth", region="north", languages="en",
         categories="toys,fashion", weekly_capacity=100),
    dict(manager_id="am04", team="merchant_growth", region="north", languages="en",
         categories="fashion", weekly_capacity=0),
]
OPTED_OUT, ONBOARDED, BLOCKED, CONTACTED = "m000", "m002", "m004", "m006"


def _ts(d: date, hour: int = 9) -> datetime:
    return datetime(d.year, d.month, d.day, hour)


def _merchant(mid: str, i: int) -> dict:
    return dict(merchant_id=mid, category=("fashion", "toys", "garden")[i % 3],
                region="north" if i % 2 == 0 else "south", language="en",
                joined_at=datetime(2025, 1, 1), updated_at=datetime(2025, 1, 1))


def _events(open_only: bool) -> list[dict]:
    rng = np.random.default_rng(11)
    rows = []
    for c, day in enumerate(CAMPAIGNS):
        if open_only:
            break
        for k in range(120):
            i = (c * 60 + k) % 240
            north = i % 2 == 0
            treated = rng.random() < 0.7
            onboarded = bool(rng.random() < (0.6 if treated and north else 0.08))
            rows.append(dict(
                event_id=f"e{c}-{i}", campaign_id=f"camp-{day}", entity_type="merchant",
                entity_id=HISTORY[i], manager_id="am01",
                arm="contacted" if treated else "control", enrolled_at=_ts(day),
                responded=treated, onboarded=onboarded,
                onboarded_at=_ts(day + timedelta(days=3)) if onboarded else None,
                updated_at=_ts(day + timedelta(days=14))))
    # Today's merchants: one onboarded long ago, one called 10 days ago; and a campaign
    # still open (its window closes after D), which nothing learns from yet.
    rows.append(dict(event_id="x1", campaign_id="camp-old", entity_type="merchant",
                     entity_id=ONBOARDED, manager_id="am01", arm="contacted",
                     enrolled_at=_ts(date(2026, 5, 1)), responded=True, onboarded=True,
                     onboarded_at=_ts(date(2026, 5, 3)), updated_at=_ts(date(2026, 5, 15))))
    rows.append(dict(event_id="x2", campaign_id=f"camp-{D - timedelta(days=10)}",
                     entity_type="merchant", entity_id=CONTACTED, manager_id="am01",
                     arm="contacted", enrolled_at=_ts(D - timedelta(days=10)), responded=False,
                     onboarded=False, onboarded_at=None, updated_at=_ts(D - timedelta(days=10))))
    return rows


def _tiers_and_potential() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(3)
    tiers = ["S", "A", "B", "C", "D", "new"]
    tier = [tiers[i % 6] for i in range(60)]
    value = np.round(rng.uniform(100, 1000, 60), 2)
    gates = [["max_late_rate"] if m == BLOCKED else ["min_orders_90d"] if i % 7 == 0 else []
             for i, m in enumerate(TODAY)]
    tier_rows = pd.DataFrame({
        "merchant_id": TODAY, "as_of_date": D, "tier": tier, "previous_tier": None,
        "raw_tier": tier, "score": value, "eligible": [not g for g in gates],
        "failed_gates": gates, "reasons": [[f"GMV {int(v)} (30 days)"] for v in value],
        "model_version": "merchant_value v1"})
    below_b = [i for i in range(60) if tier[i] in ("C", "D", "new")]
    potential = pd.DataFrame({
        "entity_type": "merchant", "entity_id": [TODAY[i] for i in below_b], "as_of_date": D,
        "tier": [tier[i] for i in below_b], "score": 0.0,
        "probability": np.round(rng.uniform(0.05, 0.9, len(below_b)), 3),
        "reasons": [["clicks up 50% on the previous 30 days"]] * len(below_b),
        "model_version": "merchant_potential v1", "rank": np.arange(1, len(below_b) + 1)})
    features = pd.DataFrame({n: rng.gamma(2.0, 20.0, 60) for n in feature_names("merchant")})
    features.insert(0, "merchant_id", TODAY)
    features.insert(1, "as_of_date", D)
    return tier_rows, potential, features


def _write(spark, cfg, open_only: bool) -> None:
    merchants = [_merchant(m, i) for i, m in enumerate(TODAY)] + [
        _merchant(h, i) for i, h in enumerate(HISTORY)]
    ids = [m["merchant_id"] for m in merchants]
    tables = {
        silver_table("merchants"): silver(spark, "merchants", merchants),
        silver_table("products"): silver(spark, "products", [
            dict(product_id=f"p-{m}", merchant_id=m, category="toys", list_price=10.0,
                 created_at=datetime(2025, 1, 1), updated_at=datetime(2025, 1, 1))
            for m in ids]),
        silver_table("account_managers"): silver(spark, "account_managers", [
            {**m, "updated_at": datetime(2025, 1, 1)} for m in MANAGERS]),
        silver_table("opt_outs"): silver(spark, "opt_outs", [
            dict(entity_type="merchant", entity_id=OPTED_OUT, opted_out_at=_ts(D, 23)),
            dict(entity_type="creator", entity_id="m010", opted_out_at=_ts(D, 1))]),
        silver_table("outreach_events"): silver(spark, "outreach_events", _events(open_only)),
        "merchant_daily": daily(spark, "merchant", [
            dict(merchant_id=m, date=date(2026, 5, 1) + timedelta(days=10 * k),
                 clicks=float(1 + (i * 7 + k) % 40), gmv=float(10 * (1 + i % 9)))
            for i, m in enumerate(ids) for k in range(19)]),
    }
    tiers, potential, features = _tiers_and_potential()
    tables["merchant_tiers"] = spark.createDataFrame(tiers)
    tables["potential_scores"] = spark.createDataFrame(potential)
    tables["merchant_features"] = spark.createDataFrame(features)
    for name, frame in tables.items():
        delta_io.overwrite(spark, frame, cfg.table(name))


@pytest.fixture(scope="module")
def lake(spark, cfg, tmp_path_factory):
    lcfg = fresh_lake(spark, cfg, "otr", tmp_path_factory.mktemp("outreach-lake"))
    _write(spark, lcfg, open_only=False)
    return lcfg


def _list(spark, cfg, as_of: date = D) -> pd.DataFrame:
    return (spark.table(cfg.table("outreach_lists")).where(F.col("as_of_date") == as_of)
            .toPandas().sort_values("rank").reset_index(drop=True))


def _check_rules(got: pd.DataFrame, capacity: dict[str, int], suppressed: set[str]) -> None:
    assert list(got["rank"]) == list(range(1, len(got) + 1))
    assert got["priority"].is_monotonic_decreasing and (got["priority"] > 0).all()
    assert not set(got["entity_id"]) & suppressed
    contacted = got[~got["holdout"]]
    for manager, n in contacted["manager_id"].value_counts().items():
        assert n <= capacity[manager], (manager, n)
    assert set(got["manager_id"]) <= {"am01", "am02"}   # am03 is the creator team's, am04 full
    assert all(len(r) == 3 for r in got["reasons"])
    managers = {m["manager_id"]: m for m in MANAGERS}
    for row in got.itertuples():
        i = TODAY.index(row.entity_id)
        assert managers[row.manager_id]["region"] == ("north" if i % 2 == 0 else "south")


def test_the_list_ranks_by_learnt_effect_and_keeps_every_rule(spark, lake):
    written = build_outreach.run(spark, lake, D, "merchant")
    got = _list(spark, lake)
    assert written == len(got) > 0
    assert set(got["ranking_basis"]) == {"uplift"} and set(got["campaign"]) == {
        "merchant-outreach-2026-10-31"}
    _check_rules(got, {"am01": 5, "am02": 4}, {OPTED_OUT, ONBOARDED, BLOCKED, CONTACTED})
    # A call works in the north: the northern manager's list is full, and leads the ranking.
    assert (got["manager_id"] == "am01").sum() == 5
    assert got["entity_id"].iloc[0] in TODAY[::2]
    assert got["expected_effect"].notna().all() and (got["expected_effect"] > 0).all()
    np.testing.assert_allclose(got["priority"], got["expected_effect"] * got["expected_value"])
    assert got["reasons"].iloc[0][0].startswith("a call adds about ")
    run = spark.table(lake.table("run_log")).where(F.col("job") == "outreach").first()
    assert run.status == "success" and run.rows_inserted == written
    assert "uplift: " in run.message and "exact allocation" in run.message
    # camp-old, with m002's enrolment, is a closed campaign too
    assert "gap 0.00%" in run.message and "effect learnt from 5 campaign(s)" in run.message
    assert "opted_out 1" in run.message and "blocked 1" in run.message

    assert "(chosen by rolling-origin validation)" in run.message

    # A rerun of the day gives the same list (the holdout draw included), with the effect
    # model's choice read from the memo the first run left instead of validated again.
    memo = build_outreach.selection_memo_path(lake, "merchant")
    assert len(json.loads(memo.read_text())) == 1
    build_outreach.run(spark, lake, D, "merchant")
    pd.testing.assert_frame_equal(_list(spark, lake), got)
    rerun = (spark.table(lake.table("run_log")).where(F.col("job") == "outreach")
             .orderBy(F.col("finished_at").desc()).first())
    assert rerun.message.endswith("(reused)") and len(json.loads(memo.read_text())) == 1
    # The memo is a cache: unreadable, it is ignored (and rewritten) with the same list.
    memo.write_text("{not json")
    build_outreach.run(spark, lake, D, "merchant")
    pd.testing.assert_frame_equal(_list(spark, lake), got)
    assert len(json.loads(memo.read_text())) == 1


def test_the_next_day_respects_cooldown_and_the_weeks_capacity(spark, lake):
    first = _list(spark, lake)
    assert len(first) > 0, "runs after the first test"
    nxt = D + timedelta(days=1)
    tiers, potential, features = _tiers_and_potential()
    for name, frame in (("merchant_tiers", tiers), ("potential_scores", potential),
                        ("merchant_features", features)):
        frame = frame.assign(as_of_date=nxt)
        delta_io.replace_dates(spark, spark.createDataFrame(frame), lake.table(name),
                               "as_of_date", [nxt])
    build_outreach.run(spark, lake, nxt, "merchant")
    second = _list(spark, lake, nxt)
    called = set(first.loc[~first["holdout"], "entity_id"])
    assert not set(second["entity_id"]) & called
    # am01 and am02 gave their whole week yesterday: nobody has room left today.
    left = {"am01": 5 - int((~first["holdout"] & (first["manager_id"] == "am01")).sum()),
            "am02": 4 - int((~first["holdout"] & (first["manager_id"] == "am02")).sum())}
    for manager, n in second.loc[~second["holdout"], "manager_id"].value_counts().items():
        assert n <= left[manager]
    # The first day's list is untouched by the second day's run.
    pd.testing.assert_frame_equal(_list(spark, lake), first)


def test_without_closed_campaigns_the_list_falls_back_to_potential_times_value(spark, lake):
    # With a 200-day outcome window no campaign has closed by D: nothing to learn from. The
    # potential pool (tiers C, D, new) matches the managers in two categories only (toys in
    # the north, garden in the south), so a category may fill half the list, not 0.4 of it.
    waiting = dataclasses.replace(lake, outreach_outcome_days=200,
                                  outreach_max_category_share=0.5)
    build_outreach.run(spark, waiting, D, "merchant")
    got = _list(spark, lake)
    assert set(got["ranking_basis"]) == {"potential_x_value"} and len(got) > 0
    assert set(got["tier"]) <= {"C", "D", "new"}
    assert got["expected_effect"].isna().all()
    np.testing.assert_allclose(got["priority"], got["potential"] * got["expected_value"])
    _check_rules(got, {"am01": 5, "am02": 4}, {OPTED_OUT, ONBOARDED, BLOCKED, CONTACTED})
    run = (spark.table(lake.table("run_log")).where(F.col("job") == "outreach")
           .orderBy(F.col("finished_at").desc()).first())
    assert run.message.startswith("potential_x_value: ")
    assert "no merchant campaign has closed its 200-day outcome window" in run.message


def test_a_day_without_tiers_names_the_command_to_run(spark, lake):
    with pytest.raises(inputs.TiersMissingError,
                       match=r"has no tiers for 2026-12-01: run 'growth score --entity merchant "
                             r"--as-of 2026-12-01' first"):
        build_outreach.run(spark, lake, date(2026, 12, 1), "merchant")


def test_export_writes_one_file_per_team_without_the_holdout(spark, lake, tmp_path):
    got = _list(spark, lake)
    assert len(got) > 0, "runs after the list tests"
    paths = export_outreach.run(spark, lake, D, "csv", tmp_path)
    assert paths == [tmp_path / "outreach_2026-10-31_merchant_growth.csv"]
    written = pd.read_csv(paths[0])
    called = got[~got["holdout"]].reset_index(drop=True)
    assert list(written.columns) == list(EXPORT_COLUMNS)
    assert list(written["entity_id"]) == list(called["entity_id"])
    assert list(written["rank"]) == list(called["rank"])
    assert list(written["reason_1"]) == [r[0] for r in called["reasons"]]
    # A rerun overwrites the file and leaves nothing else behind; Parquet keeps the holdout
    # when asked, one row per listed entity.
    export_outreach.run(spark, lake, D, "csv", tmp_path)
    again = export_outreach.run(spark, lake, D, "parquet", tmp_path, "merchant_growth",
                                include_holdout=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "outreach_2026-10-31_merchant_growth.csv", "outreach_2026-10-31_merchant_growth.parquet"]
    full = pd.read_parquet(again[0])
    assert list(full["entity_id"]) == list(got["entity_id"])
    assert list(full["holdout"]) == list(got["holdout"])


def test_export_names_what_exists_when_nothing_matches(spark, lake, tmp_path):
    with pytest.raises(export_outreach.NothingToExportError,
                       match=r"no outreach list for team 'creator_growth' on 2026-10-31; "
                             r"teams with a list that day: merchant_growth"):
        export_outreach.run(spark, lake, D, "csv", tmp_path, "creator_growth")
    days = sorted({str(r.as_of_date) for r in spark.table(lake.table("outreach_lists"))
                   .select("as_of_date").collect()}, reverse=True)
    assert "2026-10-31" in days
    with pytest.raises(export_outreach.NothingToExportError,
                       match=r"no outreach list was published for 2026-01-01; latest days "
                             rf"with a list: {', '.join(days)} \(run 'growth outreach"):
        export_outreach.run(spark, lake, date(2026, 1, 1), "csv", tmp_path)
    assert not list(tmp_path.iterdir())


def test_an_unknown_uplift_learner_is_named_before_anything_is_read():
    from growth.errors import GrowthError
    from growth.jobs.config import load_config

    cfg = dataclasses.replace(load_config({}), outreach_uplift_learner="s")
    with pytest.raises(GrowthError, match="GROWTH_OUTREACH_UPLIFT_LEARNER is 's': use one of "
                                          "t, x, linear, response, auto"):
        build_outreach.effect_model(None, cfg, "creator", date(2026, 10, 31))
