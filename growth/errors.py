"""The platform's user-facing errors.

Each subclass carries a message that names what is wrong and how to fix it, so the CLI prints
it as is, without a traceback, and exits with status 1.
"""

from __future__ import annotations


class GrowthError(Exception):
    """Base of every error whose message is meant for the person running the command."""
