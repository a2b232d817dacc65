"""The look-alike job on a small lake: traits + the day's tiers -> lookalike_scores."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import numpy as np
import pytest
from pyspark.sql import functions as F

from growth.jobs import delta_io, inputs, lookalike
from growth.layout import silver_table
from tests.features.frames import silver
from tests.helpers import fresh_lake

D = date(2026, 10, 31)
MERCHANTS = 240


def _world(seed: int = 5) -> tuple[list[dict], list[dict], list[tuple]]:
    """Merchants whose success comes with a big fashion catalogue; the last 40 joined a
    week ago (tier new), half of them with the successes' traits."""
    rng = np.random.default_rng(seed)
    merchants, products, tiers = [], [], []
    for i in range(MERCHANTS):
        mid = f"m{i:03d}"
        new = i >= MERCHANTS - 40
        alike = (i % 2 == 0) if new else rng.random() < 0.3
        category = "fashion" if alike else str(rng.choice(["toys", "garden"]))
        listed = int(rng.integers(25, 40)) if alike else int(rng.integers(1, 15))
        joined = datetime(2026, 10, 24) if new else datetime(2025, 1, 1)
        merchants.append(dict(merchant_id=mid, category=category, region="north",
                              language="en", joined_at=joined, updated_at=joined))
        products += [dict(product_id=f"{mid}-p{k}", merchant_id=mid, category=category,
                          list_price=float(10 + k), created_at=joined, updated_at=joined)
                     for k in range(listed)]
        tier = "new" if new else ("S" if alike and rng.random() < 0.6 else
                                  str(rng.choice(["B", "C", "D"])))
        tiers.append((mid, D, tier))
    return merchants, products, tiers


@pytest.fixture(scope="module")
def lake(spark, cfg, tmp_path_factory):
    lcfg = fresh_lake(spark, cfg, "lkl", tmp_path_factory.mktemp("lookalike-lake"))
    merchants, products, tiers = _world()
    delta_io.overwrite(spark, silver(spark, "merchants", merchants),
                       lcfg.table(silver_table("merchants")))
    delta_io.overwrite(spark, silver(spark, "products", products),
                       lcfg.table(silver_table("products")))
    delta_io.overwrite(spark, spark.createDataFrame(
        tiers, "merchant_id string, as_of_date date, tier string"), lcfg.table("merchant_tiers"))
    return lcfg


def test_new_merchants_are_ranked_by_how_much_they_look_like_the_successes(spark, lake):
    written = lookalike.run(spark, lake, D, "merchant")
    assert written == 40
    scores = spark.table(lake.table("lookalike_scores")).toPandas().sort_values("rank")
    assert list(scores["rank"]) == list(range(1, 41))
    assert set(scores["entity_type"]) == {"merchant"} and set(scores["as_of_date"]) == {D}
    assert scores["probability"].between(0, 1).all()
    assert scores["probability"].is_monotonic_decreasing
    # The 20 new merchants with the successes' traits (even ids) fill the top 20.
    alike = scores["entity_id"].str[1:].astype(int) % 2 == 0
    assert alike.iloc[:20].all() and not alike.iloc[20:].any()
    assert all(1 <= len(r) <= 3 for r in scores["reasons"].iloc[:20])
    assert any("category fashion" in r or any(x.startswith("products listed") for x in r)
               for r in scores["reasons"].iloc[:20])
    run = spark.table(lake.table("run_log")).where(F.col("job") == "lookalike").first()
    assert run.status == "success" and run.rows_inserted == 40
    assert "held-out ROC-AUC" in run.message and "40 new entities scored" in run.message
    saved = lookalike.artifact_dir(lake, "merchant", D)
    assert saved.is_dir() and any(saved.iterdir())

    # A rerun replaces the day's rows with the same ones.
    before = spark.table(lake.table("lookalike_scores")).toPandas()
    assert lookalike.run(spark, lake, D, "merchant") == 40
    after = spark.table(lake.table("lookalike_scores")).toPandas()
    cols = ["entity_id", "rank", "probability"]
    assert after.sort_values("rank")[cols].equals(before.sort_values("rank")[cols])


def test_without_the_days_tiers_it_says_which_job_to_run_first(spark, lake):
    hint = re.escape("run 'growth score --entity creator --as-of 2026-10-31' first")
    with pytest.raises(inputs.TiersMissingError,
                       match=re.escape(lake.table("creator_tiers")) + " does not exist: " + hint):
        lookalike.run(spark, lake, D, "creator")
    later = D + timedelta(days=1)
    with pytest.raises(inputs.TiersMissingError,
                       match=re.escape(f"{lake.table('merchant_tiers')} has no tiers for {later}")):
        lookalike.run(spark, lake, later, "merchant")


def test_traits_that_tell_nothing_are_published_with_a_warning(spark, lake, caplog):
    """Every creator has the same traits: no ranking can come of them, and the run says so."""
    joined = datetime(2025, 1, 1)
    creators = [dict(creator_id=f"c{i:03d}", category="toys", region="north", language="en",
                     joined_at=joined, updated_at=joined) for i in range(60)]
    delta_io.overwrite(spark, silver(spark, "creators", creators),
                       lake.table(silver_table("creators")))
    tiers = [(c["creator_id"], D, ["S", "C", "D", "new"][i % 4])
             for i, c in enumerate(creators)]
    delta_io.overwrite(spark, spark.createDataFrame(
        tiers, "creator_id string, as_of_date date, tier string"), lake.table("creator_tiers"))
    lookalike.run(spark, lake, D, "merchant")
    merchant_rows = spark.table(lake.table("lookalike_scores")).where(
        F.col("entity_type") == "merchant").toPandas()
    with caplog.at_level("WARNING", logger="growth.jobs.lookalike"):
        assert lookalike.run(spark, lake, D, "creator") == 15
    assert "the ranking is close to chance" in caplog.text
    run = spark.table(lake.table("run_log")).where(
        (F.col("job") == "lookalike") & F.col("message").contains("held-out ROC-AUC 0.5000")
    ).first()
    assert run is not None and "WEAK" in run.message
    # The merchant rows of the same day are untouched by the creator run.
    after = spark.table(lake.table("lookalike_scores")).where(
        F.col("entity_type") == "merchant").toPandas()
    cols = ["entity_id", "rank", "probability"]
    assert len(after) == 40
    assert after.sort_values("rank")[cols].reset_index(drop=True).equals(
        merchant_rows.sort_values("rank")[cols].reset_index(drop=True))


def test_a_day_without_new_entities_publishes_nothing_and_clears_that_days_rows(spark, lake):
    lookalike.run(spark, lake, D, "merchant")
    tiers = lake.table("merchant_tiers")
    spark.sql(f"UPDATE {tiers} SET tier = 'C' WHERE tier = 'new'")
    try:
        assert lookalike.run(spark, lake, D, "merchant") == 0
        assert spark.table(lake.table("lookalike_scores")).where(
            F.col("entity_type") == "merchant").count() == 0
        run = spark.table(lake.table("run_log")).where(F.col("job") == "lookalike").orderBy(
            F.col("finished_at").desc()).first()
        assert run.status == "empty" and "no merchant in tier new" in run.message
    finally:
        spark.sql(f"DELETE FROM {tiers}")
        _, _, rows = _world()
        spark.createDataFrame(rows, "merchant_id string, as_of_date date, tier string") \
            .writeTo(tiers).append()
