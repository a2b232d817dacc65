"""The source contract: the tables a marketplace plugs into the platform, declared as data.

Each ``SourceContract`` names the source's columns and types, its keys, the column that
orders versions of a row (latest wins), its event time, its foreign keys and the row rules a
valid row satisfies. Ingest (``growth.features.ingest_rules``) enforces these declarations,
and ``docs/sources.md`` is generated from them (``growth docs``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
"""Keys are 1-64 characters of letters, digits and ``_ . : -``, starting alphanumeric."""


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a source: name, Spark SQL type, whether it may be null, its domain."""

    name: str
    dtype: str
    description: str
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None


@dataclass(frozen=True)
class RowRule:
    """A condition every valid row satisfies, as a Spark SQL predicate over typed columns.

    Rows where the predicate is false are quarantined with ``reason``; a null predicate
    (a column it reads is null) counts as satisfied, since nullability is checked apart.
    """

    reason: str
    predicate: str
    description: str


@dataclass(frozen=True)
class SourceContract:
    """What one source table must look like to be accepted into silver."""

    name: str
    description: str
    columns: tuple[ColumnSpec, ...]
    keys: tuple[str, ...]
    version_column: str
    event_time: str | None = None
    foreign_keys: dict[str, str] = field(default_factory=dict)
    row_rules: tuple[RowRule, ...] = ()
    entity_ref: tuple[str, str] | None = None
    """(type column, id column) of a reference to a merchant or a creator, checked against
    the source ``ENTITY_SOURCES`` names for the type."""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    @property
    def ddl(self) -> str:
        """Spark DDL of the typed contract columns (silver adds its lineage columns)."""
        return ", ".join(f"`{c.name}` {c.dtype}" for c in self.columns)


def _ts(name: str, description: str, nullable: bool = False) -> ColumnSpec:
    return ColumnSpec(name, "timestamp", description, nullable=nullable)


def _id(name: str, description: str, nullable: bool = False) -> ColumnSpec:
    return ColumnSpec(name, "string", description, nullable=nullable)


ENTITY_TYPES = ("merchant", "creator")
ENTITY_SOURCES = {"merchant": "merchants", "creator": "creators"}
ENTITY_REF_REASON = "unknown_entity"
ORDER_STATUSES = ("placed", "shipped", "delivered", "cancelled", "refunded")
DELIVERY_OUTCOMES = ("on_time", "late", "failed")
CHANNELS = ("video", "live", "shop", "search")
OUTREACH_ARMS = ("contacted", "control")
TEAMS = ("merchant_growth", "creator_growth")

MERCHANTS = SourceContract(
    name="merchants",
    description="Sellers on the marketplace, one row per merchant (latest version wins).",
    columns=(
        _id("merchant_id", "Merchant key."),
        ColumnSpec("merchant_name", "string", "Display name.", nullable=True),
        ColumnSpec("category", "string", "Main product category."),
        ColumnSpec("region", "string", "Operating region."),
        ColumnSpec("language", "string", "Contact language (ISO 639-1)."),
        _ts("joined_at", "When the merchant joined the marketplace (UTC)."),
        _ts("updated_at", "When this version of the row was produced (UTC)."),
    ),
    keys=("merchant_id",),
    version_column="updated_at",
    event_time="updated_at",
    row_rules=(
        RowRule("impossible_dates", "joined_at <= updated_at", "Joined before last update."),
    ),
)

CREATORS = SourceContract(
    name="creators",
    description="Content creators who promote merchants' products, one row per creator.",
    columns=(
        _id("creator_id", "Creator key."),
        ColumnSpec("creator_name", "string", "Display name.", nullable=True),
        ColumnSpec("category", "string", "Content niche, in the product category vocabulary."),
        ColumnSpec("region", "string", "Home region."),
        ColumnSpec("language", "string", "Content language (ISO 639-1)."),
        _ts("joined_at", "When the creator joined (UTC)."),
        _ts("updated_at", "When this version of the row was produced (UTC)."),
    ),
    keys=("creator_id",),
    version_column="updated_at",
    event_time="updated_at",
    row_rules=(
        RowRule("impossible_dates", "joined_at <= updated_at", "Joined before last update."),
    ),
)

