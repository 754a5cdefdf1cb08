"""``--format text``: a rich layout on a terminal, plain text when piped or written to a file.

On a terminal the report takes the terminal's width (``COLUMNS`` when set, as rich reads it):
at :data:`TABLE_MIN_WIDTH` columns or more each run is a table whose message column wraps;
below it every finding is stacked (a header line, then the message, the fix and the source
indented), which never breaks. Both layouts keep the message, the fix and the source of every
finding, and print file and run names verbatim (rich markup in them is escaped).
"""
from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, TextIO

from lraudit.report._common import finding_where, notes_of, number, plain_code, run_heading, summary_line

if TYPE_CHECKING:
    from lraudit.auditing import AuditResult, RunAudit
    from lraudit.rules.base import Finding

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}

#: below this many columns the table would squeeze the message into a sliver: stack instead
TABLE_MIN_WIDTH = 100


def use_color(stream: TextIO) -> bool:
    """Colour when ``stream`` is a terminal; ``NO_COLOR`` forbids it, ``FORCE_COLOR`` forces it."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def terminal_width(stream: TextIO | None = None) -> int:
    """The width rich would use for ``stream``: ``COLUMNS`` when set, else the terminal's, else 80."""
    from rich.console import Console

    return Console(file=stream).width


def render(result: AuditResult, *, color: bool = False, width: int | None = None) -> str:
    """The report as text; ``color`` selects the rich layout for a terminal ``width`` columns wide
    (default: the width of standard output)."""
    return _rich(result, width or terminal_width()) if color else _plain(result)


def _plain(result: AuditResult) -> str:
    lines: list[str] = []
    for run in result.runs:
        lines.append(run_heading(run))
        for f in run.findings:
            where = finding_where(f, run.epochs)
            lines.append(f"  {f.code} {f.severity.value:<7} {f.name}{f' ({where})' if where else ''}")
            lines.append(f"      {plain_code(f.message)}")
            lines.append(f"      fix: {plain_code(' '.join(f.fix.split()))}")
            if f.source:
                lines.append(f"      source: {f.source}")
        if not run.findings:
            lines.append("  no findings")
        lines += [f"  {note}" for note in notes_of(run)]
        lines.append("")
    lines.append(summary_line(result.counts(), len(result.runs)))
    return "\n".join(lines) + "\n"


def _rich(result: AuditResult, width: int) -> str:
    from rich.console import Console
    from rich.markup import escape

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="standard", width=width,
                      highlight=False, soft_wrap=False)
    for run in result.runs:
        console.print(f"[bold]{escape(run_heading(run))}[/]")
        if not run.findings:
            console.print("  [green]no findings[/]")
        elif width >= TABLE_MIN_WIDTH:
            console.print(_table(run))
        else:
            for f in run.findings:
                _print_stacked(console, f, run.epochs)
        for note in notes_of(run):
            console.print(f"  [dim]{escape(note)}[/]")
        console.print()
    console.print(escape(summary_line(result.counts(), len(result.runs))))
    return buffer.getvalue()


def _table(run: RunAudit):
    """One run's findings as a table filling the width; the last column wraps the message,
    the fix and the source."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(expand=True, show_lines=True, pad_edge=False)
    table.add_column("rule", no_wrap=True)
    table.add_column("where", no_wrap=True)
    table.add_column("logged", justify="right", no_wrap=True)
    table.add_column("effective", justify="right", no_wrap=True)
    table.add_column("finding", ratio=1, overflow="fold")
    for f in run.findings:
        style = _STYLE[f.severity.value]
        fix = escape(plain_code(" ".join(f.fix.split())))
        detail = f"{escape(plain_code(f.message))}\n[green]fix:[/] {fix}"
        if f.source:
            detail += f"\n[dim]source: {escape(f.source)}[/]"
        table.add_row(
            f"[{style}]{f.code} {f.severity.value}[/]\n{f.name}",
            escape(finding_where(f, run.epochs).replace(", ", "\n")),
            number(f.logged), number(f.effective), detail,
        )
    return table


def _print_stacked(console, f: Finding, epochs: int) -> None:
    """One finding for a narrow terminal: a header line, then indented message, fix and source."""
    from rich.markup import escape
    from rich.padding import Padding

    style = _STYLE[f.severity.value]
    where = finding_where(f, epochs)
    values = ", ".join(
        f"{label} {number(value)}" for label, value in (("logged", f.logged), ("effective", f.effective))
        if value is not None
    )
    extra = "; ".join(p for p in (where, values) if p)
    shown = escape(f" ({extra})" if extra else "")
    console.print(f"  [{style}]{f.code} {f.severity.value}[/] {f.name}{shown}")
    console.print(Padding(escape(plain_code(f.message)), (0, 0, 0, 6)))
    console.print(Padding(f"[green]fix:[/] {escape(plain_code(' '.join(f.fix.split())))}", (0, 0, 0, 6)))
    if f.source:
        console.print(Padding(f"[dim]source: {escape(f.source)}[/]", (0, 0, 0, 6)))
