"""Rules about legacy ``decay`` and other "decay" words: LRA001, LRA007, LRA008, LRA009, LRA018."""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lraudit.numfmt import epoch_text, lr_text
from lraudit.rules._facts import (
    built_schedule,
    callback_specs,
    decay_steps_mask,
    events,
    frame,
    logged,
    optimizer_location,
    schedule,
    steps_per_epoch,
    total_epochs,
)
from lraudit.rules._plateau import plateau_rule
from lraudit.rules.base import REGISTRY, Finding, Rule, Severity

if TYPE_CHECKING:
    from lraudit.reconstruction import Timeline
    from lraudit.run import Run


def decay_value(timeline: Timeline, table: pd.DataFrame) -> float | None:
    """The legacy ``decay`` in force: from the spec, else solved from the frame's decay factor."""
    spec = timeline.optimizer
    if spec is not None and spec.decay:
        return float(spec.decay)
    rows = table[decay_steps_mask(table) & (table["step"] > 0)]
    if rows.empty:
        return None
    row = rows.iloc[0]
    return float((1.0 / float(row["decay_factor"]) - 1.0) / float(row["step"]))


#: A legacy ``decay`` whose applied lr ends less than this fraction below the base variable over
#: the whole run (``1 - 1/(1 + decay*last_step)``) has a negligible effect: its findings are info.
NEGLIGIBLE_DECAY_DRIFT = 0.05


def decay_drift(decay: float, last_step: int) -> float:
    """How far below the base variable legacy ``decay`` brings the lr by ``last_step`` (0.03 = -3 %)."""
    return 1.0 - 1.0 / (1.0 + decay * max(last_step, 0))


def per_epoch_intent(run: Run, timeline: Timeline) -> tuple[float, str] | None:
    """The per-epoch factor the run shows the user wanted, and where it shows; None without one.

    A per-epoch intent is a per-epoch lr writer next to the legacy ``decay``: a ReduceLROnPlateau
    (its factor), or a LearningRateScheduler (given or seen setting the lr; its factor is what
    ``decay`` gives over one epoch when it were applied once per epoch). Without one, legacy
    ``decay`` alone is a deliberate per-step ("power") schedule, to explain and not to correct.
    """
    rule = plateau_rule(run, timeline)
    if rule is not None and rule.factor:
        return rule.factor, "the factor this run's ReduceLROnPlateau uses"
    kinds = (("ReduceLROnPlateau", "plateau_reduction"), ("LearningRateScheduler", "scheduler_set"))
    writers = [name for name, kind in kinds if callback_specs(timeline, name) or events(run, kind)]
    if not writers:
        return None
    decay = decay_value(timeline, frame(timeline)) or 0.0
    return 1.0 / (1.0 + decay), (
        f"what decay={decay:g} would give if it were applied once per epoch, as this run's "
        f"{writers[0]} is"
    )


def power_schedule_text(decay: float, base: float, last_step: int, applied: float) -> str:
    """Legacy ``decay`` without a per-epoch writer explained as the per-step schedule it is."""
    return (
        f"with no per-epoch lr writer in this run, decay={decay:g} is a per-step (\"power\") schedule "
        f"lr = {lr_text(base)} / (1 + {decay:g}*iterations): {lr_text(applied)} at step {last_step} "
        f"({-100 * decay_drift(decay, last_step):.3g} % over the run)"
    )


_POWER_SCHEDULE_FIX = (
    "Nothing to change if this per-step decay is what you meant; to see or log the applied lr use "
    "`lraudit timeline` or ``optimizer._decayed_lr(tf.float32)``; the same schedule in Keras 3 is "
    "``InverseTimeDecay(lr, decay_steps=1, decay_rate=decay)``."
)


def decay_for_factor(factor: float, steps: int) -> float:
    """The legacy ``decay`` whose first epoch multiplies the lr by ``factor``: (1/F - 1)/steps."""
    return (1.0 / factor - 1.0) / steps


