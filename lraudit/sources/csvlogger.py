"""CSVLogger files: one row per epoch, an ``epoch`` column (0-based) and one column per logged key.

Recognised by content: the first non-empty line is a header whose first column is ``epoch``
followed by a separator (any of ``, ; \\t |`` or a space; quoted headers too). Reading keeps
every cell that holds a number (``NA`` and empty cells are "not logged" and skipped) with its
1-based line and its text exactly as written. Several ``fit`` calls are recognised two ways:
a repeated header (``append=True`` into a file written by another logger config) or epoch
numbering that does not increase (a new fit that restarted at epoch 0). Rows that cannot be
read become warnings naming the line; the rest of the file is kept.
"""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path

from lraudit.sources.base import FitInfo, Source, SourceData, SourceFacts, scalars_frame
from lraudit.sources.lightning_logs import is_lightning_header
from lraudit.sources.text import decode, looks_like_text, read_text

KIND = "csvlogger"

_SEPARATORS = ",;\t| "
_HEADER = re.compile(r'^\ufeff?\s*"?epoch"?\s*([,;\t| ])')
_MISSING = {"", "na", "n/a", "none", "null"}
_NUMBER_CELL = re.compile(r"^[-+]?\d+(?:\.\d*)?(?:/\d+)?$")


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


def sniff(prefix: bytes, path: Path) -> bool:
    """True when the first non-empty line is a header starting with an ``epoch`` column."""
    text, _ = decode(prefix)
    if not looks_like_text(text):
        return False
    match = _HEADER.match(_first_line(text))
    if match is None:
        return False
    header = _split(_first_line(text), match.group(1))
    # a number is no column name: "epoch 3/8 - loss: ..." is a printed line, not a header
    if any(_NUMBER_CELL.match(cell.strip()) for cell in header[1:]):
        return False
    # a Lightning CSVLogger file (a ``step`` column) is not Keras': the two sniffs exclude each other
    return len(header) >= 2 and not is_lightning_header(header)


def _split(line: str, separator: str) -> list[str]:
    if separator == " ":
        return line.split()
    return next(csv.reader([line], delimiter=separator))


def _is_header(cells: list[str]) -> bool:
    return bool(cells) and cells[0].strip().lstrip("\ufeff").strip('"') == "epoch"


def _parse_float(cell: str) -> float | None:
    """The float in a cell, or None when it is not a number (NaN/inf spelled by Python count)."""
    try:
        return float(cell)
    except ValueError:
        return None


def _row_epoch(cells: list[str], header: list[str], truncated: bool) -> tuple[int | None, str | None]:
    """The epoch of a data row, or None and why the row is skipped (``truncated``: last, unended)."""
    if len(cells) != len(header):
        why = "truncated last row" if truncated else f"{len(cells)} cells for {len(header)} columns"
        return None, f"row skipped ({why})"
    epoch_text = cells[0].strip()
    try:
        return int(float(epoch_text)), None
    except ValueError:
        return None, f"row skipped (epoch {epoch_text!r} is not a number)"


def _row_values(header: list[str], cells: list[str]) -> tuple[list[tuple[str, float, str]], list[str]]:
    """(name, value, text) of every logged cell of a row, and the cells that are not numbers.

    Empty/NA cells are not logged values; a NaN counts only when the file spells it.
    """
    values: list[tuple[str, float, str]] = []
    problems: list[str] = []
    for name, cell in zip(header[1:], cells[1:], strict=False):
        cell_text = cell.strip()
        if cell_text.lower() in _MISSING:
            continue
        value = _parse_float(cell_text)
        if value is None:
            problems.append(f"{name}={cell_text!r} is not a number")
        elif not math.isnan(value) or cell_text.lower() in ("nan", "-nan"):
            values.append((name, value, cell_text))
    return values, problems


def _new_fit(fits: list[FitInfo], where: str) -> FitInfo:
    return FitInfo(index=len(fits), first_epoch=0, end_epoch=0, location=where)


def _parse_rows(path: Path, text: str, separator: str) -> tuple[list[tuple], list[FitInfo], list[str], bool]:
    """Scalar rows, fits (a repeated header or restarted numbering opens one), warnings, and
    whether any header was seen."""
    lines = text.splitlines()
    ends_with_newline = text.endswith(("\n", "\r"))
    rows: list[tuple] = []
    fits: list[FitInfo] = []
    warnings: list[str] = []
    header: list[str] | None = None
    previous_epoch: int | None = None
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            cells = _split(line, separator)
        except csv.Error as exc:
            warnings.append(f"{path}:{line_no}: unreadable row ({exc})")
            continue
        if _is_header(cells):
            header = [cell.strip().lstrip("\ufeff") for cell in cells]
            # a repeated header opens a new fit only once the previous one has rows
            if not fits or fits[-1].epochs_seen:
                fits.append(_new_fit(fits, f"{path}:{line_no}"))
                previous_epoch = None
            continue
        if header is None:
            continue
        epoch, problem = _row_epoch(cells, header, line_no == len(lines) and not ends_with_newline)
        if epoch is None:
            warnings.append(f"{path}:{line_no}: {problem}")
            continue
        if previous_epoch is not None and epoch <= previous_epoch:
            fits.append(_new_fit(fits, f"{path}:{line_no}"))  # the numbering restarted: a new fit
        previous_epoch = epoch
        fit = fits[-1]
        if not fit.epochs_seen:
            fit.first_epoch = epoch
        fit.epochs_seen.append(epoch)
        fit.end_epoch = epoch + 1
        values, problems = _row_values(header, cells)
        warnings.extend(f"{path}:{line_no}: {problem}" for problem in problems)
        rows.extend((KIND, str(path), line_no, name, epoch, None, fit.index, value, cell_text)
                    for name, value, cell_text in values)
    return rows, fits, warnings, header is not None


def read(path: Path) -> SourceData:
    """Read a CSVLogger file into scalars (one per logged cell) and fits; never raises on content."""
    data = SourceData(path=str(path), kind=KIND, scalars=scalars_frame([]))
    text = read_text(path, data.warnings)
    if text is None:
        return data
    match = _HEADER.match(_first_line(text)) if looks_like_text(text) else None
    if match is None:
        data.warnings.append(f"{path}: no CSVLogger header (first column 'epoch') found")
        return data
    rows, fits, warnings, header_seen = _parse_rows(path, text, match.group(1))
    data.warnings.extend(warnings)
    if not header_seen:
        data.warnings.append(f"{path}: no CSVLogger header (first column 'epoch') found")
    data.fits = [fit for fit in fits if fit.epochs_seen]
    data.scalars = scalars_frame(rows)
    return data


class CsvLoggerSource(Source):
    """The registered face of this module (see :mod:`lraudit.sources.registry`)."""

    facts = SourceFacts(
        kind=KIND,
        label="CSVLogger file",
        tells=frozenset({"lr", "metrics"}),
        epoch_values="exact",  # str() of the float: shortest repr, round-trips
        epoch_numbering="0-based",  # the epoch column
        names="keras-keys",
        located_by="line",
        value_rank=1,
        fit_rank=1,  # a repeated header or restarted numbering starts a fit
        hint_rank=4,
    )
    sniff = staticmethod(sniff)
    read = staticmethod(read)
