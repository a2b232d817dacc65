"""The simulated marketplace: deterministic, contract-clean apart from its junk, believable."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from growth.features.contracts import CONTRACTS
from growth.features.ingest_rules import ENTITY_PARENT, annotate_batch
from growth.layout import SOURCE_ORDER
from growth.sim.marketplace import Simulation, expected_daily_value, generate
from growth.sim.profiles import PROFILES

END = date(2026, 10, 31)
SMALL = PROFILES["small"]


@pytest.fixture(scope="module")
def frames(spark):
    return generate(spark, Simulation(SMALL, 7, END))


def test_same_seed_same_marketplace_other_seed_another(spark, frames):
    again = generate(spark, Simulation(SMALL, 7, END))
    for source in ("merchants", "orders", "creator_daily_stats", "outreach_events"):
        assertDataFrameEqual(again[source], frames[source])
    other = generate(spark, Simulation(SMALL, 8, END))["orders"]
    assert other.exceptAll(frames["orders"]).count() > 0


def test_entity_counts_follow_the_profile_and_every_source_has_rows(frames):
    assert frames["merchants"].count() == SMALL.merchants
    assert frames["creators"].count() == SMALL.creators
    assert frames["account_managers"].count() == SMALL.managers
    truth = frames["ground_truth"]
    assert truth.count() == SMALL.merchants + SMALL.creators
    assert truth.where("latent_potential < 0 OR latent_potential > 1").isEmpty()
    for source in SOURCE_ORDER:
        assert not frames[source].isEmpty(), source
        assert set(CONTRACTS[source].column_names) | {"batch_date"} == set(frames[source].columns)


def test_only_the_injected_junk_breaks_the_contract(spark, frames):
    keys = {s: frames[s].select(CONTRACTS[s].keys[0]) for s in SOURCE_ORDER}
    entities = frames["merchants"].selectExpr("'merchant'", "merchant_id").union(
        frames["creators"].selectExpr("'creator'", "creator_id")
    )
    expected_junk = {
        "out_of_range:amount", "unknown_product_id", "future_event_time",
        "not_allowed:status", "null_key:order_id", "out_of_range:quantity",
    }
    for source in SOURCE_ORDER:
        contract = CONTRACTS[source]
        parents = {col: keys[parent] for col, parent in contract.foreign_keys.items()}
        parents[ENTITY_PARENT] = entities
        raw = frames[source].withColumnRenamed("batch_date", "_batch_date")
        rejected = annotate_batch(raw, contract, parents).where("_reject_reason IS NOT NULL")
        reasons = {r[0] for r in rejected.select("_reject_reason").distinct().collect()}
        if source == "orders":
            assert reasons == expected_junk
            junk_share = rejected.count() / raw.where("status = 'placed'").count()
            assert 0.004 < junk_share < 0.02
        else:
            assert reasons == set(), source


def test_sales_are_heavy_tailed_and_follow_latent_potential(frames):
    gmv = (
        frames["orders"].where("status = 'placed' AND order_id IS NOT NULL AND amount > 0")
        .dropDuplicates(["order_id", "line_id"])
        .groupBy("merchant_id")
        .agg(
            F.sum("amount").alias("gmv"),
            F.sum(F.when(F.col("ordered_at") >= "2026-10-02", F.col("amount"))).alias("late"),
            F.sum(F.when(F.col("ordered_at") < "2026-10-02", F.col("amount"))).alias("early"),
        )
    )
    ranked = gmv.withColumn("r", F.percent_rank().over(Window.orderBy(F.col("gmv").desc())))
    top_share = ranked.agg(
        F.sum(F.when(F.col("r") < 0.1, F.col("gmv"))) / F.sum("gmv")
    ).first()[0]
    assert top_share > 0.3  # a few giants, a long tail
    truth = frames["ground_truth"].where("entity_type = 'merchant'")
    joined = gmv.join(truth, gmv.merchant_id == truth.entity_id).where("early > 0")
    corr = joined.select(
        F.corr(F.log(F.col("late") / F.col("early")), F.col("latent_potential"))
    ).first()[0]
    assert corr > 0.3  # potential shows in the trajectory


def test_expected_values_account_for_what_was_sold(spark, frames):
    """The noise-free expected value per entity and day (the ground truth models are scored
    against) adds up to what the marketplace's draws sold, entity by entity."""
    placed = frames["orders"].where(
        "status = 'placed' AND order_id IS NOT NULL AND amount > 0"
    ).dropDuplicates(["order_id", "line_id"])
    sold = {
        "merchant": placed.groupBy(F.col("merchant_id").alias("entity_id")),
        "creator": placed.where("creator_id IS NOT NULL")
        .groupBy(F.col("creator_id").alias("entity_id")),
    }
    expected = expected_daily_value(spark, Simulation(SMALL, 7, END))
    assert expected.where(
        f"date < DATE'{END - timedelta(days=SMALL.days - 1)}' OR date > DATE'{END}' "
        "OR expected_value < 0"
    ).isEmpty()
    totals = expected.groupBy("entity_type", "entity_id").agg(F.sum("expected_value").alias("e"))
    bounds = {"merchant": (0.9, 1.1, 0.99), "creator": (0.8, 1.2, 0.9)}
    for kind, grouped in sold.items():
        both = totals.where(F.col("entity_type") == kind).join(
            grouped.agg(F.sum("amount").alias("s")), "entity_id", "full")
        # Every entity that sold something was expected to.
        assert both.where("e IS NULL").isEmpty(), kind
        ratio, corr = both.fillna(0.0).agg(F.sum("s") / F.sum("e"), F.corr("s", "e")).first()
        low, high, min_corr = bounds[kind]
        assert low < ratio < high and corr > min_corr, (kind, ratio, corr)


def test_outreach_has_a_randomized_control_and_creators_drive_sales(frames):
    final = frames["outreach_events"].where("onboarded OR updated_at > enrolled_at")
    arms = dict(final.groupBy("arm").count().collect())
    control_share = arms["control"] / (arms["control"] + arms["contacted"])
    assert 0.1 < control_share < 0.3
    assert final.where("arm = 'control' AND responded").isEmpty()
    orders = frames["orders"]
    channels = dict(
        orders.groupBy(F.col("creator_id").isNotNull().alias("credited"))
        .agg(F.collect_set("channel")).collect()
    )
    assert set(channels[True]) == {"video", "live"}
    assert set(channels[False]) == {"shop", "search"}


def test_regenerating_replaces_the_landing_zone_entirely(spark, cfg, tmp_path):
    import dataclasses

    from growth.jobs import simulate
    from growth.jobs.raw import read_batches

    lake = dataclasses.replace(cfg, lake_root=tmp_path, database="sim_regen")
    spark.sql("CREATE DATABASE IF NOT EXISTS sim_regen")
    simulate.run(spark, lake, "small", 7, END)
    # The second window overlaps only part of the first: nothing of the first may remain.
    counts = simulate.run(spark, lake, "small", 7, date(2026, 12, 15))
    landed = read_batches(spark, lake, "account_managers", None, date.max,
                          CONTRACTS["account_managers"].column_names)
    assert counts["account_managers"] == landed.count() == SMALL.managers
    oldest = read_batches(spark, lake, "orders", None, date.max, ("order_id",)).agg(
        F.min("_batch_date")).first()[0]
    assert oldest == date(2026, 12, 15) - timedelta(days=SMALL.days - 1)
