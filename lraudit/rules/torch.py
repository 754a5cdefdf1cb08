"""Rules for PyTorch, Hugging Face Transformers and Lightning runs: LRA027-LRA034.

They read the replayed loop (``Timeline.extra["program"]`` and ``["replay"]``, see
:mod:`lraudit.reconstruction.torch_build`) and the logged table's ``read``/``reproduced`` columns.
"""
from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lraudit.numfmt import epoch_text, lr_text
from lraudit.rules._facts import epoch_rows, frame, logged, total_epochs
from lraudit.rules.base import REGISTRY, TORCH_FRAMEWORKS, Finding, Rule, Severity

if TYPE_CHECKING:
    from lraudit.reconstruction import Timeline
    from lraudit.run import Run
    from lraudit.torchfacts import LoopAction


def _program(timeline: Timeline):
    return timeline.extra.get("program")


def _replay(timeline: Timeline):
    return timeline.extra.get("replay")


def _where(action: LoopAction | None) -> str:
    return f" ({action.location})" if action is not None and action.location else ""


def _first_update(timeline: Timeline) -> dict[int, float]:
    """The lr of each epoch's first update, from the timeline's shared per-epoch view."""
    table = frame(timeline)
    rows = epoch_rows(timeline)
    first = rows.first_values(table, "lr_base") if rows is not None else None
    if first is None:
        first = table.groupby("epoch")["lr_base"].first()
    return {int(e): float(v) for e, v in first.items()}


def torch_shift_explanation(timeline: Timeline, relation: str, read: Any, read_location: Any) -> str | None:
    """Why a PyTorch-ecosystem log shows another update's lr, or None for a Keras run."""
    if timeline.extra.get("framework") not in TORCH_FRAMEWORKS or not isinstance(read_location, str):
        return None
    if timeline.extra.get("framework") == "transformers":
        version = (timeline.extra.get("versions") or {}).get("transformers")
        said = f"transformers {version}" if version else "this transformers version"
        return (f"is the next update's lr: {said} logs `learning_rate` after `lr_scheduler.step()` "
                "(fixed in 4.51)")
    how = {
        "get_last_lr": "`scheduler.get_last_lr()`",
        "get_lr": "`scheduler.get_lr()`",
    }.get(str(read), "`optimizer.param_groups[0]['lr']`")
    if str(read) == "get_lr":
        return (f"is {how} ({read_location}), which computes the value the next scheduler step sets, "
                "not the lr in use: the next update's lr")
    if relation == "next_step":
        return f"is read by {how} after `scheduler.step()` ({read_location}): the next update's lr"
    return f"is read by {how} after the epoch's `scheduler.step()` ({read_location}): the next epoch's lr"


#: LRA020's fix for a PyTorch-ecosystem run, by where the zero updates are
TORCH_ZERO_LR_FIX = {
    "first": (
        "A warm-up whose factor is 0 at the first update wastes that batch: start the factor above 0 "
        "(LambdaLR: (step + 1) / warmup). The Trainer's warm-up always starts at 0; with many updates "
        "one wasted batch is harmless."
    ),
    "later": (
        "The schedule reaches 0 before the run ends: give it a floor (eta_min, an end value above 0) "
        "or size it to the updates that run."
    ),
}


def torch_zero_lr_fix(timeline: Timeline, first_zero_step: int) -> str | None:
    """LRA020's fix for a PyTorch-ecosystem run (None for Keras)."""
    if timeline.extra.get("framework") not in TORCH_FRAMEWORKS:
        return None
    return TORCH_ZERO_LR_FIX["first" if first_zero_step == 0 else "later"]


def torch_zero_lr_cause(timeline: Timeline, first_zero_step: int = 0) -> str | None:
    """Why a PyTorch-ecosystem schedule applied 0, or None."""
    framework = timeline.extra.get("framework")
    if framework not in TORCH_FRAMEWORKS:
        return None
    if framework == "transformers" and first_zero_step == 0:
        return ("the Trainer's warm-up multiplies the lr by step / warmup_steps, 0 at the first update; "
                "every transformers version does")
    replay = timeline.extra.get("replay")
    names = ", ".join(type(s).__name__ for s in (replay.schedulers.values() if replay else []))
    return f"the schedule ({names}) returns 0 there" if names else None


