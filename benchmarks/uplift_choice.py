"""Benchmark: the outreach job's effect-model choice, made by rolling-origin validation and
then reused from its memo, on synthetic campaign frames of the large profile's shapes.

Needs no lake and no Spark (``growth.models.uplift`` is numpy and XGBoost)::

    .venv/bin/python benchmarks/uplift_choice.py            # or: make bench-uplift-choice
    .venv/bin/python benchmarks/uplift_choice.py --shape merchant

For each shape it times ``uplift.fit_selected`` twice on the same rows and settings as the
daily job (``auto``: every candidate, three folds, ``SELECTION_MAX_ROWS`` per fold): first with
an empty memo (every candidate validated, then the chosen one refitted on every row), then with
the memo the first call filled (only the refit). It checks that both calls chose the same
settings and that the two models' effects are equal, and prints the two times.

The shapes are a little above the large profile's enrolments (12 closed campaigns; the
daily run of 2026-10-31 learnt from 20,160 merchant and 201,919 creator enrolments): 24,000
and 240,000 rows, with the encoded feature counts of each entity's snapshot. The rows are
synthetic (a randomized campaign, 30% control, whose true effect depends on three
features), so the figures are the choice's cost, not its quality (docs/outreach.md
measures that on the simulator).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from growth.models.uplift import AUTO, fit_selected

# rows, encoded features, closed campaigns: a little above the large profile's enrolments
SHAPES = {"merchant": (24_000, 60, 12), "creator": (240_000, 57, 12)}


def synthetic_campaigns(rows: int, features: int, campaigns: int, seed: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``campaigns`` randomized campaigns in order: features, arm (1 = contacted,
    70%), onboarded, campaign id. The true effect is 0.3 where the first feature is positive,
    -0.02 elsewhere, plus a smooth term in the third; the base rate depends on the second."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features)).astype(np.float32)
    effect = np.where(X[:, 0] > 0, 0.3, -0.02) + 0.1 * np.tanh(X[:, 2])
    base = 0.08 + 0.1 * (X[:, 1] > 0)
    treated = (rng.random(rows) < 0.7).astype(np.int8)
    onboarded = (rng.random(rows) < np.clip(base + treated * effect, 0, 1)).astype(np.int8)
    groups = np.array([f"c{i:02d}" for i in np.arange(rows) * campaigns // rows])
    return X, treated, onboarded, groups


def measure(shape: str, seed: int) -> tuple[float, float, dict]:
    """Seconds of the choice with an empty memo and with the memo it filled, and the
    settings chosen. Raises if the reused choice or its model differ."""
    rows, features, campaigns = SHAPES[shape]
    X, treated, onboarded, groups = synthetic_campaigns(rows, features, campaigns, seed)
    memo: dict[str, dict] = {}
    start = time.perf_counter()
    chosen_model, chosen, _ = fit_selected(X, treated, onboarded, groups, AUTO, memo=memo,
                                           random_state=seed)
    choose_s = time.perf_counter() - start
    start = time.perf_counter()
    reused_model, reused, _ = fit_selected(X, treated, onboarded, groups, AUTO, memo=memo,
                                           random_state=seed)
    reuse_s = time.perf_counter() - start
    if reused != chosen:
        raise SystemExit(f"{shape}: the memo gave {reused}, the validation chose {chosen}")
    probe = X[:2_000]
    if not np.allclose(chosen_model.effect(probe), reused_model.effect(probe)):
        raise SystemExit(f"{shape}: the reused choice's model ranks differently")
    return choose_s, reuse_s, chosen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=[*SHAPES, "all"], default="all",
                        help="which enrolment shape to time (default: both)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic rows")
    args = parser.parse_args(argv)
    shapes = list(SHAPES) if args.shape == "all" else [args.shape]
    print(f"{'shape':<9} {'rows':>8} {'features':>8} {'chosen s':>9} {'reused s':>9}  settings")
    for shape in shapes:
        rows, features, _ = SHAPES[shape]
        print(f"{shape:<9} {rows:>8,} {features:>8} ... validating", flush=True)
        choose_s, reuse_s, chosen = measure(shape, args.seed)
        print(f"{shape:<9} {rows:>8,} {features:>8} {choose_s:>9.1f} {reuse_s:>9.1f}  {chosen}",
              flush=True)


if __name__ == "__main__":
    main()
