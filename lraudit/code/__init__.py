"""Training code read statically with :mod:`ast` (never imported, never executed).

:func:`read_code` turns notebook code cells or a script into :class:`CodeFacts`: each training
(``fit``/``fit_generator``) with the optimizer its model was compiled with, its callbacks and its
arguments, every value cited to the line it came from. :func:`optimizer_for_fit` and
:func:`callbacks_for_fit` hand one training's optimizer and callbacks to the audit.
"""
from __future__ import annotations

from lraudit.code.cells import execution_order, notebook_code_cells
from lraudit.code.model import (
    CallbackRecord,
    CodeCell,
    CodeFacts,
    CodeFit,
    CodeMarker,
    FitArgument,
    LrChange,
    OptimizerRecord,
    ScheduleFunction,
)
from lraudit.code.reader import callbacks_for_fit, lr_at_fit_start, optimizer_for_fit, read_code

__all__ = [
    "CallbackRecord", "CodeCell", "CodeFacts", "CodeFit", "CodeMarker", "FitArgument", "LrChange",
    "OptimizerRecord", "ScheduleFunction", "callbacks_for_fit", "execution_order",
    "lr_at_fit_start", "notebook_code_cells", "optimizer_for_fit", "read_code",
]