@REGISTRY.register
class HiddenDecay(Rule):
    """Logged lr is the base variable while legacy `decay` makes the applied lr smaller.

    What it detects:
        An optimizer with legacy ``decay > 0`` (standalone Keras 2, OptimizerV2, ``legacy.*``)
        divides the lr by ``1 + decay * iterations`` on every update, but every log (console,
        CSVLogger, History, TensorBoard, the saved config) shows the undecayed base variable. The
        finding reports both values at the point where they differ most. Its severity follows the
        size of the effect: when the applied lr ends less than ``NEGLIGIBLE_DECAY_DRIFT`` (5 %)
        below the base over the whole run (e.g. ``decay=1e-6`` over 31240 steps: -3.0 %) it is
        info, otherwise a warning. A per-epoch ``decay`` is proposed only when the run shows a
        per-epoch intent (a ReduceLROnPlateau or LearningRateScheduler); legacy ``decay`` alone is
        a deliberate per-step ("power") schedule and is explained, not corrected.
    Why it matters:
        The lr you read in the logs is not the lr that trained the model: after a few epochs the
        applied lr can be several times smaller, and decisions taken from the logged value (tuning,
        ReduceLROnPlateau reasoning, reproducing the run) are wrong.
    Example:
        ``Adam(lr=1e-3, decay=1e-2)`` with 20 steps/epoch and ReduceLROnPlateau(factor=0.75): the
        console prints "reducing learning rate to 0.00075" after epoch 3; the applied lr at step 60
        is 0.00075/(1+0.01*60) = 0.00046875.
    Fix:
        Read the applied lr from `lraudit timeline`, or log ``optimizer._decayed_lr(tf.float32)``;
        if you wanted a per-epoch factor F, use ``decay = (1/F - 1) / steps_per_epoch`` or an
        explicit ``ExponentialDecay(lr, decay_steps=steps_per_epoch, decay_rate=F, staircase=True)``.
    References:
        keras-team/keras#2808, #3970, #7874, #13589.
    """

    code = "LRA001"
    name = "hidden-decay"
    severity = Severity.WARNING

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        table = frame(timeline)
        decayed = decay_steps_mask(table) & np.isfinite(table.get("lr_effective", 0.0))
        if not decayed.any():
            return
        decay = decay_value(timeline, table) or 0.0
        steps = steps_per_epoch(run, table) or 1
        intent = per_epoch_intent(run, timeline)
        drift = 1.0 - float(pd.to_numeric(table.loc[decayed, "decay_factor"]).min())
        last = table.iloc[int(np.flatnonzero(decayed.to_numpy())[-1])]  # one row, not a masked copy
        if intent is not None:
            factor, why = intent
            advice = (
                f"decay={decay_for_factor(factor, steps):.4g} would give the intended x{factor:g} per epoch "
                f"({why}; with {steps} steps per epoch, over the first epoch)"
            )
        else:
            advice = power_schedule_text(
                decay, float(last["lr_base"]), int(last["step"]), float(last["lr_effective"])
            )
        logs = logged(timeline)
        schedule_driven = schedule(timeline) is not None
        before_decay = "the schedule's value before legacy decay" if schedule_driven else "the base variable"
        # only values that describe an update of this run: a read after the epoch (next_step,
        # after_callback) is another step's value, and its step may not exist (after the last)
        # (the few logged steps looked up in the frame, not a hash table of its million steps)
        table_steps = table["step"]
        logged_steps = table_steps[table_steps.isin(logs["step"].dropna())]
        describes_step = logs["relation"].isin(["base", "effective"]) & logs["step"].isin(logged_steps)
        usable = logs[
            describes_step & logs["value"].notna() & logs["lr_effective"].notna() & (logs["lr_effective"] > 0)
        ]
        ratio = usable["value"].astype(float) / usable["lr_effective"].astype(float)
        usable = usable[ratio > 1 + 1e-6]
        if not usable.empty:
            worst = usable.loc[(usable["value"] / usable["lr_effective"]).astype(float).idxmax()]
            step = int(worst["step"])
            value, applied = float(worst["value"]), float(worst["lr_effective"])
            where = str(worst["location"])
            subject = f"the logged {lr_text(value)} ({where}) is {before_decay}"
        else:
            step, applied = int(last["step"]), float(last["lr_effective"])
            value = float(last["lr_base"])
            reads = logs[logs["relation"].isin(["next_step", "after_callback"])]
            names = sorted({f"{s} {n}" for s, n in zip(reads["source"], reads["name"], strict=True)})
            shown = f" ({', '.join(names)} shows the undecayed lr read after each epoch)" if names else ""
            if schedule_driven:
                where = str(reads["location"].iloc[0]) if names else optimizer_location(timeline)
                subject = (
                    f"no log shows the applied lr{shown}; {before_decay} at step {step} is {lr_text(value)}"
                )
            else:
                where = optimizer_location(timeline)
                subject = (
                    f"no log shows the applied lr{shown}; the configured {lr_text(value)}"
                    f"{f' ({where})' if where else ''} is the base variable"
                )
        epoch = _epoch_of(table, step)
        yield cls.finding(
            run,
            f"{subject}; the applied lr at step {step} ({epoch_text(epoch, total_epochs(run, timeline))}) "
            f"was {lr_text(applied)} because "
            f"decay={decay:g} divides it by 1+decay*iterations on every batch "
            f"(by {1 + decay * (step or 0):.4g} at step {step}); {advice}",
            severity=Severity.INFO if drift < NEGLIGIBLE_DECAY_DRIFT else None,
            fix=None if intent is not None else _POWER_SCHEDULE_FIX,
            epoch=epoch,
            step=step,
            logged=value,
            effective=applied,
            source=where,
        )


