"""Writing long tables (``parse``, ``timeline``) as CSV, Parquet or JSON, streamed and atomically.

Tables arrive as an iterable of DataFrame chunks with the same columns, so a large event file is
never held in memory at once. The output is written to a temporary file beside the target and
renamed over it only when everything was written: a failure leaves no partial file.

Float columns are written so that they read back to the same float64 bits: CSV cells hold
``repr(value)`` (empty for NaN/missing), JSON numbers are ``repr`` too (NaN/inf as ``null``),
Parquet stores float64 natively. JSON output is one array of row objects, written row by row.
"""
from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from lraudit.errors import UsageError

#: supported formats and the file suffixes that select them
FORMATS = {"csv": (".csv",), "parquet": (".parquet", ".pq"), "json": (".json",)}


def table_format(output: Path, fmt: str | None) -> str:
    """The format to write: ``fmt`` when given, else from the suffix; UsageError otherwise."""
    if fmt is not None:
        name = fmt.lower().strip()
        if name not in FORMATS:
            raise UsageError(f"unknown format {fmt!r}: use csv, parquet or json")
        return name
    suffix = Path(output).suffix.lower()
    for name, suffixes in FORMATS.items():
        if suffix in suffixes:
            return name
    raise UsageError(
        f"cannot tell the format of {output} from its suffix {suffix or '(none)'!r}: "
        "use .csv, .parquet or .json, or --format"
    )


def _cell(value: Any) -> Any:
    """A Python value for JSON/CSV: floats kept exact, missing as None."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float):
        return None if not math.isfinite(value) else value
    if hasattr(value, "item"):  # NumPy scalars
        return _cell(value.item())
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _csv_text(value: Any) -> str:
    cell = value
    if cell is None or cell is pd.NA:
        return ""
    if hasattr(cell, "item"):
        cell = cell.item()
    if isinstance(cell, float):
        return "" if math.isnan(cell) else repr(cell)
    try:
        if pd.isna(cell):
            return ""
    except (TypeError, ValueError):
        pass
    return str(cell)


def _write_csv(chunks: Iterable[pd.DataFrame], handle: Any, columns: list[str]) -> None:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(columns)
    for chunk in chunks:
        for row in chunk[columns].itertuples(index=False, name=None):
            writer.writerow([_csv_text(value) for value in row])


def _write_json(chunks: Iterable[pd.DataFrame], handle: Any, columns: list[str]) -> None:
    handle.write("[")
    first = True
    for chunk in chunks:
        for row in chunk[columns].itertuples(index=False, name=None):
            record = {column: _cell(value) for column, value in zip(columns, row, strict=False)}
            handle.write(("\n" if first else ",\n") + json.dumps(record, allow_nan=False))
            first = False
    handle.write("\n]\n")


def _write_parquet(chunks: Iterable[pd.DataFrame], target: str, columns: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    schema = None
    try:
        for chunk in chunks:
            table = pa.Table.from_pandas(chunk[columns], preserve_index=False)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(target, schema)
            writer.write_table(table.cast(schema))
        if writer is None:  # no rows: still a valid file with the columns
            writer = pq.ParquetWriter(target, pa.schema([(column, pa.string()) for column in columns]))
    finally:
        if writer is not None:
            writer.close()


def write_table(chunks: Iterable[pd.DataFrame] | Iterator[pd.DataFrame], output: Path, fmt: str,
                columns: list[str]) -> None:
    """Write ``chunks`` (DataFrames with ``columns``) to ``output`` in ``fmt``, atomically."""
    output = Path(output)
    directory = output.parent if str(output.parent) else Path(".")
    if not directory.is_dir():
        raise UsageError(f"cannot write {output}: folder {directory} does not exist")
    descriptor, temporary = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=directory)
    try:
        if fmt == "parquet":
            os.close(descriptor)
            _write_parquet(chunks, temporary, columns)
        else:
            with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
                if fmt == "csv":
                    _write_csv(chunks, handle, columns)
                else:
                    _write_json(chunks, handle, columns)
        os.replace(temporary, output)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
