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
from growth.models.tiering import Gate, TierPolicy, failed_gates, tier_pair

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
    """``features`` of ``frame`` as a float32 matrix (rows x features, NaN = missing): what
    the models read."""
    _check_features(frame, features)
    return frame[list(features)].to_numpy(dtype=np.float32, na_value=np.nan)


def _check_features(frame: pd.DataFrame, features: Sequence[str]) -> None:
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise KeyError(f"the snapshot lacks the model's feature(s) {', '.join(missing)}: "
                       "the model was trained on another feature set; retrain it")


# Integers below 2**53 are exact in float64, so there float32(float64(v)) is float32(v).
_EXACT = 2.0**53


@dataclass(frozen=True)
class _Features:
    """The batch's feature columns read once for both models: ``values`` (float64, rows x
    ``names``, NaN = missing) gives the reasons their raw values and the models their
    float32 matrices; ``exact``: whether every value is below 2**53 in magnitude."""

    frame: pd.DataFrame
    names: list[str]
    values: np.ndarray
    exact: bool

    @classmethod
    def read(cls, frame: pd.DataFrame, models: Champions) -> _Features:
        names = list(dict.fromkeys([*models.value_features, *models.potential_features]))
        _check_features(frame, names)
        values = frame[names].to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            exact = not (np.abs(values) >= _EXACT).any()
        return cls(frame, names, values, exact)

    def columns(self) -> dict[str, np.ndarray]:
        """Each feature's values by name (views of ``values``), what ``top_reasons`` reads."""
        return dict(zip(self.names, self.values.T, strict=True))

    def matrix(self, features: Sequence[str]) -> np.ndarray:
        """``_matrix(frame, features)``, from the float64 values when that is exact: a
        float64 holds every value of the batch (floats, and integers below 2**53) exactly,
        so its float32 rounding is the direct one; else read the frame again."""
        if not self.exact:
            return _matrix(self.frame, features)
        if list(features) == self.names:
            return self.values.astype(np.float32)
        position = {name: i for i, name in enumerate(self.names)}
        return self.values[:, [position[f] for f in features]].astype(np.float32)


def _objects(rows: list) -> np.ndarray:
    """A list of per-row lists as a 1-d object array: assigned to a frame as is, where a
    list of lists would be scanned by pandas as a possible 2-d shape first (a few ms per
    10,000 rows)."""
    return np.fromiter(rows, dtype=object, count=len(rows))


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
    ``keep`` columns are carried through (copied).

    Each model goes over the batch once (``explain``): the prediction, the contributions
    and each row's strongest features come from the same pass. ``threads``: threads of
    that pass; 1 in a Spark Python worker, which already has a core of its own.
    ``failed_gates`` lists are shared by rows failing the same gates (read-only).
    """
    carried = [key, "as_of_date", *keep]
    if frame.empty:
        out = frame[carried].copy()
        for column in SCORED_COLUMNS:
            out[column] = pd.Series(dtype=object)
        return out
    features = _Features.read(frame, models)
    columns = features.columns()
    value = models.value.explain(features.matrix(models.value_features), reasons, threads)
    potential = models.potential.explain(features.matrix(models.potential_features), reasons,
                                         threads)
    scored = {c: frame[c].copy() for c in carried}
    scored.update({
        "score": np.maximum(value.output, 0.0),
        "failed_gates": _objects(failed_gates(frame, gates)),
        "value_reasons": _objects(top_reasons(value.contributions, columns,
                                              models.value_features, units, reasons,
                                              top=value.top)),
        "potential_raw": potential.output,
        "potential_probability": models.potential.calibrate(potential.output),
        "potential_reasons": _objects(top_reasons(potential.contributions, columns,
                                                  models.potential_features, units, reasons,
                                                  top=potential.top)),
    })
    # One frame from whole columns: inserting them one by one into a copy cost more than
    # scoring's arithmetic.
    return pd.DataFrame(scored, index=frame.index, copy=False)


def tier_batch(frame: pd.DataFrame, policy: TierPolicy) -> pd.DataFrame:
    """``frame`` (``score_batch``'s output) plus ``tier`` and ``raw_tier``; the other
    columns are ``frame``'s own (not copied: neither is written)."""
    out = frame.copy(deep=False)
    gates = frame["failed_gates"].to_numpy(dtype=object).tolist()
    eligible = np.fromiter(map(len, gates), dtype=np.int64, count=len(gates)) == 0
    out["tier"], out["raw_tier"] = tier_pair(
        frame["score"].to_numpy(float), frame["previous_tier"].to_numpy(object), eligible,
        frame["tenure_days"].to_numpy(float, na_value=np.nan), policy)
    return out
