"""Compare two versions of a table: the rows whose values differ, key by key.

Used to prove that an incremental build equals a full recompute. Grain of the output: one
row per key present in only one frame or holding a different value in some column. Doubles
are equal within a relative tolerance (sums taken in another order differ in the last
bits); HLL sketches are compared by their estimate (sketches of one set can differ in
bytes); everything else must be equal, nulls included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def _same(field_type: str, name: str, rtol: float, approx: Mapping[str, float]) -> Column:
    a, b = F.col(f"a.`{name}`"), F.col(f"b.`{name}`")
    if name.endswith("_sketch"):
        a, b = F.hll_sketch_estimate(a), F.hll_sketch_estimate(b)
    if name in approx:
        field_type, rtol = "double", approx[name]
        a, b = a.cast("double"), b.cast("double")
    if field_type in ("double", "float"):
        close = F.abs(a - b) <= F.lit(rtol) * F.greatest(F.abs(a), F.abs(b), F.lit(1.0))
        return (a.isNull() & b.isNull()) | F.coalesce(close, F.lit(False))
    return a.eqNullSafe(b)


def row_differences(
    actual: DataFrame,
    expected: DataFrame,
    keys: Sequence[str],
    rtol: float = 1e-9,
    approx: Mapping[str, float] | None = None,
) -> DataFrame:
    """Keys whose rows differ between ``actual`` and ``expected`` (same columns), with a
    ``differs`` column naming the first differing column (``missing``/``extra`` for rows
    in one frame only). ``approx`` gives columns their own relative tolerance: distinct
    counts estimated from a union of HLL sketches depend, within the sketch's error, on the
    order the sketches were merged in."""
    approx = approx or {}
    if actual.columns != expected.columns:
        raise ValueError(f"columns differ: {actual.columns} vs {expected.columns}")
    on = [F.col(f"a.`{k}`").eqNullSafe(F.col(f"b.`{k}`")) for k in keys]
    joined = actual.alias("a").join(expected.alias("b"), on, "full_outer")
    first_a, first_b = F.col(f"a.`{keys[0]}`"), F.col(f"b.`{keys[0]}`")
    differs = F.when(first_a.isNull(), F.lit("missing")).when(first_b.isNull(), F.lit("extra"))
    for field in actual.schema.fields:
        if field.name not in keys:
            differs = differs.when(~_same(field.dataType.typeName(), field.name, rtol, approx),
                                   F.lit(field.name))
    return joined.select(
        *[F.coalesce(F.col(f"a.`{k}`"), F.col(f"b.`{k}`")).alias(k) for k in keys],
        differs.alias("differs"),
    ).where(F.col("differs").isNotNull())