def _epoch_of(table: pd.DataFrame, step: int | None) -> int | None:
    if step is None or table.empty:
        return None
    rows = table.loc[table["step"] == step, "epoch"]
    return int(rows.iloc[0]) if len(rows) else None


@REGISTRY.register
class DecayPerBatch(Rule):
    """Legacy `decay` is per batch: the per-epoch factor it gives, and the `decay` giving the intended one.

    What it detects:
        Any run where legacy ``decay`` is applied. It states the factor the lr really falls by
        over the first and the last epoch (``(1+d*s*e)/(1+d*s*(e+1))``, not a constant), and the
        ``decay`` that gives a chosen per-epoch factor F over the first epoch:
        ``D = (1/F - 1) / steps_per_epoch`` - only when the run shows a per-epoch intent (a
        ReduceLROnPlateau factor, a LearningRateScheduler). Without one, ``decay`` is a
        deliberate per-step ("power") schedule ``lr/(1+decay*t)``: the finding states where it
        ends and proposes nothing.
    Why it matters:
        ``decay`` is commonly read as "per epoch"; with 100 steps per epoch, ``decay=0.01``
        halves the lr within the first epoch.
    Example:
        ``SGD(lr=0.1, decay=1e-3)``, 50 steps/epoch: x0.952 over epoch 0, x0.987 over epoch 3;
        for x0.75 per epoch over the first epoch use decay=0.006667.
    Fix:
        Use ``decay = (1/F - 1) / steps_per_epoch`` (`lraudit solve-decay --factor F
        --steps-per-epoch N`), or a schedule stated in steps, e.g.
        ``ExponentialDecay(lr, decay_steps=steps_per_epoch, decay_rate=F, staircase=True)``.
    References:
        keras-team/keras#2808 ("decay is per batch update").
    """

    code = "LRA007"
    name = "decay-per-batch"
    severity = Severity.INFO

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        table = frame(timeline)
        decayed = decay_steps_mask(table)
        if not decayed.any():
            return
        decay = decay_value(timeline, table) or 0.0
        steps = steps_per_epoch(run, table) or 1
        epochs = int(table["epoch"].max()) + 1
        first = 1.0 / (1.0 + decay * steps)
        last = (1.0 + decay * steps * (epochs - 1)) / (1.0 + decay * steps * epochs)
        intent = per_epoch_intent(run, timeline)
        if intent is not None:
            factor, why = intent
            advice = (
                f"decay={decay_for_factor(factor, steps):.4g} gives x{factor:g} over the first epoch ({why})"
            )
        else:
            end = table[decayed].iloc[-1]
            advice = power_schedule_text(
                decay, float(end["lr_base"]), int(end["step"]), float(end["lr_effective"])
            )
        yield cls.finding(
            run,
            f"legacy decay={decay:g} is applied per batch, not per epoch: with {steps} steps per epoch "
            f"the lr is divided by 1+{decay:g}*iterations, x{first:.4g} over {epoch_text(0, epochs)} and "
            f"x{last:.4g} over {epoch_text(epochs - 1, epochs)} (not a constant factor); {advice}",
            fix=None if intent is not None else _POWER_SCHEDULE_FIX,
            epoch=0,
            step=int(table["step"].min()),
            source=optimizer_location(timeline),
        )