def scheduler_restart_on_resume(
    run: Run, timeline: Timeline
) -> tuple[str, int, int, float, str | None] | None:
    """(message, update, epoch, applied lr, code location) where a resumed process that built a fresh
    scheduler (its state not loaded) applied another lr than a resume with the scheduler's state
    would have; None when both agree (a scheduler that only multiplies the lr it finds)."""
    from lraudit.reconstruction.torch_replay import replay_loop

    program, replay = _program(timeline), _replay(timeline)
    segments = (run.torch.resume.get("trainer_schedule_segments") if run.torch is not None else None) or []
    if segments and replay is not None and len(replay.updates) > segments[0][0] + 1:
        return _trainer_resumed_with_other_length(timeline, segments)
    if (
        program is None or replay is None or program.resume_epoch is None
        or program.resume_loads_scheduler or not replay.updates
    ):
        return None
    continued = replay_loop(replace(program, resume_loads_scheduler=True))
    ran = np.array([u.lr for u in replay.updates], dtype=np.float64)
    intended = np.array([u.lr for u in continued.updates], dtype=np.float64)
    n = min(len(ran), len(intended))
    differs = np.flatnonzero(ran[:n] != intended[:n])
    if not differs.size:
        return None
    first = int(differs[0])
    update = replay.updates[first]
    resumed = program.resume_epoch
    facts_resume = run.torch.resume if run.torch is not None else {}
    message = (
        f"the run resumed at {epoch_text(resumed, program.end_epoch)} in a new process that loads the "
        f"optimizer but not the scheduler's state: the fresh scheduler counts its steps from 0 again, so "
        f"from update {first} ({epoch_text(update.epoch, program.end_epoch)}) it applied "
        f"{lr_text(float(ran[first]))} where the schedule continued would apply "
        f"{lr_text(float(intended[first]))} ({int(differs.size)} of {n} updates differ)"
    )
    return message, first, update.epoch, float(ran[first]), facts_resume.get("location")


def _trainer_resumed_with_other_length(
    timeline: Timeline, segments: list[tuple[int, int]]
) -> tuple[str, int, int, float, str | None]:
    """The Trainer resumed with another max_steps: its schedule is rebuilt and continued mid-way."""
    table = frame(timeline)
    lrs = table["lr_base"].to_numpy()
    (end, length), (_, new_length) = segments[0], segments[1]
    before, after = float(lrs[end]), float(lrs[end + 1])
    message = (
        f"the Trainer resumed from the checkpoint at step {end} with max_steps {new_length} instead of "
        f"{length}: it rebuilt the schedule for {new_length} updates and continued it at step {end}, so "
        f"the lr jumps from {lr_text(before)} (update {end}) to {lr_text(after)} (update {end + 1}) instead "
        f"of following either schedule"
    )
    return message, end + 1, int(table["epoch"].iloc[end + 1]), after, None


def _with_scheduler_step_after_batches(program, action: LoopAction):
    """The program with ``action`` (a scheduler step at the epoch start) moved to the epoch end."""
    actions = [a for a in program.actions if a is not action] + [replace(action, phase="epoch_end")]
    return replace(program, actions=actions)


