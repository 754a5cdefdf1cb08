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
callback at that epoch end: Keras 3 TensorBoard, or History/CSV ``lr`` when an lr-writing
callback's ``on_epoch_end`` ran after another's reduction; ``step`` is <NA> when a later write
replaced it before any update used it), ``shifted`` (equals the effective lr a whole
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

Each stage is a module of :mod:`lraudit.reconstruction` (spec, layout, changes, applied,
logged); this module only runs them in order and assembles the result, so it stays the one
place that reads as the whole algorithm. Nothing here reads the disk: ``optimizer=`` given as a
file was read before (:func:`lraudit.api.run_options`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from lraudit.errors import InputError
from lraudit.reconstruction.applied import after_epoch_values, applied_lr
from lraudit.reconstruction.changes import VariableWalk, initial_variable
from lraudit.reconstruction.contracts import (
    LOGGED_COLUMNS,
    PLATEAU,
    RELATIONS,
    SCHEDULE_READ_ULPS,
    SCHEDULER,
    LrChange,
    Timeline,
)
from lraudit.reconstruction.layout import (
    Layout,
    accumulation_note,
    choose_counter_resets,
    fit_plan,
    lay_out_steps,
)
from lraudit.reconstruction.logged import fill_frame_logged, join_logged
from lraudit.reconstruction.scalars import exact_epoch_lr
from lraudit.reconstruction.spec import (
    choose_optimizer,
    code_fit_start_lr,
    complete_spec,
    fit_optimizer_specs,
    keras_generation,
    keras_release,
    note_assumed_backend,
    parse_callbacks,
    per_step_dependency,
)

if TYPE_CHECKING:
    import pandas as pd

    from lraudit.options import RunOptions
    from lraudit.run import Run
    from lraudit.semantics.specs import OptimizerSpec

__all__ = [
    "LOGGED_COLUMNS",
    "NAN_MEANS_MISSING",
    "PLATEAU",
    "RELATIONS",
    "SCHEDULER",
    "SCHEDULE_READ_ULPS",
    "TIMELINE_COLUMNS",
    "LrChange",
    "Timeline",
    "build_timeline",
]

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

#: frame columns where NaN stands for "nothing there", not for a value: no logged value joined
#: to the step; a schedule (not a variable) drives the lr. In ``lr_base``/``lr_effective``/
#: ``decay_factor`` a NaN is what the update applied (reference §1.8), so writers keep the two apart.
NAN_MEANS_MISSING = ("logged_lr", "lr_variable")


def build_timeline(run: Run, options: RunOptions | None = None) -> Timeline:
    """Reconstruct the lr applied at every optimizer update of ``run`` and join what was logged.

    ``options`` carries the user's overrides (``--optimizer``, ``--callback``, ``--keras``,
    ``--steps-per-epoch``, ``--backend``). Raises :class:`~lraudit.errors.InputError` when the
    run holds no optimizer and none was given, or when the steps per epoch are unknown.
    """
    from lraudit.options import RunOptions

    if run.torch is not None:
        from lraudit.reconstruction.torch_build import build_torch_timeline

        return build_torch_timeline(run, options)
    options = options or RunOptions()
    notes: list[str] = []
    spec, spec_origin = choose_optimizer(run, options, notes)
    callbacks = parse_callbacks(options, run, notes)
    keras = keras_generation(run, options, spec)
    spec = complete_spec(spec, keras, run, options, notes)
    schedule_driven = not isinstance(spec.learning_rate, (int, float))

    n_fits = len(run.fits) or 1
    fit_specs = fit_optimizer_specs(run, options, keras, n_fits, notes)
    per_step = next(filter(None, map(per_step_dependency, [spec, *fit_specs.values()])), None)
    fits = fit_plan(run, options, per_step, notes)
    if not fits:
        if run.code_facts is not None:
            raise InputError(
                f"{run.path}: training code but no training output (console log, notebook outputs, "
                "CSVLogger/History/TensorBoard files): nothing ran that could be audited"
            )
        raise InputError(f"{run.path}: the logs show no training epoch, so there is no step to rebuild")
    accumulation = int(spec.gradient_accumulation_steps or 1)
    resets = choose_counter_resets(
        run, fits, accumulation, notes, callbacks=callbacks, variable_lr=not schedule_driven
    ) | {position for position in fit_specs if 0 < position < len(fits)}
    layout = lay_out_steps(fits, accumulation, resets)
    notes.extend(filter(None, [accumulation_note(layout, fits)]))

    lr_known = True
    epoch_lr = exact_epoch_lr(run) if not schedule_driven else {}
    variable = None
    changes: list[LrChange] = []
    if not schedule_driven:
        start = initial_variable(run, spec, spec_origin, epoch_lr, callbacks, notes)
        lr_known = bool(np.isfinite(start)) and not _unreplayed_scheduler(run, notes, epoch_lr)
        # the lr at a fit's start: set in the code between fits, or a fresh optimizer given for it
        from_code = code_fit_start_lr(run, len(fits), notes) if not options.optimizer else {}
        starts = {p: np.float32(v) for p, v in from_code.items()}
        for p, given in fit_specs.items():
            if isinstance(given.learning_rate, float):
                starts[p] = np.float32(given.learning_rate)
        release = keras_release(options, keras)
        variable = VariableWalk(run, layout, start, epoch_lr, callbacks, release, notes, starts).run()
        changes = variable.changes

    per_row = variable.per_row(layout) if variable else None
    backend_assumed = keras == "3" and spec.backend is None
    if backend_assumed:
        note_assumed_backend(spec, layout.step, per_row, notes)
    segments = _spec_segments(spec, fit_specs, layout)
    lr_base, lr_effective = _applied_by_segment(segments, layout, per_row)
    frame = _frame(layout, lr_base, lr_effective, variable)
    next_values = _after_epoch_by_segment(segments, layout, variable)
    logged = join_logged(run, layout, frame, next_values, changes, keras, schedule_driven)
    fill_frame_logged(frame, logged)
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
            # False when a fit is laid out one row per epoch (the logs did not tell its steps)
            "steps_per_epoch_known": all(f.steps_known for f in fits),
            "gradient_accumulation_steps": accumulation,
            "optimizer_origin": spec_origin,
            # the release given with keras="2.1.5" (callbacks changed within a generation)
            "keras_release": keras_release(options, keras),
            "backend_assumed": backend_assumed,
            # False when neither the optimizer nor any log tells an lr value: the frame's lr
            # columns are NaN placeholders, and only rules that need no value apply
            "lr_known": lr_known,
        },
    )


