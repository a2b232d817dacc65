"""A compiled evaluator of XGBoost tree ensembles: margin, Saabas contributions and each
row's strongest features in one pass over the trees.

Grain: one row of ``X`` per entity (rows x the model's features, float32, NaN = missing);
the outputs have the same rows: the margin (rows), the contributions (rows x (features + 1),
the last column being the bias, as XGBoost's ``pred_contribs``) and the column indices of the
``k`` largest contributions (rows x k).

Scoring needs, for every entity every day, both a model's prediction and its per-feature
contributions (for the reasons). XGBoost computes them in two passes over the trees, and its
approximate contributions cost about four predictions. Both are functions of the leaf a row
reaches in each tree, so this module parses the booster's own JSON once into flat arrays and
evaluates everything in one numba kernel:

- each tree is padded to the ensemble's depth (a leaf above the bottom level is copied into
  every slot below it), so a row descends exactly ``depth`` levels with no test for leaves
  and the direction is computed without a branch (splits go right unless ``x < threshold``
  in float32; NaN follows the node's default direction, as XGBoost does);
- the contributions a row collects along its path in one tree depend only on the leaf it
  reaches, so they are computed per leaf at compile time (at most ``depth`` (feature, value)
  pairs), in the same float32 operations and order as XGBoost's ``approx_contribs``
  (node mean values weighted by the children's hessian sums; the change in mean value along
  each edge credited to the edge's split feature; per tree, then summed over trees in order);
  the bias column (the trees' root means plus the base margin) does not depend on the row;
- the margin is the base margin plus the leaves' values, added in tree order in float32 like
  XGBoost's CPU predictor, so it matches ``predict(output_margin=True)``.

Rows are evaluated in blocks of ``BLOCK_ROWS``: the block is copied column by column, each
column twice (NaN read as -inf in one copy and +inf in the other, so a node reads the copy
that sends NaN its default way and one comparison decides), then tree by tree sixteen rows
descend side by side (their paths are independent chains of loads, which the processor
overlaps) and each row adds its leaf's value and contribution pairs. With ``threads > 1``
blocks are spread over numba threads; with one thread a serial kernel runs, so a Spark Python
worker (one per core) never starts a thread pool.

Kernels are compiled on first use (a few seconds; once per ensemble depth, which is part of
their argument types) and cached on disk (numba's ``cache=True``: next to this file or
in the user's cache directory, or ``NUMBA_CACHE_DIR``), so later processes, such as each
Spark worker, load them in well under a second; where no cache directory is writable (a
read-only or zipped install) they compile once per process instead.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass

import numba
import numpy as np

log = logging.getLogger(__name__)

# Padding doubles the nodes per level (depth 8: 256 leaves of 8 pairs per tree); deeper
# trees are better left to XGBoost, so compile_booster refuses them and the estimators fall
# back to XGBoost's own (slower) predictions and contributions.
MAX_DEPTH = 8
# Rows evaluated together (a multiple of 16): their buffers and contributions stay in the
# first-level cache while each tree's nodes are read once for all of them.
BLOCK_ROWS = 64

# Objective -> how a margin becomes the prediction, and how XGBoost maps its stored
# base_score (output space) to the margin (each objective's ProbToMargin).
_TRANSFORMS = {
    "reg:squarederror": ("identity", "identity"),
    "reg:tweedie": ("exp", "log"),
    "count:poisson": ("exp", "log"),
    "reg:gamma": ("exp", "log"),
    "binary:logistic": ("sigmoid", "logit"),
    "reg:logistic": ("sigmoid", "logit"),
    "binary:logitraw": ("identity", "identity"),
}


class UnsupportedBooster(ValueError):
    """The booster has something this evaluator does not implement (categorical splits,
    several outputs, dart, an objective without a known transform, very deep trees)."""


class _Kernel:
    """A numba-compiled function, cached on disk where numba can write its cache.

    Numba refuses ``cache=True`` when it finds no cache directory at all (RuntimeError at
    decoration), and for a module imported from a zip (how Spark ships code to a cluster)
    it picks the user's cache directory without checking it, failing with an OSError at
    the first call if that cannot be written. Either way the kernel then compiles without
    a cache, once per process, rather than scoring failing.
    """

    def __init__(self, function, parallel: bool) -> None:
        self._function = function
        self._options = {"parallel": parallel, "nogil": True}
        try:
            self._dispatcher = numba.njit(cache=True, **self._options)(function)
        except RuntimeError as error:
            self._uncached(error)

    def _uncached(self, error: Exception) -> None:
        log.info("numba cannot cache %s (%s); it compiles once per process",
                 self._function.__name__, error)
        self._dispatcher = numba.njit(**self._options)(self._function)

    def __call__(self, *args):
        try:
            return self._dispatcher(*args)
        except OSError as error:  # only compiling and caching touch files
            self._uncached(error)
            return self._dispatcher(*args)


def _kernel(parallel: bool = False):
    """Decorator: the function as a ``_Kernel``."""
    return lambda function: _Kernel(function, parallel)


@numba.njit(inline="always")
def _descend16(x, column, threshold, depth, leaves, q, first_leaf):
    """The leaves that block rows q..q+15 reach in one tree (0 = leftmost), into ``leaves``.

    Sixteen rows descend side by side: a row's path is a chain of dependent loads, and
    independent chains keep the processor busy while each waits (16 measured 7% faster
    than 8 and 18% faster than 4). ``x`` is the block in column-major order and ``column``
    holds each node's column offset in it (see ``_evaluate_block``), so row q + i of a
    node's column is ``x[column[n] + q + i]`` and one float32 comparison gives XGBoost's
    direction, missing values included. Indices are unsigned because numba adds a
    negative-index fix-up to every signed one, which costs as much as the comparison here.
    """
    one = np.uint64(1)
    two = np.uint64(2)
    q0 = np.uint64(q)
    q1 = q0 + one
    q2 = q1 + one
    q3 = q2 + one
    q4 = q3 + one
    q5 = q4 + one
    q6 = q5 + one
    q7 = q6 + one
    q8 = q7 + one
    q9 = q8 + one
    q10 = q9 + one
    q11 = q10 + one
    q12 = q11 + one
    q13 = q12 + one
    q14 = q13 + one
    q15 = q14 + one
    n0 = n1 = n2 = n3 = n4 = n5 = n6 = n7 = np.uint64(0)
    n8 = n9 = n10 = n11 = n12 = n13 = n14 = n15 = np.uint64(0)
    for _ in range(depth):
        # Heap order: node n's children are 2n + 1 (left) and 2n + 2 (right).
        n0 = two * n0 + one + np.uint64(x[column[n0] + q0] >= threshold[n0])
        n1 = two * n1 + one + np.uint64(x[column[n1] + q1] >= threshold[n1])
        n2 = two * n2 + one + np.uint64(x[column[n2] + q2] >= threshold[n2])
        n3 = two * n3 + one + np.uint64(x[column[n3] + q3] >= threshold[n3])
        n4 = two * n4 + one + np.uint64(x[column[n4] + q4] >= threshold[n4])
        n5 = two * n5 + one + np.uint64(x[column[n5] + q5] >= threshold[n5])
        n6 = two * n6 + one + np.uint64(x[column[n6] + q6] >= threshold[n6])
        n7 = two * n7 + one + np.uint64(x[column[n7] + q7] >= threshold[n7])
        n8 = two * n8 + one + np.uint64(x[column[n8] + q8] >= threshold[n8])
        n9 = two * n9 + one + np.uint64(x[column[n9] + q9] >= threshold[n9])
        n10 = two * n10 + one + np.uint64(x[column[n10] + q10] >= threshold[n10])
        n11 = two * n11 + one + np.uint64(x[column[n11] + q11] >= threshold[n11])
        n12 = two * n12 + one + np.uint64(x[column[n12] + q12] >= threshold[n12])
        n13 = two * n13 + one + np.uint64(x[column[n13] + q13] >= threshold[n13])
        n14 = two * n14 + one + np.uint64(x[column[n14] + q14] >= threshold[n14])
        n15 = two * n15 + one + np.uint64(x[column[n15] + q15] >= threshold[n15])
    leaves[q] = n0 - first_leaf
    leaves[q + 1] = n1 - first_leaf
    leaves[q + 2] = n2 - first_leaf
    leaves[q + 3] = n3 - first_leaf
    leaves[q + 4] = n4 - first_leaf
    leaves[q + 5] = n5 - first_leaf
    leaves[q + 6] = n6 - first_leaf
    leaves[q + 7] = n7 - first_leaf
    leaves[q + 8] = n8 - first_leaf
    leaves[q + 9] = n9 - first_leaf
    leaves[q + 10] = n10 - first_leaf
    leaves[q + 11] = n11 - first_leaf
    leaves[q + 12] = n12 - first_leaf
    leaves[q + 13] = n13 - first_leaf
    leaves[q + 14] = n14 - first_leaf
    leaves[q + 15] = n15 - first_leaf


# Not cached itself: numba compiles it into each kernel that calls it, and caches it there.
@numba.njit(nogil=True)
def _evaluate_block(X, start, stop, column, threshold, leaf_value, leaf_feature,
                    leaf_contribution, base_margin, bias, margin, contributions, top, x,
                    leaves, best, acc, levels):
    """Rows [start, stop) of X (at most BLOCK_ROWS): margin, contributions and top-k,
    written in place; ``x``, ``leaves``, ``best`` and ``acc`` are the caller's scratch
    buffers. ``levels``: a tuple of ``depth`` zeros. A tuple's length is part of its
    numba type, so each depth gets a kernel of its own in which the number of a leaf's
    pairs is a constant: the loop over them, run for every row and tree, is unrolled (the
    kernel measured 10% faster). An integer argument forced to a literal
    (``numba.literally``) did the same but cost ~10 ms of dispatch per call."""
    n_features = X.shape[1]
    trees, internal = threshold.shape
    depth = leaf_feature.shape[2]
    rows = stop - start
    k = top.shape[1]
    pairs = len(levels)
    # The block column by column, each column twice: NaN as -inf in the first copy (every
    # comparison then sends it left), as +inf in the second (right). A node whose default
    # is right reads the second copy. Rows past ``stop`` are zeros, descended but unread.
    for q in range(BLOCK_ROWS):
        for c in range(n_features):
            value = X[start + q, c] if q < rows else np.float32(0.0)
            if value != value:
                x[c * BLOCK_ROWS + q] = -np.inf
                x[(n_features + c) * BLOCK_ROWS + q] = np.inf
            else:
                x[c * BLOCK_ROWS + q] = value
                x[(n_features + c) * BLOCK_ROWS + q] = value
    for r in range(start, stop):
        margin[r] = base_margin
    # The block's contributions add up in ``acc`` (rows x (features + depth)): the columns
    # past the features take the padding pairs, pair j in column n_features + j. Padding
    # pairs sharing one column (the bias, as before) made a row's adds wait on each other
    # through memory; with a column each they do not (the kernel measured 5% faster).
    width = np.uint64(n_features + depth)
    for i in range(rows * (n_features + depth)):
        acc[i] = 0.0
    first_leaf = np.uint64(internal)
    for t in range(trees):
        for q in range(0, rows, 16):
            _descend16(x, column[t], threshold[t], depth, leaves, q, first_leaf)
        value_t = leaf_value[t]
        feature_t = leaf_feature[t].reshape(-1)
        contribution_t = leaf_contribution[t].reshape(-1)
        for q in range(rows):
            r = start + q
            leaf = leaves[q]
            # Tree by tree, as XGBoost adds them (float32 addition is not associative).
            margin[r] += value_t[leaf]
            row = np.uint64(q) * width
            at = leaf * np.uint64(pairs)
            for j in range(pairs):
                pair = at + np.uint64(j)
                acc[row + np.uint64(feature_t[pair])] += contribution_t[pair]
    for q in range(rows):
        row = np.uint64(q) * width
        for c in range(n_features):
            contributions[start + q, c] = acc[row + np.uint64(c)]
    for r in range(start, stop):
        contributions[r, n_features] = bias
        # Insertion into the k best so far; strictly greater wins, so of equal
        # contributions the earlier column ranks first (a stable sort's order).
        for s in range(k):
            best[s] = -np.inf
            top[r, s] = -1
        for c in range(n_features):
            value = contributions[r, c]
            if k == 0 or not value > best[k - 1]:
                continue
            s = k - 1
            while s > 0 and value > best[s - 1]:
                best[s] = best[s - 1]
                top[r, s] = top[r, s - 1]
                s -= 1
            best[s] = value
            top[r, s] = c


@_kernel()
def _evaluate_serial(X, column, threshold, leaf_value, leaf_feature, leaf_contribution,
                     base_margin, bias, margin, contributions, top, levels):
    rows, n_features = X.shape
    x = np.empty(BLOCK_ROWS * 2 * n_features, dtype=np.float32)
    leaves = np.empty(BLOCK_ROWS, dtype=np.uint64)
    best = np.empty(top.shape[1], dtype=np.float32)
    acc = np.empty(BLOCK_ROWS * (n_features + leaf_feature.shape[2]), dtype=np.float32)
    for start in range(0, rows, BLOCK_ROWS):
        _evaluate_block(X, start, min(start + BLOCK_ROWS, rows), column, threshold,
                        leaf_value, leaf_feature, leaf_contribution, base_margin, bias,
                        margin, contributions, top, x, leaves, best, acc, levels)


@_kernel(parallel=True)
def _evaluate_parallel(X, column, threshold, leaf_value, leaf_feature, leaf_contribution,
                       base_margin, bias, margin, contributions, top, levels):
    rows, n_features = X.shape
    blocks = (rows + BLOCK_ROWS - 1) // BLOCK_ROWS
    for b in numba.prange(blocks):
        x = np.empty(BLOCK_ROWS * 2 * n_features, dtype=np.float32)
        leaves = np.empty(BLOCK_ROWS, dtype=np.uint64)
        best = np.empty(top.shape[1], dtype=np.float32)
        acc = np.empty(BLOCK_ROWS * (n_features + leaf_feature.shape[2]), dtype=np.float32)
        start = b * BLOCK_ROWS
        _evaluate_block(X, start, min(start + BLOCK_ROWS, rows), column, threshold,
                        leaf_value, leaf_feature, leaf_contribution, base_margin, bias,
                        margin, contributions, top, x, leaves, best, acc, levels)


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of a batch: ``margin`` (rows, float32), ``contributions`` (rows x
    (features + 1) float32, bias last; they sum to about the margin) and ``top`` (rows x k
    int32: the columns of each row's k largest contributions, largest first, ties in column
    order; k is at most the number of features)."""

    margin: np.ndarray
    contributions: np.ndarray
    top: np.ndarray


