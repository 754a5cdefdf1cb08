"""``lraudit audit``: placeholder until its issue lands (replaced by the real command)."""
from __future__ import annotations

from lraudit.errors import UsageError


def audit() -> None:
    """Not available yet."""
    raise UsageError("'audit' is not available yet")
