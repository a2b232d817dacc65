"""Contract enforcement for raw batches: typing, reason codes, foreign keys, latest version.

Grain: one row per raw row in, one row out; nothing is dropped here. The caller splits the
annotated frame into accepted rows (no reason, latest version), duplicates (no reason, an
older or identical version of a key) and quarantined rows (at least one reason).

Reason codes (``_reject_reason`` holds the first, ``_reject_reasons`` all of them):

- ``null_key:<col>``          a key column is null or blank
- ``malformed_key:<col>``     a key does not match ``KEY_PATTERN``
- ``unparseable_value:<col>`` a value that cannot be read as the column's type
- ``missing_value:<col>``     a required column is null or blank
- ``out_of_range:<col>``      below the minimum (e.g. a negative amount) or above the maximum
- ``not_allowed:<col>``       a value outside the column's allowed set
- ``future_event_time``       the event time is after the end of the batch date (UTC)
- ``unknown_<col>``           a foreign key that no parent row has
- ``unknown_entity``          an (entity_type, entity_id) naming no known merchant or creator
- a row rule's own reason     e.g. ``impossible_status``, ``impossible_dates``
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from growth.errors import GrowthError
from growth.features.contracts import ENTITY_REF_REASON, KEY_PATTERN, SourceContract

BATCH_DATE = "_batch_date"
RAW = "_raw"
ROW_HASH = "_row_hash"
ENTITY_PARENT = "__entity__"
"""Key of ``parent_keys`` holding the (entity_type, entity_id) pairs known to exist."""
REASONS = "_reject_reasons"
REASON = "_reject_reason"
VERSION_RANK = "_version_rank"


class MissingColumnsError(GrowthError, ValueError):
    """The batch lacks required contract columns; nothing may be written."""

    def __init__(self, source: str, missing: Iterable[str]) -> None:
        self.source = source
        self.missing = sorted(missing)
        super().__init__(
            f"source '{source}': required column(s) missing from the batch: "
            f"{', '.join(self.missing)}. Add them to the raw files (see docs/sources.md); "
            "nothing was written."
        )


def split_columns(columns: Iterable[str], contract: SourceContract) -> list[str]:
    """Return the batch's columns the contract does not know; raise if any it needs is absent."""
    present = set(columns) - {BATCH_DATE}
    missing = set(contract.column_names) - present
    if missing:
        raise MissingColumnsError(contract.name, missing)
    return sorted(present - set(contract.column_names))


def _blank(c: Column) -> Column:
    return c.isNull() | (F.trim(c.cast("string")) == "")


def _typed(raw_col: str, dtype: str) -> Column:
    text = F.trim(F.col(raw_col).cast("string"))
    # Blank strings are absent values, not parse failures.
    return F.when(text == "", F.lit(None)).otherwise(F.expr(f"try_cast(`{raw_col}` AS {dtype})"))


def _end_of_batch_day() -> Column:
    return F.to_timestamp(F.date_add(F.col(BATCH_DATE), 1))


