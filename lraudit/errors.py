"""Errors that end a command with exit code 2 (bad usage or unreadable input)."""
from __future__ import annotations


class LrauditError(Exception):
    """A user-facing error: printed as one line on stderr, exit code 2, no traceback."""


class UsageError(LrauditError):
    """The command line asks for something impossible (unknown format, bad expression, ...)."""


class InputError(LrauditError):
    """A path does not exist, or nothing in it is a training log."""
