"""growth import: files + a mapping -> raw batches that ingest accepts; errors that name
the problem."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from growth.features.mapping import MappingError, parse_mapping
from growth.jobs import import_data, ingest, run_dataset
from growth.jobs.import_data import InputMissingError, UnreadableColumnError
from tests.helpers import fresh_lake

MAPPING = {
    "name": "tiny", "kind": "transactions",
    "inputs": {"items": "shop/items.csv", "sellers": "shop/sellers.csv"},
    "from": "items LEFT JOIN sellers USING (seller)",
    "columns": {"entity": "seller", "time": "sold_at", "amount": "price",
                "order_id": "order_no", "region": "state"},
    "settings": {"daily_feeds": ""},
}


@pytest.fixture()
def shop(tmp_path):
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "items.csv").write_text(
        "\ufefforder_no,seller,sold_at,price\n"
        "o1,s1,2018-03-01 10:00:00,10\n"
        "o1,s1,2018-03-01 10:00:00,5\n"
        "o2,s2,2018-03-02 08:00:00,7.5\n"
    )
    (folder / "sellers.csv").write_text("seller,state\ns1,SP\ns2,RJ\n")
    return tmp_path


def test_import_lands_daily_batches_that_ingest_accepts(spark, cfg, shop, tmp_path):
    lake_cfg = fresh_lake(spark, dataclasses.replace(cfg, data_root=shop, daily_feeds=""),
                          "growth_import_test", tmp_path / "lake")
    written = import_data.run(spark, lake_cfg, parse_mapping(MAPPING, "tiny"))
    assert written == {"merchants": 2, "products": 2, "orders": 3}
    batches = sorted(p.name for p in (lake_cfg.raw_root / "orders").glob("batch_date=*"))
    assert batches == ["batch_date=2018-03-01", "batch_date=2018-03-02"]
    # Sources the mapping does not provide are delivered empty, not missing.
    assert (lake_cfg.raw_root / "reviews").is_dir()

    for source in ("merchants", "creators", "products", "orders"):
        counts = ingest.run(spark, lake_cfg, date(2018, 3, 2), source)
        assert counts.quarantined == 0, source
    rows = spark.table("growth_import_test.silver_orders").orderBy("order_id", "line_id") \
        .select("order_id", "line_id", "merchant_id", "amount").collect()
    assert [tuple(r) for r in rows] == [("o1", 1, "s1", 10.0), ("o1", 2, "s1", 5.0),
                                        ("o2", 1, "s2", 7.5)]
    regions = spark.table("growth_import_test.silver_merchants").orderBy("merchant_id") \
        .select("merchant_id", "region").collect()
    assert [tuple(r) for r in regions] == [("s1", "SP"), ("s2", "RJ")]

    # A second import lands the same files: the rerun is idempotent.
    assert import_data.run(spark, lake_cfg, parse_mapping(MAPPING, "tiny")) == written


def test_unreadable_values_over_the_tolerated_share_name_the_role_and_the_fix(
        spark, cfg, shop):
    (shop / "shop" / "items.csv").write_text(
        "order_no,seller,sold_at,price\no1,s1,01/03/2018,10\no2,s1,02/03/2018,5\n")
    lake_cfg = dataclasses.replace(cfg, data_root=shop)
    rows = import_data.mapped_rows(spark, lake_cfg, parse_mapping(MAPPING, "tiny"))
    with pytest.raises(UnreadableColumnError,
                       match=r"role 'time' \(mapped to sold_at\) could not be read in 2 of 2 "
                             r"rows.*Set time_format"):
        import_data.check_readable(rows, parse_mapping(MAPPING, "tiny"))


def test_a_column_the_inputs_lack_and_a_missing_file_are_named(spark, cfg, shop):
    lake_cfg = dataclasses.replace(cfg, data_root=shop)
    wrong = {**MAPPING, "columns": {**MAPPING["columns"], "amount": "paid"}}
    with pytest.raises(MappingError, match=r"(?s)paid.*items: order_no, seller, sold_at, price"):
        import_data.mapped_rows(spark, lake_cfg, parse_mapping(wrong, "tiny"))
    missing = {**MAPPING, "inputs": {**MAPPING["inputs"], "items": "shop/nope.csv"}}
    with pytest.raises(InputMissingError, match=r"nope.csv does not exist.*GROWTH_DATA_ROOT"):
        import_data.mapped_rows(spark, lake_cfg, parse_mapping(missing, "tiny"))


def test_the_shipped_mappings_parse():
    for name in import_data.SHIPPED:
        assert import_data.load_mapping(name).name == name


def test_a_dataset_gets_its_own_lake_its_settings_and_enough_cutoffs_for_the_backtest(cfg):
    base = dataclasses.replace(cfg, lake_root=cfg.lake_root.parent / "lake")
    olist = run_dataset.dataset_config(base, import_data.load_mapping("olist"))
    youtube = run_dataset.dataset_config(base, import_data.load_mapping("youtube"))
    assert (olist.lake_root.name, olist.label_horizon_days) == ("lake-olist", 180)
    assert (youtube.lake_root.name, youtube.label_horizon_days) == ("lake-youtube", 84)
    # 180 days = 6 months before a cutoff can be a fold, then 3 folds; never below 6.
    assert [run_dataset.default_cutoff_count(c) for c in (olist, youtube)] == [9, 6]
    cutoffs = run_dataset.monthly_cutoffs(olist, date(2018, 3, 1), None)
    assert (len(cutoffs), cutoffs[-1]) == (9, date(2017, 9, 2))
    assert all(later - earlier == timedelta(days=30)
               for earlier, later in zip(cutoffs, cutoffs[1:], strict=False))