ACCOUNT_MANAGERS = SourceContract(
    name="account_managers",
    description="People who call merchants and creators, with their team and weekly capacity.",
    columns=(
        _id("manager_id", "Account manager key."),
        ColumnSpec("team", "string", "Team.", allowed=TEAMS),
        ColumnSpec("region", "string", "Region the manager covers."),
        ColumnSpec("languages", "string", "Languages spoken, comma-separated ISO 639-1 codes."),
        ColumnSpec("categories", "string", "Categories covered, comma-separated."),
        ColumnSpec("weekly_capacity", "int", "Contacts per week.", min_value=0, max_value=1000),
        _ts("updated_at", "When this version of the row was produced (UTC)."),
    ),
    keys=("manager_id",),
    version_column="updated_at",
    event_time="updated_at",
)

PRODUCTS = SourceContract(
    name="products",
    description="Products listed by merchants.",
    columns=(
        _id("product_id", "Product key."),
        _id("merchant_id", "Merchant that lists the product."),
        ColumnSpec("category", "string", "Product category."),
        ColumnSpec("list_price", "double", "List price in the marketplace currency.", min_value=0),
        _ts("created_at", "When the product was listed (UTC)."),
        _ts("updated_at", "When this version of the row was produced (UTC)."),
    ),
    keys=("product_id",),
    version_column="updated_at",
    event_time="updated_at",
    foreign_keys={"merchant_id": "merchants"},
)

ORDERS = SourceContract(
    name="orders",
    description=(
        "Order lines. A line is sent again whenever its status changes (placed, then "
        "delivered, cancelled or refunded); the latest version wins."
    ),
    columns=(
        _id("order_id", "Order key."),
        ColumnSpec("line_id", "int", "Line number within the order.", min_value=1),
        _ts("ordered_at", "When the buyer placed the order (UTC); the event time."),
        _id("merchant_id", "Selling merchant."),
        _id("buyer_id", "Buyer."),
        _id("product_id", "Product sold."),
        _id("creator_id", "Creator the sale is attributed to, if any.", nullable=True),
        ColumnSpec("channel", "string", "Where the sale happened.", allowed=CHANNELS),
        ColumnSpec("amount", "double", "Line amount paid, in currency units.", min_value=0),
        ColumnSpec("quantity", "int", "Units.", min_value=1),
        ColumnSpec("status", "string", "Line status.", allowed=ORDER_STATUSES),
        ColumnSpec("promised_delivery_date", "date", "Date delivery was promised for."),
        ColumnSpec("delivered_at", "timestamp", "Actual delivery time.", nullable=True),
        ColumnSpec(
            "delivery_outcome", "string", "How delivery went, once known.",
            nullable=True, allowed=DELIVERY_OUTCOMES,
        ),
        _ts("updated_at", "When this version of the line was produced (UTC)."),
    ),
    keys=("order_id", "line_id"),
    version_column="updated_at",
    event_time="ordered_at",
    foreign_keys={"merchant_id": "merchants", "product_id": "products", "creator_id": "creators"},
    row_rules=(
        RowRule(
            "impossible_status",
            "NOT (status = 'delivered' AND (delivered_at IS NULL OR delivery_outcome = 'failed'))",
            "A delivered line has a delivery time and did not fail.",
        ),
        RowRule(
            "impossible_status",
            "NOT (status IN ('placed', 'shipped', 'cancelled') AND delivered_at IS NOT NULL)",
            "Only delivered or refunded lines carry a delivery time.",
        ),
        RowRule(
            "impossible_dates",
            "delivered_at >= ordered_at AND updated_at >= ordered_at",
            "Nothing is delivered or updated before it is ordered.",
        ),
    ),
)

REVIEWS = SourceContract(
    name="reviews",
    description="Buyer reviews of order lines.",
    columns=(
        _id("review_id", "Review key."),
        _id("order_id", "Reviewed order."),
        _id("merchant_id", "Reviewed merchant."),
        _id("product_id", "Reviewed product."),
        ColumnSpec("rating", "int", "Stars.", min_value=1, max_value=5),
        _ts("reviewed_at", "When the review was written (UTC)."),
    ),
    keys=("review_id",),
    version_column="reviewed_at",
    event_time="reviewed_at",
    foreign_keys={"merchant_id": "merchants", "product_id": "products"},
)

