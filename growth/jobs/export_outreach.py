"""A day's outreach lists -> one CSV or Parquet file per team, for CRM import
(``growth export outreach --as-of D [--team T] --format csv|parquet``).

Reads ``outreach_lists`` (one row per as_of_date, campaign, entity_type, entity_id) for one
day; writes ``<out>/outreach_<D>_<team>.<csv|parquet>`` with the columns of
``growth.models.outreach.EXPORT_COLUMNS``: the three reasons as reason_1..reason_3, the
holdout rows left out unless ``--include-holdout`` (they must stay uncontacted). A rerun
overwrites the same files, each written to a temporary name first and renamed, so a CRM
watching the folder never picks up half a file.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date
from pathlib import Path

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from growth.errors import GrowthError
from growth.jobs import delta_io
from growth.jobs.build_outreach import TABLE
from growth.jobs.config import Config, load_config
from growth.jobs.session import get_spark
from growth.models.outreach import LIST_COLUMNS, export_frames

log = logging.getLogger(__name__)

FORMATS = ("csv", "parquet")


class NothingToExportError(GrowthError):
    """No list rows for the requested day or team; the message says what exists."""


def day_rows(spark: SparkSession, cfg: Config, as_of: date, team: str | None) -> pd.DataFrame:
    """The published list rows of ``as_of`` (one team's when given), or an error naming the
    days and teams that do have lists."""
    name = cfg.table(TABLE)
    if not delta_io.table_exists(spark, name):
        raise NothingToExportError(
            f"{name} does not exist: run 'growth outreach --entity merchant|creator --as-of "
            f"{as_of}' first")
    lists = spark.table(name)
    day = lists.where(F.col("as_of_date") == F.lit(as_of))
    if team is not None:
        teams = sorted(r.team for r in day.select("team").distinct().collect())
        if team not in teams:
            raise NothingToExportError(
                f"no outreach list for team {team!r} on {as_of}; teams with a list that day: "
                f"{', '.join(teams) or 'none'}")
        day = day.where(F.col("team") == team)
    rows = day.select(*LIST_COLUMNS).toPandas()
    if rows.empty:
        latest = [str(r.as_of_date) for r in lists.select("as_of_date").distinct()
                  .orderBy(F.col("as_of_date").desc()).limit(5).collect()]
        raise NothingToExportError(
            f"no outreach list was published for {as_of}; latest days with a list: "
            f"{', '.join(latest) or 'none'} (run 'growth outreach --entity merchant|creator "
            f"--as-of {as_of}' to publish one)")
    return rows


def write(frames: dict[str, pd.DataFrame], out: Path, as_of: date, fmt: str) -> list[Path]:
    """Write one file per team; return the paths written, in team order."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for team, frame in frames.items():
        path = out / f"outreach_{as_of}_{team}.{fmt}"
        partial = path.with_name(f".{path.name}.partial")
        if fmt == "csv":
            frame.to_csv(partial, index=False)
        else:
            frame.to_parquet(partial, index=False)
        os.replace(partial, path)
        log.info("wrote %s: %d row(s)", path, len(frame))
        written.append(path)
    return written


def run(spark: SparkSession, cfg: Config, as_of: date, fmt: str, out: Path,
        team: str | None = None, include_holdout: bool = False) -> list[Path]:
    """Export the day's lists (see the module); return the files written."""
    frames = export_frames(day_rows(spark, cfg, as_of, team), include_holdout)
    if not frames:
        raise NothingToExportError(
            f"every row of the {as_of} list is in the holdout, which is never called; pass "
            f"--include-holdout to export it anyway")
    return write(frames, out, as_of, fmt)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", required=True, type=date.fromisoformat,
                        help="the day whose published outreach lists to export")
    parser.add_argument("--team", help="one team only (account_managers.team, e.g. "
                        "merchant_growth); default: every team with a list that day")
    parser.add_argument("--format", choices=FORMATS, default="csv",
                        help="file format (default: csv)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder to write to (default: <lake root>/exports)")
    parser.add_argument("--include-holdout", action="store_true",
                        help="also export the holdout rows, with a holdout column (they must "
                        "not be contacted; for analysis only)")


def execute(args: argparse.Namespace) -> None:
    cfg = load_config()
    out = args.out or cfg.lake_root / "exports"
    paths = run(get_spark(cfg, "export-outreach"), cfg, args.as_of, args.format, out,
                args.team, args.include_holdout)
    for path in paths:
        sys.stdout.write(f"{path}\n")
