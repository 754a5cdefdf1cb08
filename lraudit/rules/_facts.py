"""Small read-only views of a Run/Timeline that several rule families share."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lraudit.errors import InputError
from lraudit.numfmt import epoch_text, logged_epoch_text
from lraudit.semantics.schedules import Schedule, schedule_from_spec
from lraudit.semantics.specs import CallbackSpec, ScheduleSpec
from lraudit.sources.registry import facts_for, kinds_ranked

if TYPE_CHECKING:
    from lraudit.reconstruction import Timeline
    from lraudit.run import Run
    from lraudit.sources.base import CallbackEvent



@dataclass(frozen=True)
class EpochRows:
    """Where each epoch of a timeline frame starts and ends, for frames laid out in order
    (epochs non-decreasing row after row): rules read per-epoch values at these rows instead of
    grouping the whole per-step frame (a 1 M-step run's groupby costs tens of MB)."""

    #: the epoch of each run of rows, ascending
    epoch: np.ndarray
    #: row position of its first and of its last step
    first: np.ndarray
    last: np.ndarray

    @property
    def sizes(self) -> np.ndarray:
        """Steps in each epoch."""
        return self.last - self.first + 1

    def first_values(self, table: pd.DataFrame, column: str) -> pd.Series | None:
        """``table.groupby("epoch")[column].first()``, or None when a value is missing (then
        ``first`` would skip it: the caller groups as before)."""
        return self._at(table, column, self.first)

    def last_values(self, table: pd.DataFrame, column: str) -> pd.Series | None:
        """``table.groupby("epoch")[column].last()``, or None when a value is missing."""
        return self._at(table, column, self.last)

    def _at(self, table: pd.DataFrame, column: str, rows: np.ndarray) -> pd.Series | None:
        values = table[column]
        if values.dtype.kind not in "iuf" or (values.dtype.kind == "f" and values.isna().any()):
            return None
        index = pd.Index(self.epoch, name="epoch")
        return pd.Series(values.to_numpy()[rows], index=index, name=column)


def epoch_rows(timeline: Timeline) -> EpochRows | None:
    """The :class:`EpochRows` of the timeline's frame (computed once, kept in ``extra``), None
    when the frame is empty, its epochs are not integers or are not in order."""
    table = frame(timeline)
    cached = timeline.extra.get("_epoch_rows")
    if cached is not None and cached[0] is table:
        return cached[1]
    found = _epoch_rows(table)
    timeline.extra["_epoch_rows"] = (table, found)
    return found


def _epoch_rows(table: pd.DataFrame) -> EpochRows | None:
    if table.empty or "epoch" not in table or table["epoch"].dtype.kind not in "iu":
        return None
    epoch = table["epoch"].to_numpy()
    change = np.flatnonzero(epoch[1:] != epoch[:-1])
    if (epoch[change + 1] < epoch[change]).any():
        return None  # not in order: an epoch's rows may be apart
    first = np.concatenate(([0], change + 1))
    last = np.concatenate((change, [len(epoch) - 1]))
    return EpochRows(epoch=epoch[first], first=first, last=last)


def frame(timeline: Timeline) -> pd.DataFrame:
    """The per-step frame (possibly empty, never None)."""
    return timeline.frame if timeline.frame is not None else pd.DataFrame()


def logged(timeline: Timeline) -> pd.DataFrame:
    """The logged-lr table (possibly empty, never None)."""
    table = timeline.logged
    if table is None or len(table) == 0:
        return pd.DataFrame(columns=["source", "name", "location", "epoch", "step", "value",
                                     "lr_base", "lr_effective", "relation"])
    return table


def is_schedule(timeline: Timeline) -> bool:
    """True when a ``LearningRateSchedule`` drives the lr."""
    spec = timeline.optimizer
    return spec is not None and isinstance(spec.learning_rate, ScheduleSpec)


def schedule(timeline: Timeline) -> ScheduleSpec | None:
    """The schedule driving the lr, if any."""
    spec = timeline.optimizer
    return spec.learning_rate if spec is not None and isinstance(spec.learning_rate, ScheduleSpec) else None


def built_schedule(timeline: Timeline) -> Schedule | None:
    """The schedule driving the lr as its class (its warm-up, floor, lengths...), if any and known."""
    spec = schedule(timeline)
    if spec is None:
        return None
    try:
        return schedule_from_spec(spec)
    except InputError:
        return None


def decay_steps_mask(table: pd.DataFrame) -> pd.Series:
    """Steps where legacy ``decay`` made the applied lr smaller than the base."""
    if "decay_factor" not in table or table.empty:
        return pd.Series(False, index=table.index)
    if table["decay_factor"].dtype.kind == "f":  # the layout's float32: NaN is never < 1
        return pd.Series(table["decay_factor"].to_numpy() < 1.0, index=table.index, name="decay_factor")
    factor = pd.to_numeric(table["decay_factor"], errors="coerce")
    return factor.notna() & (factor < 1.0)


def steps_per_epoch(run: Run, table: pd.DataFrame) -> int | None:
    """Steps per epoch as the reconstruction laid them out (its largest epoch), else the run's.

    The frame first: every number of one report comes from one reconstruction, also when
    ``--steps-per-epoch`` overrode the logs (LRA025 names that contradiction).
    """
    if not table.empty and "epoch" in table:
        epochs = table["epoch"]
        if epochs.dtype.kind == "i" and int(epochs.min()) >= 0:  # the layout's: counted in place
            return int(np.bincount(epochs.to_numpy()).max())
        return int(table.groupby("epoch").size().max())
    return int(run.steps_per_epoch) if run.steps_per_epoch else None


def events(run: Run, kind: str) -> list[CallbackEvent]:
    """The run's callback events of one kind, by epoch."""
    found = [e for e in run.events if e.kind == kind]
    return sorted(found, key=lambda e: (e.epoch if e.epoch is not None else -1))


def callback_specs(timeline: Timeline, class_name: str) -> list[CallbackSpec]:
    """Callbacks of one class the user described (``--callback``) or the timeline inferred."""
    return [c for c in timeline.callbacks if c.class_name == class_name]


def metric_names(run: Run) -> set[str]:
    """Every metric key the run logged per epoch (``val_`` prefixes restored for event files)."""
    scalars = run.scalars
    if scalars is None or scalars.empty:
        return set()
    return {str(n) for n in scalars["name"].dropna().unique()}


def epoch_metric(run: Run, name: str) -> pd.Series:
    """One per-epoch metric (global 0-based epoch -> value), from its most precise source."""
    scalars = run.scalars
    if scalars is None or scalars.empty:
        return pd.Series(dtype="float64")
    rows = scalars[scalars["name"] == name]
    if rows.empty:
        return pd.Series(dtype="float64")
    epoch_col = "global_epoch" if "global_epoch" in rows else "epoch"
    # when several sources logged the same per-epoch metric, the most precise one wins
    for source in (*kinds_ranked(lambda facts: facts.value_rank), None):
        part = rows if source is None else rows[rows["source"] == source]
        part = part[part[epoch_col].notna()]
        if part.empty:
            continue
        series = part.groupby(part[epoch_col].astype(int))["value"].last().astype("float64")
        return series.sort_index()
    return pd.Series(dtype="float64")


def first_step_of_epoch(table: pd.DataFrame, epoch: int) -> int | None:
    """The first optimizer step of a global epoch, None when the epoch has no step."""
    if table.empty:
        return None
    steps = table.loc[table["epoch"] == epoch, "step"]
    return int(steps.min()) if len(steps) else None


def location_of_step(table: pd.DataFrame, step: int | None) -> str | None:
    """The logged source that refers to a step, if one does."""
    if step is None or table.empty or "logged_source" not in table:
        return None
    rows = table.loc[table["step"] == step, "logged_source"].dropna()
    return str(rows.iloc[0]) if len(rows) else None


def optimizer_location(timeline: Timeline) -> str | None:
    """Where the optimizer config came from (a file, or ``--optimizer``)."""
    spec = timeline.optimizer
    if spec is not None and spec.source:
        return spec.source
    return timeline.run.optimizer_source


def total_epochs(run: Run, timeline: Timeline) -> int | None:
    """How many epochs the run has (the ``E`` of Keras's ``Epoch e/E``), None when unknown."""
    table = frame(timeline)
    counted = int(table["epoch"].max()) + 1 if not table.empty and "epoch" in table else 0
    total = max(int(run.epochs or 0), counted)
    return total or None


def cited_epoch(epoch: int | None, total: int | None, source: object, location: object) -> str:
    """A 0-based epoch named as the console prints it, plus how the cited file numbers it when
    that file counts from 0 (``epoch 8/8 (epoch=7 in history.csv)``), so both lines can be found."""
    shown = epoch_text(epoch, total)
    facts = facts_for(source)
    if epoch is None or facts is None or facts.epoch_numbering not in ("0-based", "position"):
        return shown
    file = str(location or "").split(":")[0]
    name = file.replace("\\", "/").rsplit("/", 1)[-1] or str(source)
    if facts.epoch_numbering == "position":
        return f"{shown} (entry {int(epoch)} of {name}, counting from 0)"
    return f"{shown} ({logged_epoch_text(int(epoch), name)})"
