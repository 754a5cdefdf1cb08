"""The report formats of ``lraudit audit``, each mapped to its renderer (exhaustively)."""
from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING

from lraudit.errors import UsageError

try:
    from typing import assert_never
except ImportError:  # Python 3.10
    from typing_extensions import assert_never

if TYPE_CHECKING:
    from lraudit.auditing import AuditResult


class Format(str, enum.Enum):
    """``--format`` values."""

    TEXT = "text"
    JSON = "json"
    JSONL = "jsonl"
    JUNIT = "junit"
    SARIF = "sarif"
    GITHUB = "github"
    MARKDOWN = "markdown"

    @classmethod
    def parse(cls, value: str) -> Format:
        """The format named ``value``; anything else is a usage error."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            known = ", ".join(f.value for f in cls)
            raise UsageError(f"unknown format {value!r}: use one of {known}") from None

    def renderer(self) -> Callable[..., str]:
        """The function that renders an :class:`~lraudit.auditing.AuditResult` in this format."""
        if self is Format.TEXT:
            from lraudit.report.text import render
        elif self is Format.JSON:
            from lraudit.report.json_report import render
        elif self is Format.JSONL:
            from lraudit.report.jsonl import render
        elif self is Format.JUNIT:
            from lraudit.report.junit import render
        elif self is Format.SARIF:
            from lraudit.report.sarif import render
        elif self is Format.GITHUB:
            from lraudit.report.github import render
        elif self is Format.MARKDOWN:
            from lraudit.report.markdown import render
        else:
            assert_never(self)
        return render


#: formats whose report ends with the summary line (``2 runs: 1 error, ...``)
SUMMARISED = frozenset({Format.TEXT, Format.GITHUB, Format.MARKDOWN})


def render(result: AuditResult, fmt: Format, *, color: bool = False) -> str:
    """``result`` in format ``fmt`` (``color`` only matters for text)."""
    if fmt is Format.TEXT:
        return fmt.renderer()(result, color=color)
    return fmt.renderer()(result)
