"""``PolynomialDecay``: from the initial to the end value along ``(1 - step/D) ** power``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from lraudit.semantics import libm
from lraudit.semantics.schedules.base import (
    F32,
    Floor,
    Ops,
    Schedule,
    f32,
    fmt_epochs,
    fmt_number,
    steps_f32,
)


@dataclass
class PolynomialDecay(Schedule):
    """``(init - end) * (1 - step/D) ** power + end``.

    ``D = decay_steps`` with ``step = min(step, decay_steps)``, or with ``cycle``
    ``D = decay_steps * (1 if step == 0 else ceil(step / decay_steps))``. Mirrors
    ``keras/src/optimizers/schedules/learning_rate_schedule.py @ v3.15.1``::

        multiplier = where(step == 0, 1, ceil(step / decay_steps))   # cycle: reciprocal in graphs
        p = step / D                     # no cycle: step * f32(1/decay_steps) in graphs
        lr = f32(init - end) * powf(1 - p, power) + end   # xla: fma(-step, recip, 1), fma(.., end)

    Under XLA ``1 - step*f32(1/D)`` is not exactly 0 at ``step >= D``; a negative base with a
    non-integer ``power`` gives NaN (reference §1.8). Without ``cycle`` it is non-increasing (for
    ``init >= end``) and stays at ``end_learning_rate`` from update ``decay_steps`` on.
    """

    class_name: ClassVar[str] = "PolynomialDecay"
    keras_source: ClassVar[str] = "keras/src/optimizers/schedules/learning_rate_schedule.py @ v3.15.1"
    positive: ClassVar[tuple[str, ...]] = ("decay_steps",)
    length_arguments: ClassVar[tuple[str, ...]] = ("decay_steps",)

    initial_learning_rate: float
    decay_steps: float
    end_learning_rate: float = 0.0001
    power: float = 1.0
    cycle: bool = False
    name: str | None = None

    def _evaluate(self, steps: np.ndarray, ops: Ops, step_dtype: str) -> np.ndarray:
        init = f32(self.initial_learning_rate)
        end = f32(self.end_learning_rate)
        power = f32(self.power)
        x = steps_f32(steps)
        decay_steps = f32(self.decay_steps)
        if self.cycle:
            multiplier = np.where(x == 0, F32(1.0), np.ceil(ops.div_const(x, decay_steps))).astype(F32)
            denominator = (decay_steps * multiplier).astype(F32)
            one_minus_p = (F32(1) - (x / denominator).astype(F32)).astype(F32)
        else:
            x = np.minimum(x, decay_steps)
            if ops.fused:
                one_minus_p = libm.fmaf(-x, F32(1) / decay_steps, F32(1))
            else:
                one_minus_p = (F32(1) - ops.div_const(x, decay_steps)).astype(F32)
        scale = (init - end).astype(F32)
        return ops.mul_add(scale, libm.powf(one_minus_p, power), end)

    def describe(self, steps_per_epoch: int) -> str:
        ds, end = self.decay_steps, self.end_learning_rate
        then = (
            "cycle=True: after each period it restarts from a lower value (period grows)."
            if self.cycle
            else f"then stays at {fmt_number(end)}."
        )
        return (
            f"PolynomialDecay: from {fmt_number(self.initial_learning_rate)} to {fmt_number(end)} over {ds} "
            f"updates ({fmt_epochs(ds, steps_per_epoch)}), power {fmt_number(self.power)}; {then}"
        )

    def floor(self) -> Floor | None:
        if self.cycle:
            return None
        return Floor(step=int(self.decay_steps), formula="end_learning_rate")

    def zero_lr_cause(self) -> str | None:
        if self.end_learning_rate == 0:
            return "PolynomialDecay decays to end_learning_rate = 0"
        return None

    def invalid_lr_cause(self, backend: str | None) -> str | None:
        if backend != "jax":
            return None
        return (
            "XLA's fused multiply-add makes 1 - step*f32(1/decay_steps) slightly negative at "
            f"step >= decay_steps, and power={self.power} of a negative number is NaN"
        )
