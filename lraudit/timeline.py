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
NaN/inf/negative). ``ulps`` (Int64) is 0 when the value equals the step's lr bit for bit; a
schedule read after an epoch (``next_step``/``after_callback``) may instead be within
:data:`SCHEDULE_READ_ULPS` float32 ulps of it: logs evaluate the schedule eagerly, op by op,
while the train step ran it compiled (reference §1.8), and ``ulps`` says how far; ``<NA>`` for
values compared within print precision (console) or not related to a step.

How a timeline is built (:func:`build_timeline`), reference §1, §4, §5, §7:

1. the optimizer: ``--optimizer`` overrides, else the config found in the run; a config saved
   after training holds the *final* lr variable, so the initial one is recovered from the logs;
2. the step layout: per ``fit()``, epochs x steps per epoch micro-batches; the raw iteration
   counter continues across fits unless a saved counter shows a fresh optimizer; with Keras 3
   gradient accumulation only every k-th micro-batch is an update (raw counter ``k*n - 1``);
3. the lr variable per epoch: the start value, then every callback write in the order Keras
   runs them (LearningRateScheduler at epoch begin, ReduceLROnPlateau at epoch end), read from
   the console messages, filled from the exact per-epoch logs, or replayed from ``--callback``;
4. the applied lr per step: :func:`lraudit.semantics.optimizers.effective_lr` (float32, the
   executor's own arithmetic);
5. every logged lr value joined to the step it describes, and classified.
"""
from __future__ import annotations

import dataclasses
import re
import sys
import types
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from lraudit.errors import InputError, UsageError

if TYPE_CHECKING:
    import pandas as pd

    from lraudit.options import RunOptions
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
    "ulps",
)

#: how far (float32 ulps) an eagerly evaluated schedule read may be from the compiled step's
#: value and still be that value: eager and compiled arithmetic differ by 1-16 ulp (reference §1.8)
SCHEDULE_READ_ULPS = 16

#: relations of :attr:`Timeline.logged`, from the most to the least explained
RELATIONS = ("effective", "base", "next_step", "after_callback", "shifted", "mismatch", "invalid")


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


PLATEAU = "ReduceLROnPlateau"
SCHEDULER = "LearningRateScheduler"

#: per-epoch lr keys Keras puts in ``logs`` (2.x: ``lr``; Keras 3: ``learning_rate``)
_EPOCH_LR_KEYS = ("lr", "learning_rate")
#: sources whose per-epoch lr text is exact (float32 shortest repr or widened double)
_EXACT_EPOCH_SOURCES = ("history", "csvlogger")
#: lower rank = preferred as the frame's logged value of a step
_SOURCE_RANK = {"history": 0, "csvlogger": 1, "tfevents": 2, "callback": 3, "console": 4}
_RELATION_RANK = {name: rank for rank, name in enumerate(RELATIONS)}


# --------------------------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------------------------


def build_timeline(run: Run, options: RunOptions | None = None) -> Timeline:
    """Reconstruct the lr applied at every optimizer update of ``run`` and join what was logged.

    ``options`` carries the user's overrides (``--optimizer``, ``--callback``, ``--keras``,
    ``--steps-per-epoch``, ``--backend``). Raises :class:`~lraudit.errors.InputError` when the
    run holds no optimizer and none was given, or when the steps per epoch are unknown.
    """
    from lraudit.options import RunOptions

    options = options or RunOptions()
    notes: list[str] = []
    callbacks = _parse_callbacks(options)
    spec, spec_origin = _choose_optimizer(run, options, notes)
    keras = _keras_generation(run, options, spec)
    spec = _complete_spec(spec, keras, run, options, notes)
    schedule_driven = not isinstance(spec.learning_rate, (int, float))

    fits = _fit_plan(run, options)
    if not fits:
        raise InputError(f"{run.path}: the logs show no training epoch, so there is no step to rebuild")
    accumulation = int(spec.gradient_accumulation_steps or 1)
    resets = _choose_counter_resets(run, fits, accumulation, notes)
    layout = _layout(fits, accumulation, resets)

    exact_epoch_lr = _exact_epoch_lr(run) if not schedule_driven else {}
    variable = None
    changes: list[LrChange] = []
    if not schedule_driven:
        start = _initial_variable(run, spec, spec_origin, exact_epoch_lr, callbacks, notes)
        variable = _VariableWalk(run, layout, start, exact_epoch_lr, callbacks, keras, notes).run()
        changes = variable.changes

    per_row = variable.per_row(layout) if variable else None
    backend_assumed = keras == "3" and spec.backend is None
    if backend_assumed:
        _note_assumed_backend(spec, layout.step, per_row, notes)
    lr_base, lr_effective = _effective(spec, layout.step, per_row)
    frame = _frame(layout, lr_base, lr_effective, variable)
    next_values = _after_epoch_values(spec, layout, variable)
    logged = _join_logged(run, layout, frame, next_values, changes, keras, schedule_driven)
    _fill_frame_logged(frame, logged)
    return Timeline(
        run=run,
        frame=frame,
        logged=logged,
        optimizer=spec,
        callbacks=callbacks,
        changes=changes,
        keras=keras,
        notes=notes,
        extra={
            "counter_resets": [fits[i].index for i in resets],
            "fit_counter_starts": layout.fit_starts,
            "steps_per_epoch": [f.steps_per_epoch for f in fits],
            "gradient_accumulation_steps": accumulation,
            "optimizer_origin": spec_origin,
            "backend_assumed": backend_assumed,
        },
    )


# --------------------------------------------------------------------------------------------
# optimizer, Keras generation, callbacks
# --------------------------------------------------------------------------------------------


def _parse_callbacks(options: RunOptions) -> list[CallbackSpec]:
    if not options.callbacks:
        return []
    from lraudit.semantics.expressions import parse_callback_expr

    return [parse_callback_expr(text) for text in options.callbacks]


def _choose_optimizer(run: Run, options: RunOptions, notes: list[str]) -> tuple[OptimizerSpec, str]:
    """The spec and where it came from: ``option`` | ``option-file`` | ``initial`` | ``final``."""
    from lraudit.semantics.optimizers import optimizer_spec_from_config

    keras_hint = options.keras if options.keras in ("2", "3") else run.keras
    if options.optimizer:
        from lraudit.semantics.expressions import load_optimizer_arg

        kind, value = load_optimizer_arg(options.optimizer)
        if kind == "expr":
            notes.append(f"optimizer from --optimizer: {options.optimizer.strip()}")
            return dataclasses.replace(value, source=value.source or "--optimizer"), "option"
        config, initial = _optimizer_from_file(value)
        if initial is not None:
            notes.append(f"optimizer from --optimizer {value} (config taken before training)")
            return optimizer_spec_from_config(initial, keras=keras_hint, source=str(value)), "initial"
        if config is None:
            raise UsageError(f"--optimizer {value}: no optimizer config found in that file")
        notes.append(f"optimizer from --optimizer {value}")
        spec = optimizer_spec_from_config(config, keras=keras_hint, source=str(value))
        return dataclasses.replace(spec, lr_is_final=True), "final"
    if run.optimizer_initial is not None:
        source = run.optimizer_source or run.path
        notes.append("optimizer from the config taken before training")
        return optimizer_spec_from_config(run.optimizer_initial, keras=keras_hint, source=source), "initial"
    if run.optimizer is not None:
        source = run.optimizer_source or run.path
        spec = optimizer_spec_from_config(run.optimizer, keras=keras_hint, source=source)
        # a config found beside the logs was (almost always) saved after training
        return dataclasses.replace(spec, lr_is_final=True), "final"
    raise InputError(
        f"{run.path}: no optimizer config found in the logs; give it with --optimizer "
        '(e.g. --optimizer "Adam(lr=1e-3, decay=1e-2)")'
    )


def _optimizer_from_file(path) -> tuple[dict | None, dict | None]:
    """(latest config, initial config) of a JSON config or saved model given as ``--optimizer``."""
    from lraudit.api import load_run

    other = load_run(path)
    return other.optimizer, other.optimizer_initial


def _keras_generation(run: Run, options: RunOptions, spec: OptimizerSpec) -> str:
    if options.keras in ("2", "3"):
        return options.keras
    if run.keras in ("2", "3"):
        return run.keras
    if spec.generation:
        return "3" if spec.generation == "k3" else "2"
    if spec.gradient_accumulation_steps:
        return "3"
    return "2"


def _complete_spec(
    spec: OptimizerSpec, keras: str, run: Run, options: RunOptions, notes: list[str]
) -> OptimizerSpec:
    """Fill what the spec's origin could not tell: generation (from --keras/logs) and backend.

    The Keras 3 backend decides the arithmetic of the applied lr (reference §1.8); the evidence
    that chose it is noted: ``--backend``, a file naming it, the optimizer's backend-specific
    module (torch), or the resolved ``jit_compile`` of the compile settings (TensorBoard's model
    summary, a ``.keras`` model). Without any, TensorFlow is assumed (see
    :func:`_note_assumed_backend`).
    """
    changes: dict[str, Any] = {}
    if spec.generation is None or (keras == "3") != (spec.generation == "k3"):
        # the legacy OptimizerV2 is what Keras 2 code with a float lr (and `decay`) runs
        changes["generation"] = "k3" if keras == "3" else "k2-legacy"
    backend = getattr(options, "backend", "auto") or "auto"
    evidence = None
    if backend != "auto":
        changes["backend"] = backend
        evidence = f"given with --backend {backend}"
    elif spec.backend is not None:
        evidence = f"the optimizer's class is backend-specific ({spec.source or 'the optimizer'})"
    elif run.backend:
        changes["backend"] = run.backend
        evidence = "the logs name it"
    elif keras == "3" and run.compile_config.get("jit_compile") is True:
        # Keras 3 resolves jit_compile="auto" to True only where XLA compiles the train step
        # (JAX; TensorFlow only with a GPU or when asked): XLA's arithmetic is what ran.
        changes["backend"] = "jax"
        evidence = (
            "the compile settings (TensorBoard's model summary or a saved model) say "
            "jit_compile=True: XLA compiled the train step, Keras 3's default on JAX"
        )
    elif (
        keras == "3"
        and run.compile_config.get("jit_compile") is False
        and run.compile_config.get("run_eagerly") is not True
    ):
        # TensorFlow's default resolves to False and runs a tf.function graph; torch is told by
        # the optimizer's module, JAX only gives False when the user asked for it
        changes["backend"] = "tensorflow"
        evidence = (
            "the compile settings (TensorBoard's model summary or a saved model) say "
            "jit_compile=False, run_eagerly=False: a graph without XLA, Keras 3's default on "
            "TensorFlow (a JAX run compiled with jit_compile=False needs --backend jax)"
        )
    completed = dataclasses.replace(spec, **changes) if changes else spec
    if keras == "3" and evidence is not None and completed.backend:
        from lraudit.semantics.optimizers import default_executor

        notes.append(
            f"Keras 3 backend {completed.backend} ({default_executor(completed)} arithmetic): {evidence}"
        )
    return completed


def _note_assumed_backend(spec: OptimizerSpec, counter, variable, notes: list[str]) -> None:
    """Keras 3 logs rarely say whether TensorFlow or JAX ran the step; say when it matters."""
    from lraudit.semantics.optimizers import executors_agree

    if not executors_agree(spec, counter, variable):
        notes.append(
            "the logs do not tell the Keras 3 backend and the applied lr depends on it "
            "(compiled TensorFlow, XLA and eager arithmetic differ here): assumed TensorFlow; "
            "pass --backend jax|torch|tensorflow"
        )


# --------------------------------------------------------------------------------------------
# fits, steps per epoch, counter, layout
# --------------------------------------------------------------------------------------------


@dataclass
class _FitPlan:
    index: int
    first_epoch: int
    end_epoch: int
    steps_per_epoch: int

    @property
    def micro_steps(self) -> int:
        return (self.end_epoch - self.first_epoch) * self.steps_per_epoch


def _fit_plan(run: Run, options: RunOptions) -> list[_FitPlan]:
    """Each fit's global epochs and steps per epoch (``--steps-per-epoch`` wins)."""
    fits = sorted(run.fits, key=lambda f: (f.first_epoch, f.index))
    if not fits:
        from lraudit.run import Fit

        epochs = run.epochs or _epochs_from_scalars(run)
        fits = [Fit(index=0, first_epoch=0, end_epoch=epochs)]
    plans = []
    for fit in fits:
        spe = options.steps_per_epoch or fit.steps_per_epoch or run.steps_per_epoch
        if spe is None:
            spe = _steps_per_epoch_from_batch_scalars(run, fit)
        if spe is None:
            raise InputError(
                f"{run.path}: the logs do not show the steps per epoch (no progress bar, no batch "
                "scalars); give it with --steps-per-epoch"
            )
        if fit.end_epoch > fit.first_epoch:
            plans.append(_FitPlan(fit.index, fit.first_epoch, fit.end_epoch, int(spe)))
    return plans


