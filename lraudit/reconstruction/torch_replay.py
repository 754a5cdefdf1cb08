"""Replaying a PyTorch-ecosystem training loop: the lr every update applied, and what each log read.

A run's lr statements (:class:`~lraudit.torchfacts.LoopAction`: ``optimizer.step()``,
``scheduler.step(...)``, a read of the lr that is logged) are executed in program order over the
epochs and batches that ran, on the schedulers of :mod:`lraudit.semantics.torch` (float64, as
PyTorch computes them). Plain PyTorch loops bring their statements from the script; the Hugging
Face Trainer and Lightning loops are written as the same statements by
:mod:`lraudit.reconstruction.torch_programs`, so one replay serves all three.

The replay records, per update, the lr ``param_groups[0]["lr"]`` held when ``optimizer.step()``
ran, and per log statement the value it read and the step value it wrote with it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lraudit.torchfacts import PHASES, LoopAction

#: a fresh optimizer and its schedulers: ``(param_groups, schedulers by variable, outermost variable)``
Builder = Callable[[], tuple[Any, dict[str, Any], str]]


@dataclass(frozen=True)
class Update:
    """One ``optimizer.step()``: its 0-based index, epoch and batch, and the lr it applied (float64)."""

    step: int
    epoch: int
    batch: int
    lr: float
    #: every param group's lr (group 0's is ``lr``)
    group_lrs: tuple[float, ...] = ()


@dataclass(frozen=True)
class Read:
    """One execution of a log statement: the value it read and the step value it was written at."""

    action: LoopAction
    epoch: int
    axis_value: int | None
    value: float
    #: the update this log names by its step value (its own update, for a log inside a batch)
    names_update: int | None
    #: what the same read gives for every param group (Lightning's ``lr-SGD/pg2`` reads group 1)
    group_values: tuple[float, ...] = ()


@dataclass
class LoopProgram:
    """What to replay: the statements, how many epochs and batches, and the data they need."""

    build: Builder
    actions: list[LoopAction]
    first_epoch: int
    end_epoch: int
    batches_per_epoch: int
    #: per-epoch values of monitored metrics (``val_loss`` -> {epoch: value}) for ReduceLROnPlateau
    metrics: dict[str, dict[int, float]] = field(default_factory=dict)
    #: frameworks step the optimizer on an epoch's last batch even when its accumulation window
    #: is short (HF Trainer, Lightning); a hand-written ``if (i + 1) % k == 0`` does not
    flush_partial_window: bool = False
    #: epoch at which a second process resumed, and whether it loaded the scheduler's state
    resume_epoch: int | None = None
    resume_loads_scheduler: bool = True
    #: the Trainer's / Lightning's ``max_steps``: training ends after that many updates, inside an
    #: epoch if need be
    max_updates: int | None = None


@dataclass
class Replay:
    """The result: every update, every log read, and why the replay stopped early (if it did)."""

    updates: list[Update] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)
    stopped: str | None = None
    notes: list[str] = field(default_factory=list)
    #: ``scheduler.step()`` calls made, per scheduler variable
    scheduler_steps: dict[str, int] = field(default_factory=dict)
    #: the schedulers as the loop left them (their ``last_epoch``, ``T_max``, ... for the rules)
    schedulers: dict[str, Any] = field(default_factory=dict)


class ReplayStopped(Exception):
    """The replay cannot go on (a monitored metric is missing): what ran so far is kept."""


class _MaxStepsReached(Exception):
    """The update count reached ``max_steps``: the framework stops training."""


class _State:
    """The optimizer and schedulers while the loop runs, and the counters the statements see."""

    def __init__(self, program: LoopProgram) -> None:
        self.program = program
        self.groups, self.schedulers, self.outermost = program.build()
        self.updates_done = 0
        self.epoch = program.first_epoch
        self.batch = 0
        self.epoch_start_lrs: tuple[float, ...] = ()

    def scheduler(self, variable: str | None) -> Any:
        return self.schedulers.get(variable or self.outermost) or self.schedulers[self.outermost]

    def lr(self) -> float:
        return float(self.groups[0]["lr"])

    def lrs(self) -> tuple[float, ...]:
        return tuple(float(group["lr"]) for group in self.groups)

    def resume_without_scheduler_state(self) -> None:
        """A second process that loads the optimizer's state but builds fresh schedulers: the loaded
        param groups (lr, initial_lr) replace the fresh ones after the schedulers were built."""
        saved = [dict(group) for group in self.groups]
        self.groups, self.schedulers, self.outermost = self.program.build()
        for group, old in zip(self.groups, saved, strict=False):
            group.update(old)


def _runs_now(action: LoopAction, batch: int, batches: int, flush: bool) -> bool:
    if action.phase != "batch":
        return True
    if action.frequency and action.frequency > 1 and (batch + 1) % action.frequency:
        return False
    if not action.every or action.every <= 1:
        return True
    return (batch + 1) % action.every == 0 or (flush and batch == batches - 1)


def _step_scheduler(state: _State, action: LoopAction, replay: Replay) -> None:
    variable = action.scheduler if action.scheduler in state.schedulers else state.outermost
    replay.scheduler_steps[variable] = replay.scheduler_steps.get(variable, 0) + 1
    scheduler = state.scheduler(action.scheduler)
    argument = action.step_arg
    if argument is None:
        scheduler.step()
    elif argument == "epoch":
        scheduler.step(state.epoch)
    elif argument == "epoch_fraction":
        scheduler.step(state.epoch + state.batch / state.program.batches_per_epoch)
    elif argument.startswith("metric:"):
        name = argument.split(":", 1)[1]
        values = state.program.metrics.get(name, {})
        if state.epoch not in values:
            raise ReplayStopped(
                f"scheduler.step({name}) at the end of epoch {state.epoch + 1}: no logged {name} "
                "for that epoch, so what ReduceLROnPlateau did next is unknown"
            )
        scheduler.step(values[state.epoch])
    else:
        raise ReplayStopped(
            f"scheduler.step({argument.split(':', 1)[-1]}){_at(action)}: an explicit value lraudit does "
            "not follow, so the lr after it is not replayed"
        )


def _at(action: LoopAction) -> str:
    return f" at {action.location}" if action.location else ""


def _read(state: _State, action: LoopAction) -> tuple[float, ...]:
    """The value a log statement reads, for every param group (group 0 first)."""
    if action.read_phase == "epoch_start" and action.phase != "epoch_start":
        if state.epoch_start_lrs:
            return state.epoch_start_lrs
        return state.lrs()
    if action.read == "get_last_lr":
        return tuple(float(v) for v in state.scheduler(action.scheduler).get_last_lr())
    if action.read == "get_lr":
        return tuple(float(v) for v in state.scheduler(action.scheduler).get_lr())
    return state.lrs()


def _axis(state: _State, action: LoopAction, stepped_this_batch: bool) -> tuple[int | None, int | None]:
    """The step value written with a log, and the update that value names."""
    if action.axis == "epoch":
        return state.epoch, None
    if action.axis == "update_count":
        done = state.updates_done
        return done, done - 1 if done else None
    if action.axis == "global_step":
        # a script's counter, incremented at the end of the iteration: the current update's index
        index = state.updates_done - 1 if stepped_this_batch else state.updates_done
        return index, index
    return None, None


def _execute(state: _State, action: LoopAction, replay: Replay, stepped: list[bool]) -> None:
    if action.action == "optimizer_step":
        replay.updates.append(
            Update(state.updates_done, state.epoch, state.batch, state.lr(), state.lrs())
        )
        state.updates_done += 1
        stepped[0] = True
    elif action.action == "scheduler_step":
        _step_scheduler(state, action, replay)
    elif action.action == "log_lr":
        values = _read(state, action)
        axis_value, names_update = _axis(state, action, stepped[0] and action.phase == "batch")
        replay.reads.append(Read(action, state.epoch, axis_value, values[0], names_update, values))


def _phase(state: _State, actions: list[LoopAction], replay: Replay) -> None:
    stepped = [False]
    for action in actions:
        # Lightning's frequency on an epoch-interval scheduler: after every k-th epoch
        if action.frequency and action.frequency > 1 and (state.epoch + 1) % action.frequency:
            continue
        _execute(state, action, replay, stepped)


def replay_loop(program: LoopProgram) -> Replay:
    """Run ``program``'s statements over its epochs and batches; never raises on a missing metric
    (the replay stops there and says why in :attr:`Replay.stopped`)."""
    replay = Replay()
    state = _State(program)
    by_phase = {phase: [a for a in program.actions if a.phase == phase] for phase in PHASES}
    batches = program.batches_per_epoch
    try:
        for epoch in range(program.first_epoch, program.end_epoch):
            state.epoch = epoch
            if epoch == program.resume_epoch and not program.resume_loads_scheduler:
                state.resume_without_scheduler_state()
            state.batch = 0
            _phase(state, by_phase["epoch_start"], replay)
            state.epoch_start_lrs = state.lrs()
            for batch in range(batches):
                state.batch = batch
                stepped = [False]
                for action in by_phase["batch"]:
                    if _runs_now(action, batch, batches, program.flush_partial_window):
                        _execute(state, action, replay, stepped)
                if program.max_updates is not None and state.updates_done >= program.max_updates:
                    raise _MaxStepsReached
            state.batch = batches - 1
            _phase(state, by_phase["epoch_end"], replay)
    except _MaxStepsReached:
        pass  # the framework ends training there, as the run did
    except ReplayStopped as stop:
        replay.stopped = str(stop)
    replay.schedulers = dict(state.schedulers)
    return replay
