"""What every source yields: logged scalars (a columnar table), callback events and run facts.

A source reads one kind of file, recognised by *content* (``sniff`` on a bounded prefix),
and returns a :class:`SourceData`. Sources never raise on bad content: what could not be
read becomes a warning and the readable part is kept. Every value carries its location
(``file:line`` for text files, ``file:tag`` for event files).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

#: how many leading bytes a source may look at to recognise a file
SNIFF_BYTES = 64 * 1024

#: columns of :attr:`SourceData.scalars`, in this order
SCALAR_COLUMNS = (
    "source",  # source kind: console | tfevents | csvlogger | history
    "file",  # path as given/discovered (str)
    "line",  # 1-based line for text sources, <NA> for event files (Int64)
    "name",  # metric key as Keras named it: lr, learning_rate, loss, val_loss; tfevents: the tag
    "epoch",  # 0-based epoch index as Keras numbered it (includes initial_epoch), <NA> if none
    "step",  # event-file step or batch counter, <NA> if none (Int64)
    "fit",  # 0-based index of the fit() call within this file, <NA> if unknown (Int64)
    "value",  # float64 value as logged (float32 values widened exactly)
    "text",  # the value as printed in the file (str) or <NA> (event files)
)


#: a file label naming a part of a file: ``notebook.ipynb:cell 3`` (the cell's 1-based index)
_PART_LABEL = re.compile(r":cell \d+$")


def format_location(file: str, line: int) -> str:
    """``file:line``, or ``notebook.ipynb:cell N:line M`` when ``file`` names a notebook cell.

    Notebook rows carry the cell in their file label (the line is within that cell's output), so
    that every message says where to look in the notebook a user opens.
    """
    if _PART_LABEL.search(file):
        return f"{file}:line {line}"
    return f"{file}:{line}"


def split_line_location(location: str) -> tuple[str, int | None]:
    """``(file, line)`` of a ``file:line`` or ``nb.ipynb:cell N:line M`` location; line None otherwise."""
    head, sep, tail = location.rpartition(":")
    if sep and head and tail.startswith("line ") and tail[5:].isdigit():
        return head, int(tail[5:])
    if sep and head and tail.isdigit():
        return head, int(tail)
    return location, None


@dataclass
class CallbackEvent:
    """Something a callback (or Keras itself) printed about the learning rate or the run.

    ``kind`` is one of: ``plateau_reduction`` (ReduceLROnPlateau set the lr at the end of
    ``epoch``), ``scheduler_set`` (LearningRateScheduler set it at the start of ``epoch``),
    ``early_stopping``, ``monitor_missing`` (a callback's monitor was not in the logs;
    ``detail['monitor']``, ``detail['callback']``, ``detail['available']``),
    ``decay_ignored`` (Keras 3 "Argument `decay` is no longer supported"),
    ``lr_deprecated`` (the ``lr`` argument warning), ``decay_rejected`` (2.11+ ValueError).
    ``epoch`` is 0-based, as Keras numbers epochs (``initial_epoch`` included).
    """

    kind: str
    epoch: int | None
    value: float | None
    text: str | None
    location: str
    callback: str | None = None
    fit: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class FitInfo:
    """One ``fit()`` call as a source saw it (0-based epochs; ``end_epoch`` exclusive)."""

    index: int
    first_epoch: int
    end_epoch: int  # the M of "Epoch N/M" (= epochs argument), or last seen + 1 if fewer ran
    epochs_seen: list[int] = field(default_factory=list)
    steps_per_epoch: int | None = None
    location: str | None = None
    #: why this fit begins a NEW training (a new model or optimizer), with its location: a model
    #: summary, ``compile()`` in a notebook cell, a KerasTuner trial; None when nothing says so
    new_training: str | None = None
    #: every fit-start marker seen before this fit, strong or not (``Train on N samples``,
    #: ``epoch numbering restarts at Epoch 1/M``), each with its location; the new_training reason too
    start_markers: list[str] = field(default_factory=list)
    #: ``Train on N samples``: the bars of this fit count samples, not steps
    samples: int | None = None
    #: ``validate on M samples``
    validation_samples: int | None = None
    #: steps the last epoch ran when it was cut (interrupt, exception, truncated log); None if complete
    last_epoch_steps: int | None = None


@dataclass
class SourceData:
    """Everything one file contributed to a run."""

    path: str
    kind: str
    scalars: pd.DataFrame | None = None
    events: list[CallbackEvent] = field(default_factory=list)
    fits: list[FitInfo] = field(default_factory=list)
    steps_per_epoch: int | None = None
    #: optimizer config in serialize() form: {"class_name", "config", "module"?, ...}
    optimizer: dict[str, Any] | None = None
    #: "initial" | "final" | "saved" | None: when the optimizer config was taken, if known
    optimizer_stage: str | None = None
    #: the optimizer's raw iteration counter stored in a saved model
    iterations: int | None = None
    #: other compile settings read from a model (steps_per_execution, jit_compile, ...)
    compile_config: dict[str, Any] = field(default_factory=dict)
    #: "2" or "3" when the file's format tells the Keras generation
    keras: str | None = None
    #: backend when the file tells it ("tensorflow", "jax", "torch")
    backend: str | None = None
    warnings: list[str] = field(default_factory=list)
    #: notebooks: every code cell, in document order: ``{"index": 1-based cell index in the
    #: document, "source": str, "execution_count": int | None}`` (for static code readers)
    code_cells: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class InputFile:
    """A file given or discovered, and what became of it."""

    path: str
    kind: str | None  # source kind, None when skipped
    status: str  # "read" | "partial" | "skipped"
    reason: str | None = None


class Source(Protocol):
    """A module in :mod:`lraudit.sources` implements this."""

    KIND: str

    def sniff(self, prefix: bytes, path: Path) -> bool:
        """True when ``prefix`` (the first :data:`SNIFF_BYTES` of the file) looks like this kind."""
        ...

    def read(self, path: Path) -> SourceData:
        """Read the file; never raise on bad content (record a warning instead)."""
        ...


def empty_scalars() -> pd.DataFrame:
    """An empty table with :data:`SCALAR_COLUMNS` and their dtypes."""
    return scalars_frame([])


def scalars_frame(rows: list[tuple] | dict[str, Any]) -> pd.DataFrame:
    """Build a scalars table from row tuples (in :data:`SCALAR_COLUMNS` order) or columns."""
    import pandas as pd

    if isinstance(rows, dict):
        frame = pd.DataFrame(rows, columns=list(SCALAR_COLUMNS))
    else:
        frame = pd.DataFrame.from_records(rows, columns=list(SCALAR_COLUMNS))
    return frame.astype(
        {
            "source": "string",
            "file": "string",
            "line": "Int64",
            "name": "string",
            "epoch": "Int64",
            "step": "Int64",
            "fit": "Int64",
            "value": "float64",
            "text": "string",
        }
    )
