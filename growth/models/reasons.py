"""Top reasons: the strongest feature contributions of a row, rendered as readable text.

A model's per-row contributions (one column per feature, in the model's log-odds or log
space) say which features pushed this entity's score up. ``top_reasons`` keeps the ``k``
largest positive ones and ``phrase`` turns each into a sentence an account manager can read
on the phone: "GMV up 140% on the previous 30 days", "late delivery rate 9% (90 days)".

Phrasing is driven by the feature's name and unit (from the feature registry, passed in by
the job), so a new feature gets a sensible sentence without a template of its own.

Scoring renders reasons for every entity every day, so ``top_reasons`` works a batch at a
time: the top ``k`` columns come from one sort of the batch, and each chosen feature renders
all of its rows at once. Rows whose values read the same (same sign, same rounded number)
share one sentence, so Python formats each distinct sentence once, not once per row; a
key per phrasing kind (below) says exactly which values read the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

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
_SINCE = "days_since_last_"


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


@dataclass(frozen=True)
class _Template:
    """How one feature reads: its phrasing ``kind``, label and window, parsed from the name
    and unit once (``_template``) instead of once per value."""

    kind: str  # tenure, since, growth_ratio, growth_rate, growth, slope, share or number
    label: str
    days: str
    since: str = ""  # the event of a days_since_last_<event> feature

    def text(self, value: float) -> str:
        """The sentence of one non-missing value."""
        kind, label, days = self.kind, self.label, self.days
        if kind == "tenure":
            return f"on the marketplace for {_number(value)} days"
        if kind == "since":
            return f"{_number(value)} days since the last {self.since}"
        if kind == "growth_ratio":
            change = value - 1
            return f"{label} {'up' if change >= 0 else 'down'} {abs(change):.0%} on the previous {days}"
        if kind == "growth_rate":
            return f"{label} {'up' if value >= 0 else 'down'} {abs(value):.0%} in {days}"
        if kind == "growth":
            return f"{label} {'+' if value >= 0 else '-'}{_number(abs(value))} in {days}"
        if kind == "slope":
            trend = "rising" if value >= 0 else "falling"
            return f"weekly {label} {trend} {_number(abs(value))} a week over {days}"
        shown = f"{value:.0%}" if kind == "share" else _number(value)
        return f"{label} {shown} ({days})" if days else f"{label} {shown}"

    def groups(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(group, key) per value (none missing): two values with the same group and key
        read the same. Groups hold the sign or the number format; keys are what the
        sentence rounds the value to, so a continuous feature shares sentences whenever
        its rounded values coincide."""
        kind = self.kind
        with np.errstate(invalid="ignore", over="ignore"):
            if kind == "growth_ratio":
                change = values - 1
                return (change >= 0).astype(np.int8), np.rint(np.abs(change) * 100)
            if kind == "growth_rate":
                return (values >= 0).astype(np.int8), np.rint(np.abs(values) * 100)
            if kind in ("growth", "slope"):
                group, key = _number_groups(np.abs(values))
                return group + 4 * (values >= 0), key
            if kind == "share":
                # f"{v:.0%}" formats v * 100 rounded half to even, with a minus sign
                # whenever that product is negative (also -0.0 and what rounds to 0).
                percent = values * 100
                return np.signbit(percent).astype(np.int8), np.rint(percent)
            return _number_groups(values)


