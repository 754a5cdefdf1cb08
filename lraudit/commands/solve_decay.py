"""``lraudit solve-decay``: placeholder until its issue lands (replaced by the real command)."""
from __future__ import annotations

from lraudit.errors import UsageError


def solve_decay() -> None:
    """Not available yet."""
    raise UsageError("'solve-decay' is not available yet")