def _epochs_from_scalars(run: Run) -> int:
    frame = run.scalars
    if frame is None or len(frame) == 0:
        return 0
    column = "global_epoch" if "global_epoch" in frame.columns else "epoch"
    epochs = frame[column].dropna()
    return int(epochs.max()) + 1 if len(epochs) else 0


def _steps_per_epoch_from_batch_scalars(run: Run, fit) -> int | None:
    """Batch-level TensorBoard steps count train batches within one fit (1-based)."""
    frame = run.scalars
    if frame is None or len(frame) == 0:
        return None
    batch = frame[(frame["source"] == "tfevents") & frame["name"].str.contains("batch_", regex=False)]
    if "fit" in batch.columns and batch["fit"].notna().any():
        batch = batch[batch["fit"] == fit.index]
    steps = batch["step"].dropna()
    epochs = fit.end_epoch - fit.first_epoch
    if len(steps) == 0 or epochs <= 0:
        return None
    last = int(steps.max())
    return last // epochs if last % epochs == 0 else None


def _fit_ends(fits: list[_FitPlan], resets: set[int], start: int = 0) -> list[int]:
    """The raw counter after each fit, when the counter restarts at the fits in ``resets``."""
    ends, counter = [], start
    for i, fit in enumerate(fits):
        if i in resets:
            counter = 0
        counter += fit.micro_steps
        ends.append(counter)
    return ends


