"""The lr variable of every epoch: its start value and each callback's write (reference §4, §7).

The start is the constructor lr, or - when the config was saved after training - recovered
from the logs. Writes follow Keras' order (LearningRateScheduler at epoch begin,
ReduceLROnPlateau at epoch end), read from the console messages, filled from the exact
per-epoch logs where a callback wrote silently, or replayed from ``--callback``.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import numpy as np

from lraudit.errors import UsageError
from lraudit.numfmt import epoch_text, f32
from lraudit.reconstruction.contracts import PLATEAU, SCHEDULER, LrChange
from lraudit.reconstruction.scalars import (
    EPOCH_LR_KEYS,
    epoch_column,
    events_by_epoch,
    is_missing,
    row_location,
)
from lraudit.sources.registry import kinds_ranked, kinds_where

if TYPE_CHECKING:
    from lraudit.reconstruction.layout import Layout
    from lraudit.run import Run
    from lraudit.semantics.specs import CallbackSpec, OptimizerSpec

def initial_variable(
    run: Run,
    spec: OptimizerSpec,
    origin: str,
    exact_epoch_lr: dict[int, tuple[np.float32, str]],
    callbacks: list[CallbackSpec],
    notes: list[str],
) -> np.float32:
    """The lr variable when training started.

    A config saved after training holds the final value (reference §7.1): the start value is
    then read from the logs - the exact per-epoch lr of the first epoch, a TensorBoard epoch
    lr of epoch 0 not touched by a callback - or, when nothing changed the lr, it is the final
    value itself.
    """
    configured = f32(float(spec.learning_rate))
    if origin in ("option", "initial", "code"):
        return configured
    if origin == "assumed":
        return _logged_start(run, exact_epoch_lr, notes)
    if origin == "code-lr-unknown":  # the code's optimizer, but its lr at this fit's start is not in the code
        logged = _logged_start(run, exact_epoch_lr, notes)
        return logged if np.isfinite(logged) else configured
    first_epoch = min((f.first_epoch for f in run.fits), default=0)
    if first_epoch in exact_epoch_lr and not events_by_epoch(run, "scheduler_set").get(first_epoch):
        value, where = exact_epoch_lr[first_epoch]
        if value != configured:
            notes.append(
                f"the optimizer config holds the final lr {float(configured)!r}; the initial lr "
                f"{float(value)!r} was read from {where}"
            )
        return value
    plateau = events_by_epoch(run, "plateau_reduction")
    scheduler = events_by_epoch(run, "scheduler_set")
    if not plateau and not scheduler and not _writes_lr(callbacks):
        return configured
    board = _tensorboard_epoch_lr(run, first_epoch)
    if board is not None and first_epoch not in plateau:
        notes.append(
            f"the optimizer config holds the final lr; the initial lr {float(board[0])!r} was read "
            f"from {board[1]}"
        )
        return board[0]
    if plateau and not scheduler:
        first = min(plateau)
        guess = _undo_reduction(plateau[first], callbacks)
        if guess is not None:
            notes.append(
                f"the optimizer config holds the final lr; the initial lr {float(guess)!r} was "
                "recovered by undoing the first printed reduction"
            )
            return guess
    bar = _console_epoch_lr(run, first_epoch)
    if bar is not None:
        notes.append(
            f"the optimizer config holds the final lr; the initial lr was taken from the progress "
            f"bar ({bar[1]}, 4 decimals only): {float(bar[0])!r}"
        )
        return bar[0]
    notes.append(
        "the optimizer config holds the final lr and no log shows the initial one; used the "
        f"final value {float(configured)!r} as the start value"
    )
    return configured


def _writes_lr(callbacks: list[CallbackSpec]) -> bool:
    return any(cb.class_name in (PLATEAU, SCHEDULER) for cb in callbacks)


def _logged_start(
    run: Run, exact_epoch_lr: dict[int, tuple[np.float32, str]], notes: list[str]
) -> np.float32:
    """The lr variable at the start, read from the logs alone (the optimizer is unknown).

    The first epoch's value in the most precise log (History/CSVLogger, then TensorBoard's epoch
    lr, then the console's ``lr:`` column); a LearningRateScheduler message at that epoch is the
    value it set. NaN when no log tells an lr value (the audit then checks only what needs none).
    """
    first_epoch = min((f.first_epoch for f in run.fits), default=0)
    scheduler = events_by_epoch(run, "scheduler_set").get(first_epoch)
    candidates = (
        exact_epoch_lr.get(first_epoch),
        _tensorboard_epoch_lr(run, first_epoch),
        _console_epoch_lr(run, first_epoch),
    )
    found = next((c for c in candidates if c is not None), None)
    if found is None and scheduler is not None:
        found = (f32(scheduler.value), scheduler.location)
    if found is None:
        notes.append("no log shows an lr value: only what needs none (callback monitors, modes) is checked")
        return np.float32(np.nan)
    notes.append(f"the start lr {float(found[0])!r} was read from {found[1]}")
    return found[0]


def _tensorboard_epoch_lr(run: Run, epoch: int) -> tuple[np.float32, str] | None:
    frame = run.scalars
    if frame is None or len(frame) == 0:
        return None
    names = frame["name"].astype("string")
    leaves = ("epoch_lr", "epoch_learning_rate", "lr")
    # decided once per distinct name, not per row (a per-batch run has millions of rows)
    wanted = [name for name in names.dropna().unique() if str(name).rsplit("/", 1)[-1] in leaves]
    mask = frame["source"].isin(kinds_where(lambda facts: facts.tags)) & names.isin(wanted)
    column = epoch_column(frame)
    hits = frame[mask & (frame[column] == epoch)]
    for row in hits.itertuples(index=False):
        if not is_missing(row.value):
            return f32(row.value), row_location(row)
    return None


def _console_epoch_lr(run: Run, epoch: int) -> tuple[np.float32, str] | None:
    frame = run.scalars
    if frame is None or len(frame) == 0:
        return None
    column = epoch_column(frame)
    rounded = kinds_where(lambda facts: facts.rounded and facts.keras_keys)  # the progress bar
    mask = frame["source"].isin(rounded) & frame["name"].isin(EPOCH_LR_KEYS) & (frame[column] == epoch)
    for row in frame[mask].itertuples(index=False):
        if not is_missing(row.value):
            return f32(row.value), row_location(row)
    return None


def _undo_reduction(event, callbacks: list[CallbackSpec]) -> np.float32 | None:
    """The float32 x with f32(double(x) * factor) == the printed value, nicest decimal first."""
    factor = next(
        (float(cb.kwargs.get("factor", 0.1)) for cb in callbacks if cb.class_name == PLATEAU), None
    )
    if factor is None:
        return None
    target = f32(event.value)
    guess = np.float32(float(target) / factor)
    candidates = [guess]
    up, down = guess, guess
    for _ in range(4):
        up = np.nextafter(up, np.float32(np.inf))
        down = np.nextafter(down, np.float32(0))
        candidates.extend((up, down))
    matching = [c for c in candidates if f32(float(c) * factor) == target]
    if not matching:
        return None
    return min(matching, key=lambda c: len(repr(float(c))))


class VariableWalk:
    """The lr variable of every global epoch, walking the callback writes in Keras' order."""

    def __init__(
        self,
        run: Run,
        layout: Layout,
        start: np.float32,
        exact_epoch_lr: dict[int, tuple[np.float32, str]],
        callbacks: list[CallbackSpec],
        keras: str,
        notes: list[str],
        fit_start_lr: dict[int, np.float32] | None = None,
    ) -> None:
        self.keras = keras
        #: fit plan position -> the lr of a fresh optimizer compiled before that fit
        self.fit_start_lr = fit_start_lr or {}
        self.source_run = run
        self.layout = layout
        self.start = start
        self.exact = exact_epoch_lr
        self.callbacks = callbacks
        self.notes = notes
        self.per_epoch = np.full(layout.n_epochs, start, dtype=np.float32)
        #: variable after the epoch-end writes of each epoch
        self.after_epoch = np.full(layout.n_epochs, start, dtype=np.float32)
        self.changes: list[LrChange] = []
        #: per change (same order): the first global epoch whose updates would use it
        self.starts: list[int] = []

    def run(self) -> VariableWalk:
        """Walk every global epoch once, recording each write in :attr:`changes`; returns self."""
        from lraudit.semantics.callbacks import call_schedule

        plateau = events_by_epoch(self.source_run, "plateau_reduction")
        scheduler = events_by_epoch(self.source_run, "scheduler_set")
        replay_plateau = None
        plateau_specs = [cb for cb in self.callbacks if cb.class_name == PLATEAU]
        if plateau_specs and not plateau:
            replay_plateau = _PlateauReplay(self.source_run, plateau_specs[0], self.keras, self.notes)
        scheduler_fn = None
        scheduler_specs = [cb for cb in self.callbacks if cb.class_name == SCHEDULER]
        if scheduler_specs and not scheduler:
            scheduler_fn = _scheduler_function(scheduler_specs[0])
        value = self.start
        previous_position = -1
        first_epoch = int(np.argmax(self.layout.epoch_fit_position >= 0))
        for epoch in range(self.layout.n_epochs):
            position = int(self.layout.epoch_fit_position[epoch])
            if position != previous_position and position >= 0:
                value = self._fit_begins(position, value, replay_plateau)
                previous_position = position
            event = scheduler.get(epoch)
            if event is not None:
                value = self._write(SCHEDULER, epoch, value, f32(event.value), event.value, event.location)
            elif scheduler_fn is not None and scheduler_specs[0].active(epoch):
                new = f32(call_schedule(scheduler_fn, epoch, float(value)))
                value = self._write(SCHEDULER, epoch, value, new, None, None, origin="replayed")
            silent_scheduler_possible = bool(scheduler) or scheduler_fn is not None
            if not self._logged_after_end_writes(epoch, value, plateau.get(epoch), replay_plateau):
                value = self._reconcile(
                    epoch,
                    value,
                    epoch > first_epoch or silent_scheduler_possible,
                    printed_at_begin=scheduler.get(epoch) is not None,
                )
            self.per_epoch[epoch] = value
            event = plateau.get(epoch)
            if event is not None:
                value = self._write(PLATEAU, epoch, value, f32(event.value), event.value, event.location)
            elif replay_plateau is not None and plateau_specs[0].active(epoch):
                new = replay_plateau.on_epoch_end(epoch, value)
                if new is not None:
                    value = self._write(PLATEAU, epoch, value, new, None, None, origin="replayed")
            self.after_epoch[epoch] = value
        self._link()
        return self

    def _fit_begins(self, position: int, value: np.float32, replay_plateau) -> np.float32:
        """The variable when the fit at plan ``position`` begins (callbacks' state resets there)."""
        if replay_plateau is not None:
            replay_plateau.on_train_begin()
        if position in self.fit_start_lr:
            return self.fit_start_lr[position]  # a fresh optimizer given for this fit
        if position > 0 and self.layout.fit_starts[position] == 0:
            return self.start  # a fresh optimizer starts from its constructor lr
        return value

    def _write(self, callback, epoch, old, new, printed, location, origin="logged") -> np.float32:
        self.starts.append(epoch + 1 if callback == PLATEAU else epoch)
        self.changes.append(
            LrChange(
                callback=callback,
                epoch=epoch,
                old_lr=float(old),
                new_lr=float(new),
                printed=None if printed is None else float(printed),
                location=location,
                origin=origin,
            )
        )
        return new

    def _logged_after_end_writes(self, epoch: int, value: np.float32, printed_end, replay) -> bool:
        """Whether the exact per-epoch log is the variable AFTER this epoch's end writes.

        Each lr-writing callback copies the variable into ``logs['lr']`` in its own
        ``on_epoch_end``; when one runs after another's reduction, History/CSV show the reduced
        value - one no update of the epoch used (reference §4). Only the value held during the
        epoch is preferred; this is the other reading, possible when an epoch-end write happened
        and no known callback order rules it out.
        """
        logged = self.exact.get(epoch)
        if logged is None or logged[0] == value or not self._end_write_can_be_logged():
            return False
        if printed_end is not None:
            after = f32(printed_end.value)
        elif replay is not None:
            # a dry run: the replay keeps wait/cooldown state, so it must not advance here
            decision = copy.deepcopy(replay.machine).on_epoch_end(epoch, value, replay.history.get(epoch))
            if not decision.reduced:
                return False
            after = f32(decision.new_lr)
        else:
            return False
        if after != logged[0]:
            return False
        self.notes.append(
            f"{epoch_text(epoch)}: the logged lr {float(logged[0])!r} ({logged[1]}) is the variable after "
            "that epoch's reduction (an lr-writing callback's on_epoch_end ran after it); the epoch "
            f"ran at {float(value)!r}"
        )
        return True

    def _end_write_can_be_logged(self) -> bool:
        """False when the given callbacks put no lr writer after ReduceLROnPlateau (then the
        per-epoch log is always read before the reduction); True when the order is unknown."""
        writers = [cb.class_name for cb in self.callbacks if cb.class_name in (PLATEAU, SCHEDULER)]
        if PLATEAU not in writers or SCHEDULER not in writers:
            return True
        return len(writers) > writers.index(PLATEAU) + 1

    def _reconcile(
        self, epoch: int, value: np.float32, writer_possible: bool, printed_at_begin: bool = False
    ) -> np.float32:
        """The exact per-epoch log is what the variable held during the epoch: it fills writes
        nothing printed (verbose=0 callbacks). Before the first epoch's updates only a
        LearningRateScheduler can have written; without one, a disagreement there is left for
        the audit to report (the optimizer given does not describe the run). A value printed by
        the scheduler at this epoch's begin is a fact: the log never overrides it."""
        logged = self.exact.get(epoch)
        if logged is None or logged[0] == value:
            return value
        logged_value, where = logged
        if printed_at_begin:
            self.notes.append(
                f"{epoch_text(epoch)}: the log says the lr variable was {float(logged_value)!r} ({where}), "
                f"LearningRateScheduler printed {float(value)!r}; kept the printed value"
            )
            return value
        if not writer_possible:
            self.notes.append(
                f"{epoch_text(epoch)}: the log says the lr variable was {float(logged_value)!r} ({where}), "
                f"the optimizer says {float(value)!r}; kept the optimizer's value"
            )
            return value
        self.notes.append(
            f"{epoch_text(epoch)}: the lr variable was {float(logged_value)!r} ({where}), not the "
            f"reconstructed {float(value)!r}; a callback wrote it without a message"
        )
        writer = _unknown_writer(self.callbacks)
        replayed = self._replayed_reduction_before(epoch)
        if writer == PLATEAU and replayed is not None:
            # the replay reduced here too, to another value: the log shows what was really
            # written, so the replayed write is corrected (and its value judged by the rules)
            replayed.new_lr = float(logged_value)
            replayed.printed = float(logged_value)
            replayed.location = where
            replayed.origin = "logged"
            self.notes[-1] = (
                f"{epoch_text(epoch)}: the lr variable was {float(logged_value)!r} ({where}), not the "
                f"replayed {float(value)!r}; ReduceLROnPlateau reduced at the end of epoch "
                f"{epoch - 1} to the logged value"
            )
            return logged_value
        self.starts.append(epoch)
        self.changes.append(
            LrChange(
                callback=writer,
                # a ReduceLROnPlateau write is dated by the epoch at whose end it ran
                epoch=epoch - 1 if writer == PLATEAU and epoch > 0 else epoch,
                old_lr=float(value),
                new_lr=float(logged_value),
                location=where,
                origin="logged",
            )
        )
        return logged_value

    def _replayed_reduction_before(self, epoch: int) -> LrChange | None:
        """The replayed ReduceLROnPlateau write at the end of the previous epoch, if the last write."""
        if not self.changes:
            return None
        last = self.changes[-1]
        if last.callback == PLATEAU and last.origin == "replayed" and last.epoch == epoch - 1:
            return last
        return None

    def _link(self) -> None:
        """First step that used each write; a write replaced before any update is 'overwritten'."""
        for index, (change, start) in enumerate(zip(self.changes, self.starts, strict=True)):
            later = zip(self.changes[index + 1 :], self.starts[index + 1 :], strict=True)
            replacing = next((other for other, other_start in later if other_start <= start), None)
            if replacing is not None:
                change.overwritten_by = replacing.callback
                continue
            rows = self.layout.first_row[start:]
            used = rows[rows >= 0]
            change.effective_from_step = int(self.layout.step[used[0]]) if used.size else None

    def per_row(self, layout: Layout) -> np.ndarray:
        """The variable during each row's update (float32, one value per timeline row)."""
        return self.per_epoch[layout.epoch]


