"""Import: files of your own (CSV or Parquet) + a mapping file -> the raw landing zone.

The mapping (``growth/mappings/*.yaml`` for the shipped datasets, or a file of yours) says
which input column plays each role; ``growth.features.mapping`` derives the contract's
sources from the roles. Each source is written as daily batches under
``<lake>/raw/<source>/batch_date=YYYY-MM-DD/``, replacing what an earlier import of the same
mapping wrote there, so a rerun lands the same files. Sources the mapping does not provide
get one empty batch, so that ingest sees "nothing delivered" rather than "missing".
Ingest then checks the contract as for any other delivery.
"""

from __future__ import annotations

import argparse
import logging
from importlib import resources
from pathlib import Path

import yaml
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from growth.errors import GrowthError
from growth.features.contracts import CONTRACTS
from growth.features.mapping import (
    BATCH_DATE,
    PROBLEM,
    DatasetMapping,
    MappingError,
    contract_sources,
    parse_mapping,
    standardize,
)
from growth.jobs.config import Config, load_config
from growth.jobs.raw import raw_source_path
from growth.jobs.session import get_spark
from growth.layout import SOURCE_ORDER

log = logging.getLogger(__name__)

SHIPPED = {"olist": "olist.yaml", "olist-funnel": "olist_funnel.yaml", "youtube": "youtube.yaml"}


class InputMissingError(GrowthError, FileNotFoundError):
    """An input file named by a mapping does not exist."""


class UnreadableColumnError(GrowthError, ValueError):
    """A mapped column's values cannot be read as its role's type."""


def load_mapping(name_or_path: str) -> DatasetMapping:
    """A shipped dataset's mapping by name, or a mapping file by path."""
    if name_or_path in SHIPPED:
        text = resources.files("growth.mappings").joinpath(SHIPPED[name_or_path]).read_text()
        origin = f"mapping '{name_or_path}'"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise MappingError(f"no mapping '{name_or_path}': neither a shipped dataset "
                               f"({', '.join(SHIPPED)}) nor a file")
        text, origin = path.read_text(), str(path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"{origin} is not valid YAML: {exc}") from exc
    return parse_mapping(raw, origin)


def _read_input(spark: SparkSession, path: Path) -> DataFrame:
    if not path.exists():
        raise InputMissingError(
            f"input {path} does not exist. The shipped datasets are read from "
            "GROWTH_DATA_ROOT (default ../shared/data, see its README); point it at the "
            "folder that holds them."
        )
    if path.suffix.lower() == ".csv":
        # Strings throughout: the mapping's roles type them, and say which value failed.
        frame = (spark.read.option("header", "true").option("inferSchema", "false")
                 .option("escape", '"').csv(str(path)))
    else:
        frame = spark.read.parquet(str(path))
    # A byte-order mark left in a CSV header would otherwise become part of a column name.
    return frame.toDF(*[c.lstrip("\ufeff") for c in frame.columns])


def mapped_rows(spark: SparkSession, cfg: Config, mapping: DatasetMapping) -> DataFrame:
    """The mapping's inputs, joined by its FROM clause, as typed role columns."""
    root = Path(cfg.data_root).expanduser().resolve()
    for view, relative in mapping.inputs.items():
        _read_input(spark, root / relative).createOrReplaceTempView(view)
    try:
        joined = spark.sql(f"SELECT * FROM {mapping.source}")
        rows = standardize(joined, mapping)
        rows.schema  # noqa: B018 - analysing the plan names an unknown column now
    except AnalysisException as exc:
        columns = {v: spark.table(v).columns for v in mapping.inputs}
        raise MappingError(
            f"mapping '{mapping.name}' names something its inputs do not have: "
            f"{exc.getMessage() if hasattr(exc, 'getMessage') else exc}. Input columns: "
            + "; ".join(f"{v}: {', '.join(c)}" for v, c in columns.items())
        ) from exc
    return rows


def check_readable(rows: DataFrame, mapping: DatasetMapping) -> int:
    """Raise when a role's values are unreadable in more than the mapping's tolerated share;
    return the number of unreadable rows (left out of the import, and logged)."""
    total = rows.count()
    bad = rows.where(F.col(PROBLEM).isNotNull()).groupBy(PROBLEM).count().collect()
    dropped = 0
    for row in sorted(bad, key=lambda r: -r["count"]):
        role, count = row[PROBLEM], row["count"]
        expression = next(
            (mapping.columns[r] for r in mapping.columns if r == role), "(default)"
        )
        share = count / max(total, 1)
        message = (f"role '{role}' (mapped to {expression}) could not be read in {count:,} of "
                   f"{total:,} rows ({share:.1%})")
        if share > mapping.max_unreadable_share:
            hint = (" Set time_format in the mapping to the file's pattern (Spark datetime "
                    "pattern, e.g. 'dd/MM/yyyy HH:mm')" if role in ("time", "converted_at")
                    else " Map the role to a column that holds numbers, or to an expression "
                    "that cleans it")
            raise UnreadableColumnError(
                f"{message}, over the {mapping.max_unreadable_share:.1%} tolerated "
                f"(max_unreadable_share).{hint}."
            )
        log.warning("%s: those rows are left out of the import", message)
        dropped += count
    return dropped


def _write_source(spark: SparkSession, cfg: Config, source: str, frame: DataFrame) -> int:
    path = raw_source_path(cfg, source)
    # One file per batch: a history of a few years is hundreds of small daily batches.
    frame.repartition(BATCH_DATE).write.mode("overwrite").partitionBy(BATCH_DATE).parquet(path)
    return spark.read.parquet(path).count()


def _write_empty(spark: SparkSession, cfg: Config, source: str, batch: str) -> None:
    columns = CONTRACTS[source].column_names
    empty = spark.createDataFrame([], ", ".join(f"`{c}` string" for c in columns))
    path = Path(raw_source_path(cfg, source)) / f"{BATCH_DATE}={batch}"
    empty.write.mode("overwrite").parquet(str(path))


def run(spark: SparkSession, cfg: Config, mapping: DatasetMapping) -> dict[str, int]:
    """Land the mapping's sources in the raw zone; return the rows written per source."""
    rows = mapped_rows(spark, cfg, mapping).cache()
    try:
        dropped = check_readable(rows, mapping)
        written: dict[str, int] = {}
        for source, frame in contract_sources(rows, mapping.kind).items():
            written[source] = _write_source(spark, cfg, source, frame)
            log.info("%s: %d row(s) landed in %s", source, written[source],
                     raw_source_path(cfg, source))
    finally:
        rows.unpersist()
    first = spark.read.parquet(raw_source_path(cfg, next(iter(written)))) \
        .agg(F.min(BATCH_DATE)).first()[0]
    for source in SOURCE_ORDER:
        if source not in written:
            _write_empty(spark, cfg, source, str(first))
    if dropped:
        written["unreadable (left out)"] = dropped
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mapping", required=True,
        help=f"a shipped dataset ({', '.join(SHIPPED)}) or the path of a mapping file "
             "(see docs/datasets.md for its format)",
    )


def execute(args: argparse.Namespace) -> None:
    import sys

    cfg = load_config()
    mapping = load_mapping(args.mapping)
    written = run(get_spark(cfg, "growth-import"), cfg, mapping)
    for source, count in written.items():
        sys.stdout.write(f"{source}: {count:,} row(s)\n")
