"""Outreach inputs as pure Spark transforms: campaign enrolments as learning rows for the
effect of a contact, and who may be listed on a day (suppressions, last contacts, managers'
capacity already used).

``campaign_enrolments``. Grain: one row per (campaign_id, entity_id) of one entity type, from the campaigns whose
every enrolment's outcome window had closed by the data's end. Reads silver outreach_events
(campaign_id, entity_type, entity_id, arm, enrolled_at, onboarded, onboarded_at). Writes
campaign_id, entity_id, ``as_of_date`` (the day before the campaign's first enrolment: the
snapshot a ranking made for that campaign could have read), treated (1 contacted, 0 the
randomized control) and onboarded (1 when it onboarded within the outcome window).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from growth.features.windows import AS_OF


def campaign_enrolments(events: DataFrame, entity: str, data_end: date,
                        outcome_days: int) -> DataFrame:
    """See the module docstring; an enrolment whose window ends after ``data_end`` makes its
    whole campaign wait (a campaign is learnt from or evaluated whole)."""
    if outcome_days < 1:
        raise ValueError(f"the outcome window must be at least 1 day, got {outcome_days}")
    window = F.make_interval(days=F.lit(outcome_days))
    campaign = Window.partitionBy("campaign_id")
    closes_by = F.lit(data_end + timedelta(days=1)).cast("timestamp")
    rows = (
        events.where(F.col("entity_type") == entity)
        .withColumn("__first", F.min("enrolled_at").over(campaign))
        .withColumn("__open", F.max((F.col("enrolled_at") + window > closes_by).cast("int"))
                    .over(campaign))
        .where(F.col("__open") == 0)
    )
    onboarded = (F.col("onboarded") & F.col("onboarded_at").isNotNull()
                 & (F.col("onboarded_at") < F.col("enrolled_at") + window))
    return rows.select(
        "campaign_id", "entity_id",
        F.date_sub(F.to_date("__first"), 1).alias(AS_OF),
        (F.col("arm") == "contacted").cast("int").alias("treated"),
        onboarded.cast("int").alias("onboarded"),
    )


# Why an entity may not be listed, as the outreach_lists docs and gate name them.
OPTED_OUT, ALREADY_MANAGED, BLOCKED = "opted_out", "already_managed", "blocked"


def suppressions(opt_outs: DataFrame, events: DataFrame, tiers: DataFrame, entity: str,
                 key: str, as_of: date, blocking_gates: Sequence[str]) -> DataFrame:
    """The entities of one type that no list of ``as_of`` may name, and why.

    Grain: one row per (entity_id, reason). Reads silver opt_outs (entity_type, entity_id,
    opted_out_at), silver outreach_events (entity_type, entity_id, onboarded, onboarded_at)
    and the day's tiers (``key``, failed_gates). Writes entity_id, reason:

    - ``opted_out``: asked not to be contacted by the end of ``as_of``;
    - ``already_managed``: onboarded into the growth programme by the end of ``as_of``
      (an account manager already looks after it);
    - ``blocked``: fails one of ``blocking_gates`` on ``as_of`` (the service-quality gates,
      e.g. too many failed deliveries): the platform does not promote it until it passes
      again. Gates of size (too few orders, followers) do not block: small entities are
      whom growth outreach is for.
    """
    end = F.lit(as_of + timedelta(days=1)).cast("timestamp")
    opted = (opt_outs.where((F.col("entity_type") == entity) & (F.col("opted_out_at") < end))
             .select("entity_id", F.lit(OPTED_OUT).alias("reason")))
    managed = (events.where((F.col("entity_type") == entity) & F.col("onboarded")
                            & (F.col("onboarded_at") < end))
               .select("entity_id", F.lit(ALREADY_MANAGED).alias("reason")))
    suppressed = opted.unionByName(managed)
    if blocking_gates:
        failed = F.array_intersect("failed_gates", F.array(*[F.lit(g) for g in blocking_gates]))
        suppressed = suppressed.unionByName(
            tiers.where(F.size(failed) > 0)
            .select(F.col(key).alias("entity_id"), F.lit(BLOCKED).alias("reason")))
    return suppressed.distinct()


def last_contacts(events: DataFrame, lists: DataFrame | None, entity: str,
                  as_of: date) -> DataFrame:
    """When each entity of one type was last contacted before the end of ``as_of``.

    Grain: one row per entity_id. Reads silver outreach_events (entity_type, entity_id, arm,
    enrolled_at): a contacted enrolment is a contact on its day; and, when given, the
    published outreach_lists (as_of_date, entity_type, entity_id, holdout): a row listed
    for contact on an earlier day counts as a contact on that day, since its manager is
    calling it. Holdout rows are not contacts. Writes entity_id, contacted_on (date).
    """
    end = F.lit(as_of + timedelta(days=1)).cast("timestamp")
    contacts = (events.where((F.col("entity_type") == entity) & (F.col("arm") == "contacted")
                             & (F.col("enrolled_at") < end))
                .select("entity_id", F.to_date("enrolled_at").alias("contacted_on")))
    if lists is not None:
        contacts = contacts.unionByName(
            lists.where((F.col("entity_type") == entity) & ~F.col("holdout")
                        & (F.col(AS_OF) < F.lit(as_of)))
            .select("entity_id", F.col(AS_OF).alias("contacted_on")))
    return contacts.groupBy("entity_id").agg(F.max("contacted_on").alias("contacted_on"))


def used_capacity(lists: DataFrame, as_of: date, days: int = 7) -> DataFrame:
    """Contacts already given to each manager by the lists of the ``days - 1`` days before
    ``as_of``, so a weekly capacity holds over any ``days`` consecutive days' lists.

    Grain: one row per manager_id. Reads outreach_lists (as_of_date, manager_id, holdout);
    holdout rows take none of a manager's hours. Writes manager_id, used (long).
    """
    since = as_of - timedelta(days=days - 1)
    return (lists.where(~F.col("holdout") & F.col("manager_id").isNotNull()
                        & (F.col(AS_OF) >= F.lit(since)) & (F.col(AS_OF) < F.lit(as_of)))
            .groupBy("manager_id").agg(F.count(F.lit(1)).alias("used")))
