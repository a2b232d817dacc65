"""Campaign enrolments as learning rows for the effect of outreach (pure Spark transform).

Grain: one row per (campaign_id, entity_id) of one entity type, from the campaigns whose
every enrolment's outcome window had closed by the data's end. Reads silver outreach_events
(campaign_id, entity_type, entity_id, arm, enrolled_at, onboarded, onboarded_at). Writes
campaign_id, entity_id, ``as_of_date`` (the day before the campaign's first enrolment: the
snapshot a ranking made for that campaign could have read), treated (1 contacted, 0 the
randomized control) and onboarded (1 when it onboarded within the outcome window).
"""

from __future__ import annotations

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
