"""Writing a timeline so that its float32 values read back exactly."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def write_timeline(frame: pd.DataFrame, output: Path, fmt: str | None = None) -> None:
    """Write ``frame`` to ``output`` (csv, parquet or json) so float32 values read back exactly.

    CSV/JSON cells hold ``repr`` of the float32 value widened to float64. A NaN lr an update
    applied is a value (``nan`` in CSV, ``"NaN"`` in JSON); a missing one (nothing logged, no lr
    variable: :data:`~lraudit.reconstruction.build.NAN_MEANS_MISSING`) is an empty cell / ``null``. Parquet
    keeps float32.
    """
    from lraudit.report.tables import table_format, write_table

    chosen = table_format(Path(output), fmt)
    if chosen != "parquet":
        frame = _nan_as_missing(frame)
    write_table([frame], Path(output), chosen, list(frame.columns))


def _nan_as_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the NaN of the "nothing there" columns turned into ``pd.NA`` (a copy).

    The table writers write a float NaN as a value and only ``pd.NA``/``None`` as missing, so
    the frame has to say which NaN is which; the frame itself keeps NaN (its documented contract).
    """
    from lraudit.reconstruction.build import NAN_MEANS_MISSING

    columns = [column for column in NAN_MEANS_MISSING if column in frame.columns]
    if not columns:
        return frame
    marked = frame.copy(deep=False)
    for column in columns:
        values = marked[column]
        marked[column] = values.astype(object).where(values.notna(), None)
    return marked
