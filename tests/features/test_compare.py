"""row_differences: the key-by-key comparison behind incremental = full recompute."""

from __future__ import annotations

from pyspark.testing import assertDataFrameEqual

from growth.features.compare import row_differences


def test_differences_name_the_key_and_the_first_differing_column(spark):
    ddl = "k string, d date, x double, n bigint"
    actual = spark.createDataFrame([
        ("same", None, 906.8999999999999, 1),   # summation-order noise only
        ("off", None, 1.0, 1),                   # a real difference in x
        ("null", None, None, 2),                 # null against a value
        ("extra", None, 1.0, 1),
    ], ddl)
    expected = spark.createDataFrame([
        ("same", None, 906.9, 1),
        ("off", None, 1.001, 1),
        ("null", None, 0.0, 2),
        ("missing", None, 1.0, 1),
    ], ddl)
    got = row_differences(actual, expected, ["k", "d"])
    assertDataFrameEqual(
        got,
        [("off", None, "x"), ("null", None, "x"), ("extra", None, "extra"),
         ("missing", None, "missing")],
        checkRowOrder=False,
    )
    assert row_differences(actual, actual, ["k", "d"]).count() == 0
