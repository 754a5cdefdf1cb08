"""What the user stated, or the audit assumed, against what the logs show: LRA025.

A setting given on the command line is checked, never silently preferred or ignored: the
``--steps-per-epoch`` against the progress bars and saved iteration counters, a
``LearningRateScheduler`` function against the lr the logs show for each epoch.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from functools import reduce
from typing import TYPE_CHECKING

import numpy as np

from lraudit.numfmt import f32_float, lr_text
from lraudit.rules._facts import EpochRows, callback_specs, epoch_rows, events, frame
from lraudit.rules._plateau import matches_printed
from lraudit.rules.base import REGISTRY, Finding, Rule, Severity

if TYPE_CHECKING:
    import pandas as pd

    from lraudit.reconstruction import Timeline
    from lraudit.run import Run


def steps_per_epoch_used(table: pd.DataFrame, rows: EpochRows | None = None) -> dict[int, int]:
    """Steps per epoch the reconstruction laid out, per fit index (the largest epoch of each fit).

    ``rows`` (the frame's :func:`~lraudit.rules._facts.epoch_rows`) counts in place when the
    frame is in order, instead of grouping every step."""
    if table.empty:
        return {}
    if rows is not None and ("fit" not in table or table["fit"].dtype.kind in "iu"):
        every = table["fit"].to_numpy() if "fit" in table else np.zeros(len(table), dtype=np.int64)
        fits = every[rows.first]
        # each epoch within one fit, fits in order: the (fit, epoch) groups are the epochs' rows
        if (every[1:] >= every[:-1]).all() and (every[rows.last] == fits).all():
            largest: dict[int, int] = {}
            for fit, size in zip(fits.tolist(), rows.sizes.tolist(), strict=True):
                largest[fit] = max(largest.get(fit, 0), size)
            return largest
    keys = table["fit"].fillna(0).astype(int) if "fit" in table else 0
    sizes = table.groupby([keys, table["epoch"]]).size()
    return {int(fit): int(size) for fit, size in sizes.groupby(level=0).max().items()}


def unexplained_counters(
    run: Run, table: pd.DataFrame, rows: EpochRows | None = None
) -> list[tuple[str, int]]:
    """Saved optimizer counters that are not the counter at the end of any reconstructed epoch."""
    if table.empty or not run.saved_counters:
        return []
    if rows is not None and table["step"].dtype.kind in "iu":
        ends = set((np.maximum.reduceat(table["step"].to_numpy(), rows.first) + 1).tolist())
    else:
        ends = set((table.groupby("epoch")["step"].max() + 1).astype(int).tolist())
    return [
        (c.path, int(c.iterations)) for c in run.saved_counters if c.iterations and c.iterations not in ends
    ]


@REGISTRY.register
class SettingsContradictLogs(Rule):
    """A stated setting (steps per epoch, a schedule function) contradicts the logs.

    What it detects:
        Every per-step number of a report comes from one reconstruction. The rule names both
        numbers when what the audit was told differs from what the logs show:
        ``--steps-per-epoch`` N against a progress bar's ``M/M``; the steps per epoch against a
        saved optimizer counter (``iterations`` in an ``.h5``/``.keras`` checkpoint) that is no
        epoch's end (a sample-count bar ``10000/10000`` read as steps while checkpoints hold
        79, 632, 1580 = 79 per epoch: a warning, the checkpoint may be another execution's);
        a ``LearningRateScheduler('file.py:fn')`` given with ``--callback`` whose values are not
        the lr the logs show (a message or an lr column) for an epoch.
    Why it matters:
        The legacy ``decay`` factor, schedule values and step numbers of every finding depend on
        the steps per epoch, and a schedule function that is not the one that ran describes
        another run: preferring one number silently gives an audit of a run that did not happen.
    Example:
        ``--steps-per-epoch 100`` on a log whose bars end at ``1562/1562``: "100 given, 1562 in
        the progress bars"; ``LearningRateScheduler('lr.py:step_decay')`` returning 0.0012 at
        epoch 2 where the console says "setting learning rate to 0.001".
    Fix:
        Give what the run really used: drop ``--steps-per-epoch`` when the bars show it (or give
        ``ceil(samples / batch_size)``), and the schedule function of the version that ran.
    References:
        keras ``keras/src/callbacks/learning_rate_scheduler.py`` @ v3.15.1 (``schedule(epoch,
        lr)``); ``keras/src/trainers/epoch_iterator.py`` @ v3.15.1.
    """

    code = "LRA025"
    name = "settings-contradict-logs"
    severity = Severity.ERROR

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        yield from cls._scheduler_function(run, timeline)
        yield from cls._steps_per_epoch(run, timeline)

    @classmethod
    def _steps_per_epoch(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        table = frame(timeline)
        if table.empty or int(timeline.extra.get("gradient_accumulation_steps", 1) or 1) != 1:
            return
        rows = epoch_rows(timeline)
        used = steps_per_epoch_used(table, rows)
        # what the logs show per fit (a bar's M/M), the run's own count where a fit tells none
        shown = {f.index: f.steps_per_epoch or run.steps_per_epoch for f in run.fits}
        shown = shown or {0: run.steps_per_epoch}
        for fit, steps in sorted(used.items()):
            logged = shown.get(fit)
            if logged and steps != logged and not _bar_counts_samples(run, logged, steps):
                yield cls.finding(
                    run,
                    f"the audit laid out {steps} steps per epoch (--steps-per-epoch) but the progress bars "
                    f"of fit {fit + 1} show {logged}: every per-step number of this report uses {steps}",
                    epoch=int(table.loc[table["fit"] == fit, "epoch"].min()) if "fit" in table else None,
                )
                return
        counters = unexplained_counters(run, table, rows)
        if not counters:
            return
        steps = max(used.values())
        divisor = reduce(math.gcd, (n for _, n in counters))
        hint = f"; they are multiples of {divisor}" if divisor > 1 and divisor != steps else ""
        listed = ", ".join(f"{n} ({path})" for path, n in counters)
        yield cls.finding(
            run,
            f"saved optimizer counter(s) {listed} are not the counter at the end of any epoch with the "
            f"{steps} steps per epoch the audit used{hint}: the steps per epoch (or these files' run) "
            "differ, and every per-step number of this report uses "
            f"{steps}",
            severity=Severity.WARNING,
            source=counters[0][0],
        )

    @classmethod
    def _scheduler_function(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        for spec in callback_specs(timeline, "LearningRateScheduler"):
            function, named = stated_schedule_function(spec.kwargs)
            if function is None:
                continue
            differ = schedule_differences(run, timeline, function)
            if not differ:
                continue
            epoch, called_with, returned, shown, where = differ[0]
            yield cls.finding(
                run,
                f"LearningRateScheduler({named}) given with --callback returns {lr_text(returned)} at "
                f"epoch {epoch} (called with lr {lr_text(called_with)}), but the logs show "
                f"{lr_text(shown)} ({where}); {len(differ)} epoch{'s' if len(differ) > 1 else ''} with a "
                "logged lr differ: this is not the function that ran, and the audit uses the logged values",
                epoch=epoch,
                logged=shown,
                effective=returned,
                source=where,
            )


def stated_schedule_function(kwargs: dict) -> tuple[object | None, str]:
    """The schedule function a ``--callback LearningRateScheduler(...)`` names, and its name.

    Loaded only because the user named it (``file.py:fn`` or ``module:fn``); a missing file or
    function raises the one-line :class:`~lraudit.errors.UsageError` (exit 2).
    """
    from lraudit.semantics.callbacks import load_schedule_function

    schedule = kwargs.get("schedule")
    if schedule is None:
        schedule = next(iter(kwargs.get("args", []) or []), None)
    if callable(schedule):
        return schedule, repr(getattr(schedule, "__name__", "schedule"))
    if isinstance(schedule, str):
        return load_schedule_function(schedule), repr(schedule)
    return None, ""


def schedule_differences(
    run: Run, timeline: Timeline, function: object
) -> list[tuple[int, float, float, float, str]]:
    """Epochs where the function's value is not the lr the logs show: (epoch, called with,
    returned, shown, where). The logged lr is a scheduler message (matched within its printed
    digits) or, without one, an exact per-epoch lr log the reconstruction adopted."""
    from lraudit.semantics.callbacks import call_schedule

    table = frame(timeline)
    if table.empty or "lr_variable" not in table:
        return []
    rows = epoch_rows(timeline)
    variable = rows.first_values(table, "lr_variable") if rows is not None else None
    if variable is None:
        variable = table.groupby("epoch")["lr_variable"].first()
    printed = {int(e.epoch): e for e in events(run, "scheduler_set") if e.epoch is not None}
    logged_epochs = _logged_lr_epochs(timeline)
    found = []
    previous = None
    for epoch, during in variable.items():
        epoch = int(epoch)
        before = previous if previous is not None else during
        previous = during
        event = printed.get(epoch)
        if event is None and epoch not in logged_epochs:
            continue  # nothing logged this epoch: the reconstruction used the function itself
        if not np.isfinite(before) or not np.isfinite(during):
            continue
        returned = f32_float(float(call_schedule(function, epoch, float(before))))
        shown = float(event.value) if event is not None and event.value is not None else float(during)
        if matches_printed(shown, returned):
            continue
        where = (event.location if event is not None else logged_epochs.get(epoch)) or "the logs"
        found.append((epoch, float(before), returned, shown, str(where)))
    return found


def _logged_lr_epochs(timeline: Timeline) -> dict[int, str]:
    """Epochs whose lr variable a log shows exactly (the value held during the epoch)."""
    from lraudit.rules._facts import logged

    table = logged(timeline)
    if table.empty:
        return {}
    rows = table[table["relation"].isin(["base", "effective"]) & table["epoch"].notna()]
    return {int(e): str(loc) for e, loc in zip(rows["epoch"], rows["location"], strict=True)}


def _bar_counts_samples(run: Run, bar: int, steps: int) -> bool:
    """True when a Keras 1/2 bar ``bar/bar`` may count samples that batches turned into ``steps``.

    Keras up to 2.2 (and tf.keras with arrays before TF 2.2) drew sample-count bars; a header
    ``Train on N samples`` is not always in the log (a paste starting mid-run), so a given steps
    per epoch that some batch size makes of the bar's count is no contradiction. Keras 3 never
    counts samples.
    """
    from lraudit.saved_counters import sample_batch_sizes

    return run.keras != "3" and sample_batch_sizes(bar, steps) is not None
