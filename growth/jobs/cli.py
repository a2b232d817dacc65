"""The ``growth`` command. Every job is a subcommand; ``growth <command> --help`` explains it.

The same entry point serves spark-submit: ``spark-submit growth/jobs/cli.py ingest ...``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

from growth.errors import GrowthError


def _generated_docs() -> dict[Path, str]:
    from growth.features.contract_docs import render_sources_markdown
    from growth.features.feature_docs import render_features_markdown

    return {
        Path("docs/sources.md"): render_sources_markdown(),
        Path("docs/features.md"): render_features_markdown(),
    }


# Libraries whose INFO lines say nothing a user of a job can act on: py4j logs every call to
# the JVM; Great Expectations logs its ephemeral context and about two lines per expectation
# ("_get_default_value called with key ..."), dozens per gate, burying the gate's own summary
# in the task logs. Their warnings and errors still show.
NOISY_LOGGERS = ("py4j", "pyspark", "great_expectations")


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _sql(args: argparse.Namespace) -> None:
    from pyspark.errors import PySparkException

    from growth.jobs.config import load_config
    from growth.jobs.session import get_spark

    cfg = load_config()
    spark = get_spark(cfg, "growth-sql")
    spark.catalog.setCurrentDatabase(cfg.database)
    try:
        df = spark.sql(args.query)
        if args.format == "csv":
            df.toPandas().to_csv(sys.stdout, index=False)
        else:
            df.show(n=args.limit, truncate=args.truncate)
    except PySparkException as exc:
        raise GrowthError(f"the query failed: {exc}") from exc


def _config(_: argparse.Namespace) -> None:
    import dataclasses

    from growth.jobs.config import load_config

    for key, value in dataclasses.asdict(load_config()).items():
        sys.stdout.write(f"GROWTH_{key.upper()}={value}\n")


def _docs(args: argparse.Namespace) -> None:
    for path, text in _generated_docs().items():
        if args.check:
            if not path.is_file() or path.read_text() != text:
                sys.exit(f"{path} is stale: run 'growth docs' and commit the result")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        sys.stdout.write(f"wrote {path}\n")


def _spark_defaults(_: argparse.Namespace) -> None:
    from growth.jobs.config import load_config
    from growth.jobs.session import spark_conf

    for key, value in spark_conf(load_config()).items():
        sys.stdout.write(f"{key} {value}\n")


# Every job module brings its own arguments and entry point (add_arguments, execute). They
# are named, not imported: a job module pulls in Spark, pandas and the models (about 5 s), so
# only the command being run is imported (``growth --help`` answers at once, and a task
# spark-submit starts loads its own job alone).
JOB_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("simulate", "simulate", "generate a simulated marketplace into the raw zone"),
    ("import", "import_data", "your own CSV or Parquet files + a mapping file -> the raw "
     "landing zone (daily batches), ready for ingest"),
    ("run", "run_dataset", "a shipped real dataset (olist, olist-funnel, youtube) through "
     "the whole pipeline, in its own lake"),
    ("ingest", "ingest",
     "raw batches -> silver Delta tables, bad rows to quarantine, reconciled"),
    ("daily-aggregates", "build_daily",
     "silver -> merchant_daily, creator_daily (only the days whose data changed)"),
    ("features", "build_features",
     "daily tables -> merchant_features, creator_features snapshots"),
    ("labels", "build_labels", "daily tables -> merchant_labels, creator_labels"),
    ("training-set", "build_training_set",
     "snapshots + labels for a list of cutoffs -> <entity>_training_set"),
    ("train", "train_models", "backtest and train the value and potential models of an "
     "entity; promote the new one if it beats the champion"),
    ("score", "score",
     "score a snapshot with the champions -> <entity>_tiers, potential_scores"),
    ("lookalike", "lookalike", "look-alike scores of the new entities (no history of their "
     "own), learnt from the traits of the day's tier S and A entities -> lookalike_scores"),
    ("outreach", "build_outreach", "rank who to call by the learnt effect of a contact x "
     "predicted value (potential x value without campaign history), allocate to account "
     "managers within capacity, cooldown and suppression -> outreach_lists"),
    ("uplift-eval", "evaluate_uplift", "learn the effect of outreach from earlier campaigns "
     "and rank the latest ones: Qini, AUUC, uplift@k beside rule rankings and, on a "
     "simulated lake, the oracle"),
    ("evaluate-real", "evaluate_real", "on a shipped real dataset (olist, olist-funnel, "
     "youtube): the model's ROC-AUC out of time beside a rule baseline and the target"),
    ("sim-eval", "evaluate_simulation", "on a simulated lake: backtest the potential model "
     "against the simulator's ground truth (noise-free expected value), beside the rule "
     "baselines"),
    ("report", "report", "one static HTML page of the day: tiers, migration, lift and "
     "gain, calibration, Qini, feature importance, data quality, freshness"),
    ("dq", "dq_report",
     "what the data-quality gates said about a date: checks per table, failures"),
    ("runs", "runs", "what the runs of a date published (from the run log)"),
    ("status", "status", "the newest runs of every job and each published table's "
     "freshness (from the run log); --check fails on a stale table"),
)

ALL = "*"
"""``build_parser(ALL)``: every command's arguments (tests, and anything that inspects them)."""