#: optimizers whose point is decoupled weight decay: their ``weight_decay`` is no sign of an lr-decay intent
DECOUPLED_WEIGHT_DECAY_CLASSES = ("AdamW", "Lion", "Lamb")


@REGISTRY.register
class WeightDecayIsNotLrDecay(Rule):
    """`weight_decay` set, learning rate constant: the user may expect lr decay.

    What it detects:
        An optimizer with ``weight_decay`` (Keras 2.11+ new optimizers, Keras 3, AdamW) whose lr
        is not driven by a schedule or legacy ``decay``.
    Why it matters:
        ``weight_decay`` is decoupled weight decay (``w -= lr*wd*w`` before each update): it
        regularises the weights and never lowers the learning rate. Code migrated from
        ``Adam(decay=...)`` often sets ``weight_decay`` believing it replaces lr decay. On a
        class made for it (``AdamW``, ``Lion``, ``Lamb``) the weight decay is clearly meant: the
        finding is then info, an explanation rather than a warning.
    Example:
        ``Adam(learning_rate=1e-3, weight_decay=1e-2)``: the applied lr stays 1e-3 at every step
        (callbacks aside).
    Fix:
        Keep ``weight_decay`` if you want weight regularisation; for a decaying lr add a schedule,
        e.g. ``InverseTimeDecay(lr, decay_steps=1, decay_rate=d)`` (= legacy ``decay=d``).
    References:
        keras ``keras/src/optimizers/base_optimizer.py`` ``_apply_weight_decay`` @ v3.15.1.
    """

    code = "LRA008"
    name = "weight-decay-is-not-lr-decay"
    severity = Severity.WARNING

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        spec = timeline.optimizer
        if spec is None or not spec.weight_decay or spec.weight_decay <= 0:
            return
        table = frame(timeline)
        if schedule(timeline) is not None or decay_steps_mask(table).any():
            return
        writers = [c for c in ("ReduceLROnPlateau", "LearningRateScheduler") if callback_specs(timeline, c)]
        writers += [
            name for name, kind in (("ReduceLROnPlateau", "plateau_reduction"),
                                    ("LearningRateScheduler", "scheduler_set"))
            if events(run, kind) and name not in writers
        ]
        start = float(table["lr_effective"].iloc[0]) if len(table) else None
        changed_by = f" except where {' and '.join(writers)} set it" if writers else ""
        # a class made for decoupled weight decay (AdamW) says it was meant: explained, not a warning
        meant = spec.class_name in DECOUPLED_WEIGHT_DECAY_CLASSES
        yield cls.finding(
            run,
            f"weight_decay={spec.weight_decay:g} is decoupled weight decay (each update first does "
            f"w -= lr*{spec.weight_decay:g}*w); it does not decay the learning rate, which stays at "
            f"{lr_text(start)}{changed_by}",
            effective=start,
            source=optimizer_location(timeline),
            severity=Severity.INFO if meant else cls.severity,
        )


