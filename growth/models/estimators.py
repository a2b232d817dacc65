"""The platform's models, as scikit-learn estimators over XGBoost boosters.

Grain: one row per (entity, cutoff) in training, one row per entity in scoring; ``X`` is a
float matrix of snapshot features (NaN where a feature is undefined: XGBoost routes missing
values itself), in the order of the model's ``features``.

- ``ValueModel``: GMV of the next horizon. Spend is zero for many entities and heavy-tailed
  for the rest, so the objective is Tweedie (a compound Poisson-gamma), which fits both.
- ``PotentialModel``: P(an entity below tier B reaches tier A or better within the horizon).
  The booster's scores are calibrated by isotonic regression fitted on out-of-fold scores,
  the folds being whole cutoffs so that no fold sees its own period.
- ``LookalikeModel``: the same question for entities with no history of their own (leads,
  off-platform creators), learned positive-unlabeled from the traits of those who succeeded
  (Elkan and Noto, 2008): a classifier of "succeeded" vs "not known to", rescaled by the share
  of held-out successes it recognises.

All three expose ``contributions(X)``: per-row feature contributions (plus a bias column) in
the booster's margin, which ``growth.models.reasons`` turns into text, and ``explain(X, k)``:
the prediction, the contributions and each row's ``k`` strongest features from one pass over
the trees (``growth.models.compiled_trees``), which is what scoring uses.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xgboost as xgb
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import GroupKFold, StratifiedKFold

from growth.errors import UntrainableError
from growth.models.compiled_trees import CompiledTrees, UnsupportedBooster, compile_booster
from growth.models.metrics import roc_auc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Explanation:
    """A batch through one model (one row per row of ``X``): ``output`` (float64: what
    ``predict`` gives for a value model, ``raw_probability`` for a classifier),
    ``contributions`` (float32, rows x (features + 1), bias last, in the margin) and ``top``
    (rows x k: the columns of each row's k largest contributions, largest first, ties in
    column order; k is at most the number of features)."""

    output: np.ndarray
    contributions: np.ndarray
    top: np.ndarray


class _Boosted(BaseEstimator):
    """Shared parameters and the contributions of an XGBoost-backed estimator."""

    def __init__(
        self,
        n_estimators: int = 300,
        max_depth: int = 5,
        learning_rate: float = 0.05,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        min_child_weight: float = 5.0,
        n_jobs: int = 2,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _booster_params(self) -> dict:
        return {
            "n_estimators": self.n_estimators,
            "max_depth": self.max_depth,
            "learning_rate": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "min_child_weight": self.min_child_weight,
            "n_jobs": self.n_jobs,
            "random_state": self.random_state,
            "tree_method": "hist",
        }

    @classmethod
    def _get_param_names(cls) -> list[str]:
        # scikit-learn reads parameter names from the subclass's __init__, which passes the
        # boosting ones through **params: without this, get_params (what the registry
        # stores and a champion is retrained from) would lose trees, depth and rate.
        boosting = [p for p in inspect.signature(_Boosted.__init__).parameters if p != "self"]
        return sorted(set(super()._get_param_names()) | set(boosting))

    def xgb_params(self) -> dict:
        """Keyword arguments of the XGBoost estimator this model fits, objective included
        (what ``xgboost.spark`` is given too, so both training paths fit the same model)."""
        raise NotImplementedError

    def _xgb_class(self) -> type[xgb.XGBModel]:
        raise NotImplementedError

    def load_booster(self, raw: bytes | bytearray) -> _Boosted:
        """Take a trained booster (XGBoost's JSON) as this model's fitted state: how the
        model store reloads a model and how a booster trained elsewhere (by
        ``xgboost.spark``) becomes this estimator."""
        inner = self._xgb_class()()
        inner.load_model(bytearray(raw))
        self.model_ = inner
        return self

    @property
    def booster_(self) -> xgb.Booster:
        return self.model_.get_booster()

    def compiled(self) -> CompiledTrees | None:
        """The booster as ``CompiledTrees``, parsed once per fitted booster; None when the
        booster has something the compiled evaluator does not implement (then XGBoost
        computes everything, as before)."""
        cached = getattr(self, "_compiled", None)
        # Keyed on the booster object: fit and load_booster replace it.
        if cached is not None and cached[0] is self.model_:
            return cached[1]
        try:
            compiled = compile_booster(self.booster_.save_raw("json"))
        except UnsupportedBooster as error:
            log.warning("%s: %s; contributions fall back to XGBoost's (slower)",
                        type(self).__name__, error)
            compiled = None
        self._compiled = (self.model_, compiled)
        return compiled

    def contributions(self, X: np.ndarray, threads: int = 1) -> np.ndarray:
        """Per-row contributions (rows x (features + 1 bias), float32) to the booster's
        margin: XGBoost's ``pred_contribs=True, approx_contribs=True``.

        The path-based approximation (Saabas) is used: it costs about one prediction, where
        exact TreeSHAP costs tens, and ranks a row's strongest features the same way in
        practice; scoring runs on every entity every day. ``threads``: numba threads of
        the compiled evaluator (1 inside a Spark worker, which owns one core).
        """
        compiled = self.compiled()
        if compiled is None:
            matrix = xgb.DMatrix(np.asarray(X, dtype=np.float32))
            return self.booster_.predict(matrix, pred_contribs=True, approx_contribs=True)
        return compiled.evaluate(X, 0, threads).contributions

    def _output(self, X: np.ndarray) -> np.ndarray:
        """What ``explain`` reports as ``output``, from XGBoost (the fallback)."""
        raise NotImplementedError

    def explain(self, X: np.ndarray, k: int = 3, threads: int = 1) -> Explanation:
        """The output, contributions and top ``k`` features of every row of ``X`` from one
        pass over the trees: the output is the objective's transform of the margin the
        contributions come from, equal to XGBoost's prediction (float32, then float64)."""
        compiled = self.compiled()
        if compiled is None:
            contributions = self.contributions(X)
            features = contributions.shape[1] - 1
            top = np.argsort(-contributions[:, :features], axis=1, kind="stable")
            return Explanation(self._output(X), contributions,
                               top[:, : min(k, features)].astype(np.int32))
        evaluation = compiled.evaluate(X, k, threads)
        output = compiled.transform(evaluation.margin).astype(float)
        return Explanation(output, evaluation.contributions, evaluation.top)


def _check(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=float)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"X {X.shape} and y {y.shape} do not describe the same rows")
    if len(y) == 0:
        raise ValueError("cannot train on zero rows")
    return X, y