@dataclass(frozen=True, eq=False)
class CompiledTrees:
    """A tree ensemble as flat arrays (``compile_booster`` builds it).

    Trees are padded to ``depth``: ``feature``/``threshold``/``right_default`` are
    (trees x 2**depth - 1) in heap order (node i's children are 2i + 1 and 2i + 2);
    ``leaf_value`` is (trees x 2**depth); ``leaf_feature``/``leaf_contribution`` are
    (trees x 2**depth x depth), the contributions a row reaching that leaf collects in that
    tree, padded with (n_features + j, 0) in pair j (scratch columns the kernel drops).
    ``column`` is where the kernel reads each node's
    feature in its block buffer: (feature, + n_features when NaN goes right) x BLOCK_ROWS.
    """

    n_features: int
    depth: int
    objective: str
    base_margin: np.float32
    bias: np.float32
    feature: np.ndarray
    threshold: np.ndarray
    right_default: np.ndarray
    leaf_value: np.ndarray
    leaf_feature: np.ndarray
    leaf_contribution: np.ndarray
    column: np.ndarray

    @property
    def n_trees(self) -> int:
        return len(self.threshold)

    def evaluate(self, X: np.ndarray, k: int = 0, threads: int = 1) -> Evaluation:
        """Margin, contributions and the top ``k`` columns of every row of ``X`` (rows x
        ``n_features``, NaN = missing), on ``threads`` numba threads (1: no thread pool)."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"X has shape {X.shape}: the model was trained on "
                             f"{self.n_features} features (one column each, in its order)")
        if np.isinf(X).any():
            # XGBoost refuses infinities too (it cannot tell them from overflow).
            raise ValueError("X contains infinite values: the booster treats only NaN as "
                             "missing; replace infinities with NaN or a finite value")
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        rows = len(X)
        k = min(k, self.n_features)
        margin = np.empty(rows, dtype=np.float32)
        contributions = np.empty((rows, self.n_features + 1), dtype=np.float32)
        top = np.empty((rows, k), dtype=np.int32)
        if rows:
            args = (X, self.column, self.threshold, self.leaf_value, self.leaf_feature,
                    self.leaf_contribution, self.base_margin, self.bias, margin, contributions,
                    top, (0,) * int(self.depth))
            threads = max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS))
            if threads == 1 or rows <= BLOCK_ROWS:
                _evaluate_serial(*args)
            else:
                numba.set_num_threads(threads)
                _evaluate_parallel(*args)
        return Evaluation(margin, contributions, top)

    def transform(self, margin: np.ndarray) -> np.ndarray:
        """The objective's prediction (what ``Booster.predict`` returns) from margins (float32
        in, float32 out): exp for Tweedie/Poisson/gamma, the logistic sigmoid for the
        logistic objectives, the margin itself otherwise."""
        margin = np.ascontiguousarray(margin, dtype=np.float32)
        return _transform(margin, _KINDS[_TRANSFORMS[self.objective][0]])


_KINDS = {"identity": 0, "exp": 1, "sigmoid": 2}


@_kernel()
def _transform(margin, kind):
    # Compiled rather than numpy so that exp is the C library's expf, as in XGBoost (numpy's
    # float32 exp differs from it in the last bit for about 40% of values).
    out = np.empty_like(margin)
    for i in range(len(margin)):
        if kind == 1:
            out[i] = math.exp(margin[i])
        elif kind == 2:
            # XGBoost's Sigmoid: exp's argument capped so that it stays finite.
            out[i] = np.float32(1.0) / (math.exp(min(-margin[i], np.float32(88.7)))
                                        + np.float32(1.0))
        else:
            out[i] = margin[i]
    return out


def _base_margin(objective: str, base_score: float) -> np.float32:
    """The stored base_score (output space) in margin space, in float32 like XGBoost."""
    score = np.float32(base_score)
    kind = _TRANSFORMS[objective][1]
    if kind == "log":
        return np.float32(np.log(score))
    if kind == "logit":
        if not 0.0 < score < 1.0:
            raise UnsupportedBooster(f"base_score {score} is not a probability")
        return np.float32(-np.log(np.float32(1.0) / score - np.float32(1.0)))
    return score


def _number(text: str | float) -> float:
    """A learner parameter: XGBoost writes scalars as strings, vectors as '[v1,v2]'."""
    if isinstance(text, str):
        values = text.strip("[]").split(",")
        if len(values) != 1:
            raise UnsupportedBooster(f"a vector parameter {text!r} (several outputs)")
        return float(values[0])
    return float(text)


class _Tree:
    """One tree of the JSON as float32 arrays, with XGBoost's node mean values."""

    def __init__(self, tree: dict) -> None:
        self.left = np.asarray(tree["left_children"], dtype=np.int64)
        self.right = np.asarray(tree["right_children"], dtype=np.int64)
        self.split = np.asarray(tree["split_indices"], dtype=np.int64)
        # A leaf's value is stored in split_conditions (XGBoost keeps the leaf value and the
        # threshold in one field); base_weights are the weights before the learning rate.
        self.condition = np.asarray(tree["split_conditions"], dtype=np.float32)
        self.default_left = np.asarray(tree["default_left"], dtype=bool)
        self.hessian = np.asarray(tree["sum_hessian"], dtype=np.float32)
        split_type = tree.get("split_type", [])
        if any(split_type) or tree.get("categories_nodes"):
            raise UnsupportedBooster("the booster has categorical splits")
        if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1:
            raise UnsupportedBooster("the booster has vector leaves (several outputs)")
        self.mean = np.zeros(len(self.left), dtype=np.float32)
        self.depth = self._fill_mean(0, 0)

    def is_leaf(self, node: int) -> bool:
        return self.left[node] == -1

    def _fill_mean(self, node: int, level: int) -> int:
        """XGBoost's FillNodeMeanValues (float32: left mean * left hessian, plus right mean
        * right hessian, over the node's hessian); returns the subtree's depth."""
        if self.is_leaf(node):
            self.mean[node] = self.condition[node]
            return level
        if level >= MAX_DEPTH:
            raise UnsupportedBooster(f"a tree deeper than {MAX_DEPTH} levels")
        left, right = int(self.left[node]), int(self.right[node])
        depth = max(self._fill_mean(left, level + 1), self._fill_mean(right, level + 1))
        result = self.mean[left] * self.hessian[left]
        result += self.mean[right] * self.hessian[right]
        with np.errstate(divide="ignore", invalid="ignore"):  # as XGBoost's float division
            self.mean[node] = result / self.hessian[node]
        return depth


