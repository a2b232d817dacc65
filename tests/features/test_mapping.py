"""Mapping files onto the source contract: parsing, typing, the derived sources."""

from __future__ import annotations

import pytest
from pyspark.testing import assertDataFrameEqual

from growth.features.mapping import (
    MappingError,
    contract_sources,
    parse_mapping,
    standardize,
)

TRANSACTIONS = {
    "name": "shop", "kind": "transactions", "inputs": {"items": "items.csv"},
    "columns": {"entity": "seller", "time": "sold_at", "amount": "price",
                "order_id": "order", "product": "sku", "category": "cat"},
    "time_format": "dd/MM/yyyy HH:mm",
}


def test_a_mapping_without_a_required_role_names_it_and_its_meaning():
    raw = {**TRANSACTIONS, "columns": {k: v for k, v in TRANSACTIONS["columns"].items()
                                       if k not in ("amount", "time")}}
    with pytest.raises(MappingError, match=r"time \(when the line was sold.*amount \(amount"):
        parse_mapping(raw, "shop.yaml")


def test_unknown_roles_kinds_and_keys_are_rejected():
    with pytest.raises(MappingError, match="'price' is not a role|price is not a role"):
        parse_mapping({**TRANSACTIONS, "columns": {**TRANSACTIONS["columns"], "price": "x"}},
                      "m")
    with pytest.raises(MappingError, match="'kind' must be one of"):
        parse_mapping({**TRANSACTIONS, "kind": "orders"}, "m")
    with pytest.raises(MappingError, match="unknown key"):
        parse_mapping({**TRANSACTIONS, "colums": {}}, "m")
    with pytest.raises(MappingError, match="followers or followers_gained"):
        parse_mapping({"kind": "entity_stats", "inputs": {"a": "a.csv"},
                       "columns": {"entity": "c", "time": "t"}}, "m")
    with pytest.raises(MappingError, match="several inputs need a 'from'"):
        parse_mapping({**TRANSACTIONS, "inputs": {"a": "a.csv", "b": "b.csv"}}, "m")


def test_transactions_become_merchants_products_and_orders(spark):
    mapping = parse_mapping(TRANSACTIONS, "m")
    raw = spark.createDataFrame(
        [("m1", "01/03/2018 10:00", "10.5", "o1", "p1", "toys"),
         ("m1", "01/03/2018 10:00", "4", "o1", "p2", "toys"),
         ("m2", "02/03/2018 23:59", "7", "o2", "p1", "books"),
         ("m2", "not a date", "7", "o3", "p1", "books"),
         ("m3", "03/03/2018 00:00", "seven", "o4", "p3", None)],
        "seller string, sold_at string, price string, order string, sku string, cat string",
    )
    rows = standardize(raw, mapping)
    problems = sorted(r[0] for r in rows.select("__unreadable_role").collect() if r[0])
    assert problems == ["amount", "time"]

    sources = contract_sources(rows, "transactions")
    assertDataFrameEqual(sources["merchants"], spark.createDataFrame([
        ("m1", "m1", "toys", "unknown", "en", "2018-03-01 10:00:00", "2018-03-01 10:00:00",
         "2018-03-01"),
        ("m2", "m2", "books", "unknown", "en", "2018-03-02 23:59:00", "2018-03-02 23:59:00",
         "2018-03-02"),
    ], "merchant_id string, merchant_name string, category string, region string, "
       "language string, joined_at string, updated_at string, batch_date string"))
    # p1 belongs to the first merchant that sold it; its price is the mean of its lines.
    assertDataFrameEqual(sources["products"], spark.createDataFrame([
        ("p1", "m1", "toys", "8.75", "2018-03-01 10:00:00", "2018-03-01 10:00:00",
         "2018-03-01"),
        ("p2", "m1", "toys", "4.0", "2018-03-01 10:00:00", "2018-03-01 10:00:00",
         "2018-03-01"),
    ], "product_id string, merchant_id string, category string, list_price string, "
       "created_at string, updated_at string, batch_date string"))
    orders = sources["orders"].select("order_id", "line_id", "merchant_id", "buyer_id",
                                      "amount", "quantity", "status", "batch_date")
    assertDataFrameEqual(orders, spark.createDataFrame([
        ("o1", "1", "m1", "o1", "10.5", "1", "placed", "2018-03-01"),
        ("o1", "2", "m1", "o1", "4.0", "1", "placed", "2018-03-01"),
        ("o2", "1", "m2", "o2", "7.0", "1", "placed", "2018-03-02"),
    ], "order_id string, line_id string, merchant_id string, buyer_id string, "
       "amount string, quantity string, status string, batch_date string"))


def test_weekly_gains_become_a_running_follower_count(spark):
    mapping = parse_mapping({
        "kind": "entity_stats", "inputs": {"w": "w.csv"},
        "columns": {"entity": "name", "time": "day", "followers_gained": "subs",
                    "views": "greatest(try_cast(views AS bigint), 0)"},
    }, "m")
    raw = spark.createDataFrame(
        [("a", "2020-01-05", "100", "50"), ("a", "2020-01-12", "-30", "-5"),
         ("a", "2020-01-19", "20", "NA"), ("b", "2020-01-12", "5", "9")],
        "name string, day string, subs string, views string")
    sources = contract_sources(standardize(raw, mapping), "entity_stats")
    assertDataFrameEqual(sources["creator_daily_stats"], spark.createDataFrame([
        ("2020-01-05", "a", "100", "0", "50", "0", "0", "2020-01-05"),
        ("2020-01-12", "a", "70", "0", "0", "0", "0", "2020-01-12"),
        # 'NA' views: the mapping's greatest(..., 0) reads them as 0.
        ("2020-01-19", "a", "90", "0", "0", "0", "0", "2020-01-19"),
        ("2020-01-12", "b", "5", "0", "9", "0", "0", "2020-01-12"),
    ], "date string, creator_id string, followers string, posts string, views string, "
       "likes string, live_minutes string, batch_date string"))


def test_leads_become_merchants_and_one_enrolment_each(spark):
    mapping = parse_mapping({
        "kind": "leads", "inputs": {"l": "l.csv"},
        "columns": {"entity": "id", "time": "first", "converted_at": "won",
                    "campaign": "page", "category": "origin"},
    }, "m")
    raw = spark.createDataFrame(
        [("l1", "2018-01-02", "2018-02-01 10:00:00", "pg1", "social"),
         ("l2", "2018-01-03", None, "pg1", None)],
        "id string, first string, won string, page string, origin string")
    sources = contract_sources(standardize(raw, mapping), "leads")
    events = sources["outreach_events"].select(
        "event_id", "campaign_id", "arm", "enrolled_at", "onboarded", "onboarded_at",
        "batch_date")
    assertDataFrameEqual(events, spark.createDataFrame([
        ("l1", "pg1", "contacted", "2018-01-02 00:00:00", "true", "2018-02-01 10:00:00",
         "2018-02-01"),
        ("l2", "pg1", "contacted", "2018-01-03 00:00:00", "false", None, "2018-01-03"),
    ], "event_id string, campaign_id string, arm string, enrolled_at string, "
       "onboarded string, onboarded_at string, batch_date string"))
    assert sorted(r.category for r in sources["merchants"].collect()) == ["social", "unknown"]
