"""What every source yields: logged scalars (a columnar table), callback events and run facts.

A source reads one kind of file, recognised by *content* (``sniff`` on a bounded prefix),
and returns a :class:`SourceData`. Sources never raise on bad content: what could not be
read becomes a warning and the readable part is kept. Every value carries its location
(``file:line`` for text files, ``file:tag`` for event files).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import pandas as pd
    import pyarrow as pa

    from lraudit.code.model import CodeFacts
    from lraudit.torchfacts import TorchFacts

#: how many leading bytes a source may look at to recognise a file
SNIFF_BYTES = 64 * 1024

#: columns of :attr:`SourceData.scalars`, in this order
SCALAR_COLUMNS = (
    "source",  # source kind (SourceFacts.kind of the source that read the row)
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

    PyTorch-ecosystem consoles (:mod:`lraudit.sources.torch_console`) add:
    ``torch_scheduler_order`` (UserWarning "Detected call of `lr_scheduler.step()` before
    `optimizer.step()`": the first value of the schedule was skipped), ``torch_get_lr_called``
    ("please use `get_last_lr()`": ``get_lr()`` was called outside ``step()``),
    ``torch_epoch_arg_deprecated`` (``scheduler.step(epoch)``: the closed form was used),
    ``torch_plateau_reduction`` (ReduceLROnPlateau ``verbose``: ``value`` the new lr of
    ``detail['group']``, ``epoch`` the 0-based epoch at whose end it reduced, the lr applies from
    ``epoch + 1``; ``detail['printed_epoch']`` as printed), ``torch_train_summary`` (the Trainer's
    ``{'train_runtime': ...}``, values in ``detail``), ``torch_fit_stopped`` (Lightning's
    "`Trainer.fit` stopped: `max_epochs=N` reached", ``detail['max_epochs']``).
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
    #: what told ``last_epoch_steps`` ("the bar was last drawn at 1/12": a lower bound, or the
    #: exception a batch callback raised, naming its batch: exact); None when complete
    last_epoch_evidence: str | None = None


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
    #: trainings read statically from training code (a script, a notebook's code cells)
    code_facts: CodeFacts | None = None
    #: a PyTorch / Transformers / Lightning run: what this file tells about it (None for Keras files)
    torch: TorchFacts | None = None
    warnings: list[str] = field(default_factory=list)
    #: notebooks: every code cell, in document order: ``{"index": 1-based cell index in the
    #: document, "source": str, "execution_count": int | None}`` (for static code readers)
    code_cells: list[dict[str, Any]] = field(default_factory=list)
    #: index, in the file it was read from, of this data's first fit (a file holding several
    #: trainings is cut into parts, each renumbering its fits from 0)
    first_fit: int = 0


@dataclass
class InputFile:
    """A file given or discovered, and what became of it."""

    path: str
    kind: str | None  # source kind, None when skipped
    status: str  # "read" | "partial" | "skipped"
    reason: str | None = None


#: what a source can tell about a run (:attr:`SourceFacts.tells`)
#: (``torch_facts``: it fills :attr:`SourceData.torch`, a PyTorch-ecosystem run's facts)
TELLABLE = frozenset(
    {
        "lr", "metrics", "steps_per_epoch", "optimizer", "iterations", "callback_events", "backend",
        "torch_facts",
    }
)
#: :attr:`SourceFacts.epoch_values`: values as the framework held them (float32 shortest repr,
#: widened doubles, event-file floats) vs printed with a few digits (the progress bar)
EPOCH_VALUES = ("exact", "rounded-text")
#: :attr:`SourceFacts.epoch_numbering`: how the file numbers epochs. ``0-based``: Keras' own epoch
#: index (CSVLogger column, TensorBoard step); ``1-based``: the console's "Epoch N/M";
#: ``position``: no number of its own, only the place in a list (History)
EPOCH_NUMBERINGS = ("0-based", "1-based", "position")
#: :attr:`SourceFacts.names`: ``keras-keys`` are the keys of Keras' ``logs`` dict (``lr``,
#: ``val_loss``), one value per epoch; ``tags`` are TensorBoard tags (``epoch_lr``, ``batch_loss``);
#: ``log-keys`` are the keys another framework logs per logging step (Transformers' ``log_history``
#: ``learning_rate``, Lightning's ``lr-SGD`` column): neither per-epoch Keras keys nor tags
NAMINGS = ("keras-keys", "tags", "log-keys")
#: :attr:`SourceFacts.located_by`: how a value is pointed at: ``file:line``, ``file:tag``, or
#: ``file:name[epoch]`` (a key and the position in its list)
LOCATIONS = ("line", "tag", "key")


@dataclass(frozen=True)
class SourceFacts:
    """What one kind of input is, as everything outside :mod:`lraudit.sources` needs to know it.

    Code that treats kinds differently reads these facts, never the kind name, so a new kind
    only needs its module and one line in :mod:`lraudit.sources.registry`. Fields that do not
    apply to a kind that logs no values (a saved model, an optimizer config) are ``None``.
    Ranks: lower wins; equal ranks keep the registry order.
    """

    #: the kind name stored in :attr:`SourceData.kind` and the ``source`` column of the scalars
    kind: str
    #: how messages name it ("console output", "CSVLogger file", ...)
    label: str
    #: what it can tell about a run, a subset of :data:`TELLABLE`
    tells: frozenset[str]
    #: one of :data:`EPOCH_VALUES`: "rounded-text" values get a print tolerance when compared
    epoch_values: str | None
    #: one of :data:`EPOCH_NUMBERINGS` (sources convert to 0-based epochs when they read)
    epoch_numbering: str | None
    #: one of :data:`NAMINGS`: what the ``name`` column holds
    names: str | None
    #: one of :data:`LOCATIONS`
    located_by: str | None
    #: which logged value is trusted first when sources disagree (the most precise first)
    value_rank: int | None
    #: whose fit structure (fit() calls, their epochs) is trusted first
    fit_rank: int | None
    #: whose Keras-generation/backend hint wins when hints conflict
    hint_rank: int
    #: True when its files sit in TensorBoard's per-mode subfolders (``train/``, ``validation/``)
    in_mode_folders: bool = False
    #: True when one file may record several independent trainings one after the other (a
    #: console log, a notebook): its reader marks where each starts (``FitInfo.new_training``)
    several_trainings: bool = False

    def __post_init__(self) -> None:
        problems = []
        if not self.kind or not self.label:
            problems.append("kind and label must be non-empty")
        if not self.tells <= TELLABLE:
            problems.append(f"tells {sorted(self.tells - TELLABLE)} outside {sorted(TELLABLE)}")
        for name, allowed in (
            ("epoch_values", EPOCH_VALUES),
            ("epoch_numbering", EPOCH_NUMBERINGS),
            ("names", NAMINGS),
            ("located_by", LOCATIONS),
        ):
            value = getattr(self, name)
            if value is not None and value not in allowed:
                problems.append(f"{name}={value!r} not in {allowed}")
        logs_values = bool(self.tells & {"lr", "metrics"})
        per_value = ("epoch_values", "epoch_numbering", "names", "located_by", "value_rank")
        unset = [name for name in per_value if getattr(self, name) is None]
        if logs_values and unset:
            problems.append(f"a kind that logs lr/metrics needs {', '.join(unset)}")
        if not logs_values and len(unset) < len(per_value):
            problems.append(f"a kind that logs no values leaves {', '.join(per_value)} unset")
        if problems:
            raise ValueError(f"SourceFacts({self.kind!r}): " + "; ".join(problems))

    @classmethod
    def logging_no_values(cls, kind: str, label: str, tells: frozenset[str], hint_rank: int) -> SourceFacts:
        """The facts of a kind that logs no values (a saved model, a config): every per-value field
        unset."""
        return cls(
            kind=kind, label=label, tells=tells, epoch_values=None, epoch_numbering=None, names=None,
            located_by=None, value_rank=None, fit_rank=None, hint_rank=hint_rank,
        )

    @property
    def logs_values(self) -> bool:
        """True when the kind logs values (lr or metrics) per epoch or step."""
        return self.value_rank is not None

    @property
    def exact(self) -> bool:
        """True when its logged values are the values Keras held (no print rounding)."""
        return self.epoch_values == "exact"

    @property
    def rounded(self) -> bool:
        """True when its logged values are printed with a few digits (compare with a tolerance)."""
        return self.epoch_values == "rounded-text"

    @property
    def numbers_epochs(self) -> bool:
        """True when the file numbers its epochs itself (History only lists them)."""
        return self.epoch_numbering in ("0-based", "1-based")

    @property
    def keras_keys(self) -> bool:
        """True when its names are the keys of Keras' per-epoch ``logs`` (``lr``, ``val_loss``)."""
        return self.names == "keras-keys"

    @property
    def tags(self) -> bool:
        """True when its names are TensorBoard tags (``epoch_lr``, ``batch_loss``)."""
        return self.names == "tags"