def _job_module(name: str) -> ModuleType:
    return importlib.import_module(f"growth.jobs.{name}")


def _wire_job(p: argparse.ArgumentParser, module_name: str) -> None:
    module = _job_module(module_name)
    module.add_arguments(p)
    p.set_defaults(func=module.execute)


def _wire_export(p: argparse.ArgumentParser) -> None:
    export_outreach = _job_module("export_outreach")
    kinds = p.add_subparsers(dest="kind", required=True, metavar="kind")
    k = kinds.add_parser("outreach", help="a day's outreach lists, one file per team, for CRM "
                         "import (holdout rows left out)")
    export_outreach.add_arguments(k)
    k.set_defaults(func=export_outreach.execute)


def _wire_sql(p: argparse.ArgumentParser) -> None:
    p.add_argument("query", help='e.g. "SHOW TABLES IN growth"')
    p.add_argument("--format", choices=("table", "csv"), default="table")
    p.add_argument("--limit", type=int, default=50, help="rows shown in table format")
    p.add_argument("--truncate", type=int, default=40, help="max characters per cell")
    p.set_defaults(func=_sql)


def _wire_docs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--check", action="store_true", help="fail if the file is stale")
    p.set_defaults(func=_docs)


OTHER_COMMANDS: tuple[tuple[str, str, Callable[[argparse.ArgumentParser], None]], ...] = (
    # models and serve: their sub-commands (list, show, ...; sql) set their own entry points.
    ("models", "the model registry: list, show, promote, promote-candidates, rollback",
     lambda p: _job_module("models_cli").add_arguments(p)),
    ("export", "write published tables to files for other tools: 'growth export outreach' "
     "gives one CSV or Parquet file per team", _wire_export),
    ("serve", "serve the tables: 'growth serve sql' runs a Spark Thrift (JDBC/ODBC, beeline) "
     "server on the growth database", lambda p: _job_module("sql_server").add_arguments(p)),
    ("sql", "run a SQL query against the growth database", _wire_sql),
    ("spark-defaults", "print the Spark settings as a properties file, for spark-sql / "
     "spark-submit", lambda p: p.set_defaults(func=_spark_defaults)),
    ("config", "print the resolved settings", lambda p: p.set_defaults(func=_config)),
    ("docs", "regenerate docs/sources.md and docs/features.md from the contracts and the "
     "feature registry", _wire_docs),
)


def build_parser(command: str | None = ALL) -> argparse.ArgumentParser:
    """The ``growth`` parser. Every command is listed, but only ``command``'s arguments are
    added (its module imported): ``ALL`` adds every command's, None none (top-level help)."""
    parser = argparse.ArgumentParser(
        prog="growth",
        description=(
            "Merchant and creator growth scoring on Spark and Delta Lake. Settings come from "
            "GROWTH_* environment variables or an env file (see 'growth config')."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name, module_name, text in JOB_COMMANDS:
        p = sub.add_parser(name, help=text)
        if command in (ALL, name):
            _wire_job(p, module_name)
    for name, text, wire in OTHER_COMMANDS:
        p = sub.add_parser(name, help=text)
        if command in (ALL, name):
            wire(p)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The sub-command ``argv`` names (its first word that is not an option), if any."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(_command_in(argv)).parse_args(argv)
    from growth.jobs.config import load_config

    try:
        level = load_config().log_level
    except ValueError as exc:
        sys.exit(f"growth: configuration error: {exc}")
    _configure_logging(level)
    try:
        args.func(args)
    except GrowthError as exc:
        # The message already says what is wrong and what to do; a traceback would bury it.
        logging.getLogger("growth").error("%s", exc)
        sys.exit(exc.exit_status)


if __name__ == "__main__":
    main(sys.argv[1:])