def _unreplayed_scheduler(run: Run, notes: list[str], epoch_lr: dict) -> bool:
    """True when a LearningRateScheduler from the code could not be evaluated and no log shows what
    it set: the lr after its first write is unknown, so no value is presented as applied."""
    from lraudit.reconstruction.scalars import events_by_epoch
    from lraudit.reconstruction.spec import unevaluable_code_schedules

    if not unevaluable_code_schedules(run) or events_by_epoch(run, "scheduler_set") or epoch_lr:
        return False
    notes.append(
        "the lr this LearningRateScheduler set is in no log and its function is not evaluated: the "
        "applied lr is unknown, so only what needs no lr value is checked"
    )
    return True


def _spec_segments(
    spec: OptimizerSpec, fit_specs: dict[int, OptimizerSpec], layout: Layout
) -> list[tuple[OptimizerSpec, np.ndarray, np.ndarray]]:
    """Each optimizer with the rows and epochs it drove: the run's, then one per fresh per-fit optimizer."""
    row_owner = np.zeros(layout.rows, dtype=np.int64)
    epoch_owner = np.zeros(layout.n_epochs, dtype=np.int64)
    ordered = sorted(fit_specs.items())
    for index, (position, _) in enumerate(ordered, start=1):
        row_owner[layout.fit_position >= position] = index
        epoch_owner[layout.epoch_fit_position >= position] = index
    specs = [spec, *(s for _, s in ordered)]
    return [(s, row_owner == i, epoch_owner == i) for i, s in enumerate(specs)]


def _applied_by_segment(segments, layout: Layout, per_row):
    """(base, effective) lr per row, each row with the arithmetic of the optimizer that drove it."""
    if len(segments) == 1:
        return applied_lr(segments[0][0], layout.step, per_row)
    base = np.full(layout.rows, np.nan, dtype=np.float32)
    effective = np.full(layout.rows, np.nan, dtype=np.float32)
    for spec, rows, _ in segments:
        if rows.any():
            part = per_row[rows] if per_row is not None else None
            base[rows], effective[rows] = applied_lr(spec, layout.step[rows], part)
    return base, effective


def _after_epoch_by_segment(segments, layout: Layout, variable: VariableWalk | None):
    """The after-epoch values (what epoch-end logs describe), per epoch from its own optimizer."""
    result = after_epoch_values(segments[0][0], layout, variable)
    for spec, _, epochs in segments[1:]:
        other = after_epoch_values(spec, layout, variable)
        for name in ("base", "effective", "eager_base"):
            mine, theirs = getattr(result, name), getattr(other, name)
            if mine is not None and theirs is not None:
                mine[epochs] = theirs[epochs]
    return result


def _frame(layout: Layout, lr_base, lr_effective, variable: VariableWalk | None) -> pd.DataFrame:
    """The :data:`TIMELINE_COLUMNS` table; ``logged_lr``/``logged_source`` are filled by the join."""
    import pandas as pd
    import pyarrow as pa

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
            # all missing, built without a list of a million pd.NA (8 bytes a row)
            "logged_source": pd.arrays.ArrowStringArray(pa.nulls(rows, pa.large_string())),
            "fit": layout.fit,
            "lr_variable": lr_variable,
            "decay_factor": decay_factor,
        },
        columns=list(TIMELINE_COLUMNS),
        # the columns are the layout's and this function's arrays, not copies stacked into blocks:
        # a 1 M-step frame otherwise holds a second copy of its integer and float32 columns (56 MB).
        # Only logged_lr/logged_source (fresh here) are ever written (reconstruction.logged).
        copy=False,
    )
