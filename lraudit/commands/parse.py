"""``lraudit parse``: every logged scalar and callback event, normalised, long format."""
from __future__ import annotations

from typing import Annotated

import typer

from lraudit.commands.common import PathsArg, TableFormatOpt, TableOutputOpt


def parse(
    paths: PathsArg,
    output: TableOutputOpt,
    fmt: TableFormatOpt = None,
    verify_crc: Annotated[
        bool,
        typer.Option("--verify-crc", help="Check the data CRC of every TensorBoard record (slower)."),
    ] = False,
) -> None:
    """Every logged scalar and callback event, normalised, in long format, with its source."""
    from lraudit.api import parse_to_file
    from lraudit.outputs import check_output
    from lraudit.report.tables import table_format

    table_format(output, fmt)  # an unknown format or a missing folder fails before any input is read
    check_output(output, "--output")
    notes: list[str] = []
    for warning in parse_to_file(paths, output, fmt, verify_crc=verify_crc, notes=notes):
        typer.echo(f"lraudit: warning: {warning}", err=True)
    for note in notes:
        typer.echo(f"lraudit: {note}", err=True)
    typer.echo(f"lraudit: wrote {output} ({_size(output.stat().st_size)})", err=True)


def _size(count: int) -> str:
    """``812 bytes``, ``4.2 kB``, ``708 MB``."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count} bytes"
