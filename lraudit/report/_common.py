"""Small text helpers the report formats share."""
from __future__ import annotations

from typing import TYPE_CHECKING

from lraudit.numfmt import lr_text

if TYPE_CHECKING:
    from lraudit.auditing import RunAudit


def number(value: float | None) -> str:
    """A logged/effective lr for a table cell: shortest float32 text, empty when unknown."""
    return lr_text(value, missing="")


def notes_of(run: RunAudit) -> list[str]:
    """Skipped inputs, run warnings and reconstruction notes, one line each (every report shows them)."""
    lines = [f"skipped {item.path}: {item.reason or item.status}" for item in run.skipped]
    lines += [f"warning: {text}" for text in run.warnings]
    lines += [f"note: {text}" for text in run.notes]
    return lines


def summary_line(counts: dict[str, int], runs: int) -> str:
    """``2 runs: 1 error, 3 warnings, 0 info``."""
    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 or word == 'info' else 's'}"

    return (
        f"{plural(runs, 'run')}: {plural(counts['error'], 'error')}, "
        f"{plural(counts['warning'], 'warning')}, {counts['info']} info"
    )
