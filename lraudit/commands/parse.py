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

    for warning in parse_to_file(paths, output, fmt, verify_crc=verify_crc):
        typer.echo(f"lraudit: warning: {warning}", err=True)