def _choose_counter_resets(run: Run, fits: list[_FitPlan], accumulation: int, notes: list[str]) -> set[int]:
    """Fits (positions) where a fresh optimizer restarted the counter, judged from saved counters.

    The counter continues across ``fit()`` calls and reloads of a saved model (reference §8.3,
    §8.4); only a new optimizer restarts it. A saved model's counter tells which: it must equal
    the counter at the end of some fit (``stage`` "after fit k" pins which one).
    """
    counters = list(run.saved_counters or [])
    if len(fits) < 2 or not counters:
        return set()
    hypotheses = _reset_hypotheses(len(fits))
    # a saved model of unknown stage is most likely the one saved when the script ended: the
    # largest such counter is taken as the final one first, then as any fit's end
    unpinned = [c for c in counters if _fit_number_from_stage(c.stage) is None]
    final = max(unpinned, key=lambda c: c.iterations) if unpinned else None
    for strict in (True, False):
        for resets in hypotheses:  # fewest resets first: continuing is the default
            ends = _fit_ends(fits, resets)
            if strict and final is not None and final.iterations != ends[-1]:
                continue
            if all(_counter_consistent(c, ends) for c in counters):
                _note_counter_layout(fits, resets, counters, notes)
                return set(resets)
    notes.append(
        "no counter layout explains the saved counter(s) "
        + ", ".join(f"{c.iterations} ({c.path})" for c in counters)
        + "; assumed the counter continues across fits"
    )
    return set()


def _note_counter_layout(fits: list[_FitPlan], resets: set[int], counters, notes: list[str]) -> None:
    saved = ", ".join(f"{c.iterations} ({c.path})" for c in counters)
    if resets:
        restarted = ", ".join(str(fits[i].index + 1) for i in sorted(resets))
        notes.append(
            f"the optimizer's iteration counter restarted at 0 at fit {restarted}: saved counter(s) "
            f"{saved} match that, not a continuing counter (fit ends {_fit_ends(fits, set())})"
        )
    else:
        notes.append(f"the iteration counter continues across fits: saved counter(s) {saved}")