def _unknown_writer(callbacks: list[CallbackSpec]) -> str:
    names = [cb.class_name for cb in callbacks if cb.class_name in (PLATEAU, SCHEDULER)]
    return names[0] if len(names) == 1 else "unknown"


def _scheduler_function(spec: CallbackSpec):
    """The user's schedule function: a callable, or ``module:function`` / ``file.py:function``."""
    from lraudit.semantics.callbacks import load_schedule_function

    schedule = spec.kwargs.get("schedule")
    if schedule is None:
        schedule = next(iter(spec.kwargs.get("args", []) or []), None)
    if callable(schedule):
        return schedule
    if isinstance(schedule, str):
        return load_schedule_function(schedule)
    from lraudit.code import ScheduleFunction

    if isinstance(schedule, ScheduleFunction):
        if not schedule.evaluable:
            raise UsageError(
                f"LearningRateScheduler({schedule.name}) at {schedule.location} cannot be evaluated from the "
                f"code ({schedule.reason}); give it as --callback \"LearningRateScheduler('file.py:fn')\"",
                argument="callback",
            )
        from lraudit.code.evaluate import schedule_callable

        return schedule_callable(schedule)
    raise UsageError(
        f"{spec.class_name}: give the schedule function as module:function or file.py:function"
    )


class _PlateauReplay:
    """ReduceLROnPlateau's rule replayed on the monitored metric (used when nothing was printed),
    with the state machine of :mod:`lraudit.semantics.callbacks` for the run's Keras era."""

    def __init__(self, run: Run, spec: CallbackSpec, keras: str, notes: list[str]) -> None:
        from lraudit.semantics.callbacks import plateau_era, plateau_from_spec

        self.machine = plateau_from_spec(spec.kwargs, era=plateau_era(keras))
        self.monitor = self.machine.monitor
        self.history = _metric_by_epoch(run, self.monitor)
        if not self.history:
            notes.append(
                f"ReduceLROnPlateau replay: the monitored metric {self.monitor!r} is not in the logs, "
                "so the callback never acts"
            )

    def on_train_begin(self) -> None:
        self.machine.on_train_begin()

    def on_epoch_end(self, epoch: int, lr: np.float32) -> np.float32 | None:
        decision = self.machine.on_epoch_end(epoch, lr, self.history.get(epoch))
        return decision.new_lr if decision.reduced else None


def _metric_by_epoch(run: Run, name: str) -> dict[int, float]:
    """The monitored metric per global epoch, exact sources first, console last."""
    frame = run.scalars
    if frame is None or len(frame) == 0:
        return {}
    column = epoch_column(frame)
    found: dict[int, float] = {}
    # Keras' ``logs`` keys (not TensorBoard tags), the most precise source first
    ranked = kinds_ranked(lambda facts: facts.value_rank, lambda facts: facts.keras_keys)
    for source in ranked:
        rows = frame[(frame["source"] == source) & (frame["name"] == name)]
        for epoch, value in zip(rows[column], rows["value"], strict=True):
            if not is_missing(epoch) and not is_missing(value):
                found.setdefault(int(epoch), float(value))
    return found
