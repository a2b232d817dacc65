"""``growth models list|show|promote|rollback``: read and change the model registry."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from growth.jobs import model_registry
from growth.jobs.config import load_config
from growth.jobs.run_log import RunRecord, recorded
from growth.jobs.session import get_spark


def _session():
    cfg = load_config()
    return get_spark(cfg, "growth-models"), cfg


def _list(args: argparse.Namespace) -> None:
    spark, cfg = _session()
    rows = model_registry.versions(spark, cfg, args.name)
    if not rows:
        sys.stdout.write("no models registered" + (f" under {args.name}" if args.name else "")
                         + "; train one with 'growth train --entity E --as-of D'\n")
        return
    header = f"{'model':<20}{'version':>8}  {'status':<11}{'trained as of':<14}{'cutoffs':<24}" \
             f"{'rows':>10}  {'metric':<16}{'value':>8}{'champion':>10}"
    lines = [header]
    for r in rows:
        champion = "-" if r.champion_primary_value is None else f"{r.champion_primary_value:.4f}"
        value = "-" if r.primary_value is None else f"{r.primary_value:.4f}"
        lines.append(
            f"{r.model_name:<20}{r.version:>8}  {r.status:<11}{str(r.trained_as_of):<14}"
            f"{f'{r.training_from}..{r.training_to}':<24}{r.training_rows:>10,}  "
            f"{r.primary_metric:<16}{value:>8}{champion:>10}")
    sys.stdout.write("\n".join(lines) + "\n")


def _show(args: argparse.Namespace) -> None:
    spark, cfg = _session()
    rows = model_registry.versions(spark, cfg, args.name)
    if args.version is not None:
        rows = [r for r in rows if r.version == args.version]
    else:
        rows = [r for r in rows if r.status == "champion"] or rows[:1]
    if not rows:
        raise model_registry.RegistryError(
            f"{args.name} has no {'version ' + str(args.version) if args.version else 'model'}; "
            "'growth models list' shows what is registered")
    r = rows[0]
    sys.stdout.write(
        f"{r.model_name} v{r.version} ({r.status}), trained as of {r.trained_as_of} on "
        f"{r.training_set_table} version {r.training_set_version}: {r.training_cutoffs} "
        f"cutoffs {r.training_from}..{r.training_to}, {r.training_rows:,} rows\n"
        f"artifact {r.artifact_path}\nparameters {r.params}\n"
        f"features ({len(r.features)}) {', '.join(r.features)}\n\n{r.backtest_report}\n")


def _promote(args: argparse.Namespace) -> None:
    spark, cfg = _session()
    replaced = model_registry.promote(spark, cfg, args.name, args.version)
    was = f" (v{replaced.version} retired)" if replaced is not None else ""
    sys.stdout.write(f"{args.name} v{args.version} is now the champion{was}\n")


def _promote_candidates(args: argparse.Namespace) -> None:
    spark, cfg = _session()
    record = RunRecord(job="promote_models", as_of=args.as_of,
                       target_table=cfg.table(model_registry.REGISTRY_TABLE))
    with recorded(spark, cfg, record):
        lines = model_registry.promote_candidates(spark, cfg, args.entity, args.as_of)
        record.rows_updated = sum("promoted" in line for line in lines)
        record.message = "; ".join(lines)
        record.wrote(spark, record.target_table)
        record.status = "success"
    sys.stdout.write("\n".join(lines) + "\n")


def _rollback(args: argparse.Namespace) -> None:
    spark, cfg = _session()
    retired, restored = model_registry.rollback(spark, cfg, args.name)
    sys.stdout.write(f"{args.name}: v{retired} retired, v{restored} is the champion again\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="action")
    p = sub.add_parser("list", help="every registered version, with status and backtest metric")
    p.add_argument("name", nargs="?", default=None, help="e.g. merchant_potential (default: all)")
    p.set_defaults(func=_list)
    p = sub.add_parser("show", help="one version (default: the champion) and its backtest report")
    p.add_argument("name", help="e.g. merchant_potential")
    p.add_argument("version", nargs="?", type=int, default=None)
    p.set_defaults(func=_show)
    p = sub.add_parser("promote", help="make a version the champion (the current one is retired)")
    p.add_argument("name")
    p.add_argument("version", type=int)
    p.set_defaults(func=_promote)
    p = sub.add_parser(
        "promote-candidates",
        help="promote the candidates 'growth train --no-promote' registered for a date (models "
        "that beat the champion in their backtest); keep the champion otherwise")
    p.add_argument("--entity", required=True, choices=("merchant", "creator"))
    p.add_argument("--as-of", required=True, type=date.fromisoformat,
                   help="the training run's date (the candidates' trained-as-of date)")
    p.set_defaults(func=_promote_candidates)
    p = sub.add_parser("rollback", help="retire the champion and restore the one before it")
    p.add_argument("name")
    p.set_defaults(func=_rollback)
