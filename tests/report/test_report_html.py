"""The report page: every section drawn from literal frames, and Chromium renders it."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from growth.report.html import Campaign, Outcomes, ReportData, render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _data(with_outcomes: bool = True) -> ReportData:
    rng = np.random.default_rng(3)
    tiers = pd.DataFrame({
        "entity": ["merchant"] * 6 + ["creator"] * 3,
        "tier": ["S", "A", "A", "B", "D", "new", "A", "C", "C"],
        "previous_tier": ["A", "A", "B", "B", "C", None, "A", "B", None],
    })
    probability = rng.uniform(size=200)
    outcomes = [Outcomes("merchant", date(2026, 9, 30), pd.DataFrame({
        "probability": probability, "outcome": (rng.uniform(size=200) < probability).astype(int),
    }))] if with_outcomes else []
    campaign = [Campaign("creator", "c-7", pd.DataFrame({
        "score": rng.uniform(size=100), "treated": rng.integers(0, 2, 100),
        "outcome": rng.integers(0, 2, 100)}))] if with_outcomes else []
    return ReportData(
        as_of=date(2026, 10, 31), tiers=tiers, outcomes=outcomes, campaigns=campaign,
        importance=pd.DataFrame({"entity": ["merchant"] * 3, "feature": ["gmv_sum_90d",
                                 "tenure_days", "gmv_growth_30d"], "gain": [9.0, 3.0, 1.5]}),
        quality=pd.DataFrame({"table_name": ["growth.merchant_tiers"], "suite": ["tiers"],
                              "checks": [12], "passed": [12], "errors": [0], "warnings": [0]}),
        freshness=pd.DataFrame({"target_table": ["growth.merchant_tiers"], "fresh": [True]}),
        waiting={"outcomes": "merchants: the first scored day is 2026-10-31; its outcomes are "
                             "known 30 days later"},
    )


def test_every_section_has_its_plot_or_says_what_it_waits_for():
    page = render(_data())
    for heading in ("Tier distribution", "Tier migration", "Lift, gain and calibration",
                    "Qini curve", "Feature importance", "Data quality", "Freshness"):
        assert f"<h2>{heading}" in page
    # tiers, migration, lift/gain/calibration, Qini, importance
    assert page.count("<svg") == 5
    assert "growth.merchant_tiers" in page

    waiting = render(_data(with_outcomes=False))
    assert waiting.count("<svg") == 3
    assert "its outcomes are known 30 days later" in waiting
    assert "no closed campaign with a control group" in waiting


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: .ci/run installs it "
                    "(apt-get install chromium)")
def test_the_page_renders_in_headless_chromium(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render(_data()))
    shot = tmp_path / "shot.png"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1280,2400", f"--screenshot={shot}", page.as_uri()],
        check=True, timeout=120, capture_output=True,
    )
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[:2] == (2400, 1280)
    # Not blank: far from one colour, with the plots' own colours in it (the tier bars'
    # dark green and the importance bars' blue).
    colours = {tuple(p) for p in pixels.reshape(-1, 3)[::7]}
    assert len(colours) > 200
    non_white = (pixels < 240).any(axis=2).mean()
    assert non_white > 0.03