class ValueModel(_Boosted, RegressorMixin):
    """Expected value (GMV) over the horizon, Tweedie objective."""

    def __init__(self, tweedie_variance_power: float = 1.5, **params) -> None:
        super().__init__(**params)
        self.tweedie_variance_power = tweedie_variance_power

    def xgb_params(self) -> dict:
        return {"objective": "reg:tweedie",
                "tweedie_variance_power": self.tweedie_variance_power,
                **self._booster_params()}

    def _xgb_class(self) -> type[xgb.XGBModel]:
        return xgb.XGBRegressor

    def fit(self, X: np.ndarray, y: np.ndarray) -> ValueModel:
        X, y = _check(X, y)
        if (y < 0).any():
            raise ValueError("a Tweedie value model needs non-negative outcomes")
        self.model_ = xgb.XGBRegressor(**self.xgb_params()).fit(X, y)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(np.asarray(X, dtype=np.float32)).astype(float)

    def _output(self, X: np.ndarray) -> np.ndarray:
        return self.predict(X)


# Weight of the raw probability in a calibrated one (see ``_Calibrated.calibrate``).
TIE_BREAK = 1e-6


class _Calibrated(_Boosted, ClassifierMixin):
    """A binary booster whose probabilities go through an isotonic map."""

    def __init__(self, **params) -> None:
        # A leaf's weight is its rows' summed hessian, p(1 - p) per row of a logistic loss:
        # with 1% positives the regressors' min_child_weight of 5 asks for ~500 rows per
        # leaf, and a fold trained on a few hundred rows could not split at all (one flat
        # score for everyone). XGBoost's own default of 1 is used instead.
        params.setdefault("min_child_weight", 1.0)
        super().__init__(**params)

    def xgb_params(self) -> dict:
        return {"objective": "binary:logistic", "eval_metric": "logloss",
                **self._booster_params()}

    def _xgb_class(self) -> type[xgb.XGBModel]:
        return xgb.XGBClassifier

    def _classifier(self) -> xgb.XGBClassifier:
        return xgb.XGBClassifier(**self.xgb_params())

    def load_booster(self, raw: bytes | bytearray) -> _Calibrated:
        super().load_booster(raw)
        self.classes_ = np.array([0, 1])
        return self

    def fit_calibration(self, raw: np.ndarray, y: np.ndarray) -> _Calibrated:
        """Fit the isotonic map from out-of-fold raw probabilities ``raw`` and outcomes
        ``y`` (one row per training row; how the folds were made is the caller's)."""
        # Kept as the isotonic step function's knots so the model store can save it as JSON.
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, y)
        self.calibration_x_ = np.asarray(iso.X_thresholds_, dtype=float)
        self.calibration_y_ = np.asarray(iso.y_thresholds_, dtype=float)
        return self

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Raw booster probabilities -> calibrated ones (linear between the knots), strictly
        increasing in ``raw`` so that they rank rows as the booster does."""
        # The isotonic map is flat between its knots, and a map fitted on few positives can
        # be one flat step: every row would get the same probability and ranking by it
        # would be arbitrary. Blending in a sliver of the raw probability breaks those ties
        # in the booster's order and moves no probability by more than TIE_BREAK.
        step = np.clip(np.interp(raw, self.calibration_x_, self.calibration_y_), 0.0, 1.0)
        return (1 - TIE_BREAK) * step + TIE_BREAK * np.asarray(raw, dtype=float)

    def raw_probability(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(np.asarray(X, dtype=np.float32))[:, 1].astype(float)

    def _output(self, X: np.ndarray) -> np.ndarray:
        return self.raw_probability(X)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = self.calibrate(self.raw_probability(X))
        return np.column_stack([1 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def _out_of_fold(make, X: np.ndarray, y: np.ndarray, splits) -> np.ndarray:
    scores = np.full(len(y), np.nan)
    for train, held in splits:
        scores[held] = make().fit(X[train], y[train]).predict_proba(X[held])[:, 1]
    return scores


class PotentialModel(_Calibrated):
    """P(reaching tier A or better within the horizon), isotonic-calibrated across cutoffs."""

    def __init__(self, calibration_folds: int = 3, **params) -> None:
        super().__init__(**params)
        self.calibration_folds = calibration_folds

    def fit(self, X: np.ndarray, y: np.ndarray, groups: Sequence | None = None) -> PotentialModel:
        """``groups``: each row's cutoff. Calibration folds hold out whole cutoffs when
        there are enough of them, else stratified row folds."""
        X, y = _check(X, y)
        positives = y.sum()
        self.classes_ = np.array([0, 1])
        cutoffs = np.asarray(groups) if groups is not None else None
        folds = self.calibration_plan(len(y), int(positives),
                                      None if cutoffs is None else len(np.unique(cutoffs)))
        if folds is None:
            splits = GroupKFold(self.calibration_folds).split(X, y, cutoffs)
        else:
            splits = StratifiedKFold(folds, shuffle=True,
                                     random_state=self.random_state).split(X, y)
        self.fit_calibration(_out_of_fold(self._classifier, X, y, splits), y)
        self.model_ = self._classifier().fit(X, y)
        return self

    def calibration_plan(self, rows: int, positives: int, cutoffs: int | None) -> int | None:
        """How the calibration's out-of-fold scores are made: None for folds of whole
        cutoffs (``cutoff_folds``; when there are at least ``calibration_folds`` of them),
        else the number of row folds. Raises when the rows cannot train a classifier."""
        if positives == 0 or positives == rows:
            raise UntrainableError(
                f"the training set has {positives} positive(s) in {rows} rows: a "
                "classifier needs both outcomes; widen the cutoffs or the population"
            )
        if cutoffs is not None and cutoffs >= self.calibration_folds:
            return None
        folds = int(min(self.calibration_folds, positives, rows - positives))
        if folds < 2:
            raise UntrainableError(
                f"{positives} positive(s) and {rows - positives} negative(s) in {rows} rows on "
                f"{cutoffs if cutoffs is not None else 'unknown'} cutoff(s): too few to "
                "calibrate (need 2 of each); train on more cutoffs or a wider population"
            )
        return folds


def cutoff_folds(sizes: Mapping[Hashable, int], folds: int) -> dict[Hashable, int]:
    """The fold of each cutoff (group) given its row count: the largest cutoff goes to the
    lightest fold, as scikit-learn's ``GroupKFold`` assigns them (so a training path that
    only knows the cutoffs' sizes, not their rows, makes the same folds)."""
    if folds > len(sizes):
        raise ValueError(f"{folds} folds need at least {folds} cutoffs, got {len(sizes)}")
    groups = sorted(sizes)  # GroupKFold numbers groups in sorted order (np.unique)
    weights = np.array([sizes[g] for g in groups])
    load = np.zeros(folds)
    out = {}
    for index in np.argsort(weights, kind="stable")[::-1]:
        lightest = int(np.argmin(load))
        load[lightest] += weights[index]
        out[groups[index]] = lightest
    return out


