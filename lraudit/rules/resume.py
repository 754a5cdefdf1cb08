"""Rules about the iteration counter across ``fit()`` calls: LRA011, LRA017."""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lraudit.numfmt import epoch_text, lr_text
from lraudit.rules._facts import decay_steps_mask, frame, is_schedule, total_epochs
from lraudit.rules.base import ALL_FRAMEWORKS, REGISTRY, TORCH_FRAMEWORKS, Finding, Rule, Severity
from lraudit.rules.torch import scheduler_restart_on_resume

if TYPE_CHECKING:
    import pandas as pd

    from lraudit.reconstruction import Timeline
    from lraudit.run import Run


@dataclass(frozen=True)
class FitStart:
    """Where a later ``fit()`` call starts, and where the one before it ended."""

    fit: int
    epoch: int
    first_step: int
    first_lr: float
    previous_last_step: int
    previous_last_lr: float


def fit_starts(run: Run, table: pd.DataFrame) -> list[FitStart]:
    """The start of every ``fit()`` after the first, from the timeline frame."""
    if table.empty:
        return []
    bounds = _fit_bounds(table)
    if bounds is None:
        return _fit_starts_grouped(run, table)
    firsts, lasts = bounds
    columns = {name: table[name].to_numpy() for name in ("fit", "epoch", "step", "lr_effective")}
    starts: list[FitStart] = []
    for head, tail in zip(firsts[1:].tolist(), lasts[:-1].tolist(), strict=True):
        starts.append(
            FitStart(
                fit=int(columns["fit"][head]),
                epoch=int(columns["epoch"][head]),
                first_step=int(columns["step"][head]),
                first_lr=float(columns["lr_effective"][head]),
                previous_last_step=int(columns["step"][tail]),
                previous_last_lr=float(columns["lr_effective"][tail]),
            )
        )
    return starts