@REGISTRY.register
class SchedulerBeforeOptimizer(Rule):
    """``scheduler.step()`` runs before the epoch's ``optimizer.step()``: every boundary comes early.

    What it detects:
        A hand-written loop that calls ``scheduler.step()`` (without an epoch argument) at the start
        of each epoch, or inside the batch loop before ``optimizer.step()``: since PyTorch 1.1 the
        scheduler must step *after* the optimizer. The first value is used for one epoch only and
        every later change arrives one epoch (or one update) early. PyTorch warns once
        ("Detected call of lr_scheduler.step() before optimizer.step()"). With
        ``scheduler.step(epoch)`` the closed form is used and the order changes nothing: the
        finding is then an *info* saying the warning is harmless. The mirror mistake,
        ``scheduler.step(epoch)`` at the *end* of each epoch, sets epoch e's value for epoch e + 1:
        every change comes one epoch late.
    Why it matters:
        ``StepLR(step_size=2)`` meant two epochs at the initial lr; the run had one, and every
        later drop came one epoch early.
    Example:
        ``scheduler.step()`` first in the epoch loop, ``StepLR(step_size=2, gamma=0.1)``, lr 0.1:
        epochs ran at 0.1, 0.01, 0.01, 0.001, ...
    Fix:
        Call ``scheduler.step()`` after the epoch's ``optimizer.step()`` calls (at the end of the
        epoch for per-epoch schedulers).
    References:
        pytorch ``torch/optim/lr_scheduler.py`` (``LRScheduler.step`` warning) @ v2.5.0;
        "How to adjust learning rate" in the ``torch.optim`` documentation.
    """

    code = "LRA027"
    name = "scheduler-before-optimizer"
    severity = Severity.WARNING
    frameworks = frozenset({"pytorch"})

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        from lraudit.reconstruction.torch_replay import replay_loop

        program = _program(timeline)
        if program is None:
            return
        early = next((a for a in program.actions if a.action == "scheduler_step"
                      and a.phase == "epoch_start"), None)
        late = next((a for a in program.actions if a.action == "scheduler_step"
                     and a.phase == "epoch_end" and a.step_arg == "epoch"), None)
        if early is None and late is not None:
            yield from _late_epoch_argument(cls, run, timeline, program, late)
            return
        if early is None:
            return
        total = total_epochs(run, timeline)
        if early.step_arg == "epoch":
            yield cls.finding(
                run,
                f"`scheduler.step(epoch)` runs at the start of each epoch{_where(early)}, before its "
                "`optimizer.step()`; PyTorch warns about the order, but with an explicit epoch the "
                "closed form sets the lr of that very epoch: the applied lr is the intended one",
                severity=Severity.INFO,
                fix="Nothing to change for the lr; the warning is harmless here.",
                source=early.location,
            )
            return
        applied = _first_update(timeline)
        intended = _first_update_of(replay_loop(_with_scheduler_step_after_batches(program, early)))
        differing = [e for e in sorted(applied) if e in intended and applied[e] != intended[e]]
        if not differing:
            return
        first = differing[0]
        ran = ", ".join(lr_text(applied[e]) for e in sorted(applied)[:6])
        meant = ", ".join(lr_text(intended[e]) for e in sorted(intended)[:6])
        yield cls.finding(
            run,
            f"`scheduler.step()` runs at the start of each epoch{_where(early)}, before that epoch's "
            f"`optimizer.step()`: every change comes one epoch early; from "
            f"{epoch_text(first, total)} the epochs ran at {lr_text(applied[first])} instead of "
            f"{lr_text(intended[first])} (epochs ran at {ran}; stepped after the batches: {meant})",
            epoch=first,
            logged=None,
            effective=applied[first],
            source=early.location,
        )


def _late_epoch_argument(cls, run: Run, timeline: Timeline, program, late: LoopAction) -> Iterator[Finding]:
    """``scheduler.step(epoch)`` at the end of epoch e sets the value meant for epoch e, which only
    epoch e + 1 uses: every change one epoch late."""
    from lraudit.reconstruction.torch_replay import replay_loop

    moved = [a for a in program.actions if a is not late] + [replace(late, phase="epoch_start")]
    applied = _first_update(timeline)
    intended = _first_update_of(replay_loop(replace(program, actions=moved)))
    differing = [e for e in sorted(applied) if e in intended and applied[e] != intended[e]]
    if not differing:
        return
    first, total = differing[0], total_epochs(run, timeline)
    ran = ", ".join(lr_text(applied[e]) for e in sorted(applied)[:6])
    meant = ", ".join(lr_text(intended[e]) for e in sorted(intended)[:6])
    yield cls.finding(
        run,
        f"`scheduler.step(epoch)` runs at the end of each epoch{_where(late)}: the value it sets for "
        f"epoch e is used by epoch e + 1, so every change comes one epoch late; from "
        f"{epoch_text(first, total)} the epochs ran at {lr_text(applied[first])} instead of "
        f"{lr_text(intended[first])} (epochs ran at {ran}; the schedule's own values: {meant})",
        epoch=first,
        effective=applied[first],
        source=late.location,
        fix="Call `scheduler.step()` without an argument at the end of the epoch, or "
        "`scheduler.step(epoch)` at its start.",
    )


