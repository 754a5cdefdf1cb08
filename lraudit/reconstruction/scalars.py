"""Reading rows of ``Run.scalars`` and ``Run.events``, shared by the timeline stages.

Sources leave gaps as ``None``/``NaN``/``pd.NA`` and name places by file and line (or tag), so
every stage needs the same small readers; keeping them here keeps their answers identical.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from lraudit.numfmt import f32
from lraudit.sources.base import format_location
from lraudit.sources.registry import kinds_where, rank_of

if TYPE_CHECKING:
    import pandas as pd

    from lraudit.run import Run

#: the ``source`` of a value a callback printed itself (e.g. ReduceLROnPlateau's new lr): it
#: ranks after event files and before the rounded progress bar (``value_rank`` 3)
CALLBACK_SOURCE = "callback"
#: lower rank = preferred: the exact per-epoch logs first, the rounded progress bar last
SOURCE_RANK = {**rank_of(lambda facts: facts.value_rank), CALLBACK_SOURCE: 3}


def epoch_column(scalars: pd.DataFrame) -> str:
    """The column of ``scalars`` that numbers epochs across fits: ``global_epoch`` when the run
    builder added it (a resumed fit restarts ``epoch`` at its ``initial_epoch``), else ``epoch``."""
    return "global_epoch" if "global_epoch" in scalars.columns else "epoch"


def is_missing(value) -> bool:
    """True for ``None``/``NaN``/``pd.NA``; False for anything ``pd.isna`` cannot judge."""
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def row_location(row) -> str:
    """``file:line`` of a scalar row, or ``file:name`` where the source has no lines (tfevents)."""
    file = getattr(row, "file", None) or ""
    line = getattr(row, "line", None)
    if not is_missing(line):
        return format_location(file, int(line))
    return f"{file}:{row.name}"


def events_by_epoch(run: Run, kind: str) -> dict[int, Any]:
    """The last event of ``kind`` per global epoch (a repeated message is the same write)."""
    found: dict[int, Any] = {}
    for event in run.events or []:
        if event.kind == kind and event.epoch is not None and event.value is not None:
            found[int(event.epoch)] = event
    return found


#: per-epoch lr keys Keras puts in ``logs`` (2.x: ``lr``; Keras 3: ``learning_rate``)
EPOCH_LR_KEYS = ("lr", "learning_rate")


def exact_epoch_lr(run: Run) -> dict[int, tuple[np.float32, str]]:
    """Per global epoch: the lr logged at its end by History/CSVLogger (exact float32)."""
    frame = run.scalars
    if frame is None or len(frame) == 0:
        return {}
    # sources whose per-epoch lr under Keras' own key is exact (float32 shortest repr or widened double)
    exact = kinds_where(lambda facts: facts.keras_keys and facts.exact)
    mask = frame["source"].isin(exact) & frame["name"].isin(EPOCH_LR_KEYS)
    column = epoch_column(frame)
    values: dict[int, tuple[np.float32, str]] = {}
    for row in frame[mask].itertuples(index=False):
        epoch = getattr(row, column)
        value = row.value
        if is_missing(epoch) or is_missing(value):
            continue
        values.setdefault(int(epoch), (f32(value), row_location(row)))
    return values
