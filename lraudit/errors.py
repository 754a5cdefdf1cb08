"""The typed errors raised to library users (the CLI turns them into one line and exit code 2).

Messages name the library's arguments (``optimizer=``, ``steps_per_epoch=``), never a command
line flag: the library does not know it is behind a CLI. An error about one argument records
it in :attr:`LrauditError.argument`, so the CLI can say ``--steps-per-epoch`` instead (see
:func:`lraudit.cli.cli_message`).
"""
from __future__ import annotations


class LrauditError(Exception):
    """Base of every error lraudit raises on purpose (bad input or bad usage, never a bug).

    ``argument`` is the keyword argument the message is about (``"optimizer"``), or None.
    """

    def __init__(self, message: str, *, argument: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.argument = argument

    def __reduce__(self):  # keeps ``argument`` across worker processes (pickling)
        return (_rebuild, (type(self), self.message, self.argument))


def _rebuild(cls: type[LrauditError], message: str, argument: str | None) -> LrauditError:
    return cls(message, argument=argument)


class UsageError(LrauditError):
    """The call asks for something impossible (unknown format, bad expression, bad value)."""


class InputError(LrauditError):
    """A path does not exist, nothing in it is a training log, or the logs cannot be rebuilt."""


#: alias: the same class under the spelling "LraUdit"
LraUditError = LrauditError
