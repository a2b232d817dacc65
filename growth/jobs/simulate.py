"""Generate a simulated marketplace into the raw landing zone (and its ground truth table)."""

from __future__ import annotations

import argparse
import logging
import time
from datetime import date

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from growth.features.contracts import CONTRACTS
from growth.jobs import delta_io
from growth.jobs.config import Config, load_config
from growth.jobs.raw import raw_source_path, read_batches
from growth.jobs.session import get_spark
from growth.layout import GROUND_TRUTH_TABLE, SOURCE_ORDER
from growth.sim.marketplace import Simulation, generate
from growth.sim.profiles import PROFILES

log = logging.getLogger(__name__)


def _count_landed(spark: SparkSession, cfg: Config, source: str) -> int:
    """Rows now in the landing folder; for Parquet this reads file footers, not rows."""
    landed = read_batches(spark, cfg, source, None, date.max, CONTRACTS[source].column_names)
    return landed.count()


def _land(
    spark: SparkSession, cfg: Config, frame: DataFrame, source: str, position: int
) -> int:
    """Replace the landing folder of ``source`` with ``frame``; return the rows landed."""
    started = time.perf_counter()
    (
        frame.write.mode("overwrite")
        # Static, stated explicitly: the whole folder is replaced, not only the batch dates
        # generated now, so two marketplaces never mix.
        .option("partitionOverwriteMode", "static")
        .partitionBy("batch_date")
        .format(cfg.raw_format)
        .option("header", "true")
        .save(raw_source_path(cfg, source))
    )
    rows = _count_landed(spark, cfg, source)
    log.info(
        "[%d/%d] %s: %d rows in %.1fs",
        position, len(SOURCE_ORDER), source, rows, time.perf_counter() - started,
    )
    return rows


def run(
    spark: SparkSession, cfg: Config, profile: str, seed: int, end_date: date
) -> dict[str, int]:
    """Write every source under ``<lake>/raw/<source>/batch_date=.../``; return row counts.

    Regenerating replaces the raw zone of each source entirely, so a rerun with the same
    seed leaves the same files' contents behind.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile '{profile}'; known: {', '.join(PROFILES)}")
    sim = Simulation(PROFILES[profile], seed, end_date)
    log.info(
        "simulating profile %s (seed %d): %s .. %s", profile, seed, sim.start_date, sim.end_date
    )
    cached: list[DataFrame] = []

    def reuse(frame: DataFrame) -> DataFrame:
        cached.append(frame.persist(StorageLevel.MEMORY_AND_DISK))
        return frame

    try:
        frames = generate(spark, sim, reuse)
        counts = {
            source: _land(spark, cfg, frames[source], source, position)
            for position, source in enumerate(SOURCE_ORDER, start=1)
        }
        delta_io.overwrite(spark, frames["ground_truth"], cfg.table(GROUND_TRUTH_TABLE))
        counts[GROUND_TRUTH_TABLE] = spark.table(cfg.table(GROUND_TRUTH_TABLE)).count()
    finally:
        for frame in cached:
            frame.unpersist()
    return counts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="demo", choices=sorted(PROFILES),
                        help="size: small (tests), medium (300 merchants, the smallest the "
                        "models train on: the training DAG test), demo (2k merchants), "
                        "large (100k merchants)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: config)")
    parser.add_argument("--end", type=date.fromisoformat, default=None,
                        help="last simulated day (default: config sim_end_date)")


def execute(args: argparse.Namespace) -> None:
    cfg = load_config()
    spark = get_spark(cfg, f"simulate-{args.profile}")
    seed = cfg.sim_seed if args.seed is None else args.seed
    run(spark, cfg, args.profile, seed, args.end or cfg.sim_end_date)


def main(argv: list[str] | None = None) -> None:
    from growth.jobs.cli import main as cli_main

    cli_main(["simulate", *(argv or [])])


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