def _first_update_of(replay) -> dict[int, float]:
    found: dict[int, float] = {}
    for update in replay.updates:
        found.setdefault(update.epoch, update.lr)
    return found


def _horizon(scheduler: Any) -> tuple[str, int] | None:
    """The scheduler parameter that sizes it in scheduler steps, and its value."""
    for name in ("T_max", "total_steps", "total_iters"):
        value = getattr(scheduler, name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return name, int(value)
    return None


def _name(scheduler: Any) -> str:
    return type(scheduler).__name__


def _updates_per_scheduler_step(program, replay) -> float | None:
    steps = sum(replay.scheduler_steps.values())
    updates = len(replay.updates)
    if not steps or not updates:
        return None
    return steps / updates


@REGISTRY.register
class ScheduleLengthMismatch(Rule):
    """The schedule is sized for a different number of steps than the scheduler took.

    What it detects:
        A cosine (``CosineAnnealingLR``) stepped more than ``T_max`` times: past ``T_max`` the lr
        climbs back up (its period is ``2*T_max``); a ``OneCycleLR`` whose ``total_steps`` is
        larger than the steps taken (the annealing never finishes); a scheduler stepped on every
        batch while ``optimizer.step()`` runs every k batches (gradient accumulation): sized in
        updates, it advances k times too fast.
    Why it matters:
        The lr the run trained with is not the curve that was planned: a cosine that restarts
        halfway, a one-cycle that ends at a high lr, a schedule that finishes early and repeats.
    Example:
        ``CosineAnnealingLR(T_max=30)`` stepped after each of 60 updates: the lr reaches 0 at
        update 30 and rises back to 0.1 by update 60.
    Fix:
        Size the schedule in the steps the scheduler really takes (``T_max = epochs *
        updates_per_epoch``), or step the scheduler where the optimizer steps.
    References:
        pytorch ``torch/optim/lr_scheduler.py`` (CosineAnnealingLR, OneCycleLR) @ v2.5.0.
    """

    code = "LRA028"
    name = "schedule-length-mismatch"
    severity = Severity.WARNING
    frameworks = TORCH_FRAMEWORKS

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        program, replay = _program(timeline), _replay(timeline)
        if program is None or replay is None or not replay.updates:
            return
        ratio = _updates_per_scheduler_step(program, replay)
        stepper = next((a for a in program.actions if a.action == "scheduler_step"), None)
        optimizer = next((a for a in program.actions if a.action == "optimizer_step"), None)
        table = frame(timeline)
        for variable, scheduler in replay.schedulers.items():
            horizon = _horizon(scheduler)
            taken = replay.scheduler_steps.get(variable, 0)
            if horizon is None or not taken:
                continue
            parameter, size = horizon
            per_update = ratio is not None and ratio > 1.0 and stepper is not None and optimizer is not None
            if per_update:
                k = round(ratio)
                yield cls.finding(
                    run,
                    f"`scheduler.step()`{_where(stepper)} runs {k} times per `optimizer.step()`"
                    f"{_where(optimizer)} ({taken} scheduler steps for {len(replay.updates)} updates): "
                    f"{_name(scheduler)}({parameter}={size}) advances {k}x faster than the updates; "
                    f"the lr went from {lr_text(float(table['lr_base'].iloc[0]))} at update 0 to "
                    f"{lr_text(float(table['lr_base'].min()))} and back to "
                    f"{lr_text(float(table['lr_base'].iloc[-1]))} at the last update",
                    severity=Severity.ERROR,
                    step=0,
                    source=stepper.location,
                )
                return
            if _name(scheduler) == "CosineAnnealingLR" and taken > size and _climbs_back(table):
                low = int(np.argmin(table["lr_base"].to_numpy()))
                yield cls.finding(
                    run,
                    f"CosineAnnealingLR(T_max={size}) was stepped {taken} times: the lr reached its "
                    f"minimum {lr_text(float(table['lr_base'].iloc[low]))} at update {low} and climbed "
                    f"back to {lr_text(float(table['lr_base'].iloc[-1]))} by the last update "
                    f"({len(table)} updates; the cosine's period is 2*T_max)",
                    step=low,
                    epoch=int(table["epoch"].iloc[low]),
                    effective=float(table["lr_base"].iloc[-1]),
                    source=stepper.location if stepper else None,
                )
            elif _name(scheduler) == "PolynomialLR" and taken > size:
                yield from cls._polynomial_past_end(run, table, size, taken, stepper)
            elif _name(scheduler) == "OneCycleLR" and taken + 1 < size:
                yield cls.finding(
                    run,
                    f"OneCycleLR(total_steps={size}) was stepped {taken} times: the cycle stopped at "
                    f"{lr_text(float(table['lr_base'].iloc[-1]))}, before its annealing ended",
                    step=len(table) - 1,
                    source=stepper.location if stepper else None,
                )


    @classmethod
    def _polynomial_past_end(cls, run: Run, table: Any, size: int, taken: int,
                             stepper: Any) -> Iterator[Finding]:
        """PolynomialLR holds its end value (0) once last_epoch reaches total_iters: the updates
        from there on apply that value (a schedule sized for fewer steps than the training)."""
        lrs = table["lr_base"].to_numpy()
        end_value = float(lrs[-1])
        differs = np.flatnonzero(lrs != end_value)
        first = int(differs[-1]) + 1 if differs.size else 0
        held = len(lrs) - first
        if held < 1 or first >= len(lrs):
            return
        yield cls.finding(
            run,
            f"PolynomialLR(total_iters={size}) was stepped {taken} times: the lr reached its end value "
            f"{lr_text(end_value)} at update {first} and the last {held} of {len(lrs)} updates applied it "
            f"(the schedule is sized for {size} scheduler steps)",
            step=first,
            epoch=int(table["epoch"].iloc[first]),
            effective=end_value,
            source=stepper.location if stepper else None,
        )


def _climbs_back(table: Any) -> bool:
    """True when an update after the lowest applied lr applied more: the cosine passed T_max (a
    ``scheduler.step(epoch)`` that sets the position itself may step more often without passing it)."""
    lrs = table["lr_base"].to_numpy()
    low = int(np.argmin(lrs))
    return bool(low + 1 < len(lrs) and lrs[low + 1:].max() > lrs[low])


@REGISTRY.register
class LoggedLrNotApplied(Rule):
    """The log statement reads the lr at a moment no update used it: a value that trained nothing.

    What it detects:
        Logged values that the replay of the loop reproduces but that no update applied:
        ``scheduler.get_lr()[0]`` (PyTorch warns "please use `get_last_lr()`"): called outside
        ``step()`` it recomputes the chainable formula from the current lr and, at a boundary,
        applies the decay once more (``StepLR(step_size=10, gamma=0.5)`` logs 0.025 while 0.05
        is applied); or an lr read between two updates, e.g. at the epoch start while the
        scheduler steps on every batch but the optimizer every k batches.
    Why it matters:
        The logged curve is not the lr that trained: it drops twice at each boundary, or lags
        the updates by scheduler steps that applied nothing.
    Example:
        ``writer.add_scalar("lr", scheduler.get_lr()[0], step)`` after ``scheduler.step()``.
    Fix:
        Log ``scheduler.get_last_lr()[0]`` or ``optimizer.param_groups[0]["lr"]`` right before
        ``optimizer.step()``.
    References:
        pytorch ``torch/optim/lr_scheduler.py`` (``get_lr`` warning, ``_get_closed_form_lr``) @ v2.5.0.
    """

    code = "LRA029"
    name = "logged-lr-not-applied"
    severity = Severity.WARNING
    frameworks = TORCH_FRAMEWORKS

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        logs = logged(timeline)
        if logs.empty or "reproduced" not in logs.columns:
            return
        reproduced = logs["reproduced"].fillna(False).astype(bool)
        rows = logs[reproduced & (logs["relation"] == "mismatch")]
        for (_, name), series in rows.groupby(["source", "name"], sort=False):
            first = series.iloc[0]
            step = None if pd.isna(first["step"]) else int(first["step"])
            applied = None if pd.isna(first["lr_base"]) else float(first["lr_base"])
            if first["read"] == "get_lr":
                how = "logs `scheduler.get_lr()`, which at a change applies the decay once more"
            else:
                how = (
                    "reads the lr between two updates (a scheduler step came after the read or before "
                    "the update)"
                )
            yield cls.finding(
                run,
                f"{name} ({first['location']}) {how} ({first['read_location']}): {len(series)} value(s) "
                f"match no update, e.g. {lr_text(float(first['value']))} where update {step} applied "
                f"{lr_text(applied)}",
                step=step,
                logged=float(first["value"]),
                effective=applied,
                source=str(first["location"]),
            )


def _next_applied(timeline: Timeline, step: int | None) -> float | None:
    table = frame(timeline)
    if step is None or step + 1 >= len(table):
        return None
    return float(table["lr_base"].iloc[step + 1])


@REGISTRY.register
class ReplayContradictsLogs(Rule):
    """A logged lr differs from what the training code says the log statement read.

    What it detects:
        Logged values that the replay of the run's own code (optimizer, schedulers, the loop's
        ``optimizer.step()``/``scheduler.step()``/log statements, the framework's settings) does
        not reproduce: the code beside the logs is not the code that ran, an argument was given on
        the command line, or the loop does something lraudit did not read.
    Why it matters:
        The applied lr shown is the code's; where the logs disagree one of them is not the run.
    Example:
        ``train.py`` says ``StepLR(step_size=3)``, the logged lr drops after 5 epochs.
    Fix:
        Audit with the code that ran, or give ``--optimizer``/``--scheduler`` as it ran.
    References:
        pytorch ``torch/optim/lr_scheduler.py`` @ v2.5.0.
    """

    code = "LRA030"
    name = "replay-contradicts-logs"
    severity = Severity.WARNING
    frameworks = TORCH_FRAMEWORKS

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        logs = logged(timeline)
        if logs.empty or "reproduced" not in logs.columns:
            return
        judged = logs[logs["reproduced"].notna()]
        wrong = judged[~judged["reproduced"].astype(bool)]
        if wrong.empty:
            return
        for (source, name), rows in wrong.groupby(["source", "name"], sort=False):
            first = rows.iloc[0]
            step = None if pd.isna(first["step"]) else int(first["step"])
            total = int(((judged["source"] == source) & (judged["name"] == name)).sum())
            yield cls.finding(
                run,
                f"{name} ({first['location']}): {len(rows)} of {total} logged values differ from what "
                f"the code's log statement ({first['read_location']}) read in the replay, first "
                f"{lr_text(float(first['value']))} where the replay read "
                f"{lr_text(float(first['predicted']))}",
                step=step,
                logged=float(first["value"]),
                source=str(first["location"]),
            )


@REGISTRY.register
class OnlyFirstParamGroupLogged(Rule):
    """Only param group 0's lr is logged while the groups' lrs differ.

    What it detects:
        An optimizer built with several parameter groups of different lr (a smaller lr for a
        backbone, a larger one for a head) whose logs read ``param_groups[0]["lr"]`` or
        ``get_last_lr()[0]`` only.
    Why it matters:
        The other groups' schedule is invisible: a bug in their lr goes unnoticed.
    Example:
        ``SGD([{"params": backbone, "lr": 1e-4}, {"params": head}], lr=1e-2)`` and
        ``writer.add_scalar("lr", optimizer.param_groups[0]["lr"])``.
    Fix:
        Log every group (``for i, g in enumerate(optimizer.param_groups)``), or Lightning's
        ``LearningRateMonitor`` which names them ``lr-SGD/pg1``, ...
    References:
        pytorch ``torch/optim/optimizer.py`` (param groups) @ v2.5.0; lightning
        ``LearningRateMonitor`` @ 2.5.0.
    """

    code = "LRA031"
    name = "only-first-param-group-logged"
    severity = Severity.WARNING
    frameworks = TORCH_FRAMEWORKS

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        facts = run.torch
        if facts is None or not facts.group_lrs or len(set(facts.group_lrs)) < 2:
            return
        names = set(logged(timeline)["name"].astype(str)) if not logged(timeline).empty else set()
        if any("/pg" in name for name in names):
            return
        yield cls.finding(
            run,
            f"the optimizer has {len(facts.group_lrs)} param groups with lrs "
            f"{', '.join(lr_text(v) for v in facts.group_lrs)}, and only group 0's lr is logged",
            source=facts.optimizer.location if facts.optimizer else None,
        )


@REGISTRY.register
class TorchPlateauSemantics(Rule):
    """PyTorch's ReduceLROnPlateau reduced the lr: when and why, for users who know Keras'.

    What it detects:
        A ``torch.optim.lr_scheduler.ReduceLROnPlateau`` that changed the lr. It reduces after
        ``patience + 1`` epochs without improvement (``num_bad_epochs > patience``; Keras reduces
        after ``patience``), improvement is relative by default (``threshold=1e-4``,
        ``threshold_mode="rel"``), a reduction smaller than ``eps`` (1e-8) is skipped, and torch 2.7+
        prints no message (``verbose`` was removed).
    Why it matters:
        Read with Keras' rule, every reduction looks one epoch late, and a silent log looks like
        no reduction happened.
    Example:
        ``ReduceLROnPlateau(factor=0.5, patience=1)``, best ``val_loss`` at epoch 1: the lr halves
        from epoch 4 (1-based), not 3.
    Fix:
        Nothing is wrong; to reduce after N bad epochs as in Keras, use ``patience=N-1``; log the
        lr every epoch to see the reductions.
    References:
        pytorch ``torch/optim/lr_scheduler.py`` (``ReduceLROnPlateau.step``, ``_reduce_lr``) @ v2.5.0.
    """

    code = "LRA032"
    name = "torch-plateau-semantics"
    severity = Severity.INFO
    frameworks = TORCH_FRAMEWORKS

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        replay = _replay(timeline)
        if replay is None:
            return
        plateau = next((s for s in replay.schedulers.values() if _name(s) == "ReduceLROnPlateau"), None)
        if plateau is None:
            return
        first = _first_update(timeline)
        epochs = sorted(first)
        reductions = [e for prev, e in itertools.pairwise(epochs) if first[e] < first[prev]]
        total = total_epochs(run, timeline)
        patience = getattr(plateau, "patience", None)
        if not reductions:
            return
        shown = ", ".join(f"{epoch_text(e, total)} ({lr_text(first[e])})" for e in reductions[:6])
        yield cls.finding(
            run,
            f"ReduceLROnPlateau reduced the lr {len(reductions)} time(s), taking effect from {shown}: "
            f"PyTorch reduces after patience+1 = {patience + 1 if isinstance(patience, int) else '?'} "
            "epochs without a relative improvement of the monitored value",
            epoch=reductions[0],
            effective=first[reductions[0]],
        )


#: schedulers that set lr values of their own (max_lr/base_lr), whatever the optimizer's lr
_ABSOLUTE_SCHEDULERS = ("OneCycleLR", "CyclicLR")


@REGISTRY.register
class OptimizerLrNeverApplied(Rule):
    """The lr given to the optimizer is never applied: the scheduler sets its own values.

    What it detects:
        A scheduler that overrides the optimizer's lr from its first step (``OneCycleLR`` starts
        at ``max_lr / div_factor``, ``CyclicLR`` at ``base_lr``, a warm-up that never reaches the
        lr): no update applied the value written in the optimizer.
    Why it matters:
        Tuning the optimizer's lr changes nothing; the lr to tune is the scheduler's.
    Example:
        ``AdamW(lr=1e-3)`` + ``OneCycleLR(max_lr=0.01, ...)``: the lr runs from 4e-4 to 0.01 and
        down to 4e-8; 1e-3 is never applied.
    Fix:
        Tune the scheduler's ``max_lr``/``base_lr``; leave the optimizer's lr as a placeholder.
    References:
        pytorch ``torch/optim/lr_scheduler.py`` (OneCycleLR, CyclicLR) @ v2.5.0.
    """

    code = "LRA033"
    name = "optimizer-lr-never-applied"
    severity = Severity.INFO
    frameworks = frozenset({"pytorch", "lightning"})

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        facts = run.torch
        replay = _replay(timeline)
        if facts is None or facts.optimizer is None or replay is None or not replay.updates:
            return
        given = facts.optimizer.kwargs.get("lr")
        if isinstance(given, bool) or not isinstance(given, (int, float)):
            return
        # only schedulers whose values ignore the optimizer's lr (a factor schedule that never
        # reaches 1 still scales it: tuning it matters there)
        if not any(_name(s) in _ABSOLUTE_SCHEDULERS for s in replay.schedulers.values()):
            return
        applied = frame(timeline)["lr_base"].to_numpy(dtype=float)
        if np.any(applied == float(given)) or np.any(np.isclose(applied, float(given), rtol=1e-12, atol=0)):
            return
        names = ", ".join(_name(s) for s in replay.schedulers.values()) or "the scheduler"
        yield cls.finding(
            run,
            f"{facts.optimizer.name}(lr={given!r}) ({facts.optimizer.location}) is never applied: {names} "
            f"set every update's lr, from {lr_text(float(applied[0]))} to a peak of "
            f"{lr_text(float(applied.max()))} and {lr_text(float(applied[-1]))} at the last update",
            step=0,
            effective=float(applied[0]),
            source=facts.optimizer.location,
        )


def _through_grad_scaler(action: LoopAction) -> bool:
    """``scaler.step(optimizer)``: an update GradScaler skips when the gradients hold inf/NaN."""
    text = action.expression or ""
    return action.action == "optimizer_step" and bool(re.match(r"^\w+\.step\(\s*\w", text))


@REGISTRY.register
class AmpSkippedSteps(Rule):
    """Updates skipped by AMP's GradScaler still step the scheduler: the schedule runs ahead.

    What it detects:
        ``scaler.step(optimizer)`` (``torch.amp.GradScaler``) with ``scheduler.step()`` after every
        update. GradScaler skips ``optimizer.step()`` when the scaled gradients hold inf/NaN (the
        first steps while it calibrates its scale, and any overflow later) but the scheduler steps
        anyway, so the schedule leads the updates by the number skipped. When the console holds
        PyTorch's scheduler-order warning although the loop steps the scheduler after the optimizer,
        the first update was skipped: the finding is then a warning.
    Why it matters:
        A warm-up or one-cycle sized in updates ends early; every later value arrives early by the
        skipped count, which the logs do not show.
    Example:
        ``scaler.step(optimizer); scaler.update(); scheduler.step()`` with OneCycleLR: the first
        update overflows in float16, its lr is consumed without an update.
    Fix:
        Step the scheduler only when the update happened (compare ``scaler.get_scale()`` before
        and after ``scaler.update()``), or accept a lead of a few steps.
    References:
        pytorch ``torch/amp/grad_scaler.py`` (``GradScaler.step`` skips on inf) and
        ``torch/optim/lr_scheduler.py`` (order warning) @ v2.5.0.
    """

    code = "LRA034"
    name = "amp-skipped-steps"
    severity = Severity.INFO
    frameworks = frozenset({"pytorch"})

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        program = _program(timeline)
        if program is None:
            return
        scaled = next((a for a in program.actions if _through_grad_scaler(a)), None)
        stepper = next((a for a in program.actions if a.action == "scheduler_step" and a.phase == "batch"),
                       None)
        if scaled is None or stepper is None:
            return
        warned = next((e for e in run.events if e.kind == "torch_scheduler_order"), None)
        early = any(a.action == "scheduler_step" and a.phase == "epoch_start" for a in program.actions)
        if warned is not None and not early:
            yield cls.finding(
                run,
                f"`{scaled.expression}`{_where(scaled)} skipped at least the first update (PyTorch's "
                f"scheduler-order warning at {warned.location}, while `scheduler.step()`{_where(stepper)} "
                "comes after it): the scheduler stepped anyway, so the schedule runs ahead of the "
                "updates by the skipped count; the timeline assumes no update was skipped",
                severity=Severity.WARNING,
                source=warned.location,
            )
            return
        yield cls.finding(
            run,
            f"`{scaled.expression}`{_where(scaled)} may skip updates (inf/NaN gradients) while "
            f"`scheduler.step()`{_where(stepper)} always runs: each skipped update advances the "
            "schedule without training; the timeline assumes none was skipped",
            source=scaled.location,
        )
