"""Scoring a batch of snapshots with the champion models (pandas in, pandas out).

Grain: one row per entity of one as-of. The job runs these functions inside Spark's
``mapInPandas``, one Arrow batch at a time, with the champions broadcast to every executor.

``score_batch`` reads the key, ``as_of_date``, the models' feature columns and the columns
it carries through (``previous_tier``, ``tenure_days``, ...); it writes ``SCORED_COLUMNS``. ``tier_batch`` adds ``tier`` and ``raw_tier`` (the
tier without hysteresis, kept so that churn with and without it can be queried).
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from growth.models.estimators import PotentialModel, ValueModel
from growth.models.reasons import top_reasons
from growth.models.tiering import Gate, TierPolicy, assign_tiers, failed_gates

SCORED_COLUMNS = ("score", "failed_gates", "value_reasons", "potential_raw",
                  "potential_probability", "potential_reasons")


@dataclass(frozen=True)
class Champions:
    """The models scoring uses, each with the feature order it was trained on."""

    value: ValueModel
    value_features: Sequence[str]
    potential: PotentialModel
    potential_features: Sequence[str]


def freeze_loaded() -> None:
    """Move every object alive now out of the garbage collector's sight (call once the
    champions are loaded, in a process that goes on to score many batches).

    A batch allocates lists per row (reasons, failed gates), and every so many allocations
    Python runs a full collection over all tracked objects: the ~200k that pandas, XGBoost
    and numba hold, on every batch (0.2-0.5 s per 100k rows measured). Those live as long as
    the process anyway. What was frozen before (a replaced champion) is released first."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _matrix(frame: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise KeyError(f"the snapshot lacks the model's feature(s) {', '.join(missing)}: "
                       "the model was trained on another feature set; retrain it")
    return frame[list(features)].to_numpy(dtype=np.float32, na_value=np.nan)


def score_batch(
    frame: pd.DataFrame,
    key: str,
    models: Champions,
    units: Mapping[str, str],
    gates: Sequence[Gate],
    reasons: int = 3,
    keep: Sequence[str] = ("previous_tier", "tenure_days"),
    threads: int = 1,
) -> pd.DataFrame:
    """The value score, eligibility and potential of every row, with their reasons; the
    ``keep`` columns are carried through.

    Each model goes over the batch once (``explain``): the prediction, the contributions
    and each row's strongest features come from the same pass. ``threads``: threads of
    that pass; 1 in a Spark Python worker, which already has a core of its own.
    """
    out = frame[[key, "as_of_date", *keep]].copy()
    if frame.empty:
        for column in SCORED_COLUMNS:
            out[column] = pd.Series(dtype=object)
        return out
    value = models.value.explain(_matrix(frame, models.value_features), reasons, threads)
    out["score"] = np.maximum(value.output, 0.0)
    out["failed_gates"] = failed_gates(frame, gates)
    out["value_reasons"] = top_reasons(value.contributions, frame, models.value_features,
                                       units, reasons, top=value.top)
    potential = models.potential.explain(_matrix(frame, models.potential_features), reasons,
                                         threads)
    out["potential_raw"] = potential.output
    out["potential_probability"] = models.potential.calibrate(potential.output)
    out["potential_reasons"] = top_reasons(potential.contributions, frame,
                                           models.potential_features, units, reasons,
                                           top=potential.top)
    return out


def tier_batch(frame: pd.DataFrame, policy: TierPolicy) -> pd.DataFrame:
    """``frame`` (``score_batch``'s output) plus ``tier`` and ``raw_tier``."""
    out = frame.copy()
    eligible = np.fromiter(map(len, frame["failed_gates"]), dtype=np.int64, count=len(frame)) == 0
    args = (frame["score"].to_numpy(float), frame["previous_tier"].to_numpy(object), eligible,
            frame["tenure_days"].to_numpy(float, na_value=np.nan), policy)
    out["tier"] = assign_tiers(*args, hysteresis=True)
    out["raw_tier"] = assign_tiers(*args, hysteresis=False)
    return out