class LookalikeModel(_Calibrated):
    """Positive-unlabeled: ``s`` = 1 for entities known to have succeeded, 0 for the rest.

    ``predict_proba`` is P(s=1 | x) / c, capped at 1, where c = the mean P(s=1 | x) over
    held-out known successes (the share of successes the traits recognise).
    """

    def __init__(self, holdout_share: float = 0.2, **params) -> None:
        super().__init__(**params)
        self.holdout_share = holdout_share

    def fit(self, X: np.ndarray, s: np.ndarray) -> LookalikeModel:
        X, s = _check(X, s)
        positives = np.flatnonzero(s == 1)
        if len(positives) < 5 or len(positives) == len(s):
            raise ValueError(f"{len(positives)} known successes in {len(s)} rows: need at "
                             "least 5, and some unlabeled rows")
        self.classes_ = np.array([0, 1])
        rng = np.random.default_rng(self.random_state)
        held = rng.choice(positives, max(1, int(len(positives) * self.holdout_share)),
                          replace=False)
        # An equal share of the unlabeled rows is held out as well, so the model's check
        # below compares rows it never saw.
        unlabeled = np.flatnonzero(s == 0)
        held_unlabeled = rng.choice(unlabeled, max(1, int(len(unlabeled) * self.holdout_share)),
                                    replace=False)
        train = np.setdiff1d(np.arange(len(s)), np.concatenate([held, held_unlabeled]))
        self.model_ = self._classifier().fit(X[train], s[train])
        held_raw = self.raw_probability(X[held])
        self.c_ = float(np.clip(held_raw.mean(), 1e-6, 1.0))
        # How well the traits tell held-out successes from held-out unlabeled rows: a lower
        # bound of the ROC-AUC against the truth, since some unlabeled rows are successes.
        raw = np.concatenate([held_raw, self.raw_probability(X[held_unlabeled])])
        self.holdout_auc_ = roc_auc(
            np.r_[np.ones(len(held)), np.zeros(len(held_unlabeled))], raw)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = np.clip(self.raw_probability(X) / self.c_, 0.0, 1.0)
        return np.column_stack([1 - p, p])