class Source:
    """One kind of input file: how to recognise it, how to read it, and its :class:`SourceFacts`.

    Subclasses are never instantiated: the registry holds the classes, and ``sniff``/``read``
    are static (each delegates to its module's functions, which tests may call directly).
    ``__init_subclass__`` refuses a subclass without facts or without ``sniff``/``read``.
    """

    facts: ClassVar[SourceFacts]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not isinstance(cls.__dict__.get("facts"), SourceFacts):
            raise TypeError(f"{cls.__name__} must define facts = SourceFacts(...)")
        for method in ("sniff", "read"):
            if getattr(cls, method) is getattr(Source, method):
                raise TypeError(f"{cls.__name__} must define {method}()")

    @staticmethod
    def sniff(prefix: bytes, path: Path) -> bool:
        """True when ``prefix`` (the first :data:`SNIFF_BYTES` of the file) looks like this kind."""
        raise NotImplementedError

    @staticmethod
    def read(path: Path) -> SourceData:
        """Read the file; never raise on bad content (record a warning instead)."""
        raise NotImplementedError

    #: True when :meth:`iter_tables` streams the file in bounded chunks
    streams: ClassVar[bool] = False

    @staticmethod
    def iter_tables(
        path: Path, *, verify_crc: bool = False, warnings: list[str] | None = None
    ) -> Iterator[pa.Table]:
        """The file's scalar rows as Arrow tables, a bounded block at a time (when it ``streams``).

        Columns are :data:`SCALAR_COLUMNS` (names dictionary-encoded); what could not be read is
        appended to ``warnings`` once the stream ends.
        """
        raise NotImplementedError("this source does not stream")