def _reset_hypotheses(n_fits: int) -> list[set[int]]:
    if n_fits > 12:  # 2**11 layouts is plenty; beyond that only single resets are tried
        return [set()] + [{i} for i in range(1, n_fits)]
    from itertools import combinations

    hypotheses: list[set[int]] = []
    for size in range(n_fits):
        hypotheses.extend(set(c) for c in combinations(range(1, n_fits), size))
    return hypotheses


def _counter_consistent(counter, ends: list[int]) -> bool:
    fit_number = _fit_number_from_stage(counter.stage)
    if fit_number is not None and 1 <= fit_number <= len(ends):
        return counter.iterations == ends[fit_number - 1]
    return counter.iterations in ends


def _fit_number_from_stage(stage: str | None) -> int | None:
    if not stage:
        return None
    match = re.search(r"fit\D*(\d+)", stage)
    return int(match.group(1)) if match else None


@dataclass
class _Layout:
    """Row arrays of the timeline plus per-epoch indexes into them."""

    step: np.ndarray  # raw counter used by the update (int64)
    epoch: np.ndarray
    batch: np.ndarray
    fit: np.ndarray  # 0-based fit index (Run.fits numbering)
    fit_position: np.ndarray  # position in the fit plan
    n_epochs: int  # global epochs 0..n_epochs-1 (some may have no row)
    first_row: np.ndarray  # per global epoch: first row index, -1 when no row
    last_row: np.ndarray  # per global epoch: last row index, -1 when no row
    next_counter: np.ndarray  # per global epoch: the counter the next update would use
    fit_starts: list[int]
    accumulation: int
    epoch_fit_position: np.ndarray  # per global epoch: fit plan position, -1 if none

    @property
    def rows(self) -> int:
        return int(self.step.shape[0])


