"""Every suite accepts a good literal frame and rejects a deliberately bad one, naming why."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from pyspark.sql import functions as F

from growth.expectations import drift, rules, suites
from growth.expectations.drift import profile
from growth.expectations.validate import (
    ERROR,
    WARN,
    DataQualityError,
    validate,
    validate_or_raise,
)
from growth.features.contracts import MERCHANTS
from growth.features.registry import FEATURES, MERCHANT_DAILY, feature_names, label_columns
from tests.features import frames

D = date(2026, 10, 31)


def failed(results):
    """(description, column, severity, observed) of every failed check."""
    return [(r.description, r.column, r.severity, r.observed) for r in results if not r.success]


def test_row_rules_and_keys_report_each_rule_with_counts_and_offending_values(spark):
    df = spark.createDataFrame(
        [("a", 1.0, "x"), ("b", -2.0, "y"), ("b", None, "z"), ("c", -0.5, None)],
        "k string, v double, s string",
    ).cache()
    checks = rules.build("demo", [
        *rules.keys(["k"]),
        rules.between("v", 0, None),
        rules.allowed("s", ["x", "y"]),
        *rules.not_null(["v"], WARN),
    ])

    results = validate(df, checks)

    assert [(r.description, r.column, r.severity, r.success, r.observed) for r in results] == [
        ("never null", "k", ERROR, True, "0 rows"),
        ("values at least 0", "v", ERROR, False,
         "2 of 4 rows (50%), offending values from -2.0 to -0.5"),
        ("values in the allowed set (x, y)", "s", ERROR, False,
         "1 of 4 rows (25%), offending values z"),
        ("never null", "v", WARN, False, "1 of 4 rows (25%)"),
        ("one row per key (k)", None, ERROR, False, "1 unexpected row(s): k=b, copies=2"),
    ]
    with pytest.raises(DataQualityError) as raised:
        validate_or_raise(df, checks, "growth.demo")
    message = str(raised.value)
    assert message.startswith("data-quality gate failed for growth.demo: 3 blocking check(s)")
    assert "values at least 0 [v]" in message and "offending values from -2.0 to -0.5" in message
    assert "never null [v]" not in message  # a warning never blocks
    assert len(raised.value.results) == 5


def test_offending_values_are_computed_only_for_broken_rules_and_never_hide_a_verdict(spark):
    df = spark.createDataFrame([(1.0,), (-3.0,)], "v double").cache()
    broken_detail = rules.RowRule("values at least 0", "v", ERROR, "COUNT_IF(v < 0)",
                                  lowest="MIN(no_such_column)", highest="MAX(v)")
    passing_detail = rules.RowRule("values at most 5", "v", ERROR, "COUNT_IF(v > 5)",
                                   lowest="MIN(no_such_column)", highest="MAX(v)")
    # The passing rule's (invalid) detail is never evaluated; the broken one's fails, and
    # the verdict stands without the examples.
    results = validate(df, rules.build("detail", [passing_detail]))
    assert failed(results) == []
    results = validate(df, rules.build("detail", [broken_detail, passing_detail]))
    assert failed(results) == [("values at least 0", "v", ERROR, "1 of 2 rows (50%)")]


def test_a_clean_frame_passes_every_check_and_an_empty_frame_passes_row_rules(spark):
    checks = rules.build("demo", [*rules.keys(["k"]), rules.between("v", 0, 1)])
    good = spark.createDataFrame([("a", 0.0), ("b", 1.0)], "k string, v double")
    empty = spark.createDataFrame([], "k string, v double")
    assert failed(validate(good, checks)) == []
    assert failed(validate(empty, checks)) == []


def batch_frame(spark, days: dict[date, tuple[int, int]]):
    """A ranked batch: per day, (good rows, rejected rows)."""
    rows = []
    for day, (good, bad) in days.items():
        rows += [(f"o{day}-{i}", day, None) for i in range(good)]
        rows += [(f"x{day}-{i}", day, "out_of_range:amount") for i in range(bad)]
    return spark.createDataFrame(rows, "order_id string, _batch_date date, _reject_reason string")


def batch_suite(first=D - timedelta(days=2), previous=10.0, source="orders"):
    from growth.features.contracts import CONTRACTS

    return suites.source_batch(CONTRACTS[source], D, first, previous, 0.5, 0.05)


@pytest.mark.parametrize(("days", "previous", "expected"), [
    pytest.param({D - timedelta(days=k): (10, 0) for k in range(3)}, 10.0, [], id="good"),
    pytest.param({}, 10.0, [
        ("the orders batch is not empty", None, ERROR, "0"),
        ("newest _batch_date is the run date 2026-10-31", "_batch_date", ERROR, "None"),
        ("a row for every _batch_date from 2026-10-29 to 2026-10-31", "_batch_date", ERROR,
         "missing 2026-10-29, 2026-10-30, 2026-10-31"),
    ], id="empty batch"),
    pytest.param({D - timedelta(days=2): (10, 0), D: (10, 0)}, 10.0, [
        ("a row for every _batch_date from 2026-10-29 to 2026-10-31", "_batch_date", ERROR,
         "missing 2026-10-30"),
    ], id="missing day"),
    pytest.param({D - timedelta(days=2): (10, 0), D - timedelta(days=1): (10, 0)}, 10.0, [
        ("newest _batch_date is the run date 2026-10-31", "_batch_date", ERROR,
         "2026-10-30"),
        ("a row for every _batch_date from 2026-10-29 to 2026-10-31", "_batch_date", ERROR,
         "missing 2026-10-31"),
    ], id="stale"),
    pytest.param({D - timedelta(days=k): (1, 0) for k in range(3)}, 10.0, [
        ("rows per _batch_date at least 5 (50% of the previous 10)", None, ERROR,
         "3 unexpected row(s): _batch_date=2026-10-29, row_count=1; _batch_date=2026-10-30, "
         "row_count=1; _batch_date=2026-10-31, row_count=1"),
    ], id="volume drop of 90%"),
    pytest.param({D - timedelta(days=k): (30, 0) for k in range(3)}, 10.0, [
        ("rows per _batch_date at most 20 (previous 10)", None, WARN,
         "3 unexpected row(s): _batch_date=2026-10-29, row_count=30; _batch_date=2026-10-30, "
         "row_count=30; _batch_date=2026-10-31, row_count=30"),
    ], id="volume rise is a warning"),
    pytest.param({D - timedelta(days=k): (8, 2) for k in range(3)}, 10.0, [
        ("rows quarantined at most 5% of the batch", "_reject_reason", ERROR,
         "6 of 30 rows (20.0%), most often out_of_range:amount"),
    ], id="quarantine share"),
])
def test_source_batch_suite(spark, days, previous, expected):
    results = validate(batch_frame(spark, days).cache(), batch_suite(previous=previous))
    assert failed(results) == expected


def test_a_sparse_source_is_only_held_to_its_quarantine_share(spark):
    suite = batch_suite(first=None, source="reviews")
    assert failed(validate(batch_frame(spark, {}), suite)) == []
    assert failed(validate(batch_frame(spark, {D: (1, 1)}), suite)) == [
        ("rows quarantined at most 5% of the batch", "_reject_reason", ERROR,
         "1 of 2 rows (50.0%), most often out_of_range:amount"),
    ]


def merchants(spark, rows):
    return spark.createDataFrame(
        [(*r, date(2026, 5, 1), 1) for r in rows],
        f"{MERCHANTS.ddl}, `_batch_date` date, `_row_hash` bigint",
    )


def test_silver_suite_checks_the_contract_again_before_the_merge(spark):
    t = datetime(2026, 1, 1)
    good = merchants(spark, [("m1", "M", "toys", "north", "en", t, t),
                             ("m2", None, "toys", "south", "pt", t, t)])
    bad = merchants(spark, [("m1", None, "toys", "north", "en", t, t),
                            ("m1", None, None, "north", "en", t, t)])
    suite = suites.silver(MERCHANTS)
    assert failed(validate(good, suite)) == []
    assert failed(validate(bad, suite)) == [
        ("not null on every row", "merchant_name", WARN, "2 of 2 rows (100%)"),
        ("never null", "category", ERROR, "1 of 2 rows (50%)"),
        ("one row per key (merchant_id)", None, ERROR, "1 unexpected row(s): merchant_id=m1, copies=2"),
    ]


def test_daily_suite_blocks_negative_measures_duplicates_stale_days_and_schema_drift(spark):
    good = frames.daily(spark, "merchant", [
        dict(merchant_id="m1", date=D, gmv=10.0, orders=1.0),
        dict(merchant_id="m2", date=D, gmv=5.0, orders=1.0),
    ])
    suite = suites.daily(MERCHANT_DAILY, D, good.schema, 2.0, 0.5)
    assert failed(validate(good, suite)) == []

    bad = frames.daily(spark, "merchant", [
        dict(merchant_id="m1", date=D - timedelta(days=1), gmv=-10.0),
        dict(merchant_id="m1", date=D - timedelta(days=1), gmv=5.0),
    ])
    assert failed(validate(bad, suite)) == [
        ("values at least 0", "gmv", ERROR, "1 of 2 rows (50%), offending values -10.0"),
        ("newest date is the run date 2026-10-31", "date", ERROR, "2026-10-30"),
        # No row on the run date at all: a volume drop to zero, not a pass.
        ("rows per date at least 1 (50% of the previous 2)", "date", ERROR,
         "0 rows on 2026-10-31"),
        ("one row per key (merchant_id, date)", None, ERROR,
         "1 unexpected row(s): merchant_id=m1, date=2026-10-30, copies=2"),
    ]

    # Type drift: the schema check names it, and rules that cannot be evaluated fail closed.
    drifted = validate(good.withColumn("orders", F.col("orders").cast("string")), suite)
    assert ("column has its declared type double", "orders", ERROR, "StringType") \
        in failed(drifted)
    assert not any(r.success for r in drifted if r.expectation == "row_rule")


def feature_frame(spark, n: int, scale: float = 1.0, as_of: date = D):
    """``n`` merchants with spread-out feature values (shares in [0, 1])."""
    names = feature_names("merchant")
    units = {f.name: f.unit for f in FEATURES["merchant"]}
    rows = []
    for i in range(n):
        values = []
        for name in names:
            if units[name] == "share":
                values.append(i / (2 * n))
            elif units[name] == "stars":
                values.append(1.0 + 4.0 * i / n)
            else:
                values.append(float(i) * (scale if name.startswith("gmv") else 1.0))
        rows.append((f"m{i}", as_of, *values))
    ddl = ", ".join(["merchant_id string", "as_of_date date"] + [f"`{n}` double" for n in names])
    return spark.createDataFrame(rows, ddl)


def features_suite(reference, schema=None, previous=40.0):
    return suites.features("merchant", "merchant_id", D, schema, previous, 0.5, reference,
                           0.25, 1.0)


def test_features_suite_passes_a_steady_snapshot_and_blocks_a_unit_change(spark):
    names = list(feature_names("merchant"))
    yesterday = feature_frame(spark, 40, as_of=D - timedelta(days=1))
    reference = profile(yesterday, names, D - timedelta(days=1))
    assert failed(validate(feature_frame(spark, 40), features_suite(reference))) == []

    # GMV re-expressed in cents: every gmv feature lands in the top bin, and only they move.
    cents = feature_frame(spark, 40, scale=100.0)
    results = validate(cents, features_suite(reference))
    psi = [r for r in results if r.description.startswith("population stability index")]
    assert len(psi) == 2 * len(names)  # every feature, at both severities, pass or fail
    gmv_features = sorted(n for n in names if n.startswith("gmv"))
    against = "against the snapshot of 2026-10-30"
    assert sorted((r.column, r.severity, r.description) for r in psi if not r.success) == sorted(
        [(n, WARN, f"population stability index at most 0.25 {against}") for n in gmv_features]
        + [(n, ERROR, f"population stability index at most 1 {against} (a unit change or a "
                      "broken feed)") for n in gmv_features])
    moved = {r.column: float(r.observed) for r in psi if not r.success}
    assert min(moved.values()) > 1.0
    # The PSI is kept for the features that did not move too: zero, same bins.
    assert {float(r.observed) for r in psi if r.success} == {0.0}
    assert failed(results) == [
        (r.description, r.column, r.severity, r.observed) for r in psi if not r.success]


def test_large_snapshots_are_profiled_and_compared_on_a_repeatable_sample(spark, monkeypatch):
    monkeypatch.setattr(drift, "SAMPLE_ROWS", 100)
    names = list(feature_names("merchant"))
    yesterday = feature_frame(spark, 400, as_of=D - timedelta(days=1))
    reference = profile(yesterday, names, D - timedelta(days=1), rows=400)
    assert 60 < reference.rows < 140  # about a quarter of the 400 rows was profiled
    assert profile(yesterday, names, D - timedelta(days=1), rows=400) == reference

    def psi(frame):
        results = validate(frame, features_suite(reference, previous=400.0))
        return {(r.column, r.severity): r for r in results
                if r.description.startswith("population stability index")}

    steady = psi(feature_frame(spark, 400))
    assert all(r.success and "on a 25.00% sample" in r.description for r in steady.values())
    assert max(float(r.observed) for r in steady.values()) < 0.25
    cents = psi(feature_frame(spark, 400, scale=100.0))
    assert sorted(c for (c, s), r in cents.items() if s == ERROR and not r.success) == sorted(
        n for n in names if n.startswith("gmv"))


def test_features_suite_blocks_out_of_range_nulls_and_a_filled_column_gone_null(spark):
    names = list(feature_names("merchant"))
    reference = profile(feature_frame(spark, 40), names, D - timedelta(days=1))
    bad = (feature_frame(spark, 40)
           .withColumn("late_delivery_rate_90d", F.lit(1.5))
           .withColumn("orders_count_30d", F.lit(None).cast("double"))
           .withColumn("rating_mean_90d", F.lit(None).cast("double")))
    results = failed(validate(bad, features_suite(reference)))
    descriptions = [(d, c, s) for d, c, s, _ in results]
    assert ("never null", "orders_count_30d", ERROR) in descriptions
    assert ("values between 0 and 1", "late_delivery_rate_90d", ERROR) in descriptions
    assert ("non-null share at least 25% (a quarter of 100% on 2026-10-30)", "rating_mean_90d",
            ERROR) in descriptions


def test_features_suite_blocks_a_volume_drop_of_90_percent(spark):
    results = failed(validate(feature_frame(spark, 4), features_suite(None, previous=40.0)))
    assert results == [(
        "rows per as_of_date at least 20 (50% of the previous 40)", "as_of_date", ERROR,
        "4 rows on 2026-10-31",
    )]


def labels_frame(spark, rows):
    ddl = "merchant_id string, as_of_date date, " + ", ".join(
        f"`{c.name}` {t}" for c, t in zip(label_columns("merchant"), (
            "int", "double", "double", "bigint", "bigint", "boolean", "double", "boolean",
            "boolean"), strict=True))
    return spark.createDataFrame(rows, ddl)


def test_labels_suite_blocks_a_wrong_horizon_and_out_of_range_outcomes(spark):
    cutoff = D - timedelta(days=90)
    suite = suites.labels("merchant", "merchant_id", cutoff, 90, None, None, 0.5)
    good = labels_frame(spark, [("m1", cutoff, 90, 10.0, 30.0, 3, 5, True, 1.0, True, False)])
    bad = labels_frame(spark, [("m1", cutoff, 30, -1.0, 30.0, 3, 95, None, 1.0, True, False)])
    assert failed(validate(good, suite)) == []
    assert [(d, c) for d, c, _, _ in failed(validate(bad, suite))] == [
        ("never null", "grew"),
        ("values between 90 and 90", "horizon_days"),
        ("values at least 0", "past_value"),
        ("values between 0 and 90", "future_active_days"),
    ]


def test_training_set_suite_requires_every_cutoff(spark):
    cutoffs = [D - timedelta(days=120), D - timedelta(days=90)]
    rows = labels_frame(spark, [("m1", cutoffs[1], 90, 1.0, 1.0, 1, 1, False, 0.5, False, False)])
    results = failed(validate(rows, suites.training_set("merchant", "merchant_id", cutoffs)))
    assert [d for d, _, _, _ in results] == ["every requested cutoff present, and no other"]


def tiers_frame(spark, rows):
    return spark.createDataFrame(
        rows, "merchant_id string, as_of_date date, tier string, previous_tier string, "
              "score double")


def test_tiers_suite_blocks_a_tier_outside_the_set(spark):
    suite = suites.tiers("merchant", "merchant_id", D, None, None, 0.5)
    good = tiers_frame(spark, [("m1", D, "S", None, 9.0), ("m2", D, "new", "D", 0.0)])
    bad = tiers_frame(spark, [("m1", D, "Gold", "S", 9.0), ("m2", D, "A", "Z", -1.0)])
    assert failed(validate(good, suite)) == []
    assert [(d, c, o) for d, c, _, o in failed(validate(bad, suite))] == [
        ("values in the allowed set (A, B, C, D, S, new)", "tier", "1 of 2 rows (50%), offending values Gold"),
        ("values in the allowed set (A, B, C, D, S, new)", "previous_tier", "1 of 2 rows (50%), offending values Z"),
        ("values at least 0", "score", "1 of 2 rows (50%), offending values -1.0"),
    ]


def test_potential_scores_suite_blocks_duplicate_and_gapped_ranks(spark):
    ddl = "entity_type string, entity_id string, as_of_date date, probability double, rank int"
    good = spark.createDataFrame([("merchant", "m1", D, 0.9, 1), ("merchant", "m2", D, 0.5, 2),
                                  ("creator", "c1", D, 0.7, 1)], ddl)
    bad = spark.createDataFrame([("merchant", "m1", D, 0.9, 1), ("merchant", "m2", D, 1.2, 1),
                                 ("creator", "c1", D, 0.7, 2)], ddl)
    suite = suites.potential_scores(D, None)
    assert failed(validate(good, suite)) == []
    assert [(d, o) for d, _, _, o in failed(validate(bad, suite))] == [
        ("values between 0 and 1", "1 of 3 rows (33.3%), offending values 1.2"),
        ("rank unique and running 1..n without gaps within (as_of_date, entity_type)",
         "2 unexpected row(s): as_of_date=2026-10-31, entity_type=creator, rows=1, distinct_ranks=1, "
         "first_rank=2, last_rank=2; as_of_date=2026-10-31, entity_type=merchant, rows=2, "
         "distinct_ranks=1, first_rank=1, last_rank=1"),
    ]


def outreach_frame(spark, rows):
    return spark.createDataFrame(
        rows, "as_of_date date, campaign string, rank int, entity_type string, entity_id string, "
              "manager_id string, tier string, holdout boolean")


def test_outreach_suite_blocks_suppressed_entities_and_managers_over_capacity(spark):
    suite = suites.outreach_lists(D, None, [("merchant", "m9")], {"am1": 2, "am2": 1})
    good = outreach_frame(spark, [
        (D, "grow", 1, "merchant", "m1", "am1", "A", False),
        (D, "grow", 2, "merchant", "m2", "am1", "B", False),
        (D, "grow", 3, "merchant", "m3", "am1", "B", True),  # holdout: uses no capacity
        (D, "grow", 4, "creator", "c1", "am2", "S", False),
    ])
    bad = outreach_frame(spark, [
        (D, "grow", 1, "merchant", "m9", "am1", "A", False),
        (D, "grow", 2, "merchant", "m2", "am2", "B", False),
        (D, "grow", 3, "creator", "c1", "am2", "S", False),
        (D, "grow", 4, "creator", "c2", "am7", "S", False),
    ])
    assert failed(validate(good, suite)) == []
    assert [(d, o) for d, _, _, o in failed(validate(bad, suite))] == [
        ("no suppressed entity listed", "1 unexpected row(s): entity_type=merchant, entity_id=m9"),
        ("no account manager over capacity",
         "2 unexpected row(s): manager_id=am2, assigned=2, capacity=1; manager_id=am7, "
         "assigned=1, capacity=None"),
    ]


def test_range_overrides_name_real_features_and_win_over_the_unit():
    names = {f.name for fs in FEATURES.values() for f in fs}
    assert set(suites.RANGE_OVERRIDES) <= names
    assert suites.feature_range("follower_growth_30d", "followers") == (None, None)
    assert suites.feature_range("followers_latest", "followers") == (0.0, None)
    assert suites.feature_range("gmv_slope_8w", "currency per week") == (None, None)
    assert suites.feature_range("cancel_rate_90d", "share") == (0.0, None)
    assert suites.feature_range("late_delivery_rate_90d", "share") == (0.0, 1.0)
