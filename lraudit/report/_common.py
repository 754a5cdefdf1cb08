"""Small text helpers the report formats share."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lraudit.numfmt import epoch_text, lr_text
from lraudit.torchfacts import framework_label

if TYPE_CHECKING:
    from lraudit.auditing import RunAudit
    from lraudit.rules.base import Finding

#: reStructuredText inline literals (``x``) as the rule docstrings write them
_RST_LITERAL = re.compile(r"``(.+?)``", re.S)


def number(value: float | None) -> str:
    """A logged/effective lr for a table cell: shortest float32 text, empty when unknown."""
    return lr_text(value, missing="")


def notes_of(run: RunAudit) -> list[str]:
    """Skipped inputs, run warnings and reconstruction notes, one line each (every report shows them).

    Each input is said once: an input not read at all is "skipped" with its reason; an input
    read in part (truncated, interrupted) was used, so it is never called skipped - its reason
    is a warning, shown once even when the run's warnings repeat it. Repeated lines are dropped.
    """
    warnings = list(run.warnings)
    lines = []
    for item in run.inputs:
        if item.status == "skipped":
            lines.append(f"skipped {item.path}: {item.reason or item.status}")
        elif item.status != "read" and item.reason and not any(item.reason in w for w in warnings):
            warnings.append(f"{item.path} read in part: {item.reason}")
    lines += [f"warning: {text}" for text in warnings]
    lines += [f"note: {text}" for text in run.notes]
    return list(dict.fromkeys(lines))


def summary_line(counts: dict[str, int], runs: int) -> str:
    """``2 runs: 1 error, 3 warnings, 0 info``."""
    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 or word == 'info' else 's'}"

    return (
        f"{plural(runs, 'run')}: {plural(counts['error'], 'error')}, "
        f"{plural(counts['warning'], 'warning')}, {counts['info']} info"
    )


def plain_code(text: str) -> str:
    """Rule docstrings mark code as reStructuredText ````x````; people read it as ```x```."""
    return _RST_LITERAL.sub(r"`\1`", text)


def finding_where(finding: Finding, epochs: int | None) -> str:
    """Where a finding is, as the console log numbers it: ``epoch 8/8, step 140``."""
    parts = []
    if finding.epoch is not None:
        parts.append(epoch_text(finding.epoch, epochs or None))
    if finding.step is not None:
        parts.append(f"step {finding.step}")
    return ", ".join(parts)


def run_heading(run: RunAudit) -> str:
    """``runs/exp1  (keras 2, 8 epochs, 160 steps)``: a run's name and size, as every report heads it."""
    size = f"{plural(run.epochs, 'epoch')}, {plural(run.steps, 'step')}"
    framework = run.framework or "keras"
    if framework == "keras":
        return f"{run.path}  (keras {run.keras or '?'}, {size})"
    return f"{run.path}  ({framework_label(framework, run.versions)}, {size})"


def plural(count: int, word: str) -> str:
    """``1 epoch``, ``2 epochs``, ``20 updates``."""
    return f"{count} {word}{'' if count == 1 else 's'}"
