"""``explain``: what an optimizer's learning rate does, in plain words and numbers, for its Keras era.

Two entry points: :func:`explain_optimizer` (an :class:`OptimizerSpec` as the user wrote it, no
logs) and :func:`explain_timeline` (a reconstructed run, epoch by epoch, with callback actions).
All lr values come from :func:`lraudit.semantics.optimizers.effective_lr` or from the timeline;
this module only reads them (where the lr changes, how fast, when it falls below 10 % / 1 %).

Conventions: epochs are shown 1-based, as Keras prints ``Epoch e/E``. "lr after epoch e" is the
value the next update will use, i.e. the lr at optimizer counter ``N*e`` (N = steps per epoch).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lraudit.errors import InputError, UsageError
from lraudit.numfmt import lr_text
from lraudit.semantics.schedules import Schedule, schedule_from_spec
from lraudit.semantics.schedules.base import fmt_number
from lraudit.semantics.specs import CallbackSpec, OptimizerSpec, ScheduleSpec

if TYPE_CHECKING:
    from collections.abc import Sequence

    from lraudit.reconstruction import LrChange, Timeline
    from lraudit.report.workflow_text import Block

#: epochs shown by explain without a run, when --epochs is not given
DEFAULT_EPOCHS = 10
#: fractions of the starting lr whose crossing is reported
MILESTONES = (0.1, 0.01)
#: furthest optimizer counter searched for a milestone past the end of training
MILESTONE_SEARCH_LIMIT = 200_000
#: tables show every epoch up to this many; otherwise the first few and the last
ALL_EPOCHS_UP_TO = 12
FIRST_EPOCHS_SHOWN = 5

ERA_LABELS = {
    "k2-standalone": "standalone Keras 2.0-2.3",
    "k2-legacy": "Keras 2 OptimizerV2 (tf.keras up to 2.10, tf.keras.optimizers.legacy.* later)",
    "k2-new": "Keras 2.11+ optimizer (tf.keras 2.11-2.15, tf-keras)",
    "k3": "Keras 3",
}


@dataclass
class EpochRow:
    """One epoch (``epoch`` is 1-based) as explained."""

    epoch: int
    first_step: int
    steps: int
    lr_first: float  # lr applied by the epoch's first update
    lr_last: float  # lr applied by its last update
    lr_after: float | None  # lr for the next update (counter N*e); None after a run's last epoch
    factor: float | None  # lr_after(e) / lr_after(e-1), lr_after(0) = lr of the first update
    logged: float | None = None
    logged_source: str | None = None
    actions: list[str] = field(default_factory=list)
    #: short forms of ``actions`` for the table
    action_labels: list[str] = field(default_factory=list)


@dataclass
class Milestone:
    """When the lr first falls below ``fraction`` of its reference (starting or peak) value."""

    fraction: float
    step: int | None  # optimizer counter of the first update below it; None: never found
    epoch: int | None  # 1-based epoch of that update
    within_training: bool
    searched: int = 0  # how many updates were looked at


@dataclass
class Explanation:
    """Everything ``explain`` says, ready for text or JSON."""

    subject: str
    generation: str | None
    era: str
    steps_per_epoch: int | None
    epochs: int
    lr_start: float
    lr_reference: float  # the value milestones are measured against (start, or peak after warm-up)
    changes: str  # constant | per-epoch | per-batch | steps
    change_text: str
    schedule: list[str] = field(default_factory=list)
    decay: list[str] = field(default_factory=list)
    warmup: str | None = None
    floor: str | None = None
    rows: list[EpochRow] = field(default_factory=list)
    milestones: list[Milestone] = field(default_factory=list)
    callbacks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN/inf become None)."""
        return _json_safe(dataclasses.asdict(self))


# --------------------------------------------------------------------------- optimizer alone


def _framework_label(timeline: Timeline) -> str:
    """``Keras 2`` for a Keras run; ``transformers 4.48.3``, ``pytorch``, ... for the PyTorch ecosystem."""
    from lraudit.torchfacts import framework_label

    framework = timeline.extra.get("framework")
    if not framework:
        return f"Keras {timeline.keras or '?'}"
    return framework_label(framework, timeline.extra.get("versions") or {})


