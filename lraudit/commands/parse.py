"""``lraudit parse``: every logged scalar and callback event, normalised, long format."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lraudit.commands.common import PathsArg


def parse(
    paths: PathsArg,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Output file (.csv, .parquet, .json).")
    ],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv, parquet or json (default: from the suffix)."),
    ] = None,
) -> None:
    """Every logged scalar and callback event, normalised, in long format, with its source."""
    from lraudit.api import parse_to_file

    parse_to_file(paths, output, fmt)
