"""Look-alike scoring from traits: the encoding, the fit and the reasons (pandas, no Spark).

Entities with no history of their own (new merchants and creators, and later leads) cannot
be scored from activity. The look-alike model learns which traits the entities that
succeeded share, as a positive-unlabeled problem (``LookalikeModel``): known successes are
positive, every other entity is unlabeled, some of them future successes.

Grain of the frames: one row per entity. Categorical traits are one-hot encoded; the
encoded feature names are ``"<column>=<value>"`` and numeric traits keep their column name,
so the list of names alone says how to encode a frame the same way again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from growth.models.estimators import LookalikeModel
from growth.models.reasons import phrase

SEPARATOR = "="


def encoded_names(frame: pd.DataFrame, categorical: Sequence[str],
                  numeric: Sequence[str]) -> list[str]:
    """The model's feature names for the values seen in ``frame``: one per (categorical
    column, value), sorted, then the numeric columns in order."""
    missing = [c for c in [*categorical, *numeric] if c not in frame.columns]
    if missing:
        raise ValueError(f"trait column(s) missing from the frame: {', '.join(missing)}")
    names = [f"{c}{SEPARATOR}{v}" for c in categorical
             for v in sorted(frame[c].dropna().astype(str).unique())]
    return names + list(numeric)


def encode(frame: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """``frame`` as the float32 matrix of ``names`` (1/0 per categorical value, numeric
    values as they are, missing numbers NaN; a value unseen in training encodes all 0)."""
    columns = []
    for name in names:
        column, sep, value = name.partition(SEPARATOR)
        if column not in frame.columns:
            raise ValueError(f"trait column {column!r} missing from the frame")
        if sep:
            columns.append((frame[column].astype(str) == value).to_numpy(np.float32))
        else:
            columns.append(pd.to_numeric(frame[column], errors="coerce")
                           .to_numpy(np.float32, na_value=np.nan))
    if not columns:
        return np.zeros((len(frame), 0), dtype=np.float32)
    return np.column_stack(columns)


@dataclass(frozen=True)
class LookalikeScores:
    """Per scored row: the raw booster probability (``score``), the look-alike probability
    (raw / c, capped at 1) and up to three reasons."""

    score: np.ndarray
    probability: np.ndarray
    reasons: list[list[str]]


def fit(frame: pd.DataFrame, succeeded: np.ndarray, categorical: Sequence[str],
        numeric: Sequence[str], **params) -> tuple[LookalikeModel, list[str]]:
    """A look-alike model of ``succeeded`` (bool per row of ``frame``) from its traits."""
    names = encoded_names(frame, categorical, numeric)
    if not names:
        raise ValueError("no trait to learn from: every categorical trait is empty and "
                         "there is no numeric trait")
    model = LookalikeModel(**params).fit(encode(frame, names), np.asarray(succeeded, int))
    return model, names


def score(model: LookalikeModel, names: Sequence[str], frame: pd.DataFrame,
          units: Mapping[str, str], k: int = 3) -> LookalikeScores:
    """Scores and reasons of every row of ``frame`` (its traits encoded as ``names``)."""
    X = encode(frame, names)
    explained = model.explain(X, k)
    probability = np.clip(explained.output / model.c_, 0.0, 1.0)
    return LookalikeScores(explained.output, probability,
                           _reasons(explained.contributions, explained.top, X, names, units))


def _reasons(contributions: np.ndarray, top: np.ndarray, X: np.ndarray,
             names: Sequence[str], units: Mapping[str, str]) -> list[list[str]]:
    """Per row, the traits that raised its score most (positive contributions only):
    "category fashion", "region not north", "products listed 12"."""
    out = []
    for row in range(len(X)):
        texts = []
        for column in top[row]:
            if contributions[row, column] <= 0:
                break
            name = names[column]
            trait, sep, value = name.partition(SEPARATOR)
            if sep:
                has = X[row, column] == 1
                texts.append(f"{trait} {value}" if has else f"{trait} not {value}")
            else:
                number = float(X[row, column])
                texts.append(phrase(name, units.get(name, ""), None if np.isnan(number)
                                    else number))
        out.append(texts)
    return out
