"""``lraudit explain``: placeholder until its issue lands (replaced by the real command)."""
from __future__ import annotations

from lraudit.errors import UsageError


def explain() -> None:
    """Not available yet."""
    raise UsageError("'explain' is not available yet")