def _number_groups(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``_number``'s (group, key): whole-number format (|v| >= 100 or an integer) keyed
    by the rounded value and its sign (``,.0f`` rounds half to even like ``rint`` and
    prints -0 for a negative value); the decimal formats keyed by the value itself, as
    rounding to two or one decimals is where binary floats and ``rint`` could disagree."""
    magnitude = np.abs(values)
    whole = (magnitude >= 100) | (np.isfinite(values) & (values == np.trunc(values)))
    group = np.where(whole, np.signbit(values).astype(np.int8), np.where(magnitude < 10, 2, 3))
    return group.astype(np.int8), np.where(whole, np.rint(values), values)


@lru_cache(maxsize=1024)
def _template(name: str, unit: str) -> _Template:
    window = _WINDOW.search(name)
    stem = name[: window.start()] if window else name
    days = ""
    if window:
        weeks = window.group(2) == "w"
        days = f"{window.group(1)} {'weeks' if weeks else 'days'}"
    label = _label(stem)
    if name == "tenure_days":
        return _Template("tenure", label, days)
    if stem.startswith(_SINCE):
        return _Template("since", label, days, _label(stem.removeprefix(_SINCE)))
    if stem.endswith("_growth") and unit == "ratio":
        return _Template("growth_ratio", label, days)
    if stem.endswith("_growth_rate"):
        return _Template("growth_rate", label, days)
    if stem.endswith("_growth"):
        return _Template("growth", label, days)
    if stem.endswith("_slope"):
        return _Template("slope", label, days)
    return _Template("share" if unit == "share" else "number", label, days)


def phrase(name: str, unit: str, value: float | None) -> str:
    """One feature value as a short sentence, e.g. ``gmv_growth_30d`` 2.4 -> "GMV up 140%
    on the previous 30 days", ``late_delivery_rate_90d`` 0.09 -> "late delivery rate 9%
    (90 days)"."""
    template = _template(name, unit)
    if value is None or value != value:
        return f"no {template.label} yet"
    return template.text(value)


def phrases(name: str, unit: str, values: Sequence[float]) -> np.ndarray:
    """``phrase`` of every value at once (an object array of sentences), formatting each
    distinct sentence once."""
    values = np.asarray(values, dtype=float)
    template = _template(name, unit)
    out = np.empty(len(values), dtype=object)
    missing = np.isnan(values)
    out[missing] = f"no {template.label} yet"
    present = np.flatnonzero(~missing)
    if len(present) == 0:
        return out
    shown = values[present]
    group, key = template.groups(shown)
    for g in np.unique(group):
        rows = np.flatnonzero(group == g)
        codes, uniques = pd.factorize(key[rows])
        # Any member stands for its key's sentence: they all read the same.
        sample = np.empty(len(uniques))
        sample[codes] = shown[rows]
        texts = np.array([template.text(v) for v in sample.tolist()], dtype=object)
        out[present[rows]] = texts[codes]
    return out


def top_reasons(
    contributions: np.ndarray,
    values: Mapping[str, Sequence[float]],
    features: Sequence[str],
    units: Mapping[str, str],
    k: int = 3,
) -> list[list[str]]:
    """Per row, up to ``k`` sentences for the features that raised its score most.

    ``contributions``: rows x features (a trailing bias column is ignored); ``values``:
    the raw feature values by name (a frame or a mapping of columns; only the chosen
    features are read). Only positive contributions count as reasons.
    """
    contributions = np.asarray(contributions, dtype=float)[:, : len(features)]
    if contributions.shape[1] != len(features):
        raise ValueError(f"{contributions.shape[1]} contribution columns for "
                         f"{len(features)} features")
    rows = len(contributions)
    k = min(k, len(features))
    if rows == 0 or k <= 0:
        return [[] for _ in range(rows)]
    # A stable sort puts ties in column order. With a few dozen features it is faster than
    # argpartition plus sorting the k chosen (measured on 10,000-row batches).
    top = np.argsort(-contributions, axis=1, kind="stable")[:, :k]
    # Sorted largest first, so a row's positive contributions are a prefix of its top k.
    kept = np.take_along_axis(contributions, top, axis=1) > 0
    texts = np.full((rows, k), None, dtype=object)
    chosen_rows, slots = np.nonzero(kept)
    chosen = top[chosen_rows, slots]
    for j in np.unique(chosen):
        at = chosen == j
        name = features[j]
        column = np.asarray(values[name], dtype=float)
        texts[chosen_rows[at], slots[at]] = phrases(name, units.get(name, ""),
                                                    column[chosen_rows[at]])
    out = texts.tolist()
    counts = kept.sum(axis=1)
    for row in np.flatnonzero(counts < k).tolist():
        out[row] = out[row][: counts[row]]
    return out