TRAFFIC_DAILY = SourceContract(
    name="traffic_daily",
    description="Daily impressions and clicks per merchant or creator page.",
    columns=(
        ColumnSpec("date", "date", "Day the traffic happened (UTC)."),
        ColumnSpec("entity_type", "string", "merchant or creator.", allowed=ENTITY_TYPES),
        _id("entity_id", "merchant_id or creator_id."),
        ColumnSpec("impressions", "bigint", "Times the entity was shown.", min_value=0),
        ColumnSpec("clicks", "bigint", "Clicks through to the entity.", min_value=0),
    ),
    keys=("date", "entity_type", "entity_id"),
    version_column="date",
    event_time="date",
    entity_ref=("entity_type", "entity_id"),
    row_rules=(RowRule("impossible_counts", "clicks <= impressions", "No more clicks than views."),),
)

CREATOR_DAILY_STATS = SourceContract(
    name="creator_daily_stats",
    description="Creator activity on days they were active: audience, posts, views, live.",
    columns=(
        ColumnSpec("date", "date", "Day (UTC)."),
        _id("creator_id", "Creator."),
        ColumnSpec("followers", "bigint", "Followers at the end of the day.", min_value=0),
        ColumnSpec("posts", "int", "Posts published that day.", min_value=0),
        ColumnSpec("views", "bigint", "Views of the creator's content that day.", min_value=0),
        ColumnSpec("likes", "bigint", "Likes received that day.", min_value=0),
        ColumnSpec("live_minutes", "int", "Minutes streamed live.", min_value=0, max_value=1440),
    ),
    keys=("date", "creator_id"),
    version_column="date",
    event_time="date",
    foreign_keys={"creator_id": "creators"},
)

OUTREACH_EVENTS = SourceContract(
    name="outreach_events",
    description=(
        "One row per entity enrolled in an outreach campaign: contacted or held out as a "
        "randomized control, and what followed."
    ),
    columns=(
        _id("event_id", "Event key."),
        _id("campaign_id", "Campaign."),
        ColumnSpec("entity_type", "string", "merchant or creator.", allowed=ENTITY_TYPES),
        _id("entity_id", "merchant_id or creator_id."),
        _id("manager_id", "Manager who made (or would have made) the contact.", nullable=True),
        ColumnSpec("arm", "string", "contacted, or control (held out).", allowed=OUTREACH_ARMS),
        _ts("enrolled_at", "When the entity entered the campaign (UTC)."),
        ColumnSpec("responded", "boolean", "The entity answered the contact."),
        ColumnSpec("onboarded", "boolean", "The entity joined the growth programme."),
        _ts("onboarded_at", "When it onboarded.", nullable=True),
        _ts("updated_at", "When this version of the row was produced (UTC)."),
    ),
    keys=("event_id",),
    version_column="updated_at",
    event_time="enrolled_at",
    foreign_keys={"manager_id": "account_managers"},
    entity_ref=("entity_type", "entity_id"),
    row_rules=(
        RowRule(
            "impossible_status",
            "NOT (arm = 'control' AND responded)",
            "A held-out entity was never contacted, so it cannot have responded.",
        ),
        RowRule(
            "impossible_dates",
            "onboarded_at >= enrolled_at AND (onboarded OR onboarded_at IS NULL)",
            "Onboarding follows enrolment and has a time only when it happened.",
        ),
    ),
)

OPT_OUTS = SourceContract(
    name="opt_outs",
    description="Entities that asked not to be contacted.",
    columns=(
        ColumnSpec("entity_type", "string", "merchant or creator.", allowed=ENTITY_TYPES),
        _id("entity_id", "merchant_id or creator_id."),
        _ts("opted_out_at", "When the request was made (UTC)."),
        ColumnSpec("reason", "string", "Reason given, free text.", nullable=True),
    ),
    keys=("entity_type", "entity_id"),
    version_column="opted_out_at",
    event_time="opted_out_at",
    entity_ref=("entity_type", "entity_id"),
)

CONTRACTS: dict[str, SourceContract] = {
    c.name: c
    for c in (
        MERCHANTS, CREATORS, ACCOUNT_MANAGERS, PRODUCTS, ORDERS, REVIEWS,
        TRAFFIC_DAILY, CREATOR_DAILY_STATS, OUTREACH_EVENTS, OPT_OUTS,
    )
}
