"""Rules about the applied lr values themselves: LRA013, LRA019, LRA020, LRA023."""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lraudit.numfmt import epoch_text, lr_text
from lraudit.rules._facts import built_schedule, frame, logged, optimizer_location, total_epochs
from lraudit.rules.base import ALL_FRAMEWORKS, REGISTRY, Finding, Rule, Severity
from lraudit.rules.torch import torch_zero_lr_cause, torch_zero_lr_fix

if TYPE_CHECKING:
    from lraudit.reconstruction import Timeline
    from lraudit.run import Run


def _ranges(steps: list[int]) -> str:
    """``[0, 1, 2, 7]`` -> ``"0-2, 7"`` (at most 5 ranges shown)."""
    spans: list[tuple[int, int]] = []
    for step in steps:
        if spans and step == spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], step)
        else:
            spans.append((step, step))
    text = [f"{a}" if a == b else f"{a}-{b}" for a, b in spans[:5]]
    return ", ".join(text) + (", ..." if len(spans) > 5 else "")


@REGISTRY.register
class LrCollapse(Rule):
    """The effective lr falls below 1% of its initial value before half of training.

    What it detects:
        An applied lr below 1% of its peak over the first half of the updates, reached before
        the half-way step (decay, schedule or callbacks compounded); or an lr that spends the
        last quarter of the updates below 0.01% of its peak (the run froze, e.g. a
        LearningRateScheduler function that multiplies the current lr every epoch).
    Why it matters:
        The second half of training barely moves the weights; usually a decay rate or
        ``decay_steps`` meant for a different number of steps.
    Example:
        ``SGD(0.1, decay=0.1)`` with 1000 steps: the lr is below 0.001 from step 991... but
        ``decay=1`` reaches 1% at step 99.
    Fix:
        Recompute the decay for the real number of updates (``lraudit solve-decay``), or raise the
        schedule's ``decay_steps``/``alpha``.
    References:
        keras ``keras/src/optimizers/schedules/learning_rate_schedule.py`` @ v3.15.1 (the
        schedules); keras-team/keras#2808 (legacy ``decay`` is per update).
    """

    code = "LRA013"
    name = "lr-collapse"
    severity = Severity.WARNING
    frameworks = ALL_FRAMEWORKS

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        table = frame(timeline)
        if len(table) < 2:
            return
        lr = table["lr_effective"].astype(float).to_numpy()
        half = len(lr) // 2
        first_half = lr[:half]
        finite = np.where(np.isfinite(first_half), first_half, -np.inf)
        if not np.isfinite(finite).any() or finite.max() <= 0:
            return
        peak_at = int(np.argmax(finite))
        peak = float(finite[peak_at])
        after = np.nonzero(np.isfinite(first_half[peak_at:]) & (first_half[peak_at:] < 0.01 * peak))[0]
        if not len(after):
            yield from cls._frozen(run, table, lr, peak)
            return
        row = table.iloc[peak_at + int(after[0])]
        yield cls.finding(
            run,
            f"the applied lr falls to {lr_text(float(row['lr_effective']))} at step {int(row['step'])} "
            f"({epoch_text(int(row['epoch']), total_epochs(run, timeline))}), "
            f"below 1% of its peak {lr_text(peak)}, before half of the "
            f"{len(lr)} updates",
            epoch=int(row["epoch"]),
            step=int(row["step"]),
            effective=float(row["lr_effective"]),
        )


    @classmethod
    def _frozen(cls, run: Run, table, lr: np.ndarray, peak: float) -> Iterator[Finding]:
        """The lr spends the last quarter of the updates below 0.01 % of its peak: training froze."""
        quarter = lr[len(lr) - max(1, len(lr) // 4) :]
        if not (np.isfinite(quarter).all() and (quarter < FROZEN_FRACTION * peak).all()):
            return
        below = np.nonzero(np.isfinite(lr) & (lr < FROZEN_FRACTION * peak))[0]
        row = table.iloc[int(below[0])]
        yield cls.finding(
            run,
            f"the applied lr falls to {lr_text(float(row['lr_effective']))} at step {int(row['step'])} "
            f"(epoch {int(row['epoch'])}), below 0.01% of its peak {lr_text(peak)}, and ends at "
            f"{lr_text(float(lr[-1]))}: the last {len(quarter)} of the {len(lr)} updates barely move "
            "the weights",
            epoch=int(row["epoch"]),
            step=int(row["step"]),
            effective=float(row["lr_effective"]),
        )


#: below this fraction of its peak the lr no longer trains (4 orders of magnitude)
FROZEN_FRACTION = 1e-4


@REGISTRY.register
class WarmupDecreases(Rule):
    """`CosineDecay(warmup_target < initial_learning_rate)`: the "warm-up" lowers the lr.

    What it detects:
        A ``CosineDecay`` with ``warmup_steps > 0`` and ``warmup_target`` below
        ``initial_learning_rate``: the linear warm-up goes down, then the cosine starts from the
        lower ``warmup_target``.
    Why it matters:
        ``initial_learning_rate`` is the warm-up's *start*, not the peak; swapping the two gives
        a run whose lr drops in its first steps and never reaches the intended peak.
    Example:
        ``CosineDecay(initial_learning_rate=0.05, decay_steps=40, alpha=0.2, warmup_target=0.01,
        warmup_steps=10)``: 0.05 → 0.01 over 10 steps, then 0.01 → 0.002.
    Fix:
        Put the start value in ``initial_learning_rate`` (often 0.0) and the peak in
        ``warmup_target``.
    References:
        keras ``keras/src/optimizers/schedules/learning_rate_schedule.py`` @ v3.15.1
        (``CosineDecay._warmup_function``).
    """

    code = "LRA019"
    name = "warmup-decreases"
    severity = Severity.WARNING

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        scheduled = built_schedule(timeline)
        warmup = scheduled.warmup() if scheduled is not None else None
        if warmup is None or not warmup.steps or not float(warmup.target) < float(warmup.start):
            return
        start, target, steps = warmup.start, warmup.target, warmup.steps
        yield cls.finding(
            run,
            f"{scheduled.class_name}(initial_learning_rate={start:g}, warmup_target={target:g}, "
            f"warmup_steps={steps}) "
            f"({optimizer_location(timeline)}): the warm-up lowers the lr linearly from {start:g} "
            f"to {target:g} "
            f"over {steps} steps, then the cosine decays from {target:g}",
            step=0,
            effective=float(start),
            source=optimizer_location(timeline),
        )


@REGISTRY.register
class ZeroLrUpdate(Rule):
    """One or more updates applied lr = 0: those batches trained nothing.

    What it detects:
        Updates whose applied lr is exactly 0 (warm-up from ``initial_learning_rate=0``, a cosine
        with ``alpha=0`` at its end, a schedule that returns 0).
    Why it matters:
        The batches are computed (time, data order, BatchNorm statistics move) but the weights do
        not change; with Adam the moment estimates still advance.
    Example:
        ``CosineDecay(0.0, decay_steps=100, warmup_target=0.02, warmup_steps=23)``: step 0
        applies 0.
    Fix:
        Start warm-up at a small positive value, or give ``alpha > 0``.
    References:
        keras ``keras/src/optimizers/schedules/learning_rate_schedule.py`` @ v3.15.1.
    """

    code = "LRA020"
    name = "zero-lr-update"
    severity = Severity.WARNING
    frameworks = ALL_FRAMEWORKS

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        table = frame(timeline)
        if table.empty:
            return
        zero = table[table["lr_effective"].astype(float) == 0.0]
        if zero.empty:
            return
        scheduled = built_schedule(timeline)
        first_zero = int(zero["step"].iloc[0])
        torch_cause = torch_zero_lr_cause(timeline, first_zero)
        why = scheduled.zero_lr_cause() if scheduled is not None else torch_cause
        cause = f" ({why})" if why else ""
        steps = [int(s) for s in zero["step"]]
        first = zero.iloc[0]
        torch_fix = torch_zero_lr_fix(timeline, first_zero)
        extra = {"fix": torch_fix} if torch_fix else {}
        yield cls.finding(
            run,
            f"{len(steps)} update(s) applied lr = 0 (steps {_ranges(steps)}){cause}: those batches "
            "trained nothing",
            **extra,
            epoch=int(first["epoch"]),
            step=int(first["step"]),
            effective=0.0,
            source=optimizer_location(timeline),
        )


@REGISTRY.register
class InvalidLr(Rule):
    """An update applied a NaN, infinite or negative lr while the logs show a normal value.

    What it detects:
        Reconstructed updates whose applied lr is NaN, ±inf or negative, e.g. Keras 3 on JAX:
        XLA computes PolynomialDecay's ``1 - step/decay_steps`` with a fused multiply-add,
        gets a tiny negative number at ``step >= decay_steps``, and a non-integer ``power``
        turns it into NaN; the eagerly evaluated schedule (what callbacks and logs show) is normal.
    Why it matters:
        A NaN lr turns every weight it touches into NaN: the model is destroyed from that step
        on although every logged lr looks fine.
    Example:
        ``PolynomialDecay(0.05, decay_steps=30, end_learning_rate=0.002, power=1.5)`` on JAX:
        NaN from step 30 on; the logs say 0.002.
    Fix:
        Use an integer ``power``, or ``cycle=True``, or clip the step yourself in a custom
        schedule (``ops.minimum(step, decay_steps - 1)``); check ``np.isfinite`` of the weights.
    References:
        keras ``keras/src/optimizers/schedules/learning_rate_schedule.py`` @ v3.15.1
        (``PolynomialDecay``).
    """

    code = "LRA023"
    name = "invalid-lr"
    severity = Severity.ERROR
    frameworks = ALL_FRAMEWORKS

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        table = frame(timeline)
        if table.empty:
            return
        lr = table["lr_effective"].astype(float)
        bad = table[~np.isfinite(lr) | (lr < 0)]
        if bad.empty:
            return
        first = bad.iloc[0]
        epochs = set(int(e) for e in bad["epoch"])
        logs = logged(timeline)
        shown = logs[pd.to_numeric(logs["epoch"], errors="coerce").isin(epochs)]
        shown = shown[np.isfinite(pd.to_numeric(shown["value"], errors="coerce"))]
        seen = ""
        logged_value = source = None
        if len(shown):
            row = shown.iloc[0]
            logged_value, source = float(row["value"]), str(row["location"])
            seen = f", while the logs show {lr_text(logged_value)} ({source})"
        scheduled = built_schedule(timeline)
        backend = timeline.optimizer.backend if timeline.optimizer else None
        cause = scheduled.invalid_lr_cause(backend) if scheduled is not None else None
        why = f" ({cause})" if cause else ""
        yield cls.finding(
            run,
            f"{len(bad)} update(s) applied an invalid lr ({lr_text(float(first['lr_effective']))} from step "
            f"{int(first['step'])}, {epoch_text(int(first['epoch']), total_epochs(run, timeline))}; steps "
            f"{_ranges([int(s) for s in bad['step']])})"
            f"{why}{seen}",
            epoch=int(first["epoch"]),
            step=int(first["step"]),
            logged=logged_value,
            effective=float(first["lr_effective"]),
            source=source,
        )
