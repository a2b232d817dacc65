"""Config -> the scalars and small objects the models take: tier shares, gates, estimators.

One place, so that training and scoring can never read the same setting differently.
"""

from __future__ import annotations

from collections.abc import Callable

from growth.features.registry import FEATURES, feature_names
from growth.jobs.config import Config, ConfigError
from growth.models import backtest as bt
from growth.models.estimators import PotentialModel, ValueModel
from growth.models.tiering import RANKED, Gate

# What an entity's value is measured in, as the stem of its trailing-value features.
VALUE_STEM = {"merchant": "gmv", "creator": "affiliate_gmv"}
PRIMARY_METRIC = {"value": "normalized_gini", "potential": "roc_auc"}


def tier_shares(cfg: Config) -> dict[str, float]:
    """Cumulative shares of S, S+A, S+A+B, S+A+B+C, checked against the label's top share."""
    try:
        values = [float(v) for v in cfg.tier_shares.split(",")]
    except ValueError as exc:
        raise ConfigError(f"GROWTH_TIER_SHARES={cfg.tier_shares!r}: {exc}") from exc
    if len(values) != len(RANKED) - 1 or values != sorted(values) or not all(
        0 < v < 1 for v in values
    ):
        raise ConfigError(
            f"GROWTH_TIER_SHARES={cfg.tier_shares!r}: give 4 rising cumulative shares in "
            "(0, 1) for S, A, B, C, e.g. 0.05,0.2,0.5,0.8"
        )
    if abs(values[1] - cfg.label_top_share) > 1e-9:
        raise ConfigError(
            f"GROWTH_TIER_SHARES puts {values[1]:g} of entities in tier A or better, but "
            f"GROWTH_LABEL_TOP_SHARE={cfg.label_top_share:g} defines 'reached tier A' in the "
            "labels: make them equal"
        )
    return dict(zip(RANKED, values, strict=False))


def gates(cfg: Config, entity: str) -> list[Gate]:
    """The eligibility gates of ``entity``; an entity failing one is capped."""
    if entity == "merchant":
        return [
            Gate("min_orders_90d", "orders_count_90d", ">=", cfg.merchant_min_orders_90d),
            # No reviews yet, no deliveries yet: not a bad record, so a null passes.
            Gate("min_rating", "rating_mean_90d", ">=", cfg.merchant_min_rating, True),
            Gate("max_late_rate", "late_delivery_rate_90d", "<=", cfg.merchant_max_late_rate, True),
            Gate("max_failed_rate", "failed_delivery_rate_90d", "<=",
                 cfg.merchant_max_failed_rate, True),
        ]
    return [
        Gate("min_active_days_30d", "active_days_30d", ">=", cfg.creator_min_active_days_30d),
        Gate("min_followers", "followers_latest", ">=", cfg.creator_min_followers),
    ]


def units(entity: str) -> dict[str, str]:
    return {f.name: f.unit for f in FEATURES[entity]}


def model_features(entity: str) -> list[str]:
    return list(feature_names(entity))


def new_params(cfg: Config) -> dict:
    """The boosting parameters of a newly trained model."""
    return {"n_estimators": cfg.model_trees, "max_depth": cfg.model_max_depth,
            "learning_rate": cfg.model_learning_rate}


def backtest_report(cfg: Config, kind: str) -> Callable[..., dict[str, float]]:
    """The metrics of one set of backtest scores of ``kind`` (``report(y, score, is_model)``)."""
    return bt.potential_report(cfg.potential_top_k) if kind == "potential" else bt.value_report


def estimator(kind: str, params: dict) -> ValueModel | PotentialModel:
    """A fresh, unfitted estimator of ``kind`` with the given (new or stored) parameters."""
    cls = {"value": ValueModel, "potential": PotentialModel}[kind]
    return cls(**params)
