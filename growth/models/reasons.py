"""Top reasons: the strongest feature contributions of a row, rendered as readable text.

A model's per-row contributions (one column per feature, in the model's log-odds or log
space) say which features pushed this entity's score up. ``top_reasons`` keeps the ``k``
largest positive ones and ``phrase`` turns each into a sentence an account manager can read
on the phone: "GMV up 140% on the previous 30 days", "late delivery rate 9% (90 days)".

Phrasing is driven by the feature's name and unit (from the feature registry, passed in by
the job), so a new feature gets a sensible sentence without a template of its own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

# Words that read better spelled out or capitalised than as they appear in column names.
_WORDS = {"gmv": "GMV", "aov": "average order value", "affiliate": "credited"}
# Whole stems (the name without its window) whose generic reading would be unclear.
_LABELS = {
    "affiliate_share": "share of GMV credited to creators",
    "live_gmv_share": "share of credited GMV sold live",
    "follower_growth": "followers",
    "follower_growth_rate": "followers",
    "followers_latest": "followers",
    "conversion": "orders per click",
    "affiliate_conversion": "credited orders per click",
    "posting_cadence": "posts per week",
    "buyers_distinct": "distinct buyers",
    "products_distinct": "distinct products sold",
    "creators_distinct": "creators selling its products",
    "merchants_distinct": "merchants promoted",
    "rating_mean": "mean rating",
}
_WINDOW = re.compile(r"_(\d+)([dw])$")


def _label(stem: str) -> str:
    if stem in _LABELS:
        return _LABELS[stem]
    for suffix in ("_sum", "_count", "_mean", "_growth", "_slope"):
        stem = stem.removesuffix(suffix)
    return " ".join(_WORDS.get(w, w) for w in stem.split("_"))


def _number(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}" if magnitude < 10 else f"{value:,.1f}"


def phrase(name: str, unit: str, value: float | None) -> str:
    """One feature value as a short sentence, e.g. ``gmv_growth_30d`` 2.4 -> "GMV up 140%
    on the previous 30 days", ``late_delivery_rate_90d`` 0.09 -> "late delivery rate 9%
    (90 days)"."""
    window = _WINDOW.search(name)
    stem = name[: window.start()] if window else name
    days = ""
    if window:
        weeks = window.group(2) == "w"
        days = f"{window.group(1)} {'weeks' if weeks else 'days'}"
    label = _label(stem)
    if value is None or math.isnan(value):
        return f"no {label} yet"
    if name == "tenure_days":
        return f"on the marketplace for {_number(value)} days"
    if stem.startswith("days_since_last_"):
        return f"{_number(value)} days since the last {_label(stem.removeprefix('days_since_last_'))}"
    if stem.endswith("_growth") and unit == "ratio":
        change = value - 1
        return f"{label} {'up' if change >= 0 else 'down'} {abs(change):.0%} on the previous {days}"
    if stem.endswith("_growth_rate"):
        return f"{label} {'up' if value >= 0 else 'down'} {abs(value):.0%} in {days}"
    if stem.endswith("_growth"):
        return f"{label} {'+' if value >= 0 else '-'}{_number(abs(value))} in {days}"
    if stem.endswith("_slope"):
        trend = "rising" if value >= 0 else "falling"
        return f"weekly {label} {trend} {_number(abs(value))} a week over {days}"
    shown = f"{value:.0%}" if unit == "share" else _number(value)
    return f"{label} {shown} ({days})" if days else f"{label} {shown}"


def top_reasons(
    contributions: np.ndarray,
    values: Mapping[str, Sequence[float]],
    features: Sequence[str],
    units: Mapping[str, str],
    k: int = 3,
) -> list[list[str]]:
    """Per row, up to ``k`` sentences for the features that raised its score most.

    ``contributions``: rows x features (a trailing bias column is ignored); ``values``:
    the raw feature values by name. Only positive contributions count as reasons.
    """
    contributions = np.asarray(contributions, dtype=float)[:, : len(features)]
    if contributions.shape[1] != len(features):
        raise ValueError(f"{contributions.shape[1]} contribution columns for "
                         f"{len(features)} features")
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :k]
    columns = {f: np.asarray(values[f], dtype=float) for f in features}
    out: list[list[str]] = []
    for row, best in enumerate(order):
        out.append([
            phrase(features[j], units.get(features[j], ""), columns[features[j]][row])
            for j in best if contributions[row, j] > 0
        ])
    return out
