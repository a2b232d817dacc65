"""The platform's user-facing errors.

Each subclass carries a message that names what is wrong and how to fix it, so the CLI prints
it as is, without a traceback, and exits with its ``exit_status`` (1; 3 for a blocked
data-quality gate; 4 when there is no champion model to score with yet; 5 when the training
data cannot train a model).
"""

from __future__ import annotations


class GrowthError(Exception):
    """Base of every error whose message is meant for the person running the command."""

    exit_status = 1


DATA_QUALITY_EXIT_STATUS = 3
"""The CLI's exit status when a data-quality gate blocked publishing. The scheduler fails
such a task without retrying: the same input cannot pass on a second try."""

NO_CHAMPION_EXIT_STATUS = 4
"""The CLI's exit status when scoring finds no champion model: nothing was trained yet. The
scheduler skips such a task (and what depends on it) instead of failing the daily run."""

UNTRAINABLE_EXIT_STATUS = 5
"""The CLI's exit status when the training data cannot train or backtest a model (one
outcome only, too few of either to calibrate, too few cutoffs for the folds). The scheduler
fails such a task without retrying: the same training set fails the same way."""


class UntrainableError(GrowthError, ValueError):
    """The training data cannot train or backtest a model; the message says what to widen.
    A ValueError too: the models' pure code raises it for data it cannot fit."""

    exit_status = UNTRAINABLE_EXIT_STATUS
