"""``lraudit plot``: placeholder until its issue lands (replaced by the real command)."""
from __future__ import annotations

from lraudit.errors import UsageError


def plot() -> None:
    """Not available yet."""
    raise UsageError("'plot' is not available yet")
