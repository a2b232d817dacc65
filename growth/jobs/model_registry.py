"""The model registry: the ``model_registry`` Delta table plus one artifact directory per
model version under ``<lake>/models/<model name>/v<version>``.

Grain: one row per (model_name, version). A model name is ``<entity>_<kind>``
(``merchant_value``, ``creator_potential``). ``status`` is ``champion`` (at most one per
name: the one scoring uses), ``candidate`` (beat the champion in its backtest, trained with
``growth train --no-promote``: the training DAG's promote step makes it the champion),
``challenger`` (trained, did not beat the champion) or ``retired`` (a former champion). Promotion and rollback change two rows in one MERGE, so a reader never sees two
champions or none in between.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from growth.errors import NO_CHAMPION_EXIT_STATUS, GrowthError
from growth.jobs import delta_io
from growth.jobs.config import Config
from growth.models import store

REGISTRY_TABLE = "model_registry"
KINDS = ("value", "potential")

REGISTRY_SCHEMA = StructType([
    StructField("model_name", StringType(), False),
    StructField("version", IntegerType(), False),
    StructField("entity", StringType(), False),
    StructField("kind", StringType(), False),
    StructField("status", StringType(), False),
    StructField("trained_as_of", DateType(), False),
    StructField("training_from", DateType(), False),
    StructField("training_to", DateType(), False),
    StructField("training_cutoffs", IntegerType(), False),
    StructField("training_rows", LongType(), False),
    StructField("training_set_table", StringType(), False),
    StructField("training_set_version", LongType(), False),
    StructField("features", ArrayType(StringType()), False),
    StructField("params", StringType(), False),
    StructField("primary_metric", StringType(), False),
    StructField("primary_value", DoubleType(), True),
    StructField("champion_primary_value", DoubleType(), True),
    StructField("metrics", MapType(StringType(), DoubleType()), False),
    StructField("baseline_metrics", StringType(), False),
    StructField("backtest_report", StringType(), False),
    StructField("artifact_path", StringType(), False),
    StructField("run_id", StringType(), False),
    StructField("created_at", TimestampType(), False),
    StructField("promoted_at", TimestampType(), True),
])


class RegistryError(GrowthError):
    """A model or version the command names does not exist, or cannot take that status."""


class NoChampionError(RegistryError):
    """Scoring needs a champion and none was trained or promoted yet."""

    exit_status = NO_CHAMPION_EXIT_STATUS
    run_status = "skipped"


def model_name(entity: str, kind: str) -> str:
    return f"{entity}_{kind}"


def artifact_dir(cfg: Config, name: str, version: int) -> Path:
    return cfg.lake_root / "models" / name / f"v{version}"


def _table(spark: SparkSession, cfg: Config) -> str:
    name = cfg.table(REGISTRY_TABLE)
    delta_io.ensure_table(spark, name, REGISTRY_SCHEMA)
    return name


def versions(spark: SparkSession, cfg: Config, name: str | None = None) -> list[Row]:
    """Registry rows, newest first; of one model name when given."""
    rows = spark.table(_table(spark, cfg))
    if name is not None:
        rows = rows.where(F.col("model_name") == name)
    return rows.orderBy("model_name", F.col("version").desc()).collect()


def champion(spark: SparkSession, cfg: Config, name: str) -> Row | None:
    rows = [r for r in versions(spark, cfg, name) if r.status == "champion"]
    return rows[0] if rows else None


def load_champion(spark: SparkSession, cfg: Config, name: str):
    """The champion of ``name`` as (model, feature order, registry row)."""
    row = champion(spark, cfg, name)
    if row is None:
        raise NoChampionError(
            f"no champion model for {name}: train one with 'growth train --entity "
            f"{name.split('_')[0]} --as-of D' (the weekly DAG does), or promote a version "
            "with 'growth models promote'"
        )
    model, features = store.load(Path(row.artifact_path))
    return model, features, row


def register(
    spark: SparkSession,
    cfg: Config,
    *,
    entity: str,
    kind: str,
    model: object,
    features: list[str],
    status: str,
    trained_as_of: date,
    training: dict,
    primary_metric: str,
    primary_value: float | None,
    champion_primary_value: float | None,
    metrics: dict[str, float],
    baseline_metrics: dict,
    backtest_report: str,
    run_id: str,
) -> int:
    """Store the artifact and add its registry row; when ``status`` is champion, the
    previous champion is retired in the same commit. Returns the new version."""
    table = _table(spark, cfg)
    name = model_name(entity, kind)
    existing = versions(spark, cfg, name)
    version = max((r.version for r in existing), default=0) + 1
    path = artifact_dir(cfg, name, version)
    store.save(model, features, path)
    now = datetime.now(UTC)
    row = (
        name, version, entity, kind, status, trained_as_of, training["from"], training["to"],
        training["cutoffs"], training["rows"], training["table"], training["version"],
        list(features), json.dumps(model.get_params(), sort_keys=True), primary_metric,
        _finite(primary_value), _finite(champion_primary_value),
        {k: v for k, v in metrics.items() if _finite(v) is not None},
        json.dumps(baseline_metrics, sort_keys=True, default=str), backtest_report, str(path),
        run_id, now, now if status == "champion" else None,
    )
    new = spark.createDataFrame([row], REGISTRY_SCHEMA)
    if status != "champion":
        delta_io.append(spark, new, table)
        return version
    retire = [r for r in existing if r.status == "champion"]
    changes = new.unionByName(spark.createDataFrame(
        [(r.model_name, r.version, "retired") for r in retire],
        "model_name string, version int, status string",
    ).join(spark.table(table).drop("status"), ["model_name", "version"])
        .select(*REGISTRY_SCHEMA.fieldNames()))
    _merge_status(spark, table, changes)
    return version


def identical_version(spark: SparkSession, cfg: Config, name: str, trained_as_of: date,
                      model: object, features: list[str]) -> Row | None:
    """The registered version of ``name`` trained for ``trained_as_of`` that holds this very
    model (identical booster and settings, as ``store.to_texts`` writes them), if any: a
    rerun of a training task finds its model there and must not add it again."""
    texts = store.to_texts(model, features)
    for row in versions(spark, cfg, name):
        if row.trained_as_of != trained_as_of:
            continue
        try:
            if store.read_texts(Path(row.artifact_path)) == texts:
                return row
        except store.ModelFormatError:
            continue  # an artifact removed by hand cannot be the same model
    return None


def _merge_status(spark: SparkSession, table: str, changes) -> None:
    """Insert new versions and set the status (and promoted_at) of existing ones, atomically."""
    (
        DeltaTable.forName(spark, table).alias("t")
        .merge(changes.alias("s"), "t.model_name = s.model_name AND t.version = s.version")
        .whenMatchedUpdate(set={
            "status": "s.status",
            "promoted_at": "CASE WHEN s.status = 'champion' THEN s.promoted_at "
                           "ELSE t.promoted_at END",
        })
        .whenNotMatchedInsertAll()
        .execute()
    )


def _finite(value: float | None) -> float | None:
    return None if value is None or value != value else float(value)


def promote(spark: SparkSession, cfg: Config, name: str, version: int) -> Row | None:
    """Make ``version`` the champion of ``name``; return the champion it replaced."""
    table = _table(spark, cfg)
    rows = {r.version: r for r in versions(spark, cfg, name)}
    if version not in rows:
        known = ", ".join(str(v) for v in sorted(rows)) or "none"
        raise RegistryError(f"{name} has no version {version} (versions: {known})")
    current = champion(spark, cfg, name)
    if current is not None and current.version == version:
        raise RegistryError(f"{name} version {version} is already the champion")
    _set(spark, table, name, [(version, "champion")] +
         ([(current.version, "retired")] if current is not None else []))
    return current


def promote_candidates(spark: SparkSession, cfg: Config, entity: str,
                       trained_as_of: date) -> list[str]:
    """Promote, per kind of ``entity``, the newest candidate trained for ``trained_as_of``;
    keep the champion where there is none. Returns one line per kind saying which.

    Idempotent: a rerun finds the candidate promoted already (now the champion) and keeps it.
    """
    lines = []
    for kind in KINDS:
        name = model_name(entity, kind)
        rows = versions(spark, cfg, name)
        candidates = [r for r in rows
                      if r.status == "candidate" and r.trained_as_of == trained_as_of]
        current = next((r for r in rows if r.status == "champion"), None)
        if candidates:
            chosen = max(candidates, key=lambda r: r.version)
            replaced = promote(spark, cfg, name, chosen.version)
            was = f", v{replaced.version} retired" if replaced is not None else ""
            lines.append(f"{name}: v{chosen.version} promoted to champion{was}")
        elif current is not None:
            lines.append(f"{name}: champion v{current.version} kept (no candidate trained for "
                         f"{trained_as_of} beat it)")
        else:
            lines.append(f"{name}: no champion and no candidate for {trained_as_of}; "
                         "'growth models list' shows why the trained versions were not promoted")
    return lines


def rollback(spark: SparkSession, cfg: Config, name: str) -> tuple[int, int]:
    """Retire the champion of ``name`` and restore the champion before it; return
    (retired version, restored version)."""
    table = _table(spark, cfg)
    current = champion(spark, cfg, name)
    if current is None:
        raise RegistryError(f"{name} has no champion to roll back")
    earlier = [r for r in versions(spark, cfg, name)
               if r.status == "retired" and r.promoted_at is not None
               and r.promoted_at <= current.promoted_at and r.version != current.version]
    if not earlier:
        raise RegistryError(
            f"{name} version {current.version} is the first champion: there is nothing to "
            "roll back to (promote a challenger with 'growth models promote' instead)"
        )
    previous = max(earlier, key=lambda r: (r.promoted_at, r.version))
    _set(spark, table, name, [(current.version, "retired"), (previous.version, "champion")],
         keep_promoted_at=previous.version)
    return current.version, previous.version


def _set(spark: SparkSession, table: str, name: str, statuses: list[tuple[int, str]],
         keep_promoted_at: int | None = None) -> None:
    now = datetime.now(UTC)
    changes = spark.createDataFrame(
        [(name, v, s) for v, s in statuses], "model_name string, version int, status string"
    ).join(spark.table(table).drop("status"), ["model_name", "version"])
    # A rollback restores the earlier champion as it was: its promotion time is kept so that
    # a second rollback walks further back instead of bouncing between two versions.
    changes = changes.withColumn(
        "promoted_at",
        F.when(F.col("version") == F.lit(keep_promoted_at), F.col("promoted_at"))
        .otherwise(F.lit(now)),
    ).select(*REGISTRY_SCHEMA.fieldNames())
    _merge_status(spark, table, changes)