def _pad(tree: _Tree, t: int, depth: int, n_features: int, arrays: dict) -> None:
    """Write tree ``t`` into the padded arrays, with each leaf's path contributions."""
    stack = [(0, 0, 0, ())]  # (JSON node, heap position, level, path of (feature, delta))
    while stack:
        node, position, level, path = stack.pop()
        if tree.is_leaf(node):
            # XGBoost adds each step's change to a per-tree buffer in path order (a feature
            # split on twice accumulates in float32 there) before adding the tree's buffer
            # to the row; merging here reproduces those sums exactly.
            merged: dict[int, np.float32] = {}
            for feature, delta in path:
                merged[feature] = merged.get(feature, np.float32(0.0)) + delta
            span = 2 ** (depth - level)
            first = (position - (2 ** level - 1)) * span
            leaves = slice(first, first + span)
            arrays["leaf_value"][t, leaves] = tree.condition[node]
            arrays["leaf_feature"][t, leaves, :] = n_features + np.arange(depth)
            arrays["leaf_contribution"][t, leaves, :] = 0.0
            for j, (feature, value) in enumerate(merged.items()):
                arrays["leaf_feature"][t, leaves, j] = feature
                arrays["leaf_contribution"][t, leaves, j] = value
            # The padded nodes below a shallow leaf keep feature 0 / threshold 0: whichever
            # way a row goes it reaches a copy of this leaf.
            continue
        feature = int(tree.split[node])
        if not 0 <= feature < n_features:
            raise UnsupportedBooster(f"a split on feature {feature} of {n_features}")
        if not np.isfinite(tree.condition[node]):
            # The kernel reads NaN as an infinity, which must fall on one side of every split.
            raise UnsupportedBooster(f"a split at {tree.condition[node]}")
        arrays["feature"][t, position] = feature
        arrays["threshold"][t, position] = tree.condition[node]
        arrays["right_default"][t, position] = not tree.default_left[node]
        for child, offset in ((int(tree.left[node]), 1), (int(tree.right[node]), 2)):
            delta = tree.mean[child] - tree.mean[node]
            stack.append((child, 2 * position + offset, level + 1, (*path, (feature, delta))))