def resolve_generation(spec: OptimizerSpec, keras: str = "auto") -> tuple[str, str | None]:
    """The optimizer generation to explain, and a note when it was assumed rather than known.

    A spec that names its generation (``legacy.`` prefix, config keys) keeps it. Otherwise
    ``--keras 3`` means Keras 3 and ``--keras 2`` the OptimizerV2 semantics (the only Keras 2
    optimizer that accepts ``decay``); ``auto`` assumes Keras 2 when ``lr=`` or ``decay=`` is given
    (Keras 3 rejects ``lr=`` and ignores ``decay=``), else Keras 3.
    """
    if spec.generation:
        return spec.generation, None
    if keras == "3":
        return "k3", None
    if keras == "2":
        return "k2-legacy", None
    if spec.decay or "lr" in spec.raw:
        return "k2-legacy", (
            "assumed Keras 2 (tf.keras OptimizerV2 / legacy optimizer) because lr= or decay= was given; "
            "use --keras 3 for Keras 3"
        )
    return "k3", "assumed Keras 3 (use --keras 2 for Keras 2)"


def explain_optimizer(
    spec: OptimizerSpec,
    *,
    steps_per_epoch: int,
    epochs: int = DEFAULT_EPOCHS,
    keras: str = "auto",
    callbacks: Sequence[CallbackSpec] = (),
    subject: str | None = None,
) -> Explanation:
    """Explain ``spec`` over ``epochs`` epochs of ``steps_per_epoch`` updates, without any logs."""
    from lraudit.semantics.optimizers import effective_lr

    if steps_per_epoch < 1:
        raise UsageError(f"--steps-per-epoch must be a positive integer, not {steps_per_epoch}")
    if epochs < 1:
        raise UsageError(f"--epochs must be a positive integer, not {epochs}")
    generation, assumption = resolve_generation(spec, keras)
    computed = dataclasses.replace(spec, generation=generation)
    if generation == "k2-new" and spec.decay:
        # the optimizer cannot be built; show what it would do without decay
        computed = dataclasses.replace(computed, decay=0.0)
    horizon = steps_per_epoch * epochs
    counter = np.arange(horizon + 1, dtype=np.int64)
    variable = _scheduler_variable(computed, callbacks, counter // steps_per_epoch)
    _, lr = effective_lr(computed, counter, variable)
    lr = np.asarray(lr, dtype=np.float32)
    updates, after_last = lr[:horizon], float(lr[horizon])
    epoch_of = counter[:horizon] // steps_per_epoch
    rows = _epoch_rows(updates, counter[:horizon], epoch_of, after_last)
    if variable is not None:
        _attach_scheduler_sets(rows, variable, steps_per_epoch)
    reference = _reference(updates)
    milestones = _milestones(
        updates,
        counter[:horizon],
        steps_per_epoch,
        reference,
        extend=None if variable is not None else _extender(computed),
    )
    batch_of = counter[:horizon] % steps_per_epoch
    kind, change_text = _describe_changes(updates, batch_of, steps_per_epoch)
    explanation = Explanation(
        subject=subject or _spec_text(spec),
        generation=generation,
        era=ERA_LABELS.get(generation, generation),
        steps_per_epoch=steps_per_epoch,
        epochs=epochs,
        lr_start=float(updates[0]),
        lr_reference=reference,
        changes=kind,
        change_text=change_text,
        schedule=_schedule_text(spec, steps_per_epoch),
        decay=_decay_text(spec, generation),
        warmup=_warmup_text(spec),
        floor=_floor_text(computed, steps_per_epoch),
        rows=rows,
        milestones=milestones,
        callbacks=[_callback_text(cb, spec) for cb in callbacks],
    )
    if assumption:
        explanation.notes.append(assumption)
    explanation.notes += _schedule_era_notes(spec, generation)
    if spec.lr_is_final:
        explanation.notes.append(
            f"{spec.source} was saved after training: its lr variable holds the final value (after any "
            "callback changes), not the one training started with."
        )
    explanation.summary = _summary(explanation)
    if spec.decay and generation in ("k2-standalone", "k2-legacy"):
        explanation.notes.append(
            "The same decay= in other eras: the tf.keras 2.11+ optimizers reject it (ValueError), "
            "Keras 3 ignores it (constant lr)."
        )
    return explanation


def _summary(explanation: Explanation) -> list[str]:
    """The lr after the first epoch and after the last one, and how the per-epoch factor moves."""
    rows = [r for r in explanation.rows if r.lr_after is not None]
    reference = explanation.lr_reference
    if not rows or not math.isfinite(reference) or reference <= 0:
        return []
    first, last = rows[0], rows[-1]
    of = "the start" if reference == explanation.lr_start else "the peak"
    lines = [
        f"After epoch {first.epoch} the lr is {_lr(first.lr_after)} ({_pct(first.lr_after / reference)} of "
        f"{_lr(reference)}, {of}); after epoch {last.epoch}: {_lr(last.lr_after)} "
        f"({_pct(last.lr_after / reference)})."
    ]
    with_factor = [r for r in rows if r.factor is not None and math.isfinite(r.factor)]
    factors = [r.factor for r in with_factor]
    if len(factors) > 1 and explanation.changes == "per-batch" and max(factors) - min(factors) > 1e-3:
        inverse_time = any("divides the lr" in line for line in explanation.decay)
        callbacks_acted = any(r.actions for r in explanation.rows)
        lines.append(
            f"The per-epoch factor is not constant: x{factors[0]:.4g} in epoch {with_factor[0].epoch}, "
            f"x{factors[-1]:.4g} in epoch {with_factor[-1].epoch}"
            + (
                " (legacy decay is inverse-time: it slows down; `lraudit solve-decay` shows the schedule "
                "that keeps a constant factor)."
                if inverse_time and not callbacks_acted
                else "."
            )
        )
    return lines


def _pct(ratio: float) -> str:
    return f"{100 * ratio:.3g} %"


def _extender(spec: OptimizerSpec) -> Any:
    from lraudit.semantics.optimizers import effective_lr

    return lambda counter: np.asarray(effective_lr(spec, counter, None)[1], dtype=np.float32)


def _scheduler_variable(
    spec: OptimizerSpec, callbacks: Sequence[CallbackSpec], epoch_of: np.ndarray
) -> np.ndarray | None:
    """The lr variable per update when a LearningRateScheduler with a named function drives it.

    The function is the user's own, named explicitly (``file.py:fn`` or ``module:fn``); it is
    called at the start of every epoch as Keras does (:mod:`lraudit.semantics.callbacks`).
    """
    scheduler = next(
        (cb for cb in callbacks if cb.class_name == "LearningRateScheduler" and cb.kwargs.get("schedule")),
        None,
    )
    if scheduler is None or isinstance(spec.learning_rate, ScheduleSpec):
        return None
    from lraudit.semantics.callbacks import load_schedule_function, replay_scheduler

    function = load_schedule_function(scheduler.kwargs["schedule"])
    epochs = range(int(epoch_of.max()) + 1)
    decisions = replay_scheduler(function, epochs, float(spec.learning_rate))
    per_epoch = np.array([d.new_lr for d in decisions], dtype=np.float32)
    return per_epoch[epoch_of]


def _attach_scheduler_sets(rows: list[EpochRow], variable: np.ndarray, steps_per_epoch: int) -> None:
    """The epochs where the replayed LearningRateScheduler changed the lr variable."""
    for row in rows:
        start = (row.epoch - 1) * steps_per_epoch
        before = variable[start - 1] if start else None
        if before is None or variable[start] != before:
            row.actions.append(
                f"LearningRateScheduler at its start: variable set to {_lr(float(variable[start]))}"
            )
            row.action_labels.append(f"scheduler -> {_lr(float(variable[start]))}")


# --------------------------------------------------------------------------- a reconstructed run


def explain_timeline(timeline: Timeline) -> Explanation:
    """Explain what a reconstructed run did, epoch by epoch, with the callbacks' actions."""
    frame = timeline.frame
    if frame is None or len(frame) == 0:
        raise UsageError(f"{timeline.run.path}: no optimizer step could be reconstructed")
    lr = frame["lr_effective"].to_numpy(dtype=np.float32)
    steps = frame["step"].to_numpy(dtype=np.int64)
    epoch_of = frame["epoch"].to_numpy(dtype=np.int64)
    batch_of = frame["batch"].to_numpy(dtype=np.int64)
    rows = _epoch_rows(lr, steps, epoch_of, None)
    _attach_logged(rows, timeline)
    _attach_fit_starts(rows, frame)
    _attach_actions(rows, timeline.changes)
    spe = timeline.run.steps_per_epoch or int(np.bincount(epoch_of - epoch_of.min()).max())
    reference = _reference(lr)
    spec = timeline.optimizer
    generation = spec.generation if spec else None
    kind, change_text = _describe_changes(lr, batch_of, spe)
    explanation = Explanation(
        subject=str(timeline.run.path),
        generation=generation,
        era=ERA_LABELS.get(generation or "", _framework_label(timeline)),
        steps_per_epoch=spe,
        epochs=len(rows),
        lr_start=float(lr[0]),
        lr_reference=reference,
        changes=kind,
        change_text=change_text,
        schedule=_schedule_text(spec, spe) if spec else [],
        decay=_decay_text(spec, generation) if spec else [],
        warmup=_warmup_text(spec) if spec else None,
        floor=None,
        rows=rows,
        milestones=_milestones(lr, steps, spe, reference, extend=None, epoch_of=epoch_of),
        callbacks=[_callback_text(cb, spec) for cb in timeline.callbacks],
        notes=list(timeline.notes),
    )
    if spec:
        explanation.floor = _floor_text(spec, spe)
    explanation.notes += _logged_summary(timeline)
    explanation.summary = _summary(explanation)
    invalid = ~np.isfinite(lr) | (lr < 0)
    if invalid.any():
        first = int(np.flatnonzero(invalid)[0])
        explanation.notes.append(
            f"{int(invalid.sum())} updates applied an invalid lr (NaN/inf/negative), "
            f"first at step {int(steps[first])} (epoch {int(epoch_of[first]) + 1})"
        )
    zero = lr == 0
    if zero.any():
        explanation.notes.append(f"{int(zero.sum())} updates applied lr = 0 (they trained nothing)")
    return explanation


# --------------------------------------------------------------------------- analysis helpers


def _epoch_rows(
    lr: np.ndarray, steps: np.ndarray, epoch_of: np.ndarray, after_last: float | None
) -> list[EpochRow]:
    """Rows per epoch: first/last lr, the lr after it (next epoch's first update) and the factor."""
    rows: list[EpochRow] = []
    epochs, first_index, counts = np.unique(epoch_of, return_index=True, return_counts=True)
    for i, (epoch, start, count) in enumerate(zip(epochs, first_index, counts, strict=True)):
        last = start + count - 1
        if i + 1 < len(epochs):
            after: float | None = float(lr[first_index[i + 1]])
        else:
            after = after_last
        rows.append(
            EpochRow(
                epoch=int(epoch) + 1,
                first_step=int(steps[start]),
                steps=int(count),
                lr_first=float(lr[start]),
                lr_last=float(lr[last]),
                lr_after=after,
                factor=None,
            )
        )
    previous = float(lr[0])
    for row in rows:
        if row.lr_after is not None and previous and math.isfinite(previous):
            row.factor = row.lr_after / previous
        previous = row.lr_after if row.lr_after is not None else math.nan
    return rows


def _reference(lr: np.ndarray) -> float:
    """The lr milestones are measured against: the first update's, or the peak if it starts at 0."""
    finite = lr[np.isfinite(lr)]
    if finite.size == 0:
        return math.nan
    first = float(finite[0])
    return first if first > 0 else float(finite.max())


def _milestones(
    lr: np.ndarray,
    steps: np.ndarray,
    steps_per_epoch: int,
    reference: float,
    *,
    extend: Any,
    epoch_of: np.ndarray | None = None,
) -> list[Milestone]:
    """First update below each fraction of ``reference``; past training via ``extend`` if given."""
    out = []
    peak_index = int(np.nanargmax(lr)) if np.isfinite(lr).any() else 0
    for fraction in MILESTONES:
        threshold = reference * fraction
        below = np.flatnonzero(lr[peak_index:] < threshold)
        if below.size:
            index = peak_index + int(below[0])
            epoch = (
                int(epoch_of[index]) + 1 if epoch_of is not None else int(steps[index]) // steps_per_epoch + 1
            )
            out.append(Milestone(fraction, int(steps[index]), epoch, True, int(lr.size)))
            continue
        step, searched = None, int(lr.size)
        if extend is not None and math.isfinite(threshold):
            step = _search_beyond(extend, int(steps[-1]) + 1, threshold)
            searched = MILESTONE_SEARCH_LIMIT
        epoch = step // steps_per_epoch + 1 if step is not None else None
        out.append(Milestone(fraction, step, epoch, False, searched))
    return out


def _search_beyond(evaluate: Any, start: int, threshold: float) -> int | None:
    """First counter >= start whose lr is below ``threshold``, in growing chunks up to the limit."""
    size = max(start, 1024)
    while start < MILESTONE_SEARCH_LIMIT:
        stop = min(start + size, MILESTONE_SEARCH_LIMIT)
        counter = np.arange(start, stop, dtype=np.int64)
        below = np.flatnonzero(evaluate(counter) < threshold)
        if below.size:
            return int(counter[below[0]])
        start, size = stop, size * 2
    return None


def _describe_changes(lr: np.ndarray, batch_of: np.ndarray, steps_per_epoch: int) -> tuple[str, str]:
    """Whether the lr is constant, changes per epoch, at every batch, or in steps inside epochs."""
    same = (lr[1:] == lr[:-1]) | (np.isnan(lr[1:]) & np.isnan(lr[:-1]))  # NaN after NaN is no change
    changed = np.flatnonzero(~same) + 1  # index of the first update with a new value
    if changed.size == 0:
        return "constant", "The lr is the same for every update."
    inside = changed[batch_of[changed] != 0]
    if inside.size == 0:
        return "per-epoch", "The lr changes only between epochs (at the first update of an epoch)."
    positions_inside = int((batch_of != 0).sum())
    if inside.size > positions_inside / 2:
        return "per-batch", (
            "The lr changes at every update (batch), not once per epoch: "
            f"{inside.size} of {positions_inside} updates inside epochs use a new value."
        )
    shown = ", ".join(str(int(i)) for i in changed[:6]) + (" ..." if changed.size > 6 else "")
    return "steps", (
        f"The lr changes in steps, {inside.size} of them inside epochs, "
        f"at update index {shown} ({steps_per_epoch} updates per epoch)."
    )


def _attach_logged(rows: list[EpochRow], timeline: Timeline) -> None:
    """The first logged lr that describes each epoch (with its file), preferring exact sources."""
    logged = timeline.logged
    if logged is None or len(logged) == 0:
        return
    by_epoch: dict[int, tuple[float, str]] = {}
    from lraudit.sources.registry import citation_rank

    priority = citation_rank()
    ordered = logged.assign(_rank=logged["source"].map(priority).fillna(9)).sort_values(
        "_rank", kind="stable"
    )
    for _, item in ordered.iterrows():
        epoch, value = item.get("epoch"), item.get("value")
        if epoch is None or _is_missing(epoch) or _is_missing(value):
            continue
        by_epoch.setdefault(int(epoch), (float(value), str(item.get("location") or item.get("source"))))
    for row in rows:
        if row.epoch - 1 in by_epoch:
            row.logged, row.logged_source = by_epoch[row.epoch - 1]


def _attach_fit_starts(rows: list[EpochRow], frame: Any) -> None:
    """Mark the epoch where each resumed ``fit`` starts, and whether the counter continued."""
    if "fit" not in frame:
        return
    fits = frame["fit"].to_numpy()
    steps = frame["step"].to_numpy(dtype=np.int64)
    epochs = frame["epoch"].to_numpy(dtype=np.int64)
    index = {row.epoch - 1: row for row in rows}
    for start in np.flatnonzero(fits[1:] != fits[:-1]) + 1:
        row = index.get(int(epochs[start]))
        if row is None:
            continue
        how = (
            "the counter restarted: decay/schedule start over"
            if steps[start] <= steps[start - 1]
            else "the counter continues: decay/schedule go on"
        )
        row.actions.append(f"fit {int(fits[start]) + 1} starts at step {int(steps[start])} ({how})")
        restarted = "restarts" if steps[start] <= steps[start - 1] else "continues"
        row.action_labels.append(f"fit {int(fits[start]) + 1} (counter {restarted})")


def _attach_actions(rows: list[EpochRow], changes: Sequence[LrChange]) -> None:
    """Callback actions (timeline LrChange list) on the epoch they happened in."""
    index = {row.epoch - 1: row for row in rows}
    for change in changes:
        row = index.get(change.epoch)
        if row is None:
            continue
        when = "at its end" if change.callback == "ReduceLROnPlateau" else "at its start"
        text = f"{change.callback} {when}: {_lr(change.old_lr)} -> {_lr(change.new_lr)}"
        if change.printed is not None:
            text += f" (printed {change.printed!r})"
        if change.overwritten_by:
            text += f"; overwritten by {change.overwritten_by} before any update used it"
        elif change.effective_from_step is None:
            text += "; no update used it"
        elif change.callback == "ReduceLROnPlateau":
            text += f"; used from step {change.effective_from_step}"
        if change.origin == "replayed":
            text += " [replayed from the callback's rule]"
        if change.location:
            text += f" [{_short_location(change.location)}]"
        row.actions.append(text)
        unused = "" if change.effective_from_step is not None and not change.overwritten_by else " (unused)"
        short = {"ReduceLROnPlateau": "plateau", "LearningRateScheduler": "scheduler"}.get(change.callback)
        row.action_labels.append(f"{short or change.callback} -> {_lr(change.new_lr)}{unused}")


def _short_location(location: str) -> str:
    """``console.log:16`` rather than the full path: the table stays readable."""
    return Path(location).name if "/" in location or "\\" in location else location


def _logged_summary(timeline: Timeline) -> list[str]:
    """One line per logged series: which value it really is (relation to the applied lr)."""
    logged = timeline.logged
    if logged is None or len(logged) == 0 or "relation" not in logged:
        return ["No learning rate was logged: nothing in the logs shows the applied lr."]
    meaning = {
        "effective": "the applied lr",
        "base": "the lr variable BEFORE legacy decay (not the applied lr)",
        "next_step": "the value for the next epoch's first update",
        "after_callback": "read after a callback changed the lr (one epoch ahead at changes)",
        "shifted": "the applied lr shifted in time",
        "mismatch": "not explained by this optimizer",
        "invalid": "a normal value while the update applied NaN/inf/negative",
    }
    lines = []
    for (source, name), group in logged.groupby(["source", "name"], sort=True):
        counts = group["relation"].value_counts()
        parts = [f"{n} x {meaning.get(str(rel), rel)}" for rel, n in counts.items()]
        lines.append(f"logged {name} ({source}): " + "; ".join(parts))
    return lines


# --------------------------------------------------------------------------- words


def _schedule_of(spec: OptimizerSpec | None) -> Schedule | None:
    """The schedule driving ``spec``'s lr, built from the registry (None: a variable, or unknown)."""
    if spec is None or not isinstance(spec.learning_rate, ScheduleSpec):
        return None
    try:
        return schedule_from_spec(spec.learning_rate)
    except InputError:
        return None


def _schedule_era_notes(spec: OptimizerSpec, generation: str | None) -> list[str]:
    """A schedule class that this era does not have (values shown as tf.keras computed them)."""
    schedule = _schedule_of(spec)
    if schedule is None or generation != "k3" or schedule.in_keras3:
        return []
    return [f"{schedule.class_name} does not exist in Keras 3 (tf.keras 2.x only); use --keras 2."]


def _schedule_text(spec: OptimizerSpec, steps_per_epoch: int) -> list[str]:
    """The schedule (or constant lr) in plain words: each schedule class describes itself."""
    lr = spec.learning_rate
    if not isinstance(lr, ScheduleSpec):
        return [
            f"{spec.class_name}: lr variable {_num(lr)}, what callbacks read, print and log "
            "(only callbacks change it)."
        ]
    schedule = _schedule_of(spec)
    line = schedule.describe(steps_per_epoch) if schedule else f"{lr.class_name} schedule with {lr.config}."
    return [line, "Schedules count optimizer updates (batches), not epochs."]


def _decay_text(spec: OptimizerSpec, generation: str | None) -> list[str]:
    """What this era does with the legacy ``decay`` (and the ``lr=`` alias)."""
    lines: list[str] = []
    d = spec.decay
    if d and spec.class_name == "Nadam" and generation in ("k2-standalone", "k2-legacy"):
        lines.append("Nadam never decays its lr: its decay slot is the momentum schedule_decay.")
    elif d:
        if generation == "k2-standalone":
            lines.append(
                f"decay={_num(d)} is applied on every update (batch): lr * 1/(1 + {_num(d)}*iterations); "
                "logs and callbacks show the undecayed variable."
            )
        elif generation == "k2-legacy":
            lines.append(
                f"decay={_num(d)} divides the lr by (1 + {_num(d)}*iterations) on every update (batch), "
                "not per epoch; it composes with schedules and callbacks; logs and callbacks show the "
                "variable before decay."
            )
        elif generation == "k2-new":
            lines.append(
                f"decay={_num(d)} is rejected by this optimizer: ValueError 'decay is deprecated in the new "
                "Keras optimizer' (use tf.keras.optimizers.legacy.* or a schedule); numbers below omit it."
            )
        elif generation == "k3":
            lines.append(
                f"decay={_num(d)} is IGNORED by Keras 3 (warning 'Argument `decay` is no longer supported "
                "and will be ignored'): the lr does not decay. Use "
                f"keras.optimizers.schedules.InverseTimeDecay(lr, decay_steps=1, decay_rate={_num(d)})."
            )
    else:
        lines.append("No legacy decay.")
    if "lr" in spec.raw:
        if generation == "k2-new":
            lines.append(
                "lr= is ignored by the 2.11+ optimizer (it logs a warning and keeps the default lr)."
            )
        elif generation == "k3":
            lines.append("lr= is rejected by Keras 3 (ValueError: Argument(s) not recognized).")
    if spec.weight_decay:
        lines.append(
            f"weight_decay={_num(spec.weight_decay)} is decoupled weight decay (shrinks weights), "
            "it does not change the learning rate."
        )
    return lines


def _warmup_text(spec: OptimizerSpec) -> str | None:
    """The schedule's linear warm-up in words (None without one)."""
    schedule = _schedule_of(spec)
    warmup = schedule.warmup() if schedule else None
    if warmup is None:
        return None
    direction = "rises" if warmup.target > warmup.start else "FALLS (the warm-up lowers the lr)"
    text = (
        f"Warm-up: the lr {direction} linearly from {_num(warmup.start)} to {_num(warmup.target)} "
        f"over {warmup.steps} updates."
    )
    if warmup.start == 0:
        text += " The first update applies lr = 0 (it trains nothing)."
    return text


def _floor_text(spec: OptimizerSpec, steps_per_epoch: int) -> str | None:
    """The value the lr settles at, computed with the real arithmetic, and when it gets there."""
    schedule = _schedule_of(spec)
    floor = schedule.floor() if schedule else None
    if floor is None:
        return None
    from lraudit.semantics.optimizers import effective_lr

    value = float(np.asarray(effective_lr(spec, np.array([floor.step], dtype=np.int64), None)[1])[0])
    return (
        f"Floor: {_lr(value)} = {floor.formula}, reached at update {floor.step} "
        f"(epoch {floor.step // steps_per_epoch + 1}); it stays there."
    )


def _callback_text(callback: CallbackSpec, spec: OptimizerSpec | None) -> str:
    kw = callback.kwargs
    if callback.class_name == "ReduceLROnPlateau":
        schedule = spec is not None and isinstance(spec.learning_rate, ScheduleSpec)
        text = (
            f"ReduceLROnPlateau: at the end of an epoch where {kw.get('monitor', 'val_loss')!r} has not "
            f"improved for {kw.get('patience', 10)} epochs, the lr variable is multiplied by "
            f"{_num(kw.get('factor', 0.1))} (not below min_lr={_num(kw.get('min_lr', 0))}); when it acts "
            "depends on the metric history (give the run's logs to see it)."
        )
        if spec is not None and spec.decay:
            text += " It cuts the variable; legacy decay still divides it on every batch."
        if schedule:
            text += " With a LearningRateSchedule it cannot set the lr (crash/TypeError/no-op by era)."
        return text
    if callback.class_name == "LearningRateScheduler":
        return (
            f"LearningRateScheduler: sets the lr variable to {kw.get('schedule', 'schedule')}(epoch, lr) at "
            "the start of every epoch (epoch 0-based); per-batch legacy decay still applies on top."
        )
    if callback.class_name == "EarlyStopping":
        return f"EarlyStopping: stops training when {kw.get('monitor', 'val_loss')!r} stalls; no lr change."
    return f"{callback.class_name}: does not change the learning rate."


def _spec_text(spec: OptimizerSpec) -> str:
    if spec.source == "--optimizer" and spec.raw:
        args = ", ".join(f"{k}={_arg(v)}" for k, v in spec.raw.items())
        return f"{spec.class_name}({args})"
    return f"{spec.class_name} ({spec.source})" if spec.source else spec.class_name


def _arg(value: Any) -> str:
    if isinstance(value, ScheduleSpec):
        return f"{value.class_name}(" + ", ".join(f"{k}={v!r}" for k, v in value.config.items()) + ")"
    return repr(value)


#: hyperparameters as the user would write them (``0.001``, ``0.75``), as the schedules word them
_num = fmt_number


def _lr(value: float | None) -> str:
    """An lr value: the shortest text that reads back as the same float32."""
    return lr_text(value, missing="-")


def _is_missing(value: Any) -> bool:
    try:
        return value is None or bool(np.isnan(value))
    except TypeError:
        return value is None or str(value) in ("<NA>", "nan")


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


# --------------------------------------------------------------------------- document


def explanation_document(explanation: Explanation) -> list[Block]:
    """The explanation as a document for :func:`lraudit.report.workflow_text.print_document`."""
    from lraudit.report.workflow_text import Heading, Table

    e = explanation
    blocks: list[Block] = [
        Heading(f"{e.subject}: {e.era}"),
        f"Steps per epoch: {e.steps_per_epoch}; epochs: {e.epochs}; first update lr: {_lr(e.lr_start)}.",
        e.change_text,
        *e.summary,
        *e.schedule,
        *e.decay,
    ]
    if e.warmup:
        blocks.append(e.warmup)
    if e.floor:
        blocks.append(e.floor)
    for m in e.milestones:
        pct = f"{100 * m.fraction:g} %"
        if m.step is None:
            blocks.append(f"Never below {pct} of {_lr(e.lr_reference)} in the first {m.searched} updates.")
        else:
            where = "" if m.within_training else f" (after the {e.epochs} epochs shown)"
            blocks.append(
                f"Below {pct} of {_lr(e.lr_reference)} from update {m.step}, epoch {m.epoch}{where}."
            )
    columns = ["epoch", "first update", "lr first update", "lr last update", "lr after epoch", "x per epoch"]
    has_logged = any(r.logged is not None for r in e.rows)
    has_actions = any(r.actions for r in e.rows)
    if has_logged:
        columns += ["logged lr"]
    if has_actions:
        columns += ["callback"]
    table = Table(columns, title="lr per epoch (lr after epoch e = value of the next update)")
    for row in _shown_rows(e.rows):
        if row is None:
            table.rows.append(["..."] + [""] * (len(columns) - 1))
            continue
        cells = [
            str(row.epoch),
            str(row.first_step),
            _lr(row.lr_first),
            _lr(row.lr_last),
            _lr(row.lr_after),
            f"x{row.factor:.4g}" if row.factor is not None and math.isfinite(row.factor) else "-",
        ]
        if has_logged:
            cells.append(_lr(row.logged) if row.logged is not None else "-")
        if has_actions:
            cells.append("; ".join(row.action_labels) or "-")
        table.rows.append(cells)
    blocks.append(table)
    if has_actions:
        blocks.append(Heading("callback actions and fits"))
        blocks += [f"epoch {row.epoch}: {text}" for row in e.rows for text in row.actions]
    if e.callbacks:
        blocks += [Heading("callbacks"), *e.callbacks]
    if e.notes:
        blocks += [Heading("notes"), *e.notes]
    return blocks


def _shown_rows(rows: list[EpochRow]) -> list[EpochRow | None]:
    """Every epoch when few; else the first few, an ellipsis (None), the ones with actions and the last."""
    if len(rows) <= ALL_EPOCHS_UP_TO:
        return list(rows)
    keep = [r for i, r in enumerate(rows) if i < FIRST_EPOCHS_SHOWN or r.actions or i == len(rows) - 1]
    shown: list[EpochRow | None] = []
    previous = 0
    for row in keep:
        if row.epoch - previous > 1:
            shown.append(None)
        shown.append(row)
        previous = row.epoch
    return shown
