"""Exit codes of every ``lraudit`` command , below the CLI so commands share them."""
from __future__ import annotations

#: nothing at or above ``--fail-on`` (or a command that succeeded)
EXIT_SUCCESS = 0
#: findings at or above ``--fail-on``
EXIT_FINDINGS = 1
#: bad usage or unreadable input: one line on stderr, never a traceback
EXIT_ERROR = 2
#: interrupted by the user (Ctrl-C): 128 + SIGINT, as shells report it
EXIT_INTERRUPTED = 130
