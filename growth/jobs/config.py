"""The one config loader: defaults in code, an env file, environment variables on top.

Precedence (last wins): the defaults below, the env file (``GROWTH_ENV_FILE`` or
``./growth.env`` when present), then ``GROWTH_*`` environment variables. Every field maps to
``GROWTH_<FIELD NAME IN CAPITALS>``; ``growth config`` prints the resolved values.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from growth.errors import GrowthError
from growth.layout import DATABASE, delta_maven_coordinates


class ConfigError(GrowthError, ValueError):
    """A setting is missing or cannot be parsed; the message names the variable."""


def _default_shuffle_partitions() -> int:
    # Two to four tasks per core keeps both cores busy without thousands of tiny tasks;
    # adaptive execution coalesces further when the data is small.
    return max(4, 4 * (os.cpu_count() or 2))


@dataclasses.dataclass(frozen=True)
class Config:
    """Resolved settings of one job run. Transforms never see this object, only scalars."""

    lake_root: Path = Path("lake")
    master: str = "local[*]"
    database: str = DATABASE
    driver_memory: str = "6g"
    shuffle_partitions: int = dataclasses.field(default_factory=_default_shuffle_partitions)
    # Maven coordinates Spark resolves on first use (cached in ~/.ivy2.5.2 afterwards).
    delta_packages: str = dataclasses.field(default_factory=delta_maven_coordinates)
    # Comma-separated local jar paths; when set, used instead of resolving delta_packages.
    spark_jars: str = ""
    raw_format: str = "parquet"
    # Where the shipped dataset mappings (growth import, growth run --dataset) find their
    # input files; relative paths are read from the working directory (the project root).
    data_root: Path = Path("../shared/data")
    sim_end_date: date = date(2026, 10, 31)
    sim_seed: int = 7
    log_level: str = "INFO"
    # Labels: outcomes in (as_of, as_of + horizon]; "grew" and "reached_top_tier" rules.
    label_horizon_days: int = 90
    label_growth_multiple: float = 2.0
    label_growth_min_value: float = 500.0
    label_top_share: float = 0.2
    # Late data: snapshots and labels up to this many days before the run date are
    # recomputed when a late or corrected event changes a day their window covers.
    restate_days: int = 35
    # Data-quality gates (growth.expectations): a partition with fewer rows than
    # (1 - tolerance) x the previous run's blocks publishing; more than previous / (1 -
    # tolerance) is recorded. A batch with more than the quarantine share rejected blocks.
    dq_volume_tolerance: float = 0.5
    # Sources that deliver every day (an empty or missing day is an outage). A history
    # imported from files has quiet days of its own: the dataset mappings set this empty.
    daily_feeds: str = "orders,traffic_daily,creator_daily_stats"
    dq_max_quarantine_share: float = 0.05
    # Population stability index of a feature against the previous snapshot: recorded above
    # the first, blocking above the second.
    dq_psi_warn: float = 0.25
    dq_psi_error: float = 1.0
    # Tiers: cumulative shares of the scored population in S, S+A, S+A+B, S+A+B+C (D is
    # the rest). S+A must equal label_top_share: "tier A or better" is what the potential
    # model predicts. Hysteresis: the relative margin around a cut an entity must cross to
    # change tier. Entities younger than tier_new_days are "new".
    tier_shares: str = "0.05,0.2,0.5,0.8"
    tier_hysteresis: float = 0.1
    tier_new_days: int = 30
    tier_ineligible_cap: str = "C"
    # Eligibility gates (an entity failing one is capped at tier_ineligible_cap).
    merchant_min_orders_90d: int = 5
    merchant_min_rating: float = 3.5
    merchant_max_late_rate: float = 0.15
    merchant_max_failed_rate: float = 0.05
    creator_min_active_days_30d: int = 4
    creator_min_followers: int = 1000
    # Training: cutoffs of the weekly training run, backtest folds, champion margin (on the
    # primary metric: ROC-AUC for potential, normalized Gini for value), and the row count
    # above which training moves from the driver to xgboost.spark.
    train_every_days: int = 14
    train_cutoffs: int = 10
    backtest_folds: int = 3
    promotion_margin: float = 0.005
    spark_training_rows: int = 3_000_000
    potential_top_k: int = 100
    # Boosting: trees, depth and learning rate of every new model (a champion keeps its own).
    model_trees: int = 300
    model_max_depth: int = 5
    model_learning_rate: float = 0.05
    # Outreach lists: no contact within cooldown days of the last one; a randomized holdout
    # share of each manager's list stays uncontacted; no category takes more than its
    # share of a list; an onboarding counts within outcome days of the enrolment when the
    # effect of a contact is learnt from past campaigns, by the uplift learner ("auto": T,
    # X, linear or response, whichever ranks past campaigns best); the allocation is solved exactly
    # up to this many candidate-manager pairs, greedily above.
    outreach_cooldown_days: int = 30
    outreach_holdout_share: float = 0.1
    outreach_max_category_share: float = 0.4
    outreach_outcome_days: int = 14
    outreach_uplift_learner: str = "auto"
    outreach_exact_max_pairs: int = 200_000

    @property
    def raw_root(self) -> Path:
        """Landing zone: ``<lake>/raw/<source>/batch_date=YYYY-MM-DD/``."""
        return self.lake_root / "raw"

    @property
    def warehouse_dir(self) -> Path:
        return self.lake_root / "warehouse"

    @property
    def metastore_dir(self) -> Path:
        return self.lake_root / "metastore_db"

    @property
    def daily_feed_sources(self) -> tuple[str, ...]:
        return tuple(s.strip() for s in self.daily_feeds.split(",") if s.strip())

    def table(self, name: str) -> str:
        """Fully qualified metastore name of a table, e.g. ``growth.silver_orders``."""
        return f"{self.database}.{name}"


def _parse_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if "=" not in stripped:
            raise ConfigError(f"{path}:{number}: expected KEY=VALUE, got {stripped!r}")
        key, value = stripped.split("=", 1)
        values[key.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


def _coerce(field: dataclasses.Field, raw: str, source: str) -> object:
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
    try:
        if kind == "Path":
            return Path(raw).expanduser().resolve()
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "date":
            return date.fromisoformat(raw)
        return raw
    except ValueError as exc:
        raise ConfigError(f"{source}: cannot parse {raw!r} as {kind}: {exc}") from exc


def load_config(
    environ: Mapping[str, str] | None = None, env_file: Path | None = None
) -> Config:
    """Resolve the config from defaults, the env file and ``GROWTH_*`` variables."""
    environ = os.environ if environ is None else environ
    if env_file is None and environ.get("GROWTH_ENV_FILE"):
        env_file = Path(environ["GROWTH_ENV_FILE"])
        if not env_file.is_file():
            raise ConfigError(f"GROWTH_ENV_FILE points to {env_file}, which does not exist")
    if env_file is None and Path("growth.env").is_file():
        env_file = Path("growth.env")
    layered: dict[str, tuple[str, str]] = {}
    if env_file is not None:
        for key, value in _parse_env_file(env_file).items():
            layered[key] = (value, f"{env_file} ({key})")
    for key, value in environ.items():
        if key.startswith("GROWTH_") and key != "GROWTH_ENV_FILE":
            layered[key] = (value, f"environment variable {key}")

    fields = {f"GROWTH_{f.name.upper()}": f for f in dataclasses.fields(Config)}
    unknown = sorted(k for k in layered if k not in fields)
    if unknown:
        raise ConfigError(
            f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}"
        )
    overrides = {
        fields[key].name: _coerce(fields[key], value, source)
        for key, (value, source) in layered.items()
    }
    cfg = Config(**overrides)
    # Spark and Derby resolve relative paths against their own working directory, which
    # differs between the CLI, spark-submit and Airflow workers: pin the lake absolutely.
    return dataclasses.replace(cfg, lake_root=cfg.lake_root.expanduser().resolve())


def with_settings(cfg: Config, settings: Mapping[str, str], origin: str) -> Config:
    """``cfg`` with some fields replaced by text values (e.g. a dataset mapping's
    ``settings:``), parsed like the environment's; an unknown name is an error."""
    fields = {f.name: f for f in dataclasses.fields(Config)}
    unknown = sorted(k for k in settings if k not in fields)
    if unknown:
        raise ConfigError(f"{origin}: unknown setting(s) {', '.join(unknown)}; known: "
                          f"{', '.join(sorted(fields))}")
    return dataclasses.replace(cfg, **{
        k: _coerce(fields[k], str(v), f"{origin} ({k})") for k, v in settings.items()
    })