def annotate_batch(
    raw: DataFrame, contract: SourceContract, parent_keys: Mapping[str, DataFrame]
) -> DataFrame:
    """Type a raw batch and attach every reason it breaks the contract.

    Reads: the contract columns (any type, strings welcome) and ``_batch_date`` (date).
    ``parent_keys`` maps each foreign-key column to a one-column frame of known parent keys,
    and, for contracts with an ``entity_ref``, ``ENTITY_PARENT`` to a frame of known
    (entity_type, entity_id) pairs.
    Writes: the typed contract columns, ``_batch_date``, ``_raw`` (the row as received, JSON),
    ``_row_hash`` (SHA-256 of the typed row), ``_reject_reasons`` (array) and
    ``_reject_reason`` (the first reason, null for a valid row).
    """
    # Fails fast on missing columns; extra columns survive only inside ``_raw``.
    split_columns(raw.columns, contract)
    original = [c for c in raw.columns if c != BATCH_DATE]
    pre = {c.name: f"__raw_{c.name}" for c in contract.columns}
    df = raw.select(
        F.col(BATCH_DATE).cast("date").alias(BATCH_DATE),
        F.struct(*[F.col(c) for c in original]).alias("__original"),
        *[F.col(c.name).alias(pre[c.name]) for c in contract.columns],
    )
    df = df.select(
        "*", *[_typed(pre[c.name], c.dtype).alias(c.name) for c in contract.columns]
    )

    checks: list[Column] = []
    for key in contract.keys:
        checks.append(F.when(_blank(F.col(pre[key])), F.lit(f"null_key:{key}")))
        if contract.column(key).dtype == "string":
            checks.append(
                F.when(
                    ~_blank(F.col(pre[key])) & ~F.col(key).rlike(KEY_PATTERN),
                    F.lit(f"malformed_key:{key}"),
                )
            )
    for spec in contract.columns:
        raw_c, typed_c = F.col(pre[spec.name]), F.col(spec.name)
        checks.append(
            F.when(~_blank(raw_c) & typed_c.isNull(), F.lit(f"unparseable_value:{spec.name}"))
        )
        if not spec.nullable and spec.name not in contract.keys:
            checks.append(F.when(_blank(raw_c), F.lit(f"missing_value:{spec.name}")))
        if spec.min_value is not None:
            checks.append(
                F.when(typed_c < F.lit(spec.min_value), F.lit(f"out_of_range:{spec.name}"))
            )
        if spec.max_value is not None:
            checks.append(
                F.when(typed_c > F.lit(spec.max_value), F.lit(f"out_of_range:{spec.name}"))
            )
        if spec.allowed is not None:
            checks.append(
                F.when(~typed_c.isin(*spec.allowed), F.lit(f"not_allowed:{spec.name}"))
            )
    if contract.event_time is not None:
        event = F.col(contract.event_time).cast("timestamp")
        checks.append(F.when(event >= _end_of_batch_day(), F.lit("future_event_time")))
    for rule in contract.row_rules:
        checks.append(F.when(~F.coalesce(F.expr(rule.predicate), F.lit(True)), F.lit(rule.reason)))

    for fk_col in sorted(contract.foreign_keys):
        marker = f"__known_{fk_col}"
        parents = parent_keys[fk_col]
        known = parents.select(F.col(parents.columns[0]).alias(fk_col)).distinct()
        df = df.join(known.withColumn(marker, F.lit(True)), on=fk_col, how="left")
        checks.append(
            F.when(F.col(fk_col).isNotNull() & F.col(marker).isNull(), F.lit(f"unknown_{fk_col}"))
        )

    if contract.entity_ref is not None:
        type_col, id_col = contract.entity_ref
        known = parent_keys[ENTITY_PARENT].toDF(type_col, id_col).distinct()
        df = df.join(known.withColumn("__known_entity", F.lit(True)), [type_col, id_col], "left")
        checks.append(
            F.when(
                F.col(type_col).isNotNull() & F.col(id_col).isNotNull()
                & F.col("__known_entity").isNull(),
                F.lit(ENTITY_REF_REASON),
            )
        )

    reasons = F.filter(F.array(*checks), lambda r: r.isNotNull())
    typed_cols = [F.col(c) for c in contract.column_names]
    out = df.select(
        *typed_cols,
        F.col(BATCH_DATE),
        "__original",
        # A 64-bit hash is plenty to tell versions of one key apart.
        F.xxhash64(*typed_cols).alias(ROW_HASH),
        reasons.alias(REASONS),
    )
    # Serialising the row as received is only worth it for rows bound for quarantine.
    raw_json = F.when(F.size(REASONS) > 0, F.to_json(F.col("__original")))
    return out.select(
        *typed_cols,
        BATCH_DATE,
        raw_json.alias(RAW),
        ROW_HASH,
        REASONS,
        F.get(F.col(REASONS), 0).alias(REASON),
    )


def version_order(contract: SourceContract) -> tuple[str, str, str]:
    """Columns that order the versions of a key, most significant first."""
    return (contract.version_column, BATCH_DATE, ROW_HASH)


def rank_versions(annotated: DataFrame, contract: SourceContract) -> DataFrame:
    """Add ``_version_rank``: 1 for the latest valid version of each key, 2.. for older ones.

    Latest means the newest ``version_column`` (so an old version that arrives late never
    overwrites a newer one), then the latest batch (latest ingestion wins a tie), then the
    greatest row hash (a deterministic tie-break between different rows of one batch).
    Rejected rows get a null rank: they are not versions of anything.
    """
    window = Window.partitionBy("__valid", *contract.keys).orderBy(
        *[F.col(c).desc() for c in version_order(contract)]
    )
    return (
        annotated.withColumn("__valid", F.col(REASON).isNull())
        .withColumn(VERSION_RANK, F.when(F.col("__valid"), F.row_number().over(window)))
        .drop("__valid")
    )


def newer_than_target(contract: SourceContract, source: str = "s", target: str = "t") -> str:
    """MERGE condition under which an incoming row replaces the stored version of its key."""
    order = version_order(contract)
    incoming = ", ".join(f"{source}.`{c}`" for c in order)
    stored = ", ".join(f"{target}.`{c}`" for c in order)
    return f"struct({incoming}) > struct({stored})"


def accepted_rows(ranked: DataFrame, contract: SourceContract) -> DataFrame:
    """The latest valid version of each key, as stored in silver.

    Grain: one row per key. Columns: the contract columns, ``_batch_date``, ``_row_hash``.
    """
    return ranked.where(F.col(VERSION_RANK) == 1).select(
        *contract.column_names, BATCH_DATE, ROW_HASH
    )


def quarantine_rows(ranked: DataFrame, source: str, run_id: str) -> DataFrame:
    """Rejected rows as stored in quarantine.

    Grain: one row per rejected raw row. Columns: source, batch_date, reason_code (the code
    of the first reason), reason, reasons, raw (the row as received, JSON), run_id.
    """
    return ranked.where(F.col(REASON).isNotNull()).select(
        F.lit(source).alias("source"),
        F.col(BATCH_DATE).alias("batch_date"),
        F.split(F.col(REASON), ":").getItem(0).alias("reason_code"),
        F.col(REASON).alias("reason"),
        F.col(REASONS).alias("reasons"),
        F.col(RAW).alias("raw"),
        F.lit(run_id).alias("run_id"),
    )
