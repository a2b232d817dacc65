"""One suite per published table, built from the declarations and the scalars a job passes.

| table | validated frame | what blocks (error) | what is recorded (warn) |
|---|---|---|---|
| ``<source>`` batch | the raw rows in, typed and ranked | quarantine share; for daily feeds empty batch, stale or missing batch day, volume drop | volume rise |
| ``silver_<source>`` | the accepted rows | columns, null or duplicate keys, missing required values, ranges, allowed sets | a nullable column all null |
| ``<entity>_daily`` | the recomputed days | schema drift, keys, negative measures, stale, volume drop | volume rise |
| ``<entity>_features`` | the snapshots written | schema drift, keys, nulls, unit ranges, stale, volume drop, PSI shift, a filled column gone null | moderate PSI shift, volume rise |
| ``<entity>_labels`` | the cutoffs written | schema drift, keys, horizon, ranges, nulls, stale, volume drop | volume rise |
| ``<entity>_training_set`` | the whole set | keys, every cutoff present, outcomes not null | |
| ``<entity>_tiers`` | one as-of | keys, tier and previous tier in the set, score, stale, volume drop | volume rise |
| ``potential_scores`` | one as-of | keys, probability in [0, 1], ranks unique and contiguous | |
| ``outreach_lists`` | one as-of | keys, ranks, tier in the set, no suppressed entity, no manager over capacity | |

Schema drift means: the candidate's columns and types differ from the published table's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date

import great_expectations as gx
import great_expectations.expectations as gxe
from pyspark.sql.types import StructType

from growth.expectations import rules
from growth.expectations.drift import Profile, Sample, shift_checks
from growth.expectations.validate import error
from growth.features.contracts import SourceContract
from growth.features.ingest_rules import BATCH_DATE, REASON, ROW_HASH
from growth.features.registry import FEATURES, DailyTable, label_columns

DAILY_FEEDS = ("orders", "traffic_daily", "creator_daily_stats")
"""Sources that deliver every day: an empty or missing day is an outage, not a quiet day."""

UNIT_RANGES: dict[str, tuple[float | None, float | None]] = {
    "share": (0.0, 1.0),
    "stars": (1.0, 5.0),
    "currency per week": (None, None),  # a slope: falls as well as rises
    "posts per week": (0.0, None),
}
"""Ranges of feature values by unit; every other unit is a count or an amount (>= 0)."""

RANGE_OVERRIDES: dict[str, tuple[float | None, float | None]] = {
    # Differences fall as well as rise, whatever their unit (a creator loses followers).
    "follower_growth_30d": (None, None),
    "follower_growth_rate_30d": (None, None),
    # Cancellations and refunds count on the day the line closed, placements on the day it
    # was placed: a window can close more lines than it placed, so the "rate" exceeds 1.
    "cancel_rate_90d": (0.0, None),
    "refund_rate_90d": (0.0, None),
}
"""Features whose range is not their unit's."""

TIERS = ("S", "A", "B", "C", "D", "new")
ENTITY_TYPES = ("merchant", "creator")


def _schema_like(published: StructType | None) -> list:
    return [] if published is None else rules.schema(published)


def source_batch(
    contract: SourceContract,
    as_of: date,
    first_batch: date | None,
    previous_rows_per_day: float | None,
    volume_tolerance: float,
    max_quarantine_share: float,
    daily_feeds: tuple[str, ...] = DAILY_FEEDS,
) -> gx.ExpectationSuite:
    """The raw rows a run ingests (typed, with ``_batch_date`` and ``_reject_reason``).
    Sources in ``daily_feeds`` must deliver a non-empty batch every day."""
    checks = [rules.rejected_share_at_most(REASON, max_quarantine_share)]
    # Entity tables and outreach feeds deliver only what changed: a quiet day is no outage.
    if contract.name in daily_feeds:
        checks += [
            rules.not_empty(f"the {contract.name} batch"),
            rules.freshness(BATCH_DATE, as_of),
        ]
        if first_batch is not None:
            checks.append(rules.every_day_present(BATCH_DATE, first_batch, as_of))
        checks += rules.volume(BATCH_DATE, previous_rows_per_day, volume_tolerance)
    return rules.build(f"{contract.name} batch", checks)


def silver(contract: SourceContract) -> gx.ExpectationSuite:
    """The accepted rows about to be merged into ``silver_<source>``."""
    checks = [error(
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[*contract.column_names, BATCH_DATE, ROW_HASH], exact_match=True),
        "the columns are the contract's plus lineage",
    )]
    checks += rules.keys(contract.keys)
    for spec in contract.columns:
        if spec.name in contract.keys:
            continue
        if spec.nullable:
            checks.append(rules.not_all_null(spec.name))
        else:
            checks += rules.not_null([spec.name])
        if spec.min_value is not None or spec.max_value is not None:
            checks.append(rules.between(spec.name, spec.min_value, spec.max_value))
        if spec.allowed is not None:
            checks.append(rules.allowed(spec.name, spec.allowed))
    return rules.build(f"silver_{contract.name}", checks)


def daily(
    table: DailyTable,
    newest: date,
    published: StructType | None,
    previous_rows: float | None,
    volume_tolerance: float,
    expect_every_day: bool = True,
) -> gx.ExpectationSuite:
    """The recomputed days of ``merchant_daily`` / ``creator_daily``. With
    ``expect_every_day`` (live daily feeds) the newest day must have rows."""
    checks = _schema_like(published) + rules.keys([table.key, "date"])
    checks += [rules.between(m.name, 0, None) for m in table.measures if m.kind != "sketch"]
    if expect_every_day:
        checks.append(rules.freshness("date", newest))
    checks += rules.volume("date", previous_rows, volume_tolerance, only=newest)
    return rules.build(table.name, checks)


