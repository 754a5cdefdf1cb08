"""``lraudit timeline``: placeholder until its issue lands (replaced by the real command)."""
from __future__ import annotations

from lraudit.errors import UsageError


def timeline() -> None:
    """Not available yet."""
    raise UsageError("'timeline' is not available yet")