def empty_scalars() -> pd.DataFrame:
    """An empty table with :data:`SCALAR_COLUMNS` and their dtypes."""
    return scalars_frame([])


#: the dtype of each scalars column
SCALAR_DTYPES = {
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


def string_array(column: list) -> Any:
    """A ``string`` column from Python values: straight through Arrow when they are all ``str`` or
    None (4x faster than ``pd.array``), else ``pd.array`` as before (it converts other values)."""
    import pandas as pd
    import pyarrow as pa

    try:
        return pd.arrays.ArrowStringArray(pa.array(column, type=pa.large_string()))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pd.array(column, dtype="string")


def int64_array(column: list) -> Any:
    """An ``Int64`` column from Python values: values and mask built directly when they are all
    ``int`` or None (2x faster than ``pd.array``), else ``pd.array`` as before (it checks floats)."""
    import numpy as np
    import pandas as pd

    if all(type(value) is int for value in column if value is not None):
        missing = np.fromiter((value is None for value in column), dtype=bool, count=len(column))
        try:
            values = np.array([0 if value is None else value for value in column], dtype=np.int64)
        except OverflowError:  # beyond int64: pd.array says what is wrong, as before
            return pd.array(column, dtype="Int64")
        return pd.arrays.IntegerArray(values, missing)
    return pd.array(column, dtype="Int64")


def _typed_columns(rows: list[tuple]) -> pd.DataFrame:
    """Row tuples straight into typed columns (3x faster than building objects then ``astype``:
    small sources are read by the thousand when many runs are audited)."""
    import numpy as np
    import pandas as pd

    columns = list(zip(*rows, strict=True)) if rows else [()] * len(SCALAR_COLUMNS)
    data: dict[str, Any] = {}
    for name, column in zip(SCALAR_COLUMNS, columns, strict=True):
        dtype = SCALAR_DTYPES[name]
        if dtype == "float64":
            data[name] = np.array([np.nan if v is None or v is pd.NA else v for v in column], np.float64)
        elif dtype == "string":
            data[name] = string_array(list(column))
        elif dtype == "Int64":
            data[name] = int64_array(list(column))
        else:
            data[name] = pd.array(list(column), dtype=dtype)
    return pd.DataFrame(data, copy=False)


def scalars_frame(rows: list[tuple] | dict[str, Any]) -> pd.DataFrame:
    """Build a scalars table from row tuples (in :data:`SCALAR_COLUMNS` order) or columns."""
    import pandas as pd

    if not isinstance(rows, dict):
        try:
            return _typed_columns(rows)
        except (TypeError, ValueError):  # a value of another type: let astype convert it as before
            pass
    if isinstance(rows, dict):
        frame = pd.DataFrame(rows, columns=list(SCALAR_COLUMNS))
    else:
        frame = pd.DataFrame.from_records(rows, columns=list(SCALAR_COLUMNS))
    return frame.astype(SCALAR_DTYPES)
