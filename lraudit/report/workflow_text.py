"""Render the documents of ``explain`` and ``solve-decay``: rich on a terminal, plain text when piped.

A document is a list of blocks: :class:`Heading`, :class:`Table` or a ``str`` paragraph. The
commands build documents; this module only lays them out, so both renderings say the same thing.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import IO, Union


@dataclass
class Heading:
    """A section title."""

    text: str


@dataclass
class Table:
    """A table of already formatted cells."""

    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    title: str | None = None


Block = Union[Heading, Table, str]  # noqa: UP007 - a runtime alias, py3.10 compatible


def use_rich(stream: IO[str] | None = None) -> bool:
    """True when ``stream`` is a terminal and colour is not disabled (``NO_COLOR``/``FORCE_COLOR``)."""
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("NO_COLOR"):
        return False
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def render_plain(blocks: list[Block]) -> str:
    """Plain text without escape codes: headings underlined, tables aligned in columns."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out += ["", block.text, "-" * len(block.text)]
        elif isinstance(block, Table):
            out += _plain_table(block)
        else:
            out.append(block)
    return "\n".join(out).lstrip("\n") + "\n"


def _plain_table(table: Table) -> list[str]:
    widths = [len(c) for c in table.columns]
    for row in table.rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [f"{table.title}:"] if table.title else []
    lines.append("  ".join(c.ljust(w) for c, w in zip(table.columns, widths, strict=True)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table.rows
    ]
    return lines


def print_document(blocks: list[Block], stream: IO[str] | None = None, *, rich: bool | None = None) -> None:
    """Print ``blocks`` to ``stream`` (stdout): rich when it is a terminal, else plain text."""
    stream = stream or sys.stdout
    if rich is None:
        rich = use_rich(stream)
    if not rich:
        stream.write(render_plain(blocks))
        return
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console(file=stream, highlight=False)
    for block in blocks:
        if isinstance(block, Heading):
            console.rule(f"[bold]{_escape(block.text)}", align="left")
        elif isinstance(block, Table):
            rich_table = RichTable(title=block.title, title_justify="left")
            for column in block.columns:
                rich_table.add_column(column)
            for row in block.rows:
                rich_table.add_row(*(_escape(cell) for cell in row))
            console.print(rich_table)
        else:
            console.print(_escape(block))


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
