"""Ingest: raw batches of one source -> ``silver_<source>`` (MERGE) + ``quarantine``.

Batches ingested by a run: ``--from`` .. ``--as-of`` when ``--from`` is given; otherwise
every batch after the newest one already in silver (catch-up), or just ``--as-of`` when
silver is already past it (a rerun or backfill of an old day). Re-ingesting a batch changes
nothing: a stored row is replaced only by a strictly newer version of it.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from datetime import date, timedelta

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from growth.errors import GrowthError
from growth.expectations import suites
from growth.features.contracts import CONTRACTS, ENTITY_SOURCES, SourceContract
from growth.features.ingest_rules import (
    ENTITY_PARENT,
    REASON,
    VERSION_RANK,
    accepted_rows,
    annotate_batch,
    newer_than_target,
    quarantine_rows,
    rank_versions,
    split_columns,
)
from growth.jobs import delta_io, quality
from growth.jobs.config import Config, load_config
from growth.jobs.raw import read_batches
from growth.jobs.run_log import RunRecord, recorded
from growth.jobs.session import get_spark
from growth.layout import QUARANTINE_TABLE, SOURCE_GROUPS, SOURCE_ORDER, silver_table

log = logging.getLogger(__name__)


class ReconciliationError(GrowthError, RuntimeError):
    """Rows in != accepted + quarantined + duplicates: a row was lost or invented."""


class ParentTableMissingError(GrowthError, RuntimeError):
    """A foreign key points at a source whose silver table does not exist yet."""


class RunWindowError(GrowthError, ValueError):
    """The requested batch window cannot contain any batch."""


@dataclasses.dataclass(frozen=True)
class IngestCounts:
    rows_in: int
    accepted: int
    quarantined: int
    duplicates: int

    def reconcile(self, source: str) -> None:
        if self.rows_in != self.accepted + self.quarantined + self.duplicates:
            raise ReconciliationError(
                f"{source}: rows in {self.rows_in} != accepted {self.accepted} + quarantined "
                f"{self.quarantined} + duplicates {self.duplicates}; nothing was published"
            )


def _batch_window(history: quality.IngestHistory, as_of: date) -> date | None:
    """First batch to ingest when no --from is given (None: from the first batch ever
    landed): the day after the last one a successful run took, or just ``as_of`` when silver
    is already past it. The run log says so far more cheaply than a scan of silver."""
    done = history.done_through
    if done is None:
        return None
    return done + timedelta(days=1) if done < as_of else as_of


def _require_parent(
    spark: SparkSession, cfg: Config, contract: SourceContract, column: str, parent: str
) -> str:
    parent_table = cfg.table(silver_table(parent))
    if not delta_io.table_exists(spark, parent_table):
        raise ParentTableMissingError(
            f"source '{contract.name}' checks {column} against {parent_table}, which does "
            f"not exist yet: ingest '{parent}' first (growth ingest --source {parent})."
        )
    return parent_table


def _parent_keys(
    spark: SparkSession, cfg: Config, contract: SourceContract
) -> dict[str, DataFrame]:
    keys: dict[str, DataFrame] = {}
    for fk_col, parent in contract.foreign_keys.items():
        parent_table = _require_parent(spark, cfg, contract, fk_col, parent)
        parent_key = CONTRACTS[parent].keys[0]
        keys[fk_col] = spark.table(parent_table).select(parent_key)
    if contract.entity_ref is not None:
        frames = []
        for entity_type, parent in ENTITY_SOURCES.items():
            parent_table = _require_parent(spark, cfg, contract, contract.entity_ref[1], parent)
            frames.append(
                spark.table(parent_table).select(
                    F.lit(entity_type).alias("entity_type"),
                    F.col(CONTRACTS[parent].keys[0]).alias("entity_id"),
                )
            )
        keys[ENTITY_PARENT] = frames[0].unionByName(frames[1])
    return keys


def _count(ranked: DataFrame) -> IngestCounts:
    row = ranked.agg(
        F.count(F.lit(1)).alias("rows_in"),
        F.count(F.when(F.col(VERSION_RANK) == 1, 1)).alias("accepted"),
        F.count(F.when(F.col(REASON).isNotNull(), 1)).alias("quarantined"),
        F.count(F.when(F.col(VERSION_RANK) > 1, 1)).alias("duplicates"),
    ).first()
    return IngestCounts(row.rows_in, row.accepted, row.quarantined, row.duplicates)


def _publish(
    spark: SparkSession,
    cfg: Config,
    contract: SourceContract,
    ranked: DataFrame,
    record: RunRecord,
) -> dict[str, int]:
    """MERGE the accepted rows into silver and replace the run's batches in quarantine."""
    silver = cfg.table(silver_table(contract.name))
    merged = delta_io.merge_latest(
        spark, accepted_rows(ranked, contract), silver, contract.keys,
        newer_than_target(contract), properties=delta_io.CHANGE_FEED,
    )
    window = f"source = '{contract.name}' AND batch_date <= '{record.batch_to}'"
    if record.batch_from is not None:
        window += f" AND batch_date >= '{record.batch_from}'"
    delta_io.replace_where(
        spark,
        quarantine_rows(ranked, contract.name, record.run_id),
        cfg.table(QUARANTINE_TABLE),
        window,
        partition_by=("source",),
    )
    merged["unchanged"] = record.rows_accepted - merged["inserted"] - merged["updated"]
    record.rows_inserted, record.rows_updated = merged["inserted"], merged["updated"]
    record.rows_unchanged = merged["unchanged"]
    record.wrote(spark, silver)
    return merged


