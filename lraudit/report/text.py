"""``--format text``: a rich table on a terminal, plain text when piped or written to a file."""
from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, TextIO

from lraudit.report._common import notes_of, number, summary_line

if TYPE_CHECKING:
    from lraudit.auditing import AuditResult

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def use_color(stream: TextIO) -> bool:
    """Colour when ``stream`` is a terminal; ``NO_COLOR`` forbids it, ``FORCE_COLOR`` forces it."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def render(result: AuditResult, *, color: bool = False) -> str:
    """The report as text; ``color`` selects the rich table with ANSI styles.

    The rich table is for a terminal, where the command's own ``lraudit: N runs: ... -> exit``
    line on stderr lands on the same screen: it leaves the summary to that line, so a terminal
    shows it once. The plain report (a pipe, a file) may be read alone and keeps it.
    """
    return _rich(result) if color else _plain(result)


def _plain(result: AuditResult) -> str:
    lines: list[str] = []
    for run in result.runs:
        lines.append(f"{run.path}  (keras {run.keras or '?'}, {run.epochs} epochs, {run.steps} steps)")
        for f in run.findings:
            where = f" [{f.source}]" if f.source else ""
            at = " ".join(p for p in (
                f"epoch {f.epoch}" if f.epoch is not None else "",
                f"step {f.step}" if f.step is not None else "",
            ) if p)
            lines.append(f"  {f.code} {f.severity.value:<7} {f.name}{f' ({at})' if at else ''}{where}")
            lines.append(f"      {f.message}")
            lines.append(f"      fix: {' '.join(f.fix.split())}")
        if not run.findings:
            lines.append("  no findings")
        lines += [f"  {note}" for note in notes_of(run)]
        lines.append("")
    lines.append(summary_line(result.counts(), len(result.runs)))
    return "\n".join(lines) + "\n"


def _rich(result: AuditResult) -> str:
    from rich.console import Console
    from rich.table import Table

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="standard", width=160)
    for run in result.runs:
        table = Table(title=f"{run.path} (keras {run.keras or '?'}, {run.epochs} epochs, {run.steps} steps)",
                      title_justify="left", expand=True)
        for column in ("code", "severity", "name", "epoch", "step", "logged", "effective", "message"):
            table.add_column(column, overflow="fold", ratio=6 if column == "message" else None)
        for f in run.findings:
            style = _STYLE[f.severity.value]
            table.add_row(
                f.code, f"[{style}]{f.severity.value}[/]", f.name,
                "" if f.epoch is None else str(f.epoch), "" if f.step is None else str(f.step),
                number(f.logged), number(f.effective), f.message,
            )
        console.print(table)
        for note in notes_of(run):
            console.print(f"  [dim]{note}[/]", markup=True, highlight=False)
    return buffer.getvalue()
