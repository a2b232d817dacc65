"""Training, the registry and scoring, on a synthetic training set with a known signal.

The training set and snapshots are written directly (the feature store's own jobs are tested
in test_feature_store_jobs): merchants whose GMV will rise are those with many clicks and a
high conversion, which no single-feature rule baseline sees, so a model must beat them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from growth.errors import GrowthError, UntrainableError
from growth.features.registry import feature_names, label_columns
from growth.jobs import delta_io, model_registry, model_settings, score, train_models
from growth.jobs.model_registry import RegistryError
from growth.models import backtest as bt
from growth.models import metrics
from growth.models.scoring import Champions, score_batch

AS_OF = date(2026, 10, 31)
CUTOFFS = [AS_OF - timedelta(days=14 * k) for k in range(8, 0, -1)]
ENTITIES = 400


def snapshot(cutoff: date, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = ENTITIES
    frame = pd.DataFrame({name: rng.gamma(2.0, 50.0, n) for name in feature_names("merchant")})
    frame.insert(0, "merchant_id", [f"m{i:04d}" for i in range(n)])
    frame.insert(1, "as_of_date", cutoff)
    frame["gmv_growth_30d"] = np.where(rng.random(n) < 0.2, np.nan, rng.gamma(2, 0.5, n))
    frame["tenure_days"] = rng.integers(0, 700, n).astype(float)
    frame["rating_mean_90d"] = rng.uniform(3, 5, n)
    frame["late_delivery_rate_90d"] = rng.uniform(0, 0.2, n)
    frame["failed_delivery_rate_90d"] = rng.uniform(0, 0.06, n)
    return frame


def labelled(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 1000)
    n = len(frame)
    drive = np.log1p(frame["clicks_sum_30d"]) * np.log1p(frame["conversion_30d"])
    future = np.exp(0.8 * (drive - drive.mean()) + 0.3 * rng.normal(size=n)) * 100
    future[rng.random(n) < 0.3] = 0.0
    out = frame.copy()
    out["horizon_days"] = 90
    out["past_value"] = frame["gmv_sum_90d"]
    out["future_value"] = future
    out["future_orders"] = (future / 20).astype("int64")
    out["future_active_days"] = np.minimum(future / 10, 90).astype("int32")
    out["grew"] = future >= 2 * out["past_value"]
    rank = pd.Series(future).rank(method="min").to_numpy() - 1
    out["future_value_rank"] = rank / (n - 1)
    out["reached_top_tier"] = (future > 0) & (out["future_value_rank"] >= 0.8)
    out["onboarded_after_outreach"] = False
    assert [c.name for c in label_columns("merchant")] == list(out.columns[-9:])
    return out


@pytest.fixture(scope="module")
def lake(spark, cfg, tmp_path_factory):
    mcfg = dataclasses.replace(cfg, lake_root=tmp_path_factory.mktemp("model-lake"),
                               database="mdl", train_every_days=14, train_cutoffs=8,
                               backtest_folds=3, label_horizon_days=28, model_trees=60)
    spark.sql("CREATE DATABASE IF NOT EXISTS mdl")
    training = pd.concat([labelled(snapshot(c, k), k) for k, c in enumerate(CUTOFFS)])
    delta_io.overwrite(spark, spark.createDataFrame(training), mcfg.table("merchant_training_set"))
    return mcfg


def test_first_training_registers_champions_that_beat_the_baselines(spark, lake):
    reports = train_models.train(spark, lake, AS_OF, "merchant")
    assert [r.splitlines()[0].split(" backtest")[0] for r in reports] == [
        "merchant_value", "merchant_potential"]
    churn = next(line for line in reports[0].splitlines() if line.startswith("tier churn"))
    with_h, without_h = (float(p.rstrip("%")) for p in churn.split() if p.endswith("%"))
    assert "(7 steps, in-sample scores)" in churn and 0 <= with_h <= without_h <= 100, churn
    rows = {r.model_name: r for r in model_registry.versions(spark, lake)}
    assert {n: (r.version, r.status) for n, r in rows.items()} == {
        "merchant_value": (1, "champion"), "merchant_potential": (1, "champion")}
    potential = rows["merchant_potential"]
    baselines = json.loads(potential.baseline_metrics)
    assert set(baselines) == {"trailing value 30d", "trailing value 90d", "growth ratio 30d"}
    assert all(potential.primary_value > b["roc_auc"] for b in baselines.values())
    assert potential.training_set_version == delta_io.current_version(
        spark, lake.table("merchant_training_set"))
    assert potential.training_cutoffs == 8
    assert set(potential.metrics) >= {"roc_auc", "pr_auc", "precision_at_100", "brier", "ece"}
    assert set(rows["merchant_value"].metrics) >= {"normalized_gini", "max_decile_gap"}
    assert list(potential.features) == list(feature_names("merchant"))


def test_a_rerun_adds_nothing_retraining_stays_a_challenger_then_promote_and_rollback(
    spark, lake
):
    # A retried task (same data, same day) finds its models registered and adds no version.
    reports = train_models.train(spark, lake, AS_OF, "merchant")
    assert all("nothing added" in r.splitlines()[-1] for r in reports), reports
    assert {(r.model_name, r.version) for r in model_registry.versions(spark, lake)} == {
        ("merchant_value", 1), ("merchant_potential", 1)}
    # The next week's training of the same spec does not beat the champion by the margin.
    train_models.train(spark, lake, AS_OF + timedelta(days=7), "merchant")
    status = {(r.model_name, r.version): r.status for r in model_registry.versions(spark, lake)}
    assert status[("merchant_potential", 2)] == "challenger"
    assert status[("merchant_potential", 1)] == "champion"
    model_registry.promote(spark, lake, "merchant_potential", 2)
    assert model_registry.champion(spark, lake, "merchant_potential").version == 2
    assert model_registry.rollback(spark, lake, "merchant_potential") == (2, 1)
    champions = [r for r in model_registry.versions(spark, lake, "merchant_potential")
                 if r.status == "champion"]
    assert [r.version for r in champions] == [1]
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        model_registry.rollback(spark, lake, "merchant_potential")
    with pytest.raises(RegistryError, match="no version 9"):
        model_registry.promote(spark, lake, "merchant_potential", 9)
    with pytest.raises(RegistryError, match="already the champion"):
        model_registry.promote(spark, lake, "merchant_potential", 1)


def test_scoring_publishes_tiers_and_the_potential_list(spark, lake):
    features = lake.table("merchant_features")
    for day, seed in ((AS_OF, 50), (AS_OF + timedelta(days=1), 50)):
        frame = snapshot(day, seed)
        if day > AS_OF:  # the next day: scores move a little
            frame["clicks_sum_30d"] *= np.random.default_rng(7).uniform(0.9, 1.1, len(frame))
        delta_io.replace_dates(spark, spark.createDataFrame(frame), features, "as_of_date", [day])
    first = score.run(spark, lake, AS_OF, "merchant")
    assert first == {"merchant_tiers": ENTITIES, "potential_scores": first["potential_scores"]}
    tiers = spark.table(lake.table("merchant_tiers")).toPandas()
    assert tiers["previous_tier"].isna().all()
    counts = tiers["tier"].value_counts()
    assert set(counts.index) <= {"S", "A", "B", "C", "D", "new"}
    assert counts.get("new", 0) == (tiers["merchant_id"].isin(
        snapshot(AS_OF, 50).query("tenure_days < 30")["merchant_id"])).sum()
    assert (tiers["reasons"].map(len) <= 3).all() and tiers["reasons"].map(len).max() == 3
    assert not tiers.loc[~tiers["eligible"], "tier"].isin(["S", "A", "B"]).any()
    potential = spark.table(lake.table("potential_scores")).toPandas()
    assert len(potential) == first["potential_scores"] == tiers["tier"].isin(
        ["C", "D", "new"]).sum()
    assert sorted(potential["rank"]) == list(range(1, len(potential) + 1))
    top = potential.sort_values("rank")
    assert top["probability"].is_monotonic_decreasing
    assert potential["probability"].between(0, 1).all()

    score.run(spark, lake, AS_OF + timedelta(days=1), "merchant")
    second = spark.table(lake.table("merchant_tiers")).where(
        f"as_of_date = DATE'{AS_OF + timedelta(days=1)}'").toPandas()
    joined = second.merge(tiers[["merchant_id", "tier"]], on="merchant_id", suffixes=("", "_d"))
    assert (joined["previous_tier"] == joined["tier_d"]).all()
    message = spark.table(lake.table("run_log")).where("job = 'score'").orderBy(
        "finished_at", ascending=False).first().message
    with_h, without_h = [float(p.rstrip("%")) for p in
                         message.replace(",", "").split() if p.endswith("%")]
    assert with_h <= without_h


def test_scoring_without_a_snapshot_or_a_champion_says_what_to_do(spark, lake):
    with pytest.raises(GrowthError, match=r"no snapshot for 2026-12-25: build it first"):
        score.run(spark, lake, date(2026, 12, 25), "merchant")
    with pytest.raises(RegistryError, match="no champion model for creator_value: train"):
        model_registry.load_champion(spark, lake, "creator_value")


def test_an_outcome_that_never_varies_stops_training_and_names_the_measure(spark, lake):
    # A creator dataset without affiliate sales (YouTube statistics): every future_value is 0.
    frame = pd.DataFrame({"creator_id": ["c1", "c2", "c1"], "as_of_date": [CUTOFFS[0]] * 2 +
                          [CUTOFFS[1]], "future_value": [0.0, 0.0, 0.0]})
    delta_io.overwrite(spark, spark.createDataFrame(frame), lake.table("creator_training_set"))
    with pytest.raises(UntrainableError, match=r"future_value is 0.0 for all 3 rows, so there is "
                       r"nothing to learn: a creator's value is its affiliate_gmv"):
        train_models.train(spark, lake, AS_OF, "creator")
    assert not [r for r in model_registry.versions(spark, lake) if r.model_name.startswith(
        "creator")]


@pytest.fixture(scope="module")
def spark_lake(spark, cfg, tmp_path_factory):
    """The same training set, with the driver's row limit below its 3,200 rows.

    Every xgboost.spark fit costs about 3 s of barrier synchronisation whatever its size, so
    the fits are few: 20 trees, one backtest fold. Its 84-day horizon leaves that fold two
    training cutoffs (the potential's calibration then uses row folds), while the final fit
    has all eight (folds of whole cutoffs): both calibration paths run.
    """
    scfg = dataclasses.replace(cfg, lake_root=tmp_path_factory.mktemp("spark-model-lake"),
                               database="mdl_spark", train_every_days=14, train_cutoffs=8,
                               backtest_folds=1, label_horizon_days=84, model_trees=20,
                               spark_training_rows=1_000)
    spark.sql("CREATE DATABASE IF NOT EXISTS mdl_spark")
    training = pd.concat([labelled(snapshot(c, k), k) for k, c in enumerate(CUTOFFS)])
    delta_io.overwrite(spark, spark.createDataFrame(training), scfg.table("merchant_training_set"))
    return scfg, training


def test_above_the_row_limit_training_runs_on_xgboost_spark(spark, spark_lake, caplog):
    lake, training = spark_lake
    with caplog.at_level(logging.INFO, logger="growth.jobs"):
        reports = train_models.train(spark, lake, AS_OF, "merchant")
    assert "3200 rows > GROWTH_SPARK_TRAINING_ROWS=1000, training with xgboost.spark" in caplog.text
    assert f"fold {CUTOFFS[-1]}: training on 2 cutoff(s), 800 rows" in caplog.text
    assert [r.splitlines()[0] for r in reports] == [
        f"merchant_{kind} backtest: 1 out-of-time folds, {rows:,} rows, trained with "
        "xgboost.spark on 2 worker(s)"
        for kind, rows in (("value", 3200), ("potential", len(bt.potential_population(
            training, model_settings.tier_shares(lake)["B"]))))]
    message = spark.table(lake.table("run_log")).where("job = 'train_models'").first().message
    assert message == ("value v1 champion; potential v1 champion; 3,200 training rows trained "
                       "with xgboost.spark on 2 worker(s)")

    rows = {r.model_name: r for r in model_registry.versions(spark, lake)}
    potential, value = rows["merchant_potential"], rows["merchant_value"]
    # The synthetic signal (clicks x conversion) is found, out of time, beyond every rule.
    assert potential.metrics["roc_auc"] > 0.8
    assert all(potential.primary_value > b["roc_auc"]
               for b in json.loads(potential.baseline_metrics).values())
    assert 0 <= potential.metrics["ece"] < 0.1
    assert value.metrics["normalized_gini"] > 0.3
    assert value.training_rows == 3200 and potential.training_cutoffs == 8

    # The registered boosters load from the store and score like any driver-trained model.
    models = {kind: model_registry.load_champion(spark, lake, f"merchant_{kind}")
              for kind in ("value", "potential")}
    champions = Champions(models["value"][0], models["value"][1],
                          models["potential"][0], models["potential"][1])
    frame = labelled(snapshot(AS_OF, 77), 77).assign(previous_tier=None)
    scored = score_batch(frame, "merchant_id", champions, model_settings.units("merchant"),
                         model_settings.gates(lake, "merchant"))
    assert len(scored) == ENTITIES and (scored["score"] >= 0).all()
    assert scored["potential_probability"].between(0, 1).all()
    assert scored["value_reasons"].map(len).max() == 3
    assert metrics.roc_auc(frame["reached_top_tier"], scored["potential_raw"]) > 0.8
    assert metrics.normalized_gini(frame["future_value"], scored["score"]) > 0.3


def test_without_promotion_winners_wait_as_candidates_until_the_promote_step(
        spark, lake, tmp_path_factory):
    """The training DAG's train step (--no-promote) then its promote step, run twice."""
    own = dataclasses.replace(lake, lake_root=tmp_path_factory.mktemp("candidate-lake"),
                              database="mdl_candidates")
    spark.sql("CREATE DATABASE IF NOT EXISTS mdl_candidates")
    delta_io.overwrite(spark, spark.table(lake.table("merchant_training_set")),
                       own.table("merchant_training_set"))
    reports = train_models.run(spark, own, AS_OF, "merchant", rebuild=False, promote=False)
    assert all("to be promoted by the promote step" in r.splitlines()[-1] for r in reports)

    def statuses():
        return {(r.model_name, r.version): r.status
                for r in model_registry.versions(spark, own)}

    assert statuses() == {("merchant_value", 1): "candidate",
                          ("merchant_potential", 1): "candidate"}
    with pytest.raises(RegistryError, match="no champion model for merchant_value"):
        model_registry.load_champion(spark, own, "merchant_value")
    assert model_registry.promote_candidates(spark, own, "merchant", AS_OF) == [
        "merchant_value: v1 promoted to champion",
        "merchant_potential: v1 promoted to champion"]
    assert statuses() == {("merchant_value", 1): "champion",
                          ("merchant_potential", 1): "champion"}
    # A retried promote step finds nothing left to promote and keeps the champions.
    assert model_registry.promote_candidates(spark, own, "merchant", AS_OF) == [
        f"merchant_{kind}: champion v1 kept (no candidate trained for {AS_OF} beat it)"
        for kind in ("value", "potential")]
    assert model_registry.promote_candidates(spark, own, "creator", AS_OF) == [
        f"creator_{kind}: no champion and no candidate for {AS_OF}; 'growth models list' "
        "shows why the trained versions were not promoted" for kind in ("value", "potential")]