def _audit(
    spark: SparkSession,
    cfg: Config,
    contract: SourceContract,
    ranked: DataFrame,
    record: RunRecord,
    counts: IngestCounts,
    history: quality.IngestHistory,
) -> None:
    """The two gates before anything is written: the batch as delivered (volume, days,
    quarantine share), then the rows about to be merged (the silver table's own rules)."""
    with quality.gate_time(record):
        batch = suites.source_batch(
            contract, record.batch_to, record.batch_from, history.rows_per_day,
            cfg.dq_volume_tolerance, cfg.dq_max_quarantine_share, cfg.daily_feed_sources,
        )
    quality.gate(spark, cfg, record, record.target_table, ranked, batch, counts.rows_in)
    quality.gate(spark, cfg, record, record.target_table, accepted_rows(ranked, contract),
                 suites.silver(contract), counts.accepted)


def run(
    spark: SparkSession,
    cfg: Config,
    as_of: date,
    source: str,
    batch_from: date | None = None,
) -> IngestCounts:
    """Ingest the batches of ``source`` due at ``as_of``; return the reconciled counts."""
    if source not in CONTRACTS:
        raise ValueError(f"unknown source '{source}'; known: {', '.join(SOURCE_ORDER)}")
    if batch_from is not None and batch_from > as_of:
        raise RunWindowError(
            f"--from {batch_from} is after --as-of {as_of}: no batch could be ingested; "
            "pass a --from on or before the run date"
        )
    contract = CONTRACTS[source]
    silver = cfg.table(silver_table(source))
    record = RunRecord(job="ingest", target_table=silver, as_of=as_of)
    cached: list[DataFrame] = []
    try:
        with recorded(spark, cfg, record):
            return _ingest(spark, cfg, contract, record, as_of, batch_from, cached)
    finally:
        for frame in cached:
            frame.unpersist()


def _ingest(
    spark: SparkSession,
    cfg: Config,
    contract: SourceContract,
    record: RunRecord,
    as_of: date,
    batch_from: date | None,
    cached: list[DataFrame],
) -> IngestCounts:
    source, silver = contract.name, record.target_table
    if batch_from is None:
        history = quality.ingest_history(spark, cfg, silver)  # the window needs it anyway
        # A silver table that is gone (dropped to rebuild it) is filled from the start.
        batch_from = _batch_window(history, as_of) if delta_io.table_exists(spark, silver) \
            else None
    else:
        with quality.gate_time(record):  # read for the volume baseline alone
            history = quality.ingest_history(spark, cfg, silver)
    record.batch_from, record.batch_to = batch_from, as_of
    raw = read_batches(spark, cfg, source, batch_from, as_of, contract.column_names)
    extras = split_columns(raw.columns, contract)
    if extras:
        log.warning(
            "%s: column(s) %s are not in the contract; kept out of silver (they remain "
            "visible in quarantine's raw JSON only)", source, ", ".join(extras),
        )
    ranked = rank_versions(
        annotate_batch(raw, contract, _parent_keys(spark, cfg, contract)), contract
    ).persist(StorageLevel.MEMORY_AND_DISK)
    cached.append(ranked)
    counts = _count(ranked)
    record.rows_in, record.rows_accepted = counts.rows_in, counts.accepted
    record.rows_quarantined, record.rows_duplicate = counts.quarantined, counts.duplicates
    counts.reconcile(source)
    _audit(spark, cfg, contract, ranked, record, counts, history)

    merged = _publish(spark, cfg, contract, ranked, record)
    record.status = "empty" if counts.rows_in == 0 else "success"
    if counts.rows_in == 0:
        log.warning("%s: no raw rows in batches %s..%s", source, batch_from or "start", as_of)
    log.info(
        "%s: rows in %d = accepted %d + quarantined %d + duplicates dropped %d "
        "(silver: %d inserted, %d updated, %d unchanged)",
        source, counts.rows_in, counts.accepted, counts.quarantined, counts.duplicates,
        merged["inserted"], merged["updated"], merged["unchanged"],
    )
    return counts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        required=True,
        type=_parse_sources,
        help=(
            "source(s) to ingest, comma-separated, or a group: "
            + "; ".join(f"{g} = {','.join(s)}" for g, s in SOURCE_GROUPS.items())
            + "; or 'all'. Sources: " + ", ".join(SOURCE_ORDER)
        ),
    )
    parser.add_argument("--as-of", required=True, type=date.fromisoformat, help="run date")
    parser.add_argument(
        "--from",
        dest="batch_from",
        type=date.fromisoformat,
        default=None,
        help="first batch date to (re)ingest; default: catch up after silver's newest batch",
    )


def _parse_sources(text: str) -> tuple[str, ...]:
    """'all', a group name, or a comma-separated list, returned in dependency order."""
    if text == "all":
        return SOURCE_ORDER
    wanted: set[str] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        if part in SOURCE_GROUPS:
            wanted.update(SOURCE_GROUPS[part])
        elif part in SOURCE_ORDER:
            wanted.add(part)
        else:
            raise argparse.ArgumentTypeError(
                f"unknown source '{part}'; known: {', '.join(SOURCE_ORDER)}, groups: "
                f"{', '.join(SOURCE_GROUPS)}, or all"
            )
    return tuple(s for s in SOURCE_ORDER if s in wanted)


def execute(args: argparse.Namespace) -> None:
    cfg = load_config()
    spark = get_spark(cfg, f"ingest-{'-'.join(args.source)}")
    for position, source in enumerate(args.source, start=1):
        log.info("[%d/%d] ingesting %s", position, len(args.source), source)
        run(spark, cfg, args.as_of, source, args.batch_from)


def main(argv: list[str] | None = None) -> None:
    from growth.jobs.cli import main as cli_main

    cli_main(["ingest", *(argv or [])])


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
