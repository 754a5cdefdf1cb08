"""``lraudit parse``: every logged scalar and callback event, normalised, long format."""
from __future__ import annotations

from lraudit.commands.common import PathsArg, TableFormatOpt, TableOutputOpt


def parse(
    paths: PathsArg,
    output: TableOutputOpt,
    fmt: TableFormatOpt = None,
) -> None:
    """Every logged scalar and callback event, normalised, in long format, with its source."""
    from lraudit.api import parse_to_file

    parse_to_file(paths, output, fmt)
