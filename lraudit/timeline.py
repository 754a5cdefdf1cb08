"""The per-step timeline: the lr Keras applied at every optimizer update, joined with what was logged.

Contract (DESIGN.md §2). :attr:`Timeline.frame` has one row per optimizer update with columns,
in this order: ``step, epoch, batch, lr_base, lr_effective, logged_lr, logged_source`` then
``fit`` (0-based fit index), ``lr_variable`` (the lr variable during that step, NaN when a
schedule drives the lr), ``decay_factor`` (legacy decay multiplier, 1.0 when none).
``lr_base``/``lr_effective``/``lr_variable`` are float32.

:attr:`Timeline.logged` has one row per logged lr value (every source), joined to the step it
really describes: ``source, name, location, epoch, step, value, lr_base, lr_effective,
relation`` where ``relation`` is one of ``effective`` (equals the applied lr), ``base`` (equals
the lr variable/schedule before legacy decay), ``next_step`` (equals the value of the step
after the epoch: TensorBoard's schedule read), ``after_callback`` (equals the lr set by a
callback at that epoch end: Keras 3 TensorBoard), ``shifted`` (equals the effective lr a whole
number of steps/epochs away), ``mismatch`` (none of these), ``invalid`` (the applied lr is
NaN/inf/negative).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from lraudit.run import Run
    from lraudit.semantics.specs import CallbackSpec, OptimizerSpec

TIMELINE_COLUMNS = (
    "step",
    "epoch",
    "batch",
    "lr_base",
    "lr_effective",
    "logged_lr",
    "logged_source",
    "fit",
    "lr_variable",
    "decay_factor",
)

LOGGED_COLUMNS = (
    "source",
    "name",
    "location",
    "epoch",
    "step",
    "value",
    "lr_base",
    "lr_effective",
    "relation",
)


@dataclass
class LrChange:
    """A change of the lr variable by a callback, as reconstructed (and as logged, if it was)."""

    callback: str  # ReduceLROnPlateau | LearningRateScheduler
    epoch: int  # global 0-based epoch: at its end (plateau) or its start (scheduler)
    old_lr: float
    new_lr: float  # float32 value stored in the variable
    printed: float | None = None  # the value printed in the console message, if any
    location: str | None = None
    effective_from_step: int | None = None  # first step that used it, None if none did
    overwritten_by: str | None = None  # another callback overwrote it before any step used it
    origin: str = "logged"  # "logged" (read from a message/log) | "replayed" (from the callback rule)


@dataclass
class Timeline:
    """The reconstruction of one run."""

    run: Run
    frame: pd.DataFrame
    logged: pd.DataFrame
    optimizer: OptimizerSpec | None
    callbacks: list[CallbackSpec] = field(default_factory=list)
    changes: list[LrChange] = field(default_factory=list)
    keras: str | None = None  # "2" | "3"
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