def compile_booster(raw: bytes | bytearray | str | dict) -> CompiledTrees:
    """Parse a booster's JSON (``Booster.save_raw("json")``, its text, or the parsed dict)
    into a ``CompiledTrees``. Raises ``UnsupportedBooster`` for what it does not implement."""
    model = raw if isinstance(raw, dict) else json.loads(raw)
    learner = model["learner"]
    if "best_iteration" in learner.get("attributes", {}):
        # XGBoost's scikit-learn predict then uses only the trees up to the best iteration.
        raise UnsupportedBooster("an early-stopped booster (it has a best_iteration)")
    params = learner["learner_model_param"]
    if int(_number(params.get("num_class", "0"))) > 1 or int(
            _number(params.get("num_target", "1"))) > 1:
        raise UnsupportedBooster("a model with several outputs")
    objective = learner["objective"]["name"]
    if objective not in _TRANSFORMS:
        raise UnsupportedBooster(f"objective {objective!r}")
    booster = learner["gradient_booster"]
    if booster["name"] != "gbtree":
        raise UnsupportedBooster(f"booster {booster['name']!r} (only gbtree)")
    n_features = int(_number(params["num_feature"]))
    base_margin = _base_margin(objective, _number(params["base_score"]))
    trees = [_Tree(tree) for tree in booster["model"]["trees"]]
    depth = max((tree.depth for tree in trees), default=0)
    n = len(trees)
    arrays = {
        "feature": np.zeros((n, 2 ** depth - 1), dtype=np.int32),
        "threshold": np.zeros((n, 2 ** depth - 1), dtype=np.float32),
        "right_default": np.zeros((n, 2 ** depth - 1), dtype=np.bool_),
        "leaf_value": np.zeros((n, 2 ** depth), dtype=np.float32),
        "leaf_feature": np.zeros((n, 2 ** depth, depth), dtype=np.int32),
        "leaf_contribution": np.zeros((n, 2 ** depth, depth), dtype=np.float32),
    }
    # XGBoost's bias column: each tree's root mean added in tree order, then the base margin.
    bias = np.float32(0.0)
    for t, tree in enumerate(trees):
        _pad(tree, t, depth, n_features, arrays)
        bias = np.float32(bias + tree.mean[0])
    bias = np.float32(bias + base_margin)
    # Where the kernel reads a node's feature in its block buffer: the copy of the column
    # whose NaN reading sends the row the node's default way.
    column = ((arrays["feature"] + n_features * arrays["right_default"].astype(np.int64))
              * BLOCK_ROWS).astype(np.uint64)
    return CompiledTrees(n_features=n_features, depth=depth, objective=objective,
                         base_margin=base_margin, bias=bias, column=column, **arrays)
