"""Top reasons: the strongest feature contributions of a row, rendered as readable text.

A model's per-row contributions (one column per feature, in the model's log-odds or log
space) say which features pushed this entity's score up. ``top_reasons`` keeps the ``k``
largest positive ones and ``phrase`` turns each into a sentence an account manager can read
on the phone: "GMV up 140% on the previous 30 days", "late delivery rate 9% (90 days)".

Phrasing is driven by the feature's name and unit (from the feature registry, passed in by
the job), so a new feature gets a sensible sentence without a template of its own.

Scoring renders reasons for every entity every day, so ``top_reasons`` works a batch at a
time: the top ``k`` columns come with the contributions (``compiled_trees`` picks them in
the same pass) or from one sort of the batch, and each chosen feature renders all of its
rows at once. Rows whose values read the same (same sign, same rounded number) share one
sentence, so Python formats each distinct sentence once, not once per row; a key per
phrasing kind (below) says exactly which values read the same. Whole amounts, most of the
reasons, are formatted in one pass per group without a call per value. Sentences are kept
(up to a bound) for the next batches of the process, which mostly repeat them.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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
_UNSIGNED = ("growth", "slope")  # kinds that show |v| and say the sign in words
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
        if kind == "growth_ratio":
            change = value - 1
            return f"{label} {'up' if change >= 0 else 'down'} {abs(change):.0%} on the previous {days}"
        if kind == "growth_rate":
            return f"{label} {'up' if value >= 0 else 'down'} {abs(value):.0%} in {days}"
        if kind == "share":
            return f"{label} {value:.0%} ({days})" if days else f"{label} {value:.0%}"
        before, after = self.around_number(value >= 0)
        return before + _number(abs(value) if kind in _UNSIGNED else value) + after

    def around_number(self, positive: bool) -> tuple[str, str]:
        """The words before and after the number (``_number``'s) in the sentence of a
        positive or negative value, for the kinds that read as words around a number."""
        kind, label, days = self.kind, self.label, self.days
        if kind == "tenure":
            return "on the marketplace for ", " days"
        if kind == "since":
            return "", f" days since the last {self.since}"
        if kind == "growth":
            return f"{label} {'+' if positive else '-'}", f" in {days}"
        if kind == "slope":
            return f"weekly {label} {'rising' if positive else 'falling'} ", f" a week over {days}"
        return f"{label} ", f" ({days})" if days else ""

    def whole(self, group: int) -> tuple[str, str] | None:
        """The words before and after the digits of |key| when ``group`` (``groups``'
        output) is of whole numbers, whose keys are the rounded values themselves (their
        sign is the group's); None for any other group."""
        if self.kind in _UNSIGNED:
            # Keys of |v| (never negative); the sign is in the group, above 8.
            whole, positive, sign = group % 8 == 0, group >= 8, ""
        elif self.kind in ("tenure", "since", "number"):
            whole, positive, sign = group in (0, 1), True, "-" if group == 1 else ""
        else:
            return None
        if not whole:
            return None
        before, after = self.around_number(positive)
        # f"{v:,.0f}" of a negative v, -0 included, is "-" and |v|'s digits
        return before + sign, after

    def whole_texts(self, group: int, keys: np.ndarray) -> list[str] | None:
        """The sentences of distinct ``keys`` of one ``group`` (``groups``' output) when
        the group is of whole numbers (``whole``): then the sentences are built in one
        pass, without a call per value (most reasons are whole amounts). None for any
        other group, and for numbers beyond 2**53."""
        words = self.whole(group)
        magnitude = np.abs(keys)
        if words is None or not (magnitude < 2.0**53).all():
            return None
        before, after = words
        return [f"{before}{n:,}{after}" for n in magnitude.astype(np.int64).tolist()]

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
                return group + 8 * (values >= 0), key
            if kind == "share":
                # f"{v:.0%}" formats v * 100 rounded half to even, with a minus sign
                # whenever that product is negative (also -0.0 and what rounds to 0).
                percent = values * 100
                return np.signbit(percent).astype(np.int8), np.rint(percent)
            return _number_groups(values)


def _number_groups(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``_number``'s (group, key): whole-number format (|v| >= 100 or an integer) keyed
    by the rounded value and its sign (``,.0f`` rounds half to even like ``rint`` and
    prints -0 for a negative value); the decimal formats (two decimals below 10, one
    below 100) keyed by |v| scaled to the shown decimals and rounded, the sign and the
    format in the group.

    ``,.2f`` rounds the exact binary value, while ``|v| * 100`` is rounded once more, by
    at most 1e-13 here: only a product within that of a half could round the other way, so
    the few within 1e-6 of one are keyed by |v| itself (never a whole number, so never
    another value's rounded key). Dozens of distinct values thus share a sentence where
    each used to be formatted on its own.
    """
    magnitude = np.abs(values)
    whole = (magnitude >= 100) | (np.isfinite(values) & (values == np.trunc(values)))
    sign = np.signbit(values).astype(np.int8)
    wide = (magnitude >= 10).astype(np.int8)
    scaled = magnitude * np.where(wide, 10.0, 100.0)
    tie = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
    group = np.where(whole, sign, 2 + wide + 2 * sign)
    key = np.where(whole, np.rint(values), np.where(tie, magnitude, np.rint(scaled)))
    return group.astype(np.int8), key


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


# Keys that are whole numbers below this (in magnitude) are looked up by position in a table
# of their group's sentences.
_TABLE = 4096


class _Sentences:
    """The sentences formatted so far in this process, by (template, group) and key.

    Scoring renders batch after batch of the same features, and their rounded values recur
    (counts, days, whole amounts, percents): after a few batches most of a batch's distinct
    sentences were already formatted for an earlier one (over 90% measured on 10,000-row
    batches of creators), and a lookup costs a fraction of formatting. Almost every key is
    a whole number below ``_TABLE`` in magnitude (whole amounts, percents, decimals scaled
    to their shown digits), and within a group all keys have one sign, so |key| is a
    position: those are read from an array, a whole group at once (``small``); other keys
    from a dictionary, one distinct key at a time (``texts``). Equal templates read alike,
    so they share entries. Bounded: past ``limit`` entries in all, everything is dropped
    and refilled (a few tens of bytes per key plus the sentence: at most tens of MB)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.known: dict[tuple[_Template, int], dict[float, str]] = {}
        # (sentences by |key|, whether each is filled) per group
        self.tables: dict[tuple[_Template, int], tuple[np.ndarray, np.ndarray]] = {}

    def _drop(self) -> None:
        self.known.clear()
        self.tables.clear()
        self.size = 0

    def _keeps(self, count: int) -> bool:
        """Whether ``count`` new entries are kept (never when they alone pass the limit);
        past the limit everything is dropped first."""
        if self.size + count > self.limit:
            self._drop()
        return count <= self.limit

    def _table(self, template: _Template, group: int) -> tuple[np.ndarray, np.ndarray]:
        table = self.tables.get((template, group))
        if table is None:
            table = self.tables[(template, group)] = (np.full(_TABLE, None, dtype=object),
                                                      np.zeros(_TABLE, dtype=bool))
        return table

    def small(self, template: _Template, group: int, slots: np.ndarray,
              members: np.ndarray) -> np.ndarray:
        """The sentence of every value ``members`` of one ``group`` of ``template`` whose
        key's magnitude, a whole number below ``_TABLE``, is in ``slots`` (intp)."""
        sentences, filled = self._table(template, group)
        missing = ~filled[slots]
        if missing.any():
            fresh, first = np.unique(slots[missing], return_index=True)
            samples = members[missing][first]
            if self.size + len(fresh) > self.limit:
                self._drop()  # then this group's new table lacks every key
                sentences, filled = self._table(template, group)
                fresh, first = np.unique(slots, return_index=True)
                samples = members[first]
            if self._keeps(len(fresh)):
                self.size += len(fresh)
            else:  # more than the limit at once: formatted, not kept
                sentences, filled = sentences.copy(), filled.copy()
            texts = template.whole_texts(group, fresh.astype(float))
            if texts is None:
                # Any member stands for its key's sentence: they all read the same.
                texts = [template.text(v) for v in samples.tolist()]
            sentences[fresh] = np.array(texts, dtype=object)
            filled[fresh] = True
        return sentences[slots]

    def texts(self, template: _Template, group: int, keys: np.ndarray, codes: np.ndarray,
              members: np.ndarray) -> list[str]:
        """The sentences of the distinct ``keys`` of one ``group`` of ``template``;
        ``members`` are the values keyed, ``codes`` their keys' positions in ``keys``."""
        known = self.known.setdefault((template, group), {})
        keyed = keys.tolist()
        texts = list(map(known.get, keyed))
        missed = [i for i, text in enumerate(texts) if text is None]
        if not missed:
            return texts
        fresh = template.whole_texts(group, keys[missed])
        if fresh is None:
            # Any member stands for its key's sentence: they all read the same.
            sample = np.empty(len(keys))
            sample[codes] = members
            fresh = [template.text(v) for v in sample[missed].tolist()]
        for i, text in zip(missed, fresh, strict=True):
            texts[i] = text
        if self._keeps(len(missed)):
            known = self.known.setdefault((template, group), {})
            known.update(zip([keyed[i] for i in missed], fresh, strict=True))
            self.size += len(missed)
        return texts


_SENTENCES = _Sentences(limit=200_000)


def phrases(name: str, unit: str, values: Sequence[float]) -> np.ndarray:
    """``phrase`` of every value at once (an object array of sentences): each distinct
    sentence is formatted once per process (``_Sentences``), then looked up."""
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
    # Groups are small non-negative codes (below 16): counting finds those present.
    for g in np.flatnonzero(np.bincount(group)).tolist():
        rows = np.flatnonzero(group == g)
        magnitude = np.abs(key[rows])
        small = (magnitude < _TABLE) & (magnitude == np.floor(magnitude))
        if small.any():
            at = rows[small]
            out[present[at]] = _SENTENCES.small(template, g, magnitude[small].astype(np.intp),
                                                shown[at])
            rows = rows[~small]
            if len(rows) == 0:
                continue
        codes, uniques = pd.factorize(key[rows])
        texts = _SENTENCES.texts(template, g, uniques, codes, shown[rows])
        out[present[rows]] = np.array(texts, dtype=object)[codes]
    return out


def top_reasons(
    contributions: np.ndarray,
    values: Mapping[str, Sequence[float]],
    features: Sequence[str],
    units: Mapping[str, str],
    k: int = 3,
    top: np.ndarray | None = None,
) -> list[list[str]]:
    """Per row, up to ``k`` sentences for the features that raised its score most.

    ``contributions``: rows x features (a trailing bias column is ignored); ``values``:
    the raw feature values by name (a frame or a mapping of columns; only the chosen
    features are read). Only positive contributions count as reasons. ``top``: each row's
    columns by decreasing contribution, ties in column order (at least ``k`` of them, as
    ``compiled_trees`` gives them), if already known; else one stable sort finds them.
    """
    contributions = np.asarray(contributions)[:, : len(features)]
    if contributions.shape[1] != len(features):
        raise ValueError(f"{contributions.shape[1]} contribution columns for "
                         f"{len(features)} features")
    rows = len(contributions)
    k = min(k, len(features))
    if rows == 0 or k <= 0:
        return [[] for _ in range(rows)]
    if top is None:
        # A stable sort puts ties in column order. With a few dozen features it is faster
        # than argpartition plus sorting the k chosen (measured on 10,000-row batches).
        top = np.argsort(-contributions.astype(float), axis=1, kind="stable")[:, :k]
    else:
        top = np.asarray(top)
        if top.ndim != 2 or len(top) != rows or top.shape[1] < k:
            raise ValueError(f"top has shape {top.shape}: need {rows} rows of at least {k} "
                             "columns")
        top = top[:, :k]
    # Sorted largest first, so a row's positive contributions are a prefix of its top k.
    kept = np.take_along_axis(contributions, top, axis=1) > 0
    # The reasons row by row (row-major positions in a rows x k grid) and their features.
    at = np.flatnonzero(kept)
    # A negative column counts from the end, as take_along_axis just read it.
    chosen = np.mod(top.reshape(-1)[at], len(features))
    chosen_rows = at // k
    grid = np.full(rows * k, None, dtype=object)
    # One stable sort groups the reasons by feature (a boolean mask per feature cost a pass
    # over all the reasons for each of a few dozen features); numpy radix-sorts 16-bit
    # integers, 5x faster than sorting the int32 columns.
    small = chosen.astype(np.int16) if len(features) <= np.iinfo(np.int16).max else chosen
    order = np.argsort(small, kind="stable")
    ends = np.cumsum(np.bincount(chosen, minlength=len(features)))
    start = 0
    for j, end in enumerate(ends.tolist()):
        if end == start:
            continue
        these = order[start:end]
        start = end
        name = features[j]
        column = np.asarray(values[name], dtype=float)
        grid[at[these]] = phrases(name, units.get(name, ""), column[chosen_rows[these]])
    counts = kept.sum(axis=1)
    with _collector_paused():
        out = grid.reshape(rows, k).tolist()
        for row in np.flatnonzero(counts < k).tolist():
            out[row] = out[row][: counts[row]]
    return out


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector, if it runs, while a batch's reason lists
    are made: lists of strings form no cycles, so it has nothing to find in them.

    Every 700 new lists would start a collection of the young objects, every tenth of
    those an older one, and these in turn a full collection over every object the process
    holds, whenever a quarter more survive since the last: a process keeping its scored
    batches (the benchmark's workers, a caller scoring a whole frame) went over all their
    lists again and again (8 full collections, 0.25 s per 500,000 rows measured; none with
    the pause). The collections the paused allocations are due still follow, once."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