def _layout(fits: list[_FitPlan], accumulation: int, resets: set[int]) -> _Layout:
    steps, epochs, batches, fit_ids, positions, starts = [], [], [], [], [], []
    counter = 0
    n_epochs = max(f.end_epoch for f in fits)
    next_counter = np.full(n_epochs, -1, dtype=np.int64)
    epoch_fit_position = np.full(n_epochs, -1, dtype=np.int64)
    for position, fit in enumerate(fits):
        if position in resets:
            counter = 0
        starts.append(counter)
        local = np.arange(fit.micro_steps, dtype=np.int64)
        raw = counter + local
        # Keras 3 gradient accumulation: an update on every k-th micro-step of the raw counter
        keep = ((raw + 1) % accumulation == 0) if accumulation > 1 else slice(None)
        steps.append(raw[keep])
        epochs.append((fit.first_epoch + local // fit.steps_per_epoch)[keep])
        batches.append((local % fit.steps_per_epoch)[keep])
        count = steps[-1].shape[0]
        fit_ids.append(np.full(count, fit.index, dtype=np.int64))
        positions.append(np.full(count, position, dtype=np.int64))
        epoch_ends = counter + np.arange(1, fit.end_epoch - fit.first_epoch + 1) * fit.steps_per_epoch
        # the counter the next real update uses: with accumulation the next multiple of k, minus 1
        next_counter[fit.first_epoch : fit.end_epoch] = _next_update_counter(epoch_ends, accumulation)
        epoch_fit_position[fit.first_epoch : fit.end_epoch] = position
        counter += fit.micro_steps
    step = np.concatenate(steps)
    epoch = np.concatenate(epochs)
    first_row = np.full(n_epochs, -1, dtype=np.int64)
    last_row = np.full(n_epochs, -1, dtype=np.int64)
    if step.shape[0]:
        boundaries = np.flatnonzero(np.diff(epoch)) + 1
        firsts = np.concatenate(([0], boundaries))
        lasts = np.concatenate((boundaries - 1, [step.shape[0] - 1]))
        first_row[epoch[firsts]] = firsts
        last_row[epoch[lasts]] = lasts
    return _Layout(
        step=step,
        epoch=epoch,
        batch=np.concatenate(batches),
        fit=np.concatenate(fit_ids),
        fit_position=np.concatenate(positions),
        n_epochs=n_epochs,
        first_row=first_row,
        last_row=last_row,
        next_counter=next_counter,
        fit_starts=starts,
        accumulation=accumulation,
        epoch_fit_position=epoch_fit_position,
    )


def _next_update_counter(micro_counter: np.ndarray, accumulation: int) -> np.ndarray:
    if accumulation <= 1:
        return micro_counter
    return micro_counter + (accumulation - 1 - micro_counter % accumulation)


# --------------------------------------------------------------------------------------------
# the lr variable
# --------------------------------------------------------------------------------------------


def _f32(value: float) -> np.float32:
    return np.float32(value)


def _exact_epoch_lr(run: Run) -> dict[int, tuple[np.float32, str]]:
    """Per global epoch: the lr logged at its end by History/CSVLogger (exact float32)."""
    frame = run.scalars
    if frame is None or len(frame) == 0:
        return {}
    mask = frame["source"].isin(_EXACT_EPOCH_SOURCES) & frame["name"].isin(_EPOCH_LR_KEYS)
    column = "global_epoch" if "global_epoch" in frame.columns else "epoch"
    values: dict[int, tuple[np.float32, str]] = {}
    for row in frame[mask].itertuples(index=False):
        epoch = getattr(row, column)
        value = row.value
        if _missing(epoch) or _missing(value):
            continue
        values.setdefault(int(epoch), (_f32(value), _location(row)))
    return values


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _location(row) -> str:
    file = getattr(row, "file", None) or ""
    line = getattr(row, "line", None)
    if not _missing(line):
        return f"{file}:{int(line)}"
    return f"{file}:{row.name}"


def _events(run: Run, kind: str) -> dict[int, Any]:
    """The last event of ``kind`` per global epoch (a repeated message is the same write)."""
    found: dict[int, Any] = {}
    for event in run.events or []:
        if event.kind == kind and event.epoch is not None and event.value is not None:
            found[int(event.epoch)] = event
    return found


def _initial_variable(
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
    configured = _f32(float(spec.learning_rate))
    if origin in ("option", "initial"):
        return configured
    first_epoch = min((f.first_epoch for f in run.fits), default=0)
    if first_epoch in exact_epoch_lr and not _events(run, "scheduler_set").get(first_epoch):
        value, where = exact_epoch_lr[first_epoch]
        if value != configured:
            notes.append(
                f"the optimizer config holds the final lr {float(configured)!r}; the initial lr "
                f"{float(value)!r} was read from {where}"
            )
        return value
    plateau = _events(run, "plateau_reduction")
    scheduler = _events(run, "scheduler_set")
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


def _tensorboard_epoch_lr(run: Run, epoch: int) -> tuple[np.float32, str] | None:
    frame = run.scalars
    if frame is None or len(frame) == 0:
        return None
    names = frame["name"].astype("string")
    leaves = ("epoch_lr", "epoch_learning_rate", "lr")
    # decided once per distinct name, not per row (a per-batch run has millions of rows)
    wanted = [name for name in names.dropna().unique() if str(name).rsplit("/", 1)[-1] in leaves]
    mask = (frame["source"] == "tfevents") & names.isin(wanted)
    column = "global_epoch" if "global_epoch" in frame.columns else "epoch"
    hits = frame[mask & (frame[column] == epoch)]
    for row in hits.itertuples(index=False):
        if not _missing(row.value):
            return _f32(row.value), _location(row)
    return None


def _console_epoch_lr(run: Run, epoch: int) -> tuple[np.float32, str] | None:
    frame = run.scalars
    if frame is None or len(frame) == 0:
        return None
    column = "global_epoch" if "global_epoch" in frame.columns else "epoch"
    mask = (frame["source"] == "console") & frame["name"].isin(_EPOCH_LR_KEYS) & (frame[column] == epoch)
    for row in frame[mask].itertuples(index=False):
        if not _missing(row.value):
            return _f32(row.value), _location(row)
    return None


def _undo_reduction(event, callbacks: list[CallbackSpec]) -> np.float32 | None:
    """The float32 x with f32(double(x) * factor) == the printed value, nicest decimal first."""
    factor = next(
        (float(cb.kwargs.get("factor", 0.1)) for cb in callbacks if cb.class_name == PLATEAU), None
    )
    if factor is None:
        return None
    target = _f32(event.value)
    guess = np.float32(float(target) / factor)
    candidates = [guess]
    up, down = guess, guess
    for _ in range(4):
        up = np.nextafter(up, np.float32(np.inf))
        down = np.nextafter(down, np.float32(0))
        candidates.extend((up, down))
    matching = [c for c in candidates if _f32(float(c) * factor) == target]
    if not matching:
        return None
    return min(matching, key=lambda c: len(repr(float(c))))


class _VariableWalk:
    """The lr variable of every global epoch, walking the callback writes in Keras' order."""

    def __init__(
        self,
        run: Run,
        layout: _Layout,
        start: np.float32,
        exact_epoch_lr: dict[int, tuple[np.float32, str]],
        callbacks: list[CallbackSpec],
        keras: str,
        notes: list[str],
    ) -> None:
        self.keras = keras
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

    def run(self) -> _VariableWalk:
        from lraudit.semantics.callbacks import call_schedule

        plateau = _events(self.source_run, "plateau_reduction")
        scheduler = _events(self.source_run, "scheduler_set")
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
                if replay_plateau is not None:
                    replay_plateau.on_train_begin()
                if position > 0 and self.layout.fit_starts[position] == 0:
                    value = self.start  # a fresh optimizer starts from its constructor lr
                previous_position = position
            event = scheduler.get(epoch)
            if event is not None:
                value = self._write(SCHEDULER, epoch, value, _f32(event.value), event.value, event.location)
            elif scheduler_fn is not None:
                new = _f32(call_schedule(scheduler_fn, epoch, float(value)))
                value = self._write(SCHEDULER, epoch, value, new, None, None, origin="replayed")
            silent_scheduler_possible = bool(scheduler) or scheduler_fn is not None
            value = self._reconcile(epoch, value, epoch > first_epoch or silent_scheduler_possible)
            self.per_epoch[epoch] = value
            event = plateau.get(epoch)
            if event is not None:
                value = self._write(PLATEAU, epoch, value, _f32(event.value), event.value, event.location)
            elif replay_plateau is not None:
                new = replay_plateau.on_epoch_end(epoch, value)
                if new is not None:
                    value = self._write(PLATEAU, epoch, value, new, None, None, origin="replayed")
            self.after_epoch[epoch] = value
        self._link()
        return self

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

    def _reconcile(self, epoch: int, value: np.float32, writer_possible: bool) -> np.float32:
        """The exact per-epoch log is what the variable held during the epoch: it fills writes
        nothing printed (verbose=0 callbacks). Before the first epoch's updates only a
        LearningRateScheduler can have written; without one, a disagreement there is left for
        the audit to report (the optimizer given does not describe the run)."""
        logged = self.exact.get(epoch)
        if logged is None or logged[0] == value:
            return value
        logged_value, where = logged
        if not writer_possible:
            self.notes.append(
                f"epoch {epoch}: the log says the lr variable was {float(logged_value)!r} ({where}), "
                f"the optimizer says {float(value)!r}; kept the optimizer's value"
            )
            return value
        self.notes.append(
            f"epoch {epoch}: the lr variable was {float(logged_value)!r} ({where}), not the "
            f"reconstructed {float(value)!r}; a callback wrote it without a message"
        )
        self.starts.append(epoch)
        self.changes.append(
            LrChange(
                callback=_unknown_writer(self.callbacks),
                epoch=epoch,
                old_lr=float(value),
                new_lr=float(logged_value),
                location=where,
                origin="logged",
            )
        )
        return logged_value

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

    def per_row(self, layout: _Layout) -> np.ndarray:
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
    column = "global_epoch" if "global_epoch" in frame.columns else "epoch"
    found: dict[int, float] = {}
    ranked = sorted(("history", "csvlogger", "console"), key=lambda s: _SOURCE_RANK[s])
    for source in ranked:
        rows = frame[(frame["source"] == source) & (frame["name"] == name)]
        for epoch, value in zip(rows[column], rows["value"], strict=True):
            if not _missing(epoch) and not _missing(value):
                found.setdefault(int(epoch), float(value))
    return found


# --------------------------------------------------------------------------------------------
# effective lr and the frame
# --------------------------------------------------------------------------------------------


def _effective(spec: OptimizerSpec, counter: np.ndarray, variable: np.ndarray | None):
    from lraudit.semantics.optimizers import default_executor, effective_lr

    base, effective = effective_lr(
        spec, counter.astype(np.int64, copy=False), variable, executor=default_executor(spec)
    )
    return np.asarray(base, dtype=np.float32), np.asarray(effective, dtype=np.float32)


def _frame(layout: _Layout, lr_base, lr_effective, variable) -> pd.DataFrame:
    import pandas as pd

    rows = layout.rows
    lr_variable = (
        variable.per_row(layout).astype(np.float32)
        if variable is not None
        else np.full(rows, np.nan, dtype=np.float32)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        decay_factor = np.where(lr_base != 0, lr_effective / lr_base, np.float32(1.0)).astype(np.float32)
    return pd.DataFrame(
        {
            "step": layout.step,
            "epoch": layout.epoch,
            "batch": layout.batch,
            "lr_base": lr_base,
            "lr_effective": lr_effective,
            "logged_lr": np.full(rows, np.nan),
            "logged_source": pd.array([pd.NA] * rows, dtype="string"),
            "fit": layout.fit,
            "lr_variable": lr_variable,
            "decay_factor": decay_factor,
        },
        columns=list(TIMELINE_COLUMNS),
    )


@dataclass
class _AfterEpoch:
    """Per global epoch: base and effective lr the update after the epoch would use."""

    base: np.ndarray
    effective: np.ndarray
    changed_at_end: np.ndarray  # bool: a callback wrote the variable at this epoch end
    #: the schedule evaluated eagerly (what a callback reading the lr logs); None for a variable
    eager_base: np.ndarray | None = None


def _after_epoch_values(spec: OptimizerSpec, layout: _Layout, variable: _VariableWalk | None) -> _AfterEpoch:
    n = layout.n_epochs
    counters = np.where(layout.next_counter >= 0, layout.next_counter, 0)
    after = variable.after_epoch if variable is not None else None
    base, effective = _effective(spec, counters, after)
    changed = (
        variable.after_epoch != variable.per_epoch if variable is not None else np.zeros(n, dtype=bool)
    )
    eager = None
    if variable is None:
        # TensorBoard and Keras 3 logs call the schedule outside the compiled step
        from lraudit.semantics.optimizers import effective_lr

        eager = np.asarray(effective_lr(spec, counters, None, executor="eager")[0], dtype=np.float32)
    return _AfterEpoch(base=base, effective=effective, changed_at_end=changed, eager_base=eager)


# --------------------------------------------------------------------------------------------
# logged values
# --------------------------------------------------------------------------------------------

_LR_TAG = re.compile(r"^(?:epoch_|batch_)?(?:lr|learning_rate)(?:_\S+)?$")


def _is_lr_name(name: str) -> bool:
    leaf = name.rsplit("/", 1)[-1]
    return bool(_LR_TAG.match(leaf)) and not leaf.startswith("val_")


def _join_logged(
    run: Run,
    layout: _Layout,
    frame: pd.DataFrame,
    after: _AfterEpoch,
    changes: list[LrChange],
    keras: str,
    schedule_driven: bool,
) -> pd.DataFrame:
    import pandas as pd

    base = frame["lr_base"].to_numpy()
    effective = frame["lr_effective"].to_numpy()
    records: list[dict[str, Any]] = []
    scalars = run.scalars
    if scalars is not None and len(scalars):
        column = "global_epoch" if "global_epoch" in scalars.columns else "epoch"
        names = scalars["name"].astype("string").fillna("")
        # decided once per distinct name, not per row (a per-batch run has millions of rows)
        mask = names.isin([name for name in names.unique() if _is_lr_name(str(name))])
        for row in scalars[mask.to_numpy()].itertuples(index=False):
            if _missing(row.value):
                continue
            leaf = str(row.name).rsplit("/", 1)[-1]
            source = str(row.source)
            approx = _print_precision(row.text) if source == "console" else None
            if leaf.startswith("batch_"):
                target = _batch_row(layout, row)
                record = _classify_at_row(target, row.value, approx, layout, base, effective)
            else:
                epoch = getattr(row, column)
                if _missing(epoch):
                    continue
                record = _classify_epoch(int(epoch), row.value, approx, layout, base, effective, after)
            record.update(source=source, name=str(row.name), location=_location(row), value=float(row.value))
            if approx is None:
                _exact_ulps(record)
            records.append(record)
    for change in changes:
        if change.printed is None:
            continue
        records.append(_exact_ulps(_classify_change(change, layout, base, effective, after)))
    logged = pd.DataFrame.from_records(records, columns=list(LOGGED_COLUMNS))
    return logged.astype(
        {
            "source": "string",
            "name": "string",
            "location": "string",
            "epoch": "Int64",
            "step": "Int64",
            "value": "float64",
            "lr_base": "float32",
            "lr_effective": "float32",
            "relation": "string",
            "ulps": "Int64",
        }
    )


_EQUAL_RELATIONS = ("effective", "base", "next_step", "after_callback", "shifted")


def _exact_ulps(record: dict[str, Any]) -> dict[str, Any]:
    """``ulps`` 0 for a value found bit-equal to a step's lr (unless a schedule read set it)."""
    if record.get("ulps") is None and record["relation"] in _EQUAL_RELATIONS:
        record["ulps"] = 0
    return record


def _print_precision(text) -> float | None:
    """Half a unit of the last printed digit of a progress-bar value (``0.0010``, ``7.5000e-04``)."""
    if _missing(text):
        return 0.5e-4
    match = re.match(r"^\s*[-+]?\d*\.(\d+)(?:[eE]([-+]?\d+))?\s*$", str(text))
    if not match:
        return 0.5e-4
    exponent = int(match.group(2) or 0)
    return 0.5 * 10.0 ** (exponent - len(match.group(1)))


def _same(value: float, reference, approx: float | None) -> bool:
    """Equal in float32, or within print precision for a rounded console value."""
    reference = np.float32(reference)
    if not np.isfinite(reference):
        return False
    if approx is None:
        return bool(_f32(value) == reference)
    return abs(float(value) - float(reference)) <= approx * (1 + 1e-6)


def _invalid(value) -> bool:
    value = np.float32(value)
    return bool(not np.isfinite(value) or value < 0)


def _row_step(layout: _Layout, row: int) -> int | None:
    return int(layout.step[row]) if row >= 0 else None


def _classify_epoch(epoch, value, approx, layout, base, effective, after: _AfterEpoch) -> dict[str, Any]:
    """Which step an epoch-level logged value describes, and how it relates to the timeline.

    Nominally the first update of the epoch (History/CSV ``lr`` = the variable during the epoch).
    TensorBoard's schedule read and Keras 3's post-callback read describe the update after it.
    """
    if not 0 <= epoch < layout.n_epochs:
        return _record(epoch, None, None, None, "mismatch")
    row = int(layout.first_row[epoch])
    if row >= 0:
        if _invalid(effective[row]):
            return _record(epoch, _row_step(layout, row), base[row], effective[row], "invalid")
        if _same(value, effective[row], approx):
            return _record(epoch, _row_step(layout, row), base[row], effective[row], "effective")
        if _same(value, base[row], approx):
            return _record(epoch, _row_step(layout, row), base[row], effective[row], "base")
    next_row = int(layout.first_row[epoch + 1]) if epoch + 1 < layout.n_epochs else -1
    next_step = _row_step(layout, next_row) if next_row >= 0 else int(layout.next_counter[epoch])
    candidates = [after.effective[epoch], after.base[epoch]]
    if after.eager_base is not None:
        candidates.append(after.eager_base[epoch])
    ulps = _schedule_read_ulps(value, approx, candidates, after.eager_base is not None)
    if ulps is not None:
        relation = "after_callback" if after.changed_at_end[epoch] else "next_step"
        if _invalid(after.effective[epoch]):
            relation = "invalid"  # the log shows a normal value, the update applied NaN/inf/<0
        record = _record(epoch, next_step, after.base[epoch], after.effective[epoch], relation)
        record["ulps"] = ulps if ulps >= 0 else None
        return record
    shifted = _nearest_equal(value, approx, row if row >= 0 else layout.last_row[epoch], effective, layout)
    if shifted is not None:
        return _record(epoch, _row_step(layout, shifted), base[shifted], effective[shifted], "shifted")
    if row >= 0:
        return _record(epoch, _row_step(layout, row), base[row], effective[row], "mismatch")
    return _record(epoch, None, None, None, "mismatch")


def _ulp_distance(a, b) -> int:
    """Distance of two finite float32 values in units in the last place."""
    ordered = np.array([a, b], dtype=np.float32).view(np.int32).astype(np.int64)
    ordered = np.where(ordered < 0, -(ordered & 0x7FFFFFFF), ordered)
    return int(abs(ordered[0] - ordered[1]))


def _schedule_read_ulps(value, approx, candidates, schedule_read: bool) -> int | None:
    """0 when ``value`` equals a candidate (in float32, or within print precision: then ``-1``
    marks that no ulp count applies); for a schedule read (a schedule drives the lr), the ulp
    distance to the nearest candidate when it is at most :data:`SCHEDULE_READ_ULPS`; else None."""
    if any(_same(value, candidate, approx) for candidate in candidates):
        return 0 if approx is None else -1
    if not schedule_read or approx is not None or not np.isfinite(np.float32(value)):
        return None
    finite = [np.float32(c) for c in candidates if np.isfinite(np.float32(c))]
    if not finite:
        return None
    nearest = min(_ulp_distance(value, candidate) for candidate in finite)
    return nearest if nearest <= SCHEDULE_READ_ULPS else None


def _nearest_equal(value, approx, row: int, effective: np.ndarray, layout: _Layout) -> int | None:
    """The row nearest to ``row`` (within two epochs either side) whose applied lr equals ``value``."""
    if row < 0:
        return None
    epoch = int(layout.epoch[row])
    low_epoch, high_epoch = max(epoch - 2, 0), min(epoch + 2, layout.n_epochs - 1)
    lows = layout.first_row[low_epoch : high_epoch + 1]
    highs = layout.last_row[low_epoch : high_epoch + 1]
    low = int(lows[lows >= 0].min()) if (lows >= 0).any() else row
    high = int(highs[highs >= 0].max()) if (highs >= 0).any() else row
    window = effective[low : high + 1]
    if approx is None:
        hits = np.flatnonzero(window == np.float32(value))
    else:
        hits = np.flatnonzero(np.abs(window.astype(np.float64) - float(value)) <= approx * (1 + 1e-6))
    if hits.size == 0:
        return None
    hits = hits + low
    return int(hits[np.argmin(np.abs(hits - row))])


def _batch_row(layout: _Layout, row) -> int:
    """Batch-level TensorBoard steps count train batches within a fit, 1-based (reference §5.3)."""
    if _missing(row.step):
        return -1
    fit = 0 if _missing(getattr(row, "fit", None)) else int(row.fit)
    rows = np.flatnonzero(layout.fit == fit) if (layout.fit == fit).any() else np.arange(layout.rows)
    index = int(row.step) - 1
    return int(rows[index]) if 0 <= index < rows.shape[0] else -1


def _classify_at_row(row: int, value, approx, layout: _Layout, base, effective) -> dict[str, Any]:
    """A batch-level logged value: it describes the update of its own row."""
    if row < 0:
        return _record(None, None, None, None, "mismatch")
    relation = "mismatch"
    if _invalid(effective[row]):
        relation = "invalid"
    elif _same(value, effective[row], approx):
        relation = "effective"
    elif _same(value, base[row], approx):
        relation = "base"
    return _record(int(layout.epoch[row]), _row_step(layout, row), base[row], effective[row], relation)


def _classify_change(change: LrChange, layout, base, effective, after: _AfterEpoch) -> dict[str, Any]:
    """A printed callback value: it describes the first update that used it, if any did."""
    epoch = change.epoch
    if change.callback == SCHEDULER:
        row = int(layout.first_row[epoch]) if 0 <= epoch < layout.n_epochs else -1
    else:
        row = int(layout.first_row[epoch + 1]) if 0 <= epoch + 1 < layout.n_epochs else -1
    record: dict[str, Any]
    if row >= 0 and _same(change.printed, effective[row], None):
        record = _record(epoch, _row_step(layout, row), base[row], effective[row], "effective")
    elif row >= 0 and _same(change.printed, base[row], None):
        record = _record(epoch, _row_step(layout, row), base[row], effective[row], "base")
    elif _same(change.printed, change.new_lr, None):
        # nothing used it (overwritten, or the last epoch end): it is the value set at that epoch
        record = _record(epoch, None, None, None, "after_callback")
    elif row >= 0:
        record = _record(epoch, _row_step(layout, row), base[row], effective[row], "mismatch")
    else:
        record = _record(epoch, None, None, None, "mismatch")
    record.update(
        source="callback",
        name=change.callback,
        location=change.location or "",
        value=float(change.printed),
    )
    return record


def _record(epoch, step, lr_base, lr_effective, relation) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "step": step,
        "lr_base": np.nan if lr_base is None else np.float32(lr_base),
        "lr_effective": np.nan if lr_effective is None else np.float32(lr_effective),
        "relation": relation,
        "ulps": None,  # set by _join_logged (0: bit-equal) or by a schedule read within ulps
    }


def _fill_frame_logged(frame: pd.DataFrame, logged: pd.DataFrame) -> None:
    """Per step, the best logged value describing it: exact sources and closer relations first."""
    if len(logged) == 0:
        return
    usable = logged[logged["step"].notna()]
    if len(usable) == 0:
        return
    ranked = usable.assign(
        _source_rank=usable["source"].map(lambda s: _SOURCE_RANK.get(str(s), 9)).astype(int),
        _relation_rank=usable["relation"].map(lambda r: _RELATION_RANK.get(str(r), 9)).astype(int),
    ).sort_values(["_source_rank", "_relation_rank"], kind="stable")
    best = ranked.drop_duplicates("step", keep="first")
    steps = frame["step"].to_numpy()
    # only the rows of logged steps (no dict over every step of a long run); the last row wins
    hits = np.flatnonzero(np.isin(steps, np.array([int(s) for s in best["step"]], dtype=np.int64)))
    row_of_step = {int(steps[i]): int(i) for i in hits}
    positions, values, sources = [], [], []
    for step, value, location in zip(best["step"], best["value"], best["location"], strict=True):
        position = row_of_step.get(int(step))
        if position is not None:
            positions.append(position)
            values.append(float(value))
            sources.append(str(location))
    if positions:
        frame.loc[frame.index[positions], "logged_lr"] = values
        frame.loc[frame.index[positions], "logged_source"] = sources


class _CallableModule(types.ModuleType):
    """Makes ``lraudit.timeline(path, ...)`` the public function while staying this module.

    The package attribute ``lraudit.timeline`` is this module as soon as it is imported, so the
    documented API ``lraudit.timeline(path) -> DataFrame`` is served by calling the module.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        from lraudit.timeline_io import timeline

        return timeline(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
