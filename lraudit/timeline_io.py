"""The timeline from paths (the library API behind ``lraudit timeline``) and its writer."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lraudit.errors import UsageError
from lraudit.options import RunOptions

if TYPE_CHECKING:
    import pandas as pd

    from lraudit.timeline import Timeline


def timeline_for_paths(
    paths: str | Path | Sequence[str | Path], options: RunOptions | None = None
) -> Timeline:
    """Load the run at ``paths`` (a run directory, or the files of one run) and rebuild it."""
    from lraudit.api import load_run
    from lraudit.timeline import build_timeline

    if isinstance(paths, (str, Path)):
        target: Any = Path(paths)
    else:
        items = [Path(p) for p in paths]
        if not items:
            raise UsageError("no path given")
        target = items[0] if len(items) == 1 else items
    return build_timeline(load_run(target), options)


def timeline(
    path: str | Path | Sequence[str | Path],
    *,
    optimizer: str | None = None,
    callbacks: Sequence[str] = (),
    keras: str = "auto",
    steps_per_epoch: int | None = None,
    backend: str = "auto",
) -> pd.DataFrame:
    """The per-step timeline of the run at ``path`` as a DataFrame (DESIGN.md §2 columns).

    Options mean what the command-line options of the same names mean.
    """
    options = RunOptions(
        optimizer=optimizer,
        callbacks=list(callbacks),
        keras=keras,
        steps_per_epoch=steps_per_epoch,
        backend=backend,
    )
    return timeline_for_paths(path, options).frame


def write_timeline(frame: pd.DataFrame, output: Path, fmt: str | None = None) -> None:
    """Write ``frame`` to ``output`` (csv, parquet or json) so float32 values read back exactly.

    CSV/JSON cells hold ``repr`` of the float32 value widened to float64. A NaN lr an update
    applied is a value (``nan`` in CSV, ``"NaN"`` in JSON); a missing one (nothing logged, no lr
    variable: :data:`~lraudit.timeline.NAN_MEANS_MISSING`) is an empty cell / ``null``. Parquet
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
    from lraudit.timeline import NAN_MEANS_MISSING

    columns = [column for column in NAN_MEANS_MISSING if column in frame.columns]
    if not columns:
        return frame
    marked = frame.copy(deep=False)
    for column in columns:
        values = marked[column]
        marked[column] = values.astype(object).where(values.notna(), None)
    return marked
