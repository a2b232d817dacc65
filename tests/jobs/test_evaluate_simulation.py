"""Scoring models against the simulator's ground truth: the lake check, the true labels and
the verdict."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd
import pytest

from growth.errors import GrowthError
from growth.jobs import delta_io
from growth.jobs.evaluate_simulation import (
    SimulationMismatchError,
    check_simulation,
    evaluate,
    report,
    truth_labels,
)
from growth.layout import GROUND_TRUTH_TABLE
from growth.models.backtest import Fold
from growth.sim.marketplace import Simulation, expected_daily_value, generate
from growth.sim.profiles import PROFILES
from tests.helpers import fresh_lake

END = date(2026, 10, 31)
SIM = Simulation(PROFILES["small"], 7, END)


@pytest.fixture(scope="module")
def lake(spark, cfg, tmp_path_factory):
    lake = fresh_lake(spark, cfg, "sim_eval", tmp_path_factory.mktemp("sim_eval"))
    delta_io.overwrite(spark, generate(spark, SIM)["ground_truth"],
                       lake.table(GROUND_TRUTH_TABLE))
    return lake


def test_only_the_simulation_that_made_the_lake_is_accepted(spark, lake):
    check_simulation(spark, lake, SIM)
    with pytest.raises(SimulationMismatchError, match="seed 8.*pass the --profile, --seed"):
        check_simulation(spark, lake, Simulation(PROFILES["small"], 8, END))


def test_a_lake_without_ground_truth_or_training_set_says_what_to_run(spark, cfg, lake, tmp_path):
    bare = fresh_lake(spark, cfg, "sim_eval_bare", tmp_path)
    with pytest.raises(GrowthError, match="not made by 'growth simulate'"):
        check_simulation(spark, bare, SIM)
    with pytest.raises(GrowthError, match="merchant_training_set does not exist.*growth train"):
        evaluate(spark, lake, SIM, "merchant")
    with pytest.raises(GrowthError, match=r"--sample must be in \(0, 1\], got 0"):
        evaluate(spark, lake, SIM, "merchant", sample=0)


@pytest.mark.parametrize("entity", ["merchant", "creator"])
def test_true_labels_are_the_top_share_of_expected_future_value(spark, lake, entity):
    cutoffs = [END - timedelta(days=40), END - timedelta(days=30)]
    key = f"{entity}_id"
    got = truth_labels(spark, lake, SIM, entity, cutoffs).toPandas()

    # The same rule, computed independently: per cutoff, every entity joined by then, its
    # expected value over the next horizon, in the top share by rank (ties share the lowest).
    daily = expected_daily_value(spark, SIM).where(f"entity_type = '{entity}'").toPandas()
    joined = spark.table(lake.table(GROUND_TRUTH_TABLE)).where(
        f"entity_type = '{entity}'").toPandas()
    frames = []
    for cutoff in cutoffs:
        horizon = (daily["date"] > cutoff) & (
            daily["date"] <= cutoff + timedelta(days=lake.label_horizon_days))
        future = daily[horizon].groupby("entity_id")["expected_value"].sum()
        members = joined[joined["joined_at"].dt.date <= cutoff]["entity_id"]
        value = members.map(future).fillna(0.0).to_numpy()
        rank = (pd.Series(value).rank(method="min").to_numpy() - 1) / (len(value) - 1)
        frames.append(pd.DataFrame({
            key: members.to_numpy(), "as_of_date": cutoff,
            "true_reached_top_tier": (value > 0) & (rank >= 1 - lake.label_top_share),
            "expected_future_value": value,
        }))
    want = pd.concat(frames).sort_values([key, "as_of_date"]).reset_index(drop=True)
    got = got.sort_values([key, "as_of_date"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-9)
    assert 0 < want["true_reached_top_tier"].sum() < len(want)


def _fold(test: date, auc: float, rule_auc: float) -> Fold:
    nan = math.nan
    return Fold(test, [test - timedelta(days=90)], 100, 5, {"roc_auc": auc, "brier": nan},
                {"trailing value 30d": {"roc_auc": rule_auc, "brier": nan}})


def test_the_verdict_needs_the_target_and_every_baseline_beaten():
    folds = [_fold(date(2026, 9, 3), 0.9, 0.6)]
    met = report("merchant", "champion v1", 100, folds, {"roc_auc": 0.9, "brier": 0.01},
                 {"trailing value 30d": {"roc_auc": 0.6, "brier": math.nan}}, 30)
    assert met.splitlines()[-2:] == [
        "  fold 2026-09-03: 100 rows, 5 truly reach the top tier; ROC-AUC 0.9000",
        "target: ROC-AUC >= 0.85 and above every rule baseline: met (ROC-AUC 0.9000)",
    ]
    low = report("merchant", "champion v1", 100, folds, {"roc_auc": 0.84, "brier": 0.01},
                 {"trailing value 30d": {"roc_auc": 0.6, "brier": math.nan}}, 30)
    assert low.splitlines()[-1] == (
        "target: ROC-AUC >= 0.85 and above every rule baseline: MISSED (ROC-AUC 0.8400)")
    beaten = report("merchant", "champion v1", 100, folds, {"roc_auc": 0.9, "brier": 0.01},
                    {"trailing value 30d": {"roc_auc": 0.95, "brier": math.nan}}, 30)
    assert beaten.splitlines()[-1] == (
        "target: ROC-AUC >= 0.85 and above every rule baseline: MISSED (ROC-AUC 0.9000; "
        "not above trailing value 30d)")