def feature_range(name: str, unit: str) -> tuple[float | None, float | None]:
    if name in RANGE_OVERRIDES:
        return RANGE_OVERRIDES[name]
    return UNIT_RANGES.get(unit, (0.0, None))


def features(
    entity: str,
    key: str,
    newest: date,
    published: StructType | None,
    previous_rows: float | None,
    volume_tolerance: float,
    reference: Profile | None,
    psi_warn: float,
    psi_error: float,
    sample: Sample | None = None,
) -> gx.ExpectationSuite:
    """The snapshots written by a run; ``newest`` is the latest snapshot date among them.
    ``sample``: the ``newest`` rows already sampled, for the shift checks."""
    checks = _schema_like(published) + rules.keys([key, "as_of_date"])
    for feature in FEATURES[entity]:
        if feature.fill is not None:
            checks += rules.not_null([feature.name])
        low, high = feature_range(feature.name, feature.unit)
        if low is not None or high is not None:
            checks.append(rules.between(feature.name, low, high))
    checks.append(rules.freshness("as_of_date", newest))
    checks += rules.volume("as_of_date", previous_rows, volume_tolerance, only=newest)
    nullable = [f.name for f in FEATURES[entity] if f.fill is None]
    checks += shift_checks(reference, "as_of_date", newest, psi_warn, psi_error, nullable,
                           rows=previous_rows, sample=sample)
    return rules.build(f"{entity}_features", checks)


def labels(
    entity: str,
    key: str,
    newest: date,
    horizon_days: int,
    published: StructType | None,
    previous_rows: float | None,
    volume_tolerance: float,
) -> gx.ExpectationSuite:
    """The label cutoffs written by a run; ``newest`` is the latest cutoff among them."""
    checks = _schema_like(published) + rules.keys([key, "as_of_date"])
    checks += rules.not_null([c.name for c in label_columns(entity)])
    checks += [
        rules.between("horizon_days", horizon_days, horizon_days),
        rules.between("past_value", 0, None),
        rules.between("future_value", 0, None),
        rules.between("future_orders", 0, None),
        rules.between("future_active_days", 0, horizon_days),
        rules.between("future_value_rank", 0, 1),
        rules.freshness("as_of_date", newest),
    ]
    checks += rules.volume("as_of_date", previous_rows, volume_tolerance, only=newest)
    return rules.build(f"{entity}_labels", checks)


def training_set(entity: str, key: str, cutoffs: Sequence[date]) -> gx.ExpectationSuite:
    checks = [rules.not_empty(f"the {entity} training set")]
    checks += rules.keys([key, "as_of_date"])
    checks.append(error(
        gxe.ExpectColumnDistinctValuesToEqualSet(column="as_of_date", value_set=list(cutoffs)),
        "every requested cutoff present, and no other",
    ))
    checks += rules.not_null([c.name for c in label_columns(entity)])
    return rules.build(f"{entity}_training_set", checks)


def tiers(
    entity: str,
    key: str,
    as_of: date,
    published: StructType | None,
    previous_rows: float | None,
    volume_tolerance: float,
    allowed_tiers: Iterable[str] = TIERS,
) -> gx.ExpectationSuite:
    """``<entity>_tiers`` of one as-of: tier, previous_tier, score per entity."""
    checks = _schema_like(published) + rules.keys([key, "as_of_date"])
    checks += rules.not_null(["tier", "score"])
    checks += [
        rules.allowed("tier", allowed_tiers),
        rules.allowed("previous_tier", allowed_tiers),  # null (no previous tier) passes
        rules.between("score", 0, None),
        rules.freshness("as_of_date", as_of),
    ]
    checks += rules.volume("as_of_date", previous_rows, volume_tolerance, only=as_of)
    return rules.build(f"{entity}_tiers", checks)


def potential_scores(as_of: date, published: StructType | None,
                     table: str = "potential_scores") -> gx.ExpectationSuite:
    """``potential_scores`` (or ``lookalike_scores``, ``table``, which has the same rules)
    of one as-of: score, probability, rank per entity type."""
    checks = _schema_like(published) + rules.keys(["entity_type", "entity_id", "as_of_date"])
    checks += rules.not_null(["probability", "rank"])
    checks += [
        rules.allowed("entity_type", ENTITY_TYPES),
        rules.between("probability", 0, 1),
        rules.freshness("as_of_date", as_of),
    ]
    checks += rules.ranks_contiguous("rank", ["as_of_date", "entity_type"])
    return rules.build(table, checks)


def outreach_lists(
    as_of: date,
    published: StructType | None,
    suppressed: Iterable[tuple[str, str]],
    capacities: Mapping[str, int],
    allowed_tiers: Iterable[str] = TIERS,
) -> gx.ExpectationSuite:
    """``outreach_lists`` of one as-of. ``suppressed``: (entity_type, entity_id) pairs that
    must never be listed (opted out, already managed, blocked); ``capacities``: contacts a
    manager may be given, every assigned manager must have one."""
    checks = _schema_like(published)
    checks += rules.keys(["as_of_date", "campaign", "entity_type", "entity_id"])
    checks += rules.not_null(["rank", "holdout"])
    checks += [
        rules.allowed("entity_type", ENTITY_TYPES),
        rules.allowed("tier", allowed_tiers),
        rules.freshness("as_of_date", as_of),
        rules.none_of(["entity_type", "entity_id"], suppressed, "suppressed entity listed"),
        # Holdout rows are kept uncontacted: they use no manager's hours.
        rules.capacity("manager_id", capacities, None, "account manager", "NOT `holdout`"),
    ]
    checks += rules.ranks_contiguous("rank", ["as_of_date", "campaign"])
    return rules.build("outreach_lists", checks)
