"""``ExponentialDecay`` and ``InverseTimeDecay``: a factor per ``decay_steps`` updates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from lraudit.semantics import libm
from lraudit.semantics.schedules.base import F32, Ops, Schedule, f32, fmt_epochs, fmt_number, steps_f32

_KERAS3 = "keras/src/optimizers/schedules/learning_rate_schedule.py @ v3.15.1"


@dataclass
class ExponentialDecay(Schedule):
    """``init * decay_rate ** p``, ``p = step / decay_steps`` (``floor(p)`` when ``staircase``).

    Mirrors ``keras/src/optimizers/schedules/learning_rate_schedule.py @ v3.15.1`` and
    ``tf_keras/optimizers/schedules/learning_rate_schedule.py @ v2.21.0`` (same op order)::

        p = cast(step, f32) / f32(decay_steps)        # tf-graph/xla: step * f32(1/decay_steps)
        if staircase: p = floor(p)
        lr = f32(init) * powf(f32(decay_rate), p)

    Non-increasing for ``decay_rate <= 1``; with ``staircase`` constant within each period of
    ``decay_steps`` updates. Keras requires ``decay_steps > 0``.
    """

    class_name: ClassVar[str] = "ExponentialDecay"
    keras_source: ClassVar[str] = _KERAS3
    positive: ClassVar[tuple[str, ...]] = ("decay_steps",)
    length_arguments: ClassVar[tuple[str, ...]] = ("decay_steps",)

    initial_learning_rate: float
    decay_steps: float
    decay_rate: float
    staircase: bool = False
    name: str | None = None

    def _evaluate(self, steps: np.ndarray, ops: Ops, step_dtype: str) -> np.ndarray:
        p = ops.div_const(steps_f32(steps), f32(self.decay_steps))
        if self.staircase:
            p = np.floor(p)
        return (f32(self.initial_learning_rate) * libm.powf(f32(self.decay_rate), p)).astype(F32)

    def describe(self, steps_per_epoch: int) -> str:
        init, ds, rate, n = self.initial_learning_rate, self.decay_steps, self.decay_rate, steps_per_epoch
        how = "in one jump every" if self.staircase else "smoothly (a little at every update) per"
        return (
            f"ExponentialDecay: lr = {fmt_number(init)} * {fmt_number(rate)}^(step/{ds}); "
            f"multiplied by {fmt_number(rate)} {how} {ds} updates = {fmt_epochs(ds, n)}; "
            f"per epoch x{fmt_number(rate ** (n / ds))}."
        )

    def zero_lr_cause(self) -> str | None:
        if self.decay_rate == 0:
            return "ExponentialDecay(decay_rate=0) is 0 after the first period"
        return None


@dataclass
class InverseTimeDecay(Schedule):
    """``init / (1 + decay_rate * p)``, ``p = step / decay_steps`` (``floor(p)`` when ``staircase``).

    Mirrors ``keras/src/optimizers/schedules/learning_rate_schedule.py @ v3.15.1``::

        p = step / f32(decay_steps)           # graphs: step * f32(1/decay_steps)
        denom = 1 + f32(decay_rate) * p       # tf-graph (no staircase): 1 + step * f32(rate*recip)
        lr = f32(init) / denom                # xla: denom = fma(rate, p, 1)

    The legacy ``decay`` of OptimizerV2 (``lr / (1 + decay * it)``) has the same operands with
    ``decay_steps = 1``. Non-increasing for ``decay_rate >= 0``, slowing down over time.
    """

    class_name: ClassVar[str] = "InverseTimeDecay"
    keras_source: ClassVar[str] = _KERAS3
    positive: ClassVar[tuple[str, ...]] = ("decay_steps",)
    length_arguments: ClassVar[tuple[str, ...]] = ("decay_steps",)

    initial_learning_rate: float
    decay_steps: float
    decay_rate: float
    staircase: bool = False
    name: str | None = None

    def _evaluate(self, steps: np.ndarray, ops: Ops, step_dtype: str) -> np.ndarray:
        x = steps_f32(steps)
        rate = f32(self.decay_rate)
        decay_steps = f32(self.decay_steps)
        if ops.executor == "tf-graph" and not self.staircase:
            # constant push-down: rate * (x * recip) -> x * f32(rate * recip)
            scaled = (x * (rate * (F32(1) / decay_steps)).astype(F32)).astype(F32)
            denom = (F32(1) + scaled).astype(F32)
        else:
            p = ops.div_const(x, decay_steps)
            if self.staircase:
                p = np.floor(p)
            denom = ops.mul_add(rate, p, F32(1))
        return (f32(self.initial_learning_rate) / denom).astype(F32)

    def describe(self, steps_per_epoch: int) -> str:
        return (
            f"InverseTimeDecay: lr = {fmt_number(self.initial_learning_rate)} / "
            f"(1 + {fmt_number(self.decay_rate)} * step/{self.decay_steps}); slows down over time."
        )
