"""The model store format: one directory per model version, JSON only (no pickles).

    <dir>/booster.json   the XGBoost model (XGBoost's own portable JSON format)
    <dir>/model.json     kind, parameters, features, calibration knots or PU constant

A pickle would tie an artifact to the exact Python and library versions that wrote it and
would run code on load; these two files load in any XGBoost 2+ and can be read by people.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from growth.models.estimators import LookalikeModel, PotentialModel, ValueModel

KINDS = {"value": ValueModel, "potential": PotentialModel, "lookalike": LookalikeModel}
FORMAT_VERSION = 1


class ModelFormatError(ValueError):
    """An artifact directory is missing a file or was written by an unknown format."""


def kind_of(model: object) -> str:
    for kind, cls in KINDS.items():
        if type(model) is cls:
            return kind
    raise TypeError(f"cannot store a {type(model).__name__}")


def to_texts(model: ValueModel | PotentialModel | LookalikeModel,
             features: list[str]) -> dict[str, str]:
    """The two files of a stored model, by file name, as text (what scoring broadcasts)."""
    state: dict = {"format": FORMAT_VERSION, "kind": kind_of(model),
                   "params": model.get_params(), "features": list(features)}
    if hasattr(model, "calibration_x_"):
        state["calibration"] = {"x": model.calibration_x_.tolist(),
                                "y": model.calibration_y_.tolist()}
    if hasattr(model, "c_"):
        state["c"] = model.c_
    booster = model.model_.get_booster().save_raw("json").decode()
    return {"booster.json": booster, "model.json": json.dumps(state, indent=1)}


def from_texts(texts: dict[str, str], source: str = "the model texts"
               ) -> tuple[ValueModel | PotentialModel | LookalikeModel, list[str]]:
    """The model and its feature order back from ``to_texts``' output."""
    state = json.loads(texts["model.json"])
    if state.get("format") != FORMAT_VERSION or state.get("kind") not in KINDS:
        raise ModelFormatError(f"{source}: format {state.get('format')!r}, kind "
                               f"{state.get('kind')!r}; this code reads format {FORMAT_VERSION}")
    model = KINDS[state["kind"]](**state["params"]).load_booster(texts["booster.json"].encode())
    if "calibration" in state:
        model.calibration_x_ = np.asarray(state["calibration"]["x"], dtype=float)
        model.calibration_y_ = np.asarray(state["calibration"]["y"], dtype=float)
    if "c" in state:
        model.c_ = float(state["c"])
    return model, list(state["features"])


def save(model: ValueModel | PotentialModel | LookalikeModel, features: list[str],
         directory: Path) -> None:
    """Write a fitted model and the feature order it expects into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in to_texts(model, features).items():
        (directory / name).write_text(text)


def read_texts(directory: Path) -> dict[str, str]:
    texts = {}
    for name in ("model.json", "booster.json"):
        path = directory / name
        if not path.is_file():
            raise ModelFormatError(f"{path} is missing: {directory} is not a stored model")
        texts[name] = path.read_text()
    return texts


def load(directory: Path) -> tuple[ValueModel | PotentialModel | LookalikeModel, list[str]]:
    """The model stored in ``directory`` and its feature order."""
    return from_texts(read_texts(directory), str(directory / "model.json"))
