"""Contract types shared by :mod:`lraudit.reconstruction` and its stages (re-exported from there).

They live here, not in :mod:`lraudit.reconstruction`, because the stages build them (the lr walk
records :class:`LrChange`, the join fills :data:`LOGGED_COLUMNS`) and a stage importing the
orchestrator would make the data flow circular. The meaning of every column and relation is
documented in :mod:`lraudit.reconstruction`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from lraudit.run import Run
    from lraudit.semantics.specs import CallbackSpec, OptimizerSpec

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
    "ulps",
)

#: how far (float32 ulps) an eagerly evaluated schedule read may be from the compiled step's
#: value and still be that value: eager and compiled arithmetic differ by 1-16 ulp (reference §1.8)
SCHEDULE_READ_ULPS = 16

#: relations of :attr:`Timeline.logged`, from the most to the least explained
RELATIONS = ("effective", "base", "next_step", "after_callback", "shifted", "mismatch", "invalid")

#: the callbacks that write the lr variable (``LrChange.callback``)
PLATEAU = "ReduceLROnPlateau"
SCHEDULER = "LearningRateScheduler"


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
