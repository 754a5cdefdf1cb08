"""The cosine family: ``CosineDecay`` (warm-up), ``CosineDecayRestarts`` (SGDR), ``LinearCosineDecay``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from lraudit.semantics import libm
from lraudit.semantics.schedules.base import (
    F32,
    Floor,
    Ops,
    Schedule,
    Warmup,
    f32,
    fmt_epochs,
    fmt_number,
    steps_f32,
)

_KERAS3 = "keras/src/optimizers/schedules/learning_rate_schedule.py @ v3.15.1"


def _cosine_core(
    ops: Ops, x: np.ndarray, decay_steps: np.float32, alpha: float, scale: np.float32, in_cond: bool
) -> np.ndarray:
    """Keras 3 ``CosineDecay._decay_function``: ``scale * ((1-alpha) * 0.5*(1+cos(pi*x/D)) + alpha)``."""
    pi = F32(math.pi)
    if ops.executor == "xla":
        # XLA's simplifier folds constants through the products: pi * (x * f32(1/D)) runs as
        # x * f32(pi * f32(1/D)) and (1-alpha) * (0.5 * (1+cos)) as (1+cos) * f32((1-alpha)*0.5),
        # contracted with "+ alpha" into one fused multiply-add (measured on JAX CPU, keras 3.15).
        angle = (x * (pi * (F32(1) / decay_steps)).astype(F32)).astype(F32)
        one_plus_cos = (F32(1) + ops.cos(angle)).astype(F32)
        factor = (f32(1 - alpha) * F32(0.5)).astype(F32)
        return (scale * libm.fmaf(one_plus_cos, factor, f32(alpha))).astype(F32)
    rewrite = ops.rewrites and not (in_cond and ops.executor == "tf-graph")
    if rewrite and ops.executor == "tf-graph":
        # pi * (x * recip) with the constants pushed together: f32(pi * f32(1/D)) * x
        angle = (x * (pi * (F32(1) / decay_steps)).astype(F32)).astype(F32)
    elif rewrite:
        angle = (pi * (x * (F32(1) / decay_steps)).astype(F32)).astype(F32)
    else:
        angle = (pi * (x / decay_steps).astype(F32)).astype(F32)
    cosine = (F32(0.5) * (F32(1) + ops.cos(angle)).astype(F32)).astype(F32)
    one_minus_alpha = f32(1 - alpha)  # Python arithmetic on the float argument
    decayed = (
        ops.mul_add(one_minus_alpha, cosine, f32(alpha))
        if rewrite
        else ((one_minus_alpha * cosine).astype(F32) + f32(alpha)).astype(F32)
    )
    return (scale * decayed).astype(F32)


@dataclass
class CosineDecay(Schedule):
    """Cosine decay to ``alpha * peak`` over ``decay_steps``, after an optional linear warm-up.

    Mirrors ``keras/src/optimizers/schedules/learning_rate_schedule.py @ v3.15.1`` (warm-up from
    keras 2.13 / Keras 3)::

        no warm-up: s = min(step, D); c = 0.5 * (1 + cos(pi * (s / D)))
                    lr = init * ((1 - alpha) * c + alpha)
        warm-up:    s = min(step, D + W)
                    s < W:  lr = (target - init) * (s / W) + init
                    else:   the cosine above from ``target`` at ``s - W``

    With warm-up both branches run inside ``ops.cond``, which the TF graph optimiser does not
    rewrite (divisions stay divisions); without it the TF graph runs ``f32(pi*f32(1/D)) * s``.
    Non-increasing after the warm-up; ``alpha * peak`` from update ``D + W`` on.
    """

    class_name: ClassVar[str] = "CosineDecay"
    keras_source: ClassVar[str] = _KERAS3
    positive: ClassVar[tuple[str, ...]] = ("decay_steps",)
    length_arguments: ClassVar[tuple[str, ...]] = ("decay_steps",)

    initial_learning_rate: float
    decay_steps: float
    alpha: float = 0.0
    name: str | None = None
    warmup_target: float | None = None
    warmup_steps: float = 0

    def _evaluate(self, steps: np.ndarray, ops: Ops, step_dtype: str) -> np.ndarray:
        init = f32(self.initial_learning_rate)
        decay_steps = f32(self.decay_steps)
        x = steps_f32(steps)
        if self.warmup_target is None:
            x = np.minimum(x, decay_steps)
            return _cosine_core(ops, x, decay_steps, self.alpha, init, in_cond=False)
        target = f32(self.warmup_target)
        warmup_steps = f32(self.warmup_steps)
        x = np.minimum(x, (decay_steps + warmup_steps).astype(F32))
        in_graph_cond = ops.executor == "tf-graph"
        if ops.rewrites and not in_graph_cond:
            fraction = ops.div_const(x, warmup_steps)
        else:
            fraction = (x / warmup_steps).astype(F32)
        delta = (target - init).astype(F32)
        if ops.fused:
            # delta * (x * f32(1/W)) + init: XLA folds the constants, x * f32(delta * f32(1/W))
            slope = (delta * (F32(1) / warmup_steps)).astype(F32)
            warm = libm.fmaf(x, slope, init)
        else:
            warm = ((delta * fraction).astype(F32) + init).astype(F32)
        decay = _cosine_core(
            ops, (x - warmup_steps).astype(F32), decay_steps, self.alpha, target, in_cond=True
        )
        return np.where(x < warmup_steps, warm, decay).astype(F32)

    @property
    def peak(self) -> float:
        """The value the cosine starts from: ``warmup_target`` when given, else the initial lr."""
        return self.initial_learning_rate if self.warmup_target is None else self.warmup_target

    def describe(self, steps_per_epoch: int) -> str:
        ds, alpha, start = self.decay_steps, self.alpha, self.peak
        return (
            f"CosineDecay: half a cosine from {fmt_number(start)} over {ds} updates "
            f"({fmt_epochs(ds, steps_per_epoch)}) down to alpha*{fmt_number(start)} = "
            f"{fmt_number(alpha * start)} (alpha={fmt_number(alpha)} is a fraction, not a lr)."
        )

    def warmup(self) -> Warmup | None:
        if self.warmup_target is None:
            return None
        return Warmup(self.initial_learning_rate, self.warmup_target, self.warmup_steps or 0)

    def floor(self) -> Floor | None:
        end_step = int(self.decay_steps) + int(self.warmup_steps or 0)
        return Floor(step=end_step, formula=f"alpha*{fmt_number(self.peak)} (alpha={fmt_number(self.alpha)})")

    def zero_lr_cause(self) -> str | None:
        if self.warmup_target is not None and self.warmup_steps and self.initial_learning_rate == 0:
            return "the warm-up starts at initial_learning_rate=0"
        if self.alpha == 0:
            return "CosineDecay decays to alpha*lr = 0"
        return None


@dataclass
class CosineDecayRestarts(Schedule):
    """SGDR: cosine decay restarting after ``first_decay_steps * t_mul**i`` steps, peaks ``m_mul**i``.

    Mirrors ``keras/src/optimizers/schedules/learning_rate_schedule.py @ v3.15.1``::

        f = step / first_decay_steps
        t_mul == 1: i = floor(f); f = f - i
        else:       i = floor(log(1 - f*(1 - t_mul)) / log(t_mul))
                    sum_r = (1 - t_mul**i) / (1 - t_mul); f = (f - sum_r) / t_mul**i
        c = 0.5 * m_mul**i * (1 + cos(pi * f))
        lr = init * ((1 - alpha) * c + alpha)          # alpha floor is not scaled by m_mul

    tf-graph: reciprocals for the constant divisors, ``f*(1-t_mul)`` folded to
    ``step * f32(recip*(1-t_mul))`` and ``(1-alpha) * (0.5*m*(..))`` to ``f32((1-alpha)*0.5)*m*(..)``.
    xla: reciprocals, ``x / pow(b, c)`` → ``x * pow(b, -c)`` and fused multiply-adds.
    Non-increasing within each period; never below ``alpha * init``.
    """

    class_name: ClassVar[str] = "CosineDecayRestarts"
    keras_source: ClassVar[str] = _KERAS3
    aliases: ClassVar[tuple[str, ...]] = ("SGDRDecay",)
    positive: ClassVar[tuple[str, ...]] = ("first_decay_steps",)
    length_arguments: ClassVar[tuple[str, ...]] = ("first_decay_steps",)

    initial_learning_rate: float
    first_decay_steps: float
    t_mul: float = 2.0
    m_mul: float = 1.0
    alpha: float = 0.0
    name: str | None = None

    def _evaluate(self, steps: np.ndarray, ops: Ops, step_dtype: str) -> np.ndarray:
        x = steps_f32(steps)
        i_restart, fraction = self._period_and_fraction(x, ops)
        one = F32(1)
        alpha = f32(self.alpha)
        m_fac = libm.powf(f32(self.m_mul), i_restart)
        angle = (F32(math.pi) * fraction).astype(F32)
        one_plus_cos = (one + ops.cos(angle)).astype(F32)
        one_minus_alpha = (one - alpha).astype(F32)
        if ops.executor == "tf-graph":
            factor = ((one_minus_alpha * F32(0.5)).astype(F32) * m_fac).astype(F32)
            decayed = ((factor * one_plus_cos).astype(F32) + alpha).astype(F32)
        else:
            cosine = ((F32(0.5) * m_fac).astype(F32) * one_plus_cos).astype(F32)
            decayed = ops.mul_add(one_minus_alpha, cosine, alpha)
        return (f32(self.initial_learning_rate) * decayed).astype(F32)

    def _period_and_fraction(self, x: np.ndarray, ops: Ops) -> tuple[np.ndarray, np.ndarray]:
        """(restart index ``i``, fraction completed of period ``i``) as each executor computes them."""
        first = f32(self.first_decay_steps)
        t_mul = f32(self.t_mul)
        one = F32(1)
        recip = one / first
        fraction = ops.div_const(x, first)
        if t_mul == one:
            i_restart = np.floor(fraction)
            return i_restart, (fraction - i_restart).astype(F32)
        one_minus_t = (one - t_mul).astype(F32)
        if ops.executor == "tf-graph":
            arg = (one - (x * (recip * one_minus_t).astype(F32)).astype(F32)).astype(F32)
        elif ops.fused:
            arg = libm.fmaf(-fraction, one_minus_t, one)
        else:
            arg = (one - (fraction * one_minus_t).astype(F32)).astype(F32)
        log_t = libm.logf(t_mul)
        if ops.rewrites:
            i_restart = np.floor((libm.logf(arg) * (one / log_t)).astype(F32))
        else:
            i_restart = np.floor((libm.logf(arg) / log_t).astype(F32))
        t_pow = libm.powf(t_mul, i_restart)
        sum_r = ops.div_const((one - t_pow).astype(F32), one_minus_t)
        if ops.fused:
            # completed_fraction - sum_r fused across Keras' lines: fma(step, recip, -sum_r)
            numerator = libm.fmaf(x, recip, -sum_r)
            return i_restart, (numerator * libm.powf(t_mul, -i_restart)).astype(F32)
        return i_restart, ((fraction - sum_r).astype(F32) / t_pow).astype(F32)

    def describe(self, steps_per_epoch: int) -> str:
        first, init = self.first_decay_steps, self.initial_learning_rate
        return (
            f"CosineDecayRestarts: cosine periods of {first} updates ({fmt_epochs(first, steps_per_epoch)}), "
            f"each {fmt_number(self.t_mul)}x longer; peaks {fmt_number(init)} x {fmt_number(self.m_mul)}^i; "
            f"never below alpha*{fmt_number(init)} = {fmt_number(self.alpha * init)}."
        )

    def zero_lr_cause(self) -> str | None:
        if self.alpha == 0:
            return "CosineDecayRestarts decays to alpha*lr = 0"
        return None


@dataclass
class LinearCosineDecay(Schedule):
    """TF-only linear cosine decay (``tf.keras.experimental.LinearCosineDecay``, TF 2.0-2.15).

    Mirrors ``tensorflow/python/keras/optimizer_v2/learning_rate_schedule.py @ v2.5.0``::

        s = min(step, D); linear = (D - s) / D
        c = 0.5 * (1 + cos(pi * 2 * num_periods * s / D))
        lr = init * ((alpha + linear) * c + beta)

    From update ``D`` on it stays at ``init * (alpha*c(D) + beta)`` (``init * beta`` for the
    default ``num_periods = 0.5``); with ``num_periods = 0.5`` and ``alpha, beta >= 0`` it is
    non-increasing.
    """

    class_name: ClassVar[str] = "LinearCosineDecay"
    keras_source: ClassVar[str] = "tensorflow/python/keras/optimizer_v2/learning_rate_schedule.py @ v2.5.0"
    in_keras3: ClassVar[bool] = False
    positive: ClassVar[tuple[str, ...]] = ("decay_steps",)
    length_arguments: ClassVar[tuple[str, ...]] = ("decay_steps",)

    initial_learning_rate: float
    decay_steps: float
    num_periods: float = 0.5
    alpha: float = 0.0
    beta: float = 0.001
    name: str | None = None

    def _evaluate(self, steps: np.ndarray, ops: Ops, step_dtype: str) -> np.ndarray:
        init = f32(self.initial_learning_rate)
        decay_steps = f32(self.decay_steps)
        num_periods = f32(self.num_periods)
        x = np.minimum(steps_f32(steps), decay_steps)
        linear = ops.div_const((decay_steps - x).astype(F32), decay_steps)
        fraction = ops.div_const(x, decay_steps)
        # TF source: completed_fraction * 2 * num_periods, then pi * that
        fraction = ((fraction * F32(2)).astype(F32) * num_periods).astype(F32)
        angle = (F32(math.pi) * fraction).astype(F32)
        cosine = (F32(0.5) * (F32(1) + ops.cos(angle)).astype(F32)).astype(F32)
        linear_cosine = ((f32(self.alpha) + linear).astype(F32) * cosine).astype(F32)
        return (init * (linear_cosine + f32(self.beta)).astype(F32)).astype(F32)

    def _end_cosine(self) -> float:
        """``c`` at the end of the decay: ``0.5 * (1 + cos(2 pi num_periods))``."""
        return 0.5 * (1 + math.cos(2 * math.pi * self.num_periods))

    def describe(self, steps_per_epoch: int) -> str:
        ds, init = self.decay_steps, self.initial_learning_rate
        end = init * (self.alpha * self._end_cosine() + self.beta)
        return (
            f"LinearCosineDecay: {fmt_number(init)} x (linear 1->0 + alpha={fmt_number(self.alpha)}) x "
            f"cosine of {fmt_number(self.num_periods)} period(s), + beta={fmt_number(self.beta)}, over {ds} "
            f"updates ({fmt_epochs(ds, steps_per_epoch)}); ends at {fmt_number(end)}."
        )

    def floor(self) -> Floor | None:
        end_cos = self._end_cosine()
        formula = (
            f"beta*{fmt_number(self.initial_learning_rate)} (beta={fmt_number(self.beta)})"
            if abs(end_cos) < 1e-12
            else f"{fmt_number(self.initial_learning_rate)}*(alpha*{end_cos:.4g} + beta)"
        )
        return Floor(step=int(self.decay_steps), formula=formula)

    def zero_lr_cause(self) -> str | None:
        if self.beta == 0:
            return "LinearCosineDecay(beta=0) can reach 0"
        return None
