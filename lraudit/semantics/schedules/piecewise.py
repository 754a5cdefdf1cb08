"""``PiecewiseConstantDecay``: fixed values between step boundaries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from lraudit.errors import InputError
from lraudit.semantics.schedules.base import F32, Ops, Schedule, f32, fmt_number, steps_f32


@dataclass
class PiecewiseConstantDecay(Schedule):
    """``values[0]`` for ``step <= b[0]``, ``values[i]`` for ``b[i-1] < step <= b[i]``, ``values[-1]`` after.

    Boundaries are cast to the step's dtype: the float32 counter of E3 OptimizerV2, the integer
    counter of E4/E5 (a float boundary such as 1000.5 is truncated). Keras 3
    (``keras/src/optimizers/schedules/learning_rate_schedule.py @ v3.15.1``) sums masked values::

        lr = 0 + [step <= b0]*v0 + [step > b_last]*v_last + sum_i [b(i-1) < step <= b(i)]*v(i)

    (result dtype of ``values[0]``); TF/tf-keras (``tf_keras/... @ v2.21.0``) selects with
    ``tf.case`` — equal for finite values. Keras requires ``len(boundaries) == len(values) - 1``.
    """

    class_name: ClassVar[str] = "PiecewiseConstantDecay"
    keras_source: ClassVar[str] = "keras/src/optimizers/schedules/learning_rate_schedule.py @ v3.15.1"
    aliases: ClassVar[tuple[str, ...]] = ("PiecewiseConstant",)
    length_arguments: ClassVar[tuple[str, ...]] = ("boundaries",)

    boundaries: list[float]
    values: list[float]
    name: str | None = None

    def _check(self) -> None:
        if len(self.boundaries) != len(self.values) - 1 or not self.boundaries:
            raise InputError(
                "PiecewiseConstantDecay: the length of boundaries should be 1 less than the length of "
                f"values, and at least 1 (boundaries={self.boundaries}, values={self.values})"
            )

    def uses_rewritable_arithmetic(self) -> bool:
        return False

    def _evaluate(self, steps: np.ndarray, ops: Ops, step_dtype: str) -> np.ndarray:
        if step_dtype == "float32":
            x = steps_f32(steps)
            bounds = [f32(b) for b in self.boundaries]
        else:
            x = steps
            bounds = [int(b) for b in self.boundaries]  # cast(float boundary, int) truncates
        values = [f32(v) for v in self.values]
        result = np.zeros(steps.shape, dtype=F32)
        result += (x <= bounds[0]).astype(F32) * values[0]
        result += (x > bounds[-1]).astype(F32) * values[-1]
        for low, high, value in zip(bounds[:-1], bounds[1:], values[1:-1], strict=False):
            result += ((x > low) & (x <= high)).astype(F32) * value
        return result

    def describe(self, steps_per_epoch: int) -> str:
        bounds, values = self.boundaries, self.values
        parts = [f"{fmt_number(values[0])} up to update {bounds[0]}"]
        parts += [f"{fmt_number(v)} up to {b}" for b, v in zip(bounds[1:], values[1:], strict=False)]
        parts.append(f"{fmt_number(values[-1])} after")
        return (
            "PiecewiseConstantDecay: " + ", ".join(parts) + " (a boundary belongs to the value before it: "
            "step <= boundary)."
        )

    def zero_lr_cause(self) -> str | None:
        if any(v == 0 for v in self.values):
            return "PiecewiseConstantDecay has a value 0"
        return None
