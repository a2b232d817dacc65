"""``growth run --dataset``: a shipped real dataset through the platform, in its own lake.

Import (mapping -> raw batches), ingest every source, daily aggregates, then for the
dataset's entity the snapshot of ``--as-of``, a training set over monthly cutoffs whose
horizon has passed, the value and potential models, and the tiers. A dataset lives in its
own lake (``<lake>-<dataset>``, e.g. ``lake-olist``) so that it never mixes with the
simulated marketplace; every step is idempotent, so a rerun replaces what the last one
wrote.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from datetime import date

from pyspark.sql import SparkSession

from growth.errors import GrowthError
from growth.features.mapping import DatasetMapping
from growth.jobs import (
    build_daily,
    build_features,
    build_training_set,
    import_data,
    ingest,
    model_registry,
    score,
    train_models,
)
from growth.jobs.config import Config, load_config, with_settings
from growth.jobs.session import get_spark
from growth.layout import SOURCE_ORDER

log = logging.getLogger(__name__)

# The entity a kind of input describes (leads are merchants that have no sales yet: their
# outcome is a closed deal, learnt from the outreach events, not a tier).
ENTITY_OF_KIND = {"transactions": "merchant", "entity_stats": "creator", "leads": None}
MONTH_DAYS = 30


class NoChampionError(GrowthError):
    """No model of the dataset's entity passed its backtest: there is nothing to score with."""


def dataset_config(cfg: Config, mapping: DatasetMapping) -> Config:
    """The dataset's own lake beside the configured one, with the mapping's settings."""
    lake = cfg.lake_root.with_name(f"{cfg.lake_root.name}-{mapping.name}")
    return with_settings(dataclasses.replace(cfg, lake_root=lake), mapping.settings,
                         f"mapping '{mapping.name}' settings")


def load_sources(spark: SparkSession, cfg: Config, mapping: DatasetMapping, as_of: date) -> None:
    """Import, ingest every source up to ``as_of`` and aggregate the days."""
    log.info("[1/3] import %s -> %s", mapping.name, cfg.raw_root)
    import_data.run(spark, cfg, mapping)
    log.info("[2/3] ingest %d sources through %s", len(SOURCE_ORDER), as_of)
    for source in SOURCE_ORDER:
        ingest.run(spark, cfg, as_of, source)
    log.info("[3/3] daily aggregates")
    build_daily.run(spark, cfg, as_of)


def default_cutoff_count(cfg: Config) -> int:
    """Enough monthly cutoffs for the backtest: each fold's cutoff needs an earlier one whose
    horizon has ended by it, so the first ceil(horizon / month) cutoffs cannot be folds."""
    return max(6, -(-cfg.label_horizon_days // MONTH_DAYS) + cfg.backtest_folds)


def monthly_cutoffs(cfg: Config, as_of: date, count: int | None) -> list[date]:
    count = count or default_cutoff_count(cfg)
    return build_training_set.regular_cutoffs(as_of, cfg.label_horizon_days, MONTH_DAYS, count)


def run(spark: SparkSession, cfg: Config, mapping: DatasetMapping, as_of: date,
        cutoffs: int | None) -> list[str]:
    """The whole pipeline for ``as_of``; return what it published, one line per step."""
    load_sources(spark, cfg, mapping, as_of)
    done = [f"imported and ingested {mapping.name} through {as_of} into {cfg.lake_root}"]
    entity = ENTITY_OF_KIND[mapping.kind]
    if entity is None:
        done.append("leads: silver_merchants and silver_outreach_events hold the funnel; "
                    "'growth evaluate-real --dataset olist-funnel' learns from them")
        return done
    build_features.run(spark, cfg, as_of, entities=(entity,))
    done.append(f"{entity}_features snapshot {as_of}")
    chosen = monthly_cutoffs(cfg, as_of, cutoffs)
    reports = train_models.run(spark, cfg, as_of, entity, chosen)
    done.extend(reports)
    missing = [kind for kind in model_registry.KINDS
               if model_registry.champion(spark, cfg, model_registry.model_name(entity, kind))
               is None]
    if missing:
        raise NoChampionError(
            f"no {entity} {' or '.join(missing)} model is champion, so nothing was scored: "
            f"trained on {len(chosen)} monthly cutoffs ({chosen[0]} .. {chosen[-1]}), the "
            "challenger did not beat the rule baselines in its out-of-time backtest ('growth "
            "models list' shows the versions, 'growth models show NAME VERSION' the backtest). "
            "More history usually helps: a later --as-of or more --cutoffs. To score with "
            "it anyway: 'growth models promote NAME VERSION'.")
    counts = score.run(spark, cfg, as_of, entity)
    done.append(f"scored {entity}s for {as_of}: {counts}")
    return done


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=sorted(import_data.SHIPPED),
                        help="a shipped real dataset (read from GROWTH_DATA_ROOT)")
    parser.add_argument("--as-of", required=True, type=date.fromisoformat,
                        help="run date: data up to it is ingested, the snapshot and tiers are "
                             "of that day (olist: 2016-09..2018-09; youtube: 2019-05..2022-05)")
    parser.add_argument("--cutoffs", type=int, default=None,
                        help="monthly training cutoffs, the last whose horizon ended by "
                             "--as-of (default: enough for the backtest's folds over the "
                             "dataset's horizon, at least 6: olist 9, youtube 6)")


def execute(args: argparse.Namespace) -> None:
    mapping = import_data.load_mapping(args.dataset)
    cfg = dataset_config(load_config(), mapping)
    spark = get_spark(cfg, f"growth-run-{mapping.name}")
    for line in run(spark, cfg, mapping, args.as_of, args.cutoffs):
        sys.stdout.write(f"{line}\n")
