"""The ``growth`` command. Every job is a subcommand; ``growth <command> --help`` explains it.

The same entry point serves spark-submit: ``spark-submit growth/jobs/cli.py ingest ...``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from growth.errors import GrowthError


def _generated_docs() -> dict[Path, str]:
    from growth.features.contract_docs import render_sources_markdown
    from growth.features.feature_docs import render_features_markdown

    return {
        Path("docs/sources.md"): render_sources_markdown(),
        Path("docs/features.md"): render_features_markdown(),
    }


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("py4j", "pyspark"):
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


def build_parser() -> argparse.ArgumentParser:
    from growth.jobs import (
        build_daily,
        build_features,
        build_labels,
        build_outreach,
        build_training_set,
        dq_report,
        evaluate_real,
        evaluate_simulation,
        evaluate_uplift,
        export_outreach,
        import_data,
        ingest,
        lookalike,
        models_cli,
        report,
        run_dataset,
        runs,
        score,
        simulate,
        sql_server,
        status,
        train_models,
    )

    parser = argparse.ArgumentParser(
        prog="growth",
        description=(
            "Merchant and creator growth scoring on Spark and Delta Lake. Settings come from "
            "GROWTH_* environment variables or an env file (see 'growth config')."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    # Every job module brings its own arguments and entry point (add_arguments, execute).
    jobs = [
        ("simulate", simulate, "generate a simulated marketplace into the raw zone"),
        ("import", import_data, "your own CSV or Parquet files + a mapping file -> the raw "
         "landing zone (daily batches), ready for ingest"),
        ("run", run_dataset, "a shipped real dataset (olist, olist-funnel, youtube) through "
         "the whole pipeline, in its own lake"),
        ("ingest", ingest,
         "raw batches -> silver Delta tables, bad rows to quarantine, reconciled"),
        ("daily-aggregates", build_daily,
         "silver -> merchant_daily, creator_daily (only the days whose data changed)"),
        ("features", build_features,
         "daily tables -> merchant_features, creator_features snapshots"),
        ("labels", build_labels, "daily tables -> merchant_labels, creator_labels"),
        ("training-set", build_training_set,
         "snapshots + labels for a list of cutoffs -> <entity>_training_set"),
        ("train", train_models, "backtest and train the value and potential models of an "
         "entity; promote the new one if it beats the champion"),
        ("score", score,
         "score a snapshot with the champions -> <entity>_tiers, potential_scores"),
        ("lookalike", lookalike, "look-alike scores of the new entities (no history of their "
         "own), learnt from the traits of the day's tier S and A entities -> lookalike_scores"),
        ("outreach", build_outreach, "rank who to call by the learnt effect of a contact x "
         "predicted value (potential x value without campaign history), allocate to account "
         "managers within capacity, cooldown and suppression -> outreach_lists"),
        ("uplift-eval", evaluate_uplift, "learn the effect of outreach from earlier campaigns "
         "and rank the latest ones: Qini, AUUC, uplift@k beside rule rankings and, on a "
         "simulated lake, the oracle"),
        ("evaluate-real", evaluate_real, "on a shipped real dataset (olist, olist-funnel, "
         "youtube): the model's ROC-AUC out of time beside a rule baseline and the target"),
        ("sim-eval", evaluate_simulation, "on a simulated lake: backtest the potential model "
         "against the simulator's ground truth (noise-free expected value), beside the rule "
         "baselines"),
        ("report", report, "one static HTML page of the day: tiers, migration, lift and "
         "gain, calibration, Qini, feature importance, data quality, freshness"),
        ("dq", dq_report,
         "what the data-quality gates said about a date: checks per table, failures"),
        ("runs", runs, "what the runs of a date published (from the run log)"),
        ("status", status, "the newest runs of every job and each published table's "
         "freshness (from the run log); --check fails on a stale table"),
    ]
    for name, module, text in jobs:
        p = sub.add_parser(name, help=text)
        module.add_arguments(p)
        p.set_defaults(func=module.execute)

    p = sub.add_parser("models", help="the model registry: list, show, promote, promote-candidates, rollback")
    models_cli.add_arguments(p)

    p = sub.add_parser("export", help="write published tables to files for other tools: "
                       "'growth export outreach' gives one CSV or Parquet file per team")
    kinds = p.add_subparsers(dest="kind", required=True, metavar="kind")
    k = kinds.add_parser("outreach", help="a day's outreach lists, one file per team, for CRM "
                         "import (holdout rows left out)")
    export_outreach.add_arguments(k)
    k.set_defaults(func=export_outreach.execute)

    p = sub.add_parser("serve", help="serve the tables: 'growth serve sql' runs a Spark Thrift "
                       "(JDBC/ODBC, beeline) server on the growth database")
    sql_server.add_arguments(p)

    p = sub.add_parser("sql", help="run a SQL query against the growth database")
    p.add_argument("query", help='e.g. "SHOW TABLES IN growth"')
    p.add_argument("--format", choices=("table", "csv"), default="table")
    p.add_argument("--limit", type=int, default=50, help="rows shown in table format")
    p.add_argument("--truncate", type=int, default=40, help="max characters per cell")
    p.set_defaults(func=_sql)

    p = sub.add_parser(
        "spark-defaults",
        help="print the Spark settings as a properties file, for spark-sql / spark-submit",
    )
    p.set_defaults(func=_spark_defaults)

    p = sub.add_parser("config", help="print the resolved settings")
    p.set_defaults(func=_config)

    p = sub.add_parser("docs", help="regenerate docs/sources.md and docs/features.md from the contracts and the "
        "feature registry")
    p.add_argument("--check", action="store_true", help="fail if the file is stale")
    p.set_defaults(func=_docs)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
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
