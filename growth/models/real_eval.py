"""Out-of-time evaluation on real data: the model beside the rule a team would use instead.

Pure pandas, scikit-learn and XGBoost. The job (``growth.jobs.evaluate_real``) reads the platform's
tables; everything here sees frames only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression
from xgboost import XGBClassifier

from growth.models.metrics import roc_auc


@dataclasses.dataclass(frozen=True)
class Figure:
    """One evaluated target: the model's ROC-AUC beside the rule's, against a goal."""

    dataset: str
    target: str
    rows: int
    positives: int
    model_auc: float
    rule: str
    rule_auc: float
    goal: float | None

    @property
    def verdict(self) -> str:
        beats = "beats the rule" if self.model_auc > self.rule_auc else \
            "does NOT beat the rule"
        if self.goal is None:
            return beats
        met = "target met" if self.model_auc >= self.goal else "target MISSED"
        return f"{met}, {beats}"


def classifier(seed: int = 0) -> XGBClassifier:
    """Shallow, slow-learning trees: a few thousand training rows at most."""
    return XGBClassifier(
        n_estimators=400, max_depth=3, learning_rate=0.03, subsample=0.8,
        colsample_bytree=0.8, min_child_weight=5, reg_lambda=5.0, random_state=seed,
        n_jobs=2, eval_metric="logloss",
    )


def fit_score(train: pd.DataFrame, test: pd.DataFrame, features: Sequence[str], label: str,
              seed: int = 0) -> np.ndarray:
    """Train on ``train`` and return the positive-class probability of each ``test`` row."""
    y = train[label].astype(int).to_numpy()
    if y.min() == y.max():
        raise ValueError(f"the training rows of '{label}' are all {y[0]}: nothing to learn")
    model = classifier(seed).fit(train[list(features)].astype(float).to_numpy(), y)
    return model.predict_proba(test[list(features)].astype(float).to_numpy())[:, 1]


def figure(dataset: str, target: str, y: Sequence[bool], model_score: np.ndarray,
           rule: str, rule_score: Sequence[float], goal: float | None) -> Figure:
    y = np.asarray(y, dtype=float)
    # ROC-AUC reads ranks only: ranking first lets a rule score be infinite (growth from
    # nothing) and puts a missing score below every other.
    rule_values = rankdata(np.nan_to_num(np.asarray(rule_score, dtype=float), nan=-np.inf))
    return Figure(dataset, target, len(y), int(y.sum()), roc_auc(y, model_score), rule,
                  roc_auc(y, rule_values), goal)


def value_ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """A growth ratio that ranks: no past and no recent value is 0, recent value from no
    past is above every finite ratio."""
    ratio = numerator / denominator.where(denominator > 0)
    no_past = pd.Series(np.where(numerator > 0, np.inf, 0.0), index=numerator.index)
    return ratio.where(ratio.notna(), no_past)


# --- sellers: features relative to their cutoff --------------------------------------------

# (name, numerator, denominator column, cap on the denominator + 1 or None): recent shares of
# the trailing half-year and GMV / activity per day of tenure, all known at the cutoff.
SELLER_RATIOS: tuple[tuple[str, str, str, int | None], ...] = (
    ("gmv_share_30d_of_180d", "gmv_sum_30d", "gmv_sum_180d", None),
    ("gmv_share_90d_of_180d", "gmv_sum_90d", "gmv_sum_180d", None),
    ("gmv_share_7d_of_90d", "gmv_sum_7d", "gmv_sum_90d", None),
    ("orders_share_30d_of_180d", "orders_count_30d", "orders_count_180d", None),
    ("gmv_per_tenure_day_180d", "gmv_sum_180d", "tenure_days", 180),
    ("active_share_of_tenure_90d", "active_days_90d", "tenure_days", 90),
)


def seller_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """The ``SELLER_RATIOS`` of each row (grain and index of ``frame``).

    A share divides by the longer window + 1 (a seller without orders has share 0, not a
    missing value); a per-tenure-day rate divides by min(tenure + 1, window), so a seller
    younger than the window is not diluted by days before it joined.
    """
    needed = sorted({c for _, top, below, _ in SELLER_RATIOS for c in (top, below)})
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise KeyError(f"seller ratios need the feature column(s) {', '.join(missing)}, "
                       "absent from the frame (build it with the merchant feature registry)")
    columns = {}
    for name, numerator, denominator, cap in SELLER_RATIOS:
        below = frame[denominator].astype(float) + 1
        if cap is not None:
            below = below.clip(upper=cap)
        columns[name] = frame[numerator].astype(float) / below
    return pd.DataFrame(columns, index=frame.index)


def within_cutoff_ranks(frame: pd.DataFrame, columns: Sequence[str],
                        cutoff: str = "as_of_date") -> pd.DataFrame:
    """Each of ``columns`` as its percentile rank (0, 1] among the rows of the same cutoff
    (ties averaged, a missing value stays missing).

    A model trained on 2017's cutoffs and applied in 2018 sees each seller's standing in its
    marketplace rather than amounts the marketplace's own growth has moved on: on Olist the
    top-20% ROC-AUC rises from 0.913 to 0.919 (docs/datasets.md)."""
    return frame[list(columns)].astype(float).groupby(frame[cutoff]).rank(
        pct=True, method="average")


# --- creators: follower growth from periodic follower counts --------------------------------

def follower_growth(stats: pd.DataFrame, cutoffs: Sequence[date], horizon_days: int
                    ) -> pd.DataFrame:
    """Per (creator, cutoff): followers gained in the trailing and the next ``horizon_days``.

    Reads ``creator_id``, ``date``, ``followers`` (a follower count per measured day). The
    count at a day is the last measured on or before it; a creator needs a count at the
    cutoff, one horizon before it and one at the end of the horizon (no extrapolation).
    Columns written: creator_id, as_of_date, trailing_growth, future_growth.
    """
    frame = stats[["creator_id", "date", "followers"]].copy()
    frame["date"] = pd.to_datetime(frame["date"])
    frame = frame.sort_values(["date", "creator_id"])
    rows = []
    for cutoff in sorted(set(cutoffs)):
        points = {}
        for name, day in (("before", cutoff - timedelta(days=horizon_days)), ("at", cutoff),
                          ("after", cutoff + timedelta(days=horizon_days))):
            seen = frame[frame["date"] <= pd.Timestamp(day)]
            points[name] = seen.groupby("creator_id")["followers"].last()
        both = pd.concat(points, axis=1, join="inner")
        rows.append(pd.DataFrame({
            "creator_id": both.index, "as_of_date": cutoff,
            "trailing_growth": (both["at"] - both["before"]).to_numpy(dtype=float),
            "future_growth": (both["after"] - both["at"]).to_numpy(dtype=float),
        }))
    columns = ["creator_id", "as_of_date", "trailing_growth", "future_growth"]
    return pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns)


def top_share_flag(values: pd.Series, groups: pd.Series, share: float) -> pd.Series:
    """True for the rows in the top ``share`` of ``values`` within their group."""
    rank = values.groupby(groups).rank(pct=True, method="average")
    return rank > 1 - share


# --- leads: what is known at first contact ---------------------------------------------------

def smoothed_rate(train_keys: pd.Series, train_y: pd.Series, keys: pd.Series,
                  strength: float) -> np.ndarray:
    """Conversion rate per key from the training rows, shrunk to the overall rate by
    ``strength`` pseudo-leads (a landing page seen twice tells little)."""
    prior = float(train_y.mean())
    stats = pd.DataFrame({"k": train_keys.to_numpy(), "y": train_y.to_numpy()}) \
        .groupby("k")["y"].agg(["sum", "count"])
    rate = (stats["sum"] + strength * prior) / (stats["count"] + strength)
    return keys.map(rate).fillna(prior).to_numpy(dtype=float)


def lead_features(train: pd.DataFrame, test: pd.DataFrame, folds: int = 5, seed: int = 0
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features of leads known at first contact. Reads ``origin``, ``campaign`` (landing
    page), ``contacted_at`` and, on ``train`` only, ``converted``.

    Rates learnt from the outcome are out-of-fold on the training rows (a lead never sees
    its own outcome) and from all training rows on the test rows.
    """
    def encode(fit: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
        y = fit["converted"].astype(float)
        volume = fit["campaign"].value_counts()
        first_seen = fit.groupby("campaign")["contacted_at"].min()
        contacted = pd.to_datetime(rows["contacted_at"])
        age = (contacted - pd.to_datetime(rows["campaign"].map(first_seen))).dt.days
        return pd.DataFrame({
            "origin_rate": smoothed_rate(fit["origin"], y, rows["origin"], 20.0),
            "page_rate": smoothed_rate(fit["campaign"], y, rows["campaign"], 20.0),
            "page_leads": rows["campaign"].map(volume).fillna(0).to_numpy(dtype=float),
            "page_age_days": age.fillna(-1).to_numpy(dtype=float),
            "weekday": contacted.dt.weekday.to_numpy(dtype=float),
        }, index=rows.index)

    rng = np.random.default_rng(seed)
    fold = rng.integers(0, folds, len(train))
    parts = [encode(train[fold != k], train[fold == k]) for k in range(folds)]
    return pd.concat(parts).loc[train.index], encode(train, test)


LEAD_FEATURES = ("origin_rate", "page_rate", "page_leads", "page_age_days", "weekday")

LeadModel = Callable[[pd.DataFrame, pd.DataFrame], np.ndarray]


def lead_trees(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """Gradient-boosted trees on the out-of-fold rates, page volume, age and weekday."""
    x_train, x_test = lead_features(train, test)
    x_train["converted"] = train["converted"].to_numpy()
    return fit_score(x_train, x_test, LEAD_FEATURES, "converted")


def lead_additive(train: pd.DataFrame, test: pd.DataFrame, min_page_leads: int = 20,
                  strength: float = 0.1) -> np.ndarray:
    """An L2-regularised logistic model, additive in origin and landing page (pages with
    fewer than ``min_page_leads`` training leads share one level): two categorical inputs
    leave little for trees to find but noise in rare pages."""
    frequent = train["campaign"].value_counts()
    frequent = set(frequent[frequent >= min_page_leads].index)

    def one_hot(rows: pd.DataFrame) -> pd.DataFrame:
        levels = pd.DataFrame({
            "origin": rows["origin"].fillna("unknown").astype(str),
            "page": rows["campaign"].where(rows["campaign"].isin(frequent), "(rare)").astype(str),
        })
        return pd.get_dummies(levels).astype(float)

    x_train = one_hot(train)
    x_test = one_hot(test).reindex(columns=x_train.columns, fill_value=0.0)
    model = LogisticRegression(C=strength, max_iter=2000)
    model.fit(x_train.to_numpy(), train["converted"].astype(int).to_numpy())
    return model.predict_proba(x_test.to_numpy())[:, 1]


LEAD_MODELS: dict[str, LeadModel] = {"trees": lead_trees, "additive": lead_additive}


def choose_lead_model(train: pd.DataFrame, validation_from: date,
                      models: dict[str, LeadModel] = LEAD_MODELS) -> tuple[str, dict[str, float]]:
    """The model with the best ROC-AUC on the training leads contacted on or after
    ``validation_from``, fitted on those before: the test leads are never looked at."""
    contacted = pd.to_datetime(train["contacted_at"])
    fit = train[contacted < pd.Timestamp(validation_from)].reset_index(drop=True)
    held = train[contacted >= pd.Timestamp(validation_from)].reset_index(drop=True)
    if fit.empty or held["converted"].nunique() < 2:
        raise ValueError(f"choosing a lead model needs training leads before {validation_from} "
                         "and both outcomes after it")
    scores = {name: roc_auc(held["converted"].astype(float).to_numpy(), model(fit, held))
              for name, model in models.items()}
    return max(scores, key=lambda name: scores[name]), scores
