"""Your own data onto the source contract: a mapping file names the roles, these transforms
derive the contract's sources from them.

A mapping says which column (or Spark SQL expression over the input columns) plays each role
of one *kind* of input:

- ``transactions``: order lines of merchants -> ``merchants``, ``products``, ``orders``;
- ``entity_stats``: periodic statistics of creators -> ``creators``, ``creator_daily_stats``;
- ``leads``: potential merchants and whether they converted -> ``merchants``,
  ``outreach_events`` (one enrolment per lead, ``onboarded`` when it converted).

Everything here is pure: ``standardize`` types the roles and flags the values it could not
read; the ``*_sources`` functions build one frame per contract source, every value a string
as if it had been delivered as CSV, plus ``batch_date`` (the day of the row's event time: a
history arrives as the daily batches it would have arrived in, so ingest's point-in-time
rules hold and a run for any day sees exactly the data of the days before it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from growth.errors import GrowthError
from growth.features.contracts import CONTRACTS

BATCH_DATE = "batch_date"
PROBLEM = "__unreadable_role"


class MappingError(GrowthError, ValueError):
    """A mapping file is incomplete or names something that does not exist."""


@dataclasses.dataclass(frozen=True)
class Role:
    name: str
    dtype: str  # string | timestamp | double | int | bigint
    required: bool
    default: str | None  # Spark SQL used when the mapping leaves an optional role out
    description: str


def _r(name: str, dtype: str, description: str, default: str | None = None) -> Role:
    return Role(name, dtype, default is None, default, description)


ROLES: dict[str, tuple[Role, ...]] = {
    "transactions": (
        _r("entity", "string", "the merchant (seller) key"),
        _r("time", "timestamp", "when the line was sold: the event time"),
        _r("amount", "double", "amount paid for the line, >= 0"),
        _r("order_id", "string", "order key"),
        _r("line", "int", "line number within the order (default: numbered by time)", "NULL"),
        _r("quantity", "int", "units (default 1)", "1"),
        _r("buyer", "string", "buyer key (default: the order, one buyer per order)", "NULL"),
        _r("product", "string", "product key (default: one product per merchant)", "NULL"),
        _r("category", "string", "product category (default 'unknown')", "'unknown'"),
        _r("region", "string", "the merchant's region (default 'unknown')", "'unknown'"),
        _r("language", "string", "the merchant's contact language (default 'en')", "'en'"),
        _r("channel", "string", "video / live / shop / search (default 'shop')", "'shop'"),
    ),
    "entity_stats": (
        _r("entity", "string", "the creator key"),
        _r("time", "timestamp", "the day the statistics were measured"),
        _r("followers", "bigint", "followers at that time (give this or followers_gained)",
           "NULL"),
        _r("followers_gained", "bigint", "followers gained since the previous row; summed "
           "into a running follower count", "NULL"),
        _r("views", "bigint", "views of the period, >= 0 (default 0)", "0"),
        _r("posts", "int", "posts of the period (default 0)", "0"),
        _r("likes", "bigint", "likes of the period (default 0)", "0"),
        _r("category", "string", "content niche (default 'unknown')", "'unknown'"),
        _r("region", "string", "home region (default 'unknown')", "'unknown'"),
        _r("language", "string", "content language (default 'en')", "'en'"),
    ),
    "leads": (
        _r("entity", "string", "the lead (potential merchant) key"),
        _r("time", "timestamp", "first contact: when the lead entered the funnel"),
        _r("converted_at", "timestamp", "when the lead closed (null: it did not)"),
        _r("campaign", "string", "the campaign or landing page that captured the lead "
           "(default 'leads')", "'leads'"),
        _r("category", "string", "what is known of the lead's segment before it closes "
           "(default 'unknown')", "'unknown'"),
        _r("region", "string", "region (default 'unknown')", "'unknown'"),
        _r("language", "string", "contact language (default 'en')", "'en'"),
    ),
}

SOURCES_OF_KIND: dict[str, tuple[str, ...]] = {
    "transactions": ("merchants", "products", "orders"),
    "entity_stats": ("creators", "creator_daily_stats"),
    "leads": ("merchants", "outreach_events"),
}


@dataclasses.dataclass(frozen=True)
class DatasetMapping:
    """A parsed mapping file. ``inputs`` maps a view name to a path relative to the data
    root; ``source`` is the SQL FROM clause over those views (default: the only input)."""

    name: str
    kind: str
    description: str
    inputs: dict[str, str]
    source: str
    columns: dict[str, str]
    time_format: str | None
    settings: dict[str, str]
    max_unreadable_share: float

    def expression(self, role: Role) -> str:
        return self.columns.get(role.name, role.default)  # type: ignore[return-value]


def parse_mapping(raw: Mapping[str, Any], origin: str) -> DatasetMapping:
    """Check a mapping file's content and return it typed; every error names the fix."""
    if not isinstance(raw, Mapping):
        raise MappingError(f"{origin}: expected a YAML mapping at the top level")
    known = {"name", "kind", "description", "inputs", "from", "columns", "time_format",
             "settings", "max_unreadable_share"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise MappingError(f"{origin}: unknown key(s) {', '.join(unknown)}; "
                           f"known: {', '.join(sorted(known))}")
    kind = raw.get("kind")
    if kind not in ROLES:
        raise MappingError(f"{origin}: 'kind' must be one of {', '.join(ROLES)}, got {kind!r}")
    inputs = raw.get("inputs")
    if not isinstance(inputs, Mapping) or not inputs:
        raise MappingError(f"{origin}: 'inputs' must map a view name to a CSV or Parquet "
                           "path, e.g. inputs: {{items: olist/items.csv}}")
    columns = raw.get("columns")
    if not isinstance(columns, Mapping):
        raise MappingError(f"{origin}: 'columns' must map roles to input columns")
    roles = {r.name: r for r in ROLES[kind]}
    extra = sorted(set(columns) - set(roles))
    if extra:
        raise MappingError(f"{origin}: {', '.join(extra)} is not a role of kind '{kind}'; "
                           f"its roles: {', '.join(roles)}")
    missing = [r.name for r in ROLES[kind] if r.required and not columns.get(r.name)]
    if kind == "entity_stats" and not (columns.get("followers") or
                                       columns.get("followers_gained")):
        missing.append("followers or followers_gained")
    if missing:
        described = "; ".join(
            f"{m} ({roles[m].description})" if m in roles else m for m in missing
        )
        raise MappingError(f"{origin}: role(s) not mapped: {described}. Add them under "
                           "'columns:' as an input column or a Spark SQL expression")
    if len(inputs) > 1 and not raw.get("from"):
        raise MappingError(f"{origin}: several inputs need a 'from' clause that joins them")
    share = float(raw.get("max_unreadable_share", 0.01))
    return DatasetMapping(
        name=str(raw.get("name") or origin),
        kind=kind,
        description=str(raw.get("description", "")).strip(),
        inputs={str(k): str(v) for k, v in inputs.items()},
        source=str(raw.get("from") or next(iter(inputs))),
        columns={str(k): str(v) for k, v in columns.items()},
        time_format=raw.get("time_format"),
        settings={str(k): str(v) for k, v in (raw.get("settings") or {}).items()},
        max_unreadable_share=share,
    )


def _typed(expr: str, role: Role, time_format: str | None) -> Column:
    value = F.expr(expr)
    if role.dtype == "timestamp":
        text = F.trim(value.cast("string"))
        if time_format:
            return F.try_to_timestamp(text, F.lit(time_format))
        return F.try_to_timestamp(text)
    if role.dtype == "string":
        return F.nullif(F.trim(value.cast("string")), F.lit(""))
    # try_cast through double accepts "12.0" for an int column; the integer cast then
    # rejects fractions by comparing back.
    number = F.expr(f"try_cast(trim(cast(({expr}) AS string)) AS double)")
    if role.dtype == "double":
        return number
    whole = number.cast("bigint")
    return F.when(whole == number, whole.cast(role.dtype))


def standardize(frame: DataFrame, mapping: DatasetMapping) -> DataFrame:
    """One column per role of the mapping's kind, typed, plus ``__unreadable_role``: the
    first role whose value was given but could not be read (null when all were read).

    Grain: the input's rows, unchanged. Reads the columns the mapping names.
    """
    cols, problems = [], []
    for role in ROLES[mapping.kind]:
        expr = mapping.expression(role)
        typed = _typed(expr, role, mapping.time_format)
        value = typed
        if role.default not in (None, "NULL") and role.name in mapping.columns:
            # A mapped optional role that is empty on a row takes the role's default.
            value = F.coalesce(typed, _typed(role.default, role, None))
        cols.append(value.alias(role.name))
        given = F.expr(expr)
        if role.dtype != "string":
            given = F.nullif(F.trim(given.cast("string")), F.lit(""))
        problems.append(F.when(given.isNotNull() & typed.isNull(), F.lit(role.name)))
    return frame.select(*cols, F.coalesce(*problems).alias(PROBLEM))


def _as_text(frame: DataFrame, source: str) -> DataFrame:
    """Contract column order, every value a string (timestamps ISO), plus batch_date."""
    contract = CONTRACTS[source]
    out = []
    for column in contract.columns:
        value = F.col(column.name)
        if column.dtype == "timestamp":
            value = F.date_format(value, "yyyy-MM-dd HH:mm:ss")
        out.append(value.cast("string").alias(column.name))
    return frame.select(*out, F.col(BATCH_DATE).cast("string").alias(BATCH_DATE))


def _batch_day(ts: Column) -> Column:
    return F.to_date(ts)


def _mode(column: str) -> Column:
    # Deterministic: the most frequent value, ties to the smallest.
    return F.mode(column, deterministic=True)


def transaction_sources(rows: DataFrame) -> dict[str, DataFrame]:
    """``standardize`` output (kind transactions, readable rows) -> merchants, products,
    orders. A merchant joins with its first sale; a product belongs to the first merchant
    that sold it (a marketplace product sold by several merchants keeps one owner: only
    the orders carry who sold what)."""
    lines = rows.withColumn("buyer", F.coalesce("buyer", "order_id")).withColumn(
        "product", F.coalesce("product", F.concat(F.lit("p-"), "entity"))
    ).withColumn(
        "line",
        F.coalesce(
            "line",
            F.row_number().over(Window.partitionBy("order_id").orderBy("time", "product")),
        ),
    )
    merchants = lines.groupBy("entity").agg(
        _mode("category").alias("category"), _mode("region").alias("region"),
        _mode("language").alias("language"), F.min("time").alias("joined_at"),
    ).select(
        F.col("entity").alias("merchant_id"), F.col("entity").alias("merchant_name"),
        "category", "region", "language", "joined_at", F.col("joined_at").alias("updated_at"),
        _batch_day("joined_at").alias(BATCH_DATE),
    )
    first_sale = Window.partitionBy("product").orderBy("time", "entity")
    products = (
        lines.withColumn("__n", F.row_number().over(first_sale))
        .groupBy("product")
        .agg(
            F.max(F.when(F.col("__n") == 1, F.col("entity"))).alias("merchant_id"),
            F.max(F.when(F.col("__n") == 1, F.col("category"))).alias("category"),
            F.round(F.avg(F.col("amount") / F.col("quantity")), 2).alias("list_price"),
            F.min("time").alias("created_at"),
        )
        .select(F.col("product").alias("product_id"), "merchant_id", "category", "list_price",
                "created_at", F.col("created_at").alias("updated_at"),
                _batch_day("created_at").alias(BATCH_DATE))
    )
    orders = lines.select(
        "order_id", F.col("line").alias("line_id"), F.col("time").alias("ordered_at"),
        F.col("entity").alias("merchant_id"), F.col("buyer").alias("buyer_id"),
        F.col("product").alias("product_id"), F.lit(None).cast("string").alias("creator_id"),
        "channel", "amount", "quantity",
        # Delivery is not part of a plain transaction feed: every line counts as placed.
        F.lit("placed").alias("status"),
        F.to_date("time").alias("promised_delivery_date"),
        F.lit(None).cast("timestamp").alias("delivered_at"),
        F.lit(None).cast("string").alias("delivery_outcome"),
        F.col("time").alias("updated_at"), _batch_day("time").alias(BATCH_DATE),
    )
    return {
        "merchants": _as_text(merchants, "merchants"),
        "products": _as_text(products, "products"),
        "orders": _as_text(orders, "orders"),
    }


def entity_stat_sources(rows: DataFrame) -> dict[str, DataFrame]:
    """``standardize`` output (kind entity_stats) -> creators, creator_daily_stats.

    Rows of the same creator and day are added up (followers: the largest). Without a
    follower count, followers are the running sum of the gains from the first row on: a
    count relative to the start of the data, which is what growth features compare.
    """
    per_day = rows.groupBy("entity", F.to_date("time").alias("date")).agg(
        F.max("followers").alias("followers"), F.sum("followers_gained").alias("gained"),
        F.sum("views").alias("views"), F.sum("posts").alias("posts"),
        F.sum("likes").alias("likes"),
        _mode("category").alias("category"), _mode("region").alias("region"),
        _mode("language").alias("language"),
    )
    running = Window.partitionBy("entity").orderBy("date").rowsBetween(
        Window.unboundedPreceding, Window.currentRow
    )
    stats = per_day.select(
        "date", F.col("entity").alias("creator_id"),
        F.greatest(F.lit(0), F.coalesce("followers", F.sum("gained").over(running)))
        .alias("followers"),
        "posts", "views", "likes", F.lit(0).alias("live_minutes"),
        F.col("date").alias(BATCH_DATE),
    )
    creators = per_day.groupBy("entity").agg(
        _mode("category").alias("category"), _mode("region").alias("region"),
        _mode("language").alias("language"),
        F.to_timestamp(F.min("date")).alias("joined_at"),
    ).select(
        F.col("entity").alias("creator_id"), F.col("entity").alias("creator_name"),
        "category", "region", "language", "joined_at", F.col("joined_at").alias("updated_at"),
        _batch_day("joined_at").alias(BATCH_DATE),
    )
    return {
        "creators": _as_text(creators, "creators"),
        "creator_daily_stats": _as_text(stats, "creator_daily_stats"),
    }


def lead_sources(rows: DataFrame) -> dict[str, DataFrame]:
    """``standardize`` output (kind leads) -> merchants (one per lead, joined at first
    contact) and outreach_events (one contacted enrolment per lead; onboarded when it
    converted). A lead seen twice keeps its first contact."""
    first = Window.partitionBy("entity").orderBy("time", F.col("converted_at").asc_nulls_last())
    leads = rows.withColumn("__n", F.row_number().over(first)).where(F.col("__n") == 1)
    merchants = leads.select(
        F.col("entity").alias("merchant_id"), F.col("entity").alias("merchant_name"),
        "category", "region", "language", F.col("time").alias("joined_at"),
        F.col("time").alias("updated_at"), _batch_day("time").alias(BATCH_DATE),
    )
    converted = F.col("converted_at").isNotNull()
    updated = F.greatest("time", F.coalesce("converted_at", "time"))
    events = leads.select(
        F.col("entity").alias("event_id"), F.col("campaign").alias("campaign_id"),
        F.lit("merchant").alias("entity_type"), F.col("entity").alias("entity_id"),
        F.lit(None).cast("string").alias("manager_id"), F.lit("contacted").alias("arm"),
        F.col("time").alias("enrolled_at"), converted.alias("responded"),
        converted.alias("onboarded"), F.col("converted_at").alias("onboarded_at"),
        updated.alias("updated_at"), _batch_day(updated).alias(BATCH_DATE),
    )
    return {
        "merchants": _as_text(merchants, "merchants"),
        "outreach_events": _as_text(events, "outreach_events"),
    }


SOURCE_BUILDERS = {
    "transactions": transaction_sources,
    "entity_stats": entity_stat_sources,
    "leads": lead_sources,
}


def contract_sources(rows: DataFrame, kind: str) -> dict[str, DataFrame]:
    """The readable rows of ``standardize`` -> one frame per contract source of ``kind``."""
    return SOURCE_BUILDERS[kind](rows.where(F.col(PROBLEM).isNull()).drop(PROBLEM))
