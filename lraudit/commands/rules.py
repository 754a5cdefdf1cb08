"""``lraudit rules``: placeholder until its issue lands (replaced by the real command)."""
from __future__ import annotations

from lraudit.errors import UsageError


def rules() -> None:
    """Not available yet."""
    raise UsageError("'rules' is not available yet")