@REGISTRY.register
class DecayUnsupported(Rule):
    """`decay` given to an optimizer generation that rejects or ignores it.

    What it detects:
        ``decay=`` passed to a Keras 3 optimizer (warning "Argument `decay` is no longer supported
        and will be ignored", the lr stays constant) or to a 2.11+ new optimizer (ValueError), seen
        in the console or in an optimizer spec of those generations.
    Why it matters:
        Code migrated from Keras 2 silently trains with a constant lr: the decay the author
        relied on is gone.
    Example:
        Keras 3 ``SGD(learning_rate=0.02, decay=1e-2)``: every update applies exactly 0.02.
    Fix:
        Replace ``decay=d`` by ``learning_rate=InverseTimeDecay(lr, decay_steps=1, decay_rate=d)``
        (bit-identical to the legacy behaviour), or use ``tf.keras.optimizers.legacy.*`` on Keras 2.
    References:
        keras ``keras/src/optimizers/base_optimizer.py`` @ v3.15.1 (``decay`` warning);
        keras-team/keras#17744, #17752.
    """

    code = "LRA009"
    name = "decay-unsupported"
    severity = Severity.ERROR

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        table = frame(timeline)
        applied = float(table["lr_effective"].iloc[-1]) if len(table) else None
        spec = timeline.optimizer
        decay = spec.decay if spec is not None and spec.decay else None
        said = f"decay={decay:g}" if decay else "decay"
        for kind, verb in (("decay_ignored", "ignored"), ("decay_rejected", "rejected")):
            for event in events(run, kind)[:1]:
                yield cls.finding(
                    run,
                    f"{said} was {verb} by this Keras ({event.location}: {(event.text or '').strip()}); "
                    f"the lr does not decay: the last update applied {lr_text(applied)}",
                    effective=applied,
                    source=event.location,
                )
                return
        if decay and spec is not None and spec.generation in ("k2-new", "k3"):
            what = "ignores" if spec.generation == "k3" else "rejects"
            yield cls.finding(
                run,
                f"{said} is set but the {spec.generation} optimizer generation {what} it; "
                f"the applied lr does not decay (last update {lr_text(applied)})",
                effective=applied,
                source=optimizer_location(timeline),
            )


@REGISTRY.register
class DecayStepsLookLikeEpochs(Rule):
    """`decay_steps`/`first_decay_steps` ≤ number of epochs while steps per epoch ≫ 1.

    What it detects:
        A schedule whose ``decay_steps`` (``first_decay_steps``, or last ``boundaries`` entry) is
        no larger than the number of epochs while an epoch has 10 or more steps.
    Why it matters:
        Schedules count optimizer updates, not epochs: ``ExponentialDecay(0.1, decay_steps=10,
        ...)`` meant as "every 10 epochs" decays 10x faster than intended per epoch of 100 steps.
    Example:
        ``CosineDecay(0.01, decay_steps=20)`` with 20 epochs of 500 steps: the lr reaches its floor
        after 20 updates, i.e. 4% into the first epoch.
    Fix:
        Multiply by the steps per epoch: ``decay_steps = epochs_wanted * steps_per_epoch``.
    References:
        keras ``keras/src/optimizers/schedules/learning_rate_schedule.py`` @ v3.15.1 (``step`` is
        the optimizer's iteration counter); tensorflow/tensorflow#49208.
    """

    code = "LRA018"
    name = "decay-steps-look-like-epochs"
    severity = Severity.INFO

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        scheduled = built_schedule(timeline)
        if scheduled is None:
            return
        table = frame(timeline)
        steps = steps_per_epoch(run, table)
        epochs = run.epochs or (int(table["epoch"].max()) + 1 if len(table) else 0)
        if not steps or steps < 10 or not epochs:
            return
        # the schedule class names the arguments that set how long its decay lasts
        for key, value in scheduled.lengths().items():
            if not 0 < value <= epochs:
                continue
            if key == "boundaries":
                message = (
                    f"{scheduled.class_name}(boundaries={getattr(scheduled, key)}) counts optimizer updates, "
                    f"but every boundary is within the {epochs} epochs while an epoch has {steps} steps"
                )
            else:
                message = (
                    f"{scheduled.class_name}({key}={value:g}) counts optimizer updates, but {value:g} is no "
                    f"more than the {epochs} epochs of this run while an epoch has {steps} steps: the "
                    f"schedule runs its course in {value / steps:.2g} epochs"
                )
            yield cls.finding(run, message, source=optimizer_location(timeline))
            return
