"""Traits: point-in-time catalogue, joined-by-the-day population, whole frames."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pyspark.testing import assertDataFrameEqual

from growth.features.traits import entity_traits
from tests.features.frames import silver

D = date(2026, 6, 30)


def merchant(mid: str, joined: str, category: str = "toys", region: str = "north") -> dict:
    return dict(merchant_id=mid, merchant_name=mid.upper(), category=category, region=region,
                language="en", joined_at=joined, updated_at=joined)


def product(pid: str, mid: str, price: float, created: str) -> dict:
    return dict(product_id=pid, merchant_id=mid, category="toys", list_price=price,
                created_at=created, updated_at=created)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_merchant_traits_see_only_what_was_listed_by_the_end_of_the_day(spark):
    merchants = silver(spark, "merchants", [
        {**merchant("m1", ts("2026-01-01 00:00:00"))},
        {**merchant("m2", ts("2026-06-30 23:59:59"), "fashion", "west")},  # joins on D
        {**merchant("late", ts("2026-07-01 00:00:00"))},  # joins after D: absent
        {**merchant("bare", ts("2026-03-01 00:00:00"))},  # nothing listed: 0, null prices
    ])
    products = silver(spark, "products", [
        product("p1", "m1", 10.0, ts("2026-02-01 00:00:00")),
        product("p2", "m1", 30.0, ts("2026-06-30 23:59:59")),  # on D: counted
        product("p3", "m1", 99.0, ts("2026-07-01 00:00:00")),  # after D: not counted
        product("p4", "m2", 5.0, ts("2026-06-30 12:00:00")),
        product("p5", "late", 7.0, ts("2026-06-01 00:00:00")),
    ])
    got = entity_traits("merchant", merchants, [D], products)
    assertDataFrameEqual(got, [
        ("bare", D, "toys", "north", "en", 0, None, None),
        ("m1", D, "toys", "north", "en", 2, 20.0, 30.0),
        ("m2", D, "fashion", "west", "en", 1, 5.0, 5.0),
    ], checkRowOrder=False)
    assert got.columns == ["merchant_id", "as_of_date", "category", "region", "language",
                           "products_listed", "list_price_median", "list_price_max"]
    # Two dates in one pass: each sees only its own past.
    before = date(2026, 6, 29)
    assertDataFrameEqual(entity_traits("merchant", merchants, [D, before], products), [
        ("bare", before, "toys", "north", "en", 0, None, None),
        ("m1", before, "toys", "north", "en", 1, 10.0, 10.0),
        ("bare", D, "toys", "north", "en", 0, None, None),
        ("m1", D, "toys", "north", "en", 2, 20.0, 30.0),
        ("m2", D, "fashion", "west", "en", 1, 5.0, 5.0),
    ], checkRowOrder=False)


def test_creator_traits_and_bad_input(spark):
    creators = silver(spark, "creators", [
        dict(creator_id="c1", category="beauty", region="south", language="pt",
             joined_at=ts("2026-06-30 00:00:00"), updated_at=ts("2026-06-30 00:00:00")),
        dict(creator_id="c2", category="beauty", region="south", language="pt",
             joined_at=ts("2026-07-02 00:00:00"), updated_at=ts("2026-07-02 00:00:00")),
    ])
    assertDataFrameEqual(entity_traits("creator", creators, [D]),
                         [("c1", D, "beauty", "south", "pt")])
    empty = creators.limit(0)
    assert entity_traits("creator", empty, [D]).collect() == []
    merchants = silver(spark, "merchants", [merchant("m1", ts("2026-01-01 00:00:00"))])
    with pytest.raises(ValueError, match="merchant traits need the products table"):
        entity_traits("merchant", merchants, [D])

