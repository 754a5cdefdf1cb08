"""Rules comparing logged lr series with the applied lr: LRA002, LRA010, LRA021, LRA022."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lraudit.numfmt import epoch_text, epochs_text, lr_text
from lraudit.rules._facts import cited_epoch, epoch_rows, frame, logged, schedule, total_epochs
from lraudit.rules.base import ALL_FRAMEWORKS, REGISTRY, Finding, Rule, Severity
from lraudit.rules.torch import torch_shift_explanation

if TYPE_CHECKING:
    from lraudit.reconstruction import Timeline
    from lraudit.run import Run

_SHIFTED = {
    "next_step": "is the schedule's value at the next step (the counter after the epoch)",
    "after_callback": (
        "is read after a callback changed the lr at the epoch end, so it shows the next epoch's lr"
    ),
    "shifted": "equals the applied lr a whole number of steps or epochs away",
}


#: the last logged table grouped (the table, its groups): four rules group the same table
_GROUPED: list[tuple[pd.DataFrame, list[tuple[tuple[str, str], pd.DataFrame]]]] = []


def _series(timeline: Timeline, *, messages: bool = False) -> list[tuple[tuple[str, str], pd.DataFrame]]:
    """Logged lr series by (source, name); callback messages (the value a callback set) only if asked."""
    logs = logged(timeline)
    if logs.empty:
        return []
    if not _GROUPED or _GROUPED[0][0] is not logs:
        groups = [((str(s), str(n)), g) for (s, n), g in logs.groupby(["source", "name"], sort=True)]
        _GROUPED[:] = [(logs, groups)]
    groups = _GROUPED[0][1]
    return groups if messages else [group for group in groups if group[0][0] != "callback"]


def _relations(timeline: Timeline) -> set[str]:
    """Every relation the logged table holds: rules looking for one skip the per-series filters
    when no row has it (most runs)."""
    logs = logged(timeline)
    return set() if logs.empty else {str(r) for r in logs["relation"].dropna().unique()}


def _whole_numbers(column: pd.Series) -> list[int]:
    """The column's numbers as ``int`` (missing ones left out): an ``Int64`` column read as
    NumPy, anything else through ``pd.to_numeric`` as before."""
    if isinstance(column.dtype, pd.Int64Dtype):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        return values[~np.isnan(values)].astype(np.int64).tolist()
    return [int(value) for value in pd.to_numeric(column, errors="coerce").dropna()]


def _int(value: object) -> int | None:
    try:
        return None if value is None or value != value else int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _rounding(rows: pd.DataFrame) -> str:
    """Say how many values differ by a few ulps only (eager log vs compiled step)."""
    if "ulps" not in rows.columns:
        return ""
    ulps = pd.to_numeric(rows["ulps"], errors="coerce")
    near = ulps[ulps > 0]
    if near.empty:
        return ""
    return (
        f"; {len(near)} of them differ from the applied value by {int(near.max())} ulp or less: the "
        "log evaluates the schedule eagerly, the train step ran it compiled"
    )


def _between_updates(timeline: Timeline, shifted: pd.DataFrame) -> str:
    """With gradient accumulation, say which epoch-end reads fall between two updates."""
    k = int(timeline.extra.get("gradient_accumulation_steps") or 1)
    rows = shifted[shifted["relation"] == "next_step"]
    if k <= 1 or rows.empty:
        return ""
    value = rows["value"].astype(float).to_numpy()
    applied = rows["lr_effective"].astype(float).to_numpy()
    # not the next update's lr (beyond eager-vs-compiled rounding): a read between two updates
    between = ~np.isclose(value, applied, rtol=1e-5, atol=0.0)
    if not between.any():
        return ""
    total = total_epochs(timeline.run, timeline)
    epochs = epochs_text([int(e) for e in rows["epoch"][between].head(4)], total)
    return (
        f"; with gradient_accumulation_steps={k} the read uses the raw counter after the epoch, which "
        f"at the end of {epochs} lies inside an accumulation window: no update applied that "
        "value (the next one reads the counter at the window's end)"
    )


@REGISTRY.register
class LoggedEffectiveMismatch(Rule):
    """A logged lr differs from the reconstructed effective lr and no known cause explains it.

    What it detects:
        Logged lr values that are neither the applied lr, nor the base variable before legacy
        ``decay``, nor a known shift (next step, after a callback): the optimizer/callback
        configuration lraudit used does not describe this run.
    Why it matters:
        Either the logs or the configuration are wrong; every other conclusion about the lr of
        this run is then uncertain.
    Example:
        CSV ``lr`` 0.001 at every epoch while the config found says ``learning_rate=0.01``.
    Fix:
        Pass the optimizer really used (``--optimizer "Adam(lr=1e-3, decay=1e-2)"``), the callbacks
        (``--callback``) and ``--keras``, or check that the files belong to the same run.
    References:
        tf-keras ``tf_keras/callbacks.py`` @ v2.21.0 and keras ``keras/src/callbacks/`` @ v3.15.1
        (what History, CSVLogger and TensorBoard record as the learning rate).
    """

    code = "LRA002"
    name = "logged-effective-mismatch"
    severity = Severity.ERROR

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        if "mismatch" not in _relations(timeline):
            return
        for (source, name), rows in _series(timeline, messages=True):
            bad = rows[rows["relation"] == "mismatch"]
            if bad.empty:
                continue
            value = bad["value"].astype(float)
            applied = bad["lr_effective"].astype(float)
            gap = (value - applied).abs() / applied.abs().replace(0.0, np.nan)
            worst = bad.loc[gap.fillna(np.inf).idxmax()]
            yield cls.finding(
                run,
                f"{source} {name} logged {lr_text(float(worst['value']))} at "
                f"{cited_epoch(_int(worst['epoch']), total_epochs(run, timeline), source, worst['location'])}"
                " "
                f"({worst['location']}) but the applied lr at step {_int(worst['step'])} was "
                f"{lr_text(float(worst['lr_effective']))}; {len(bad)} of {len(rows)} values differ "
                "and no known "
                "cause (base variable, next step, callback timing) explains them: the configuration does "
                "not describe this run",
                epoch=_int(worst["epoch"]),
                step=_int(worst["step"]),
                logged=float(worst["value"]),
                effective=float(worst["lr_effective"]),
                source=str(worst["location"]),
            )


@REGISTRY.register
class ScheduleNotLogged(Rule):
    """A schedule drives the lr but the logs record a constant value, or miss its changes inside epochs.

    What it detects:
        A ``LearningRateSchedule`` changes the applied lr while (a) no lr is logged at all
        (reported as info: nothing logged contradicts it), (b) a logged lr series stays constant,
        or (c) the lr steps to a new value in the middle
        of epochs (piecewise/staircase schedules) that once-per-epoch logs cannot show.
    Why it matters:
        The logs suggest the lr changes at epoch boundaries (or not at all); the steps inside an
        epoch ran at other values.
    Example:
        ``PiecewiseConstantDecay(boundaries=[30, 75], values=[0.1, 0.05, 0.01])`` with 17 steps
        per epoch: the lr changes after step 30 (epoch 1, batch 14) and 75 (epoch 4, batch 7).
    Fix:
        Read the per-step lr with `lraudit timeline`; log it per batch from a callback
        (``optimizer.learning_rate`` in ``on_train_batch_begin``); align ``boundaries`` with
        multiples of the steps per epoch if the change should fall on an epoch boundary.
    References:
        tensorflow/tensorflow#37552, #46248 (TensorBoard logs the lr once per epoch).
    """

    code = "LRA010"
    name = "schedule-not-logged"
    severity = Severity.WARNING

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        spec = schedule(timeline)
        table = frame(timeline)
        if spec is None or len(table) < 2:
            return
        lr = table["lr_effective"].astype(float).to_numpy()
        finite = np.isfinite(lr)
        if np.unique(lr[finite]).size < 2:
            return
        series = _series(timeline)
        if not series:
            # nothing logged contradicts the schedule: worth knowing, not a warning
            yield dataclasses.replace(
                cls.finding(
                    run,
                    f"{spec.class_name} changes the applied lr from {lr_text(lr[finite][0])} to "
                    f"{lr_text(lr[finite][-1])}, but no log of this run records the lr",
                    effective=float(lr[finite][-1]),
                ),
                severity=Severity.INFO,
            )
            return
        for (source, name), rows in series:
            values = rows["value"].astype(float)
            if len(rows) > 1 and values.nunique() == 1:
                yield cls.finding(
                    run,
                    f"{source} {name} records a constant {lr_text(values.iloc[0])} "
                    f"({rows['location'].iloc[0]}) "
                    f"while {spec.class_name} moves the applied lr between {lr_text(np.nanmin(lr))} and "
                    f"{lr_text(np.nanmax(lr))}",
                    logged=float(values.iloc[0]),
                    source=str(rows["location"].iloc[0]),
                )
                return
        changes = np.nonzero(np.diff(lr) != 0)[0] + 1
        # a change between two updates of the same epoch (with gradient accumulation an epoch's
        # first update need not be its batch 0)
        epochs = table["epoch"].to_numpy()
        inside = [int(i) for i in changes if epochs[i] == epochs[i - 1]]
        # a step-like schedule changes at few steps; a smooth one at nearly every step
        if inside and len(changes) <= 0.5 * len(lr):
            shown = inside[:4]
            total = total_epochs(run, timeline)
            where = ", ".join(
                f"step {int(table['step'].iloc[i])} ({epoch_text(int(table['epoch'].iloc[i]), total)}, batch "
                f"{int(table['batch'].iloc[i])}: {lr_text(lr[i - 1])} -> {lr_text(lr[i])})"
                for i in shown
            )
            first = inside[0]
            yield cls.finding(
                run,
                f"{spec.class_name} changes the lr inside epochs at {where}"
                f"{' and more' if len(inside) > len(shown) else ''}; the logs record one lr per epoch, so "
                "they cannot show these changes",
                epoch=int(table["epoch"].iloc[first]),
                step=int(table["step"].iloc[first]),
                effective=float(lr[first]),
            )


@REGISTRY.register
class LoggedLrShifted(Rule):
    """A logged series equals the effective one shifted by whole steps or epochs; explains instead of LRA002.

    What it detects:
        Logged lr values that equal the applied lr of another step: TensorBoard's
        ``epoch_learning_rate`` is the schedule at the *next* step (counter after the epoch), and
        Keras 3 TensorBoard reads the lr after ReduceLROnPlateau acted, so it shows the next
        epoch's lr at reductions; History/CSV ``lr`` does too when an lr-writing callback listed
        after ReduceLROnPlateau copies the reduced variable into the logs - and when
        LearningRateScheduler then overwrites it at the next epoch begin, a value no step used.
        With Keras 3 ``gradient_accumulation_steps`` the schedule is read at the raw micro-batch
        counter after the epoch, which lies between two updates when the epoch ends inside an
        accumulation window: the message names those epochs.
    Why it matters:
        Plots and comparisons against the logged lr are off by one step or one epoch; it is not
        the lr that trained that epoch.
    Example:
        ``ExponentialDecay(0.05, decay_steps=40, decay_rate=0.8)``, 17 steps/epoch: TensorBoard's
        value for epoch 0 is ``0.05*0.8**(17/40)``, the lr of step 17; step 16 applied
        ``0.05*0.8**(16/40)``.
    Fix:
        Shift the logged series when plotting, or read the applied lr with `lraudit timeline`.
    References:
        tf-keras ``tf_keras/callbacks.py`` ``_collect_learning_rate`` @ v2.21.0; keras
        ``keras/src/callbacks/tensorboard.py`` @ v3.15.1; tensorflow/tensorflow#37552.
    """

    code = "LRA021"
    name = "logged-lr-shifted"
    severity = Severity.INFO
    frameworks = ALL_FRAMEWORKS

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        table = frame(timeline)
        if table.empty or not _relations(timeline) & set(_SHIFTED):
            return
        # the lr applied by the first and the last update of each epoch: what the epoch really ran at
        rows = epoch_rows(timeline)
        first_of_epoch = rows.first_values(table, "lr_effective") if rows is not None else None
        last_of_epoch = rows.last_values(table, "lr_effective") if rows is not None else None
        if first_of_epoch is None or last_of_epoch is None:
            first_of_epoch = table.groupby("epoch")["lr_effective"].first()
            last_of_epoch = table.groupby("epoch")["lr_effective"].last()
        for (source, name), rows in _series(timeline):
            shifted = rows[rows["relation"].isin(list(_SHIFTED))]
            if shifted.empty:
                continue
            first = shifted.iloc[0]
            relation = str(first["relation"])
            epoch = _int(first["epoch"])
            began, ended = first_of_epoch.get(epoch), last_of_epoch.get(epoch)
            total = total_epochs(run, timeline)
            ran = (
                f"{epoch_text(epoch, total)} ran from {lr_text(began)} to {lr_text(ended)}"
                if began != ended
                else f"{epoch_text(epoch, total)} ran at {lr_text(began)}"
            )
            step = _int(first["step"])
            if step is None and relation == "after_callback":
                what = (
                    "is read after a callback changed the lr at the epoch end, and another callback "
                    "replaced that value before the next update"
                )
                which = "a value no step used"
            else:
                what, which = _SHIFTED[relation], f"the lr of step {step}"
            explained = torch_shift_explanation(
                timeline, relation, first.get("read"), first.get("read_location")
            )
            between = _between_updates(timeline, shifted) if explained is None else ""
            if explained is not None:
                what = explained
                if relation == "next_step" and step is not None:
                    which = f"the lr of update {step + 1}"
                    applied = float(first["lr_base"])
                    ran = f"update {step} applied {lr_text(applied)}"
                else:
                    which = "the lr of the next epoch"
            yield cls.finding(
                run,
                f"{source} {name} ({first['location']}) {what}: for "
                f"{cited_epoch(epoch, total, source, first['location'])} it shows "
                f"{lr_text(float(first['value']))}, {which}, while {ran}; "
                f"{len(shifted)} of {len(rows)} values are shifted{_rounding(shifted)}{between}",
                epoch=epoch,
                step=step,
                logged=float(first["value"]),
                effective=None if began is None else float(began),
                source=str(first["location"]),
            )


@REGISTRY.register
class LogDownsampled(Rule):
    """A logged lr series has irregular gaps: some epochs/steps are not covered.

    What it detects:
        A logged lr series that skips epochs between its first and last value (a
        reservoir-sampled TensorBoard export, ``update_freq`` filtering, a CSV appended by
        several runs), or whose step-level values are unevenly spaced.
    Why it matters:
        Changes of the lr in the missing epochs are invisible, and plots interpolate across them.
    Example:
        An exported TensorBoard CSV with ``epoch_learning_rate`` at epochs 0, 1, 2, 5, 9.
    Fix:
        Read the event files directly (lraudit does, without sampling), or log every epoch.
    References:
        tensorboard ``event_accumulator.py`` ``DEFAULT_SIZE_GUIDANCE`` (reservoir sampling);
        tensorflow/tensorboard#4975.
    """

    code = "LRA022"
    name = "log-downsampled"
    severity = Severity.INFO
    frameworks = ALL_FRAMEWORKS

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        total = total_epochs(run, timeline)
        for (source, name), rows in _series(timeline):
            epochs = sorted(set(_whole_numbers(rows["epoch"])))
            if len(epochs) >= 2:
                missing = sorted(set(range(epochs[0], epochs[-1] + 1)) - set(epochs))
                if missing:
                    yield cls.finding(
                        run,
                        f"{source} {name} ({rows['location'].iloc[0]}) covers "
                        f"{epochs_text([epochs[0], epochs[-1]], total).replace(' and ', '-')} but skips "
                        f"{len(missing)} of them ({epochs_text(missing[:8], total)}"
                        f"{', ...' if len(missing) > 8 else ''}): lr changes there are not logged",
                        epoch=missing[0],
                        source=str(rows["location"].iloc[0]),
                    )
                    continue
            steps = np.array(sorted(set(_whole_numbers(rows["step"]))))
            if not epochs and len(steps) >= 3:
                gaps = np.diff(steps)
                if gaps.min() != gaps.max():
                    yield cls.finding(
                        run,
                        f"{source} {name} ({rows['location'].iloc[0]}) has unevenly spaced steps (gaps from "
                        f"{int(gaps.min())} to {int(gaps.max())}): some steps are not covered",
                        step=int(steps[int(np.argmax(gaps))]),
                        source=str(rows["location"].iloc[0]),
                    )