def _fit_bounds(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """First and last row of each fit when the frame's integer ``fit`` column is in order (what
    the layout writes): the boundaries grouping by fit finds, without grouping 1 M rows."""
    if "fit" not in table or table["fit"].dtype.kind not in "iu":
        return None
    fits = table["fit"].to_numpy()
    change = np.flatnonzero(fits[1:] != fits[:-1])
    if (fits[change + 1] < fits[change]).any():
        return None
    return np.concatenate(([0], change + 1)), np.concatenate((change, [len(fits) - 1]))


def _fit_starts_grouped(run: Run, table: pd.DataFrame) -> list[FitStart]:
    """:func:`fit_starts` for any frame (missing or unordered fits): grouping by fit."""
    if "fit" in table and table["fit"].notna().any():
        keys = table["fit"]
    else:  # fall back to the run's fit boundaries (global epochs)
        bounds = [f.first_epoch for f in run.fits]
        keys = table["epoch"].map(lambda e: sum(1 for b in bounds[1:] if e >= b))
    starts: list[FitStart] = []
    groups = [g for _, g in table.groupby(keys, sort=True)]
    for previous, current in itertools.pairwise(groups):
        head, tail = current.iloc[0], previous.iloc[-1]
        starts.append(
            FitStart(
                fit=int(head["fit"]) if "fit" in current and head["fit"] == head["fit"] else len(starts) + 1,
                epoch=int(head["epoch"]),
                first_step=int(head["step"]),
                first_lr=float(head["lr_effective"]),
                previous_last_step=int(tail["step"]),
                previous_last_lr=float(tail["lr_effective"]),
            )
        )
    return starts


def _counter_note(run: Run) -> str:
    counters = ", ".join(f"{c.path}: iterations={c.iterations}" for c in run.saved_counters)
    return f" (saved counters: {counters})" if counters else ""


@REGISTRY.register
class IterationsCarriedOver(Rule):
    """A resumed `fit` continues the iteration counter, so decay/schedules continue rather than restart.

    What it detects:
        A later ``fit()`` call (same optimizer, or a model reloaded from ``.h5``/``.keras``) whose
        first update uses the counter where the previous fit stopped, in a run where the lr
        depends on the counter (legacy ``decay`` or a schedule).
    Why it matters:
        ``initial_epoch`` only renumbers epochs; the optimizer's ``iterations`` persists, so a
        "fresh" second phase of training starts with the decayed lr, not the initial one.
    Example:
        ``Adam(1e-3, decay=5e-3)``, 21 steps/epoch, fits 0→3 and 3→6: the second fit's first
        update is iteration 63 and applies 1e-3/(1+5e-3*63) = 7.6e-4, not 1e-3.
    Fix:
        Intended: nothing to do. To restart the schedule, create a new optimizer (or
        ``optimizer.iterations.assign(0)``) before the second ``fit``.
    References:
        tensorflow/tensorflow#49208, keras-team/keras#4446, #12891, #13568.
    """

    code = "LRA011"
    name = "iterations-carried-over"
    severity = Severity.INFO

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        table = frame(timeline)
        if not (is_schedule(timeline) or decay_steps_mask(table).any()):
            return
        restart_lr = float(table["lr_effective"].iloc[0]) if len(table) else None
        for start in fit_starts(run, table):
            if start.first_step != start.previous_last_step + 1 or start.first_step == 0:
                continue
            yield cls.finding(
                run,
                f"fit {start.fit + 1} starts at {epoch_text(start.epoch, total_epochs(run, timeline))} "
                "with the optimizer's counter at "
                f"{start.first_step} (carried over from the previous fit), so the lr continues: its first "
                f"update applied {lr_text(start.first_lr)}, not the {lr_text(restart_lr)} of a restart"
                f"{_counter_note(run)}",
                epoch=start.epoch,
                step=start.first_step,
                effective=start.first_lr,
            )


@REGISTRY.register
class IterationsResetOnResume(Rule):
    """Epochs continue (`initial_epoch`) but the optimizer's counter restarted at 0, so decay restarted.

    What it detects:
        A later ``fit()`` that continues the epoch numbering while its first update uses
        iteration 0 (a new optimizer from ``compile``, or weights loaded with
        ``load_weights``), in a run where the lr depends on the counter.
    Why it matters:
        The lr jumps back to its initial value in the middle of training: the decay or schedule
        starts over, which the epoch numbers hide.
    Example:
        ``SGD(0.08, decay=2e-2)`` recompiled before ``fit(initial_epoch=2)``: the first update of
        epoch 2 applies 0.08 again.
    Fix:
        Keep the optimizer (reuse the compiled model, or load the whole model with its optimizer
        state), or set ``optimizer.iterations`` to the number of updates already done.
    PyTorch: a second process that loads the model and optimizer but not the scheduler's
    ``state_dict`` builds a fresh scheduler whose step count restarts at 0 (milestones, a cosine,
    a warm-up start over), unless the scheduler only multiplies the lr it finds.
    References:
        tensorflow/tensorflow#47115, #48947; keras-team/keras#12891; pytorch
        ``torch/optim/lr_scheduler.py`` (``state_dict``/``load_state_dict``) @ v2.5.0.
    """

    code = "LRA017"
    name = "iterations-reset-on-resume"
    severity = Severity.WARNING
    frameworks = ALL_FRAMEWORKS

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        if timeline.extra.get("framework") in TORCH_FRAMEWORKS:
            restart = scheduler_restart_on_resume(run, timeline)
            if restart is not None:
                message, step, epoch, applied, source = restart
                yield cls.finding(run, message, step=step, epoch=epoch, effective=applied, source=source)
            return
        table = frame(timeline)
        if not (is_schedule(timeline) or decay_steps_mask(table).any() or _lr_varies(table)):
            return
        for start in fit_starts(run, table):
            if start.epoch == 0 or start.first_step > start.previous_last_step:
                continue
            yield cls.finding(
                run,
                f"fit {start.fit + 1} continues at {epoch_text(start.epoch, total_epochs(run, timeline))} "
                "but the optimizer's counter "
                "restarted at "
                f"{start.first_step} (it was {start.previous_last_step} at the end of the previous fit): the "
                f"applied lr jumps back from {lr_text(start.previous_last_lr)} to {lr_text(start.first_lr)}"
                f"{_counter_note(run)}",
                epoch=start.epoch,
                step=start.first_step,
                effective=start.first_lr,
                source=run.saved_counters[0].path if run.saved_counters else None,
            )


def _lr_varies(table: pd.DataFrame) -> bool:
    return bool(len(table)) and table["lr_effective"].nunique(dropna=True) > 1
