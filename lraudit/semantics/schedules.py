"""Keras' built-in ``LearningRateSchedule`` classes, re-computed bit for bit in float32.

Every schedule is evaluated at an int64 array of optimizer counter values and returns float32.
The arithmetic follows the Keras source named in each class, *as the executor really runs it*
(reference §1.8):

``"eager"``
    the expression as written, op by op, every op rounded to float32 (TensorFlow eager mode,
    Keras 3 on torch, and what a callback sees when it calls the schedule itself).
``"tf-graph"``
    the compiled ``tf.function`` train step (Keras 2 on TF 2.x, Keras 3 on TensorFlow). Grappler
    rewrites the graph first: ``x / const`` runs as ``x * f32(1/const)``; constants are pushed
    together (``c1 * (c2 * x)`` → ``f32(c1*c2) * x``); ops inside a ``cond`` branch that is not
    inlined are left as written (Keras 3 ``CosineDecay`` with warm-up).
``"xla"``
    Keras 3 on JAX (CPU, jit): ``x / const`` → ``x * f32(1/const)``, ``a*b + c`` and ``c - a*b``
    inside one fusion contracted into a float32 fused multiply-add, ``x / pow(b, c)`` →
    ``x * pow(b, -c)``; in ``CosineDecay`` constant factors are folded together
    (``c1 * (x * c2)`` → ``x * f32(c1*c2)``), in the warm-up ``cond`` branch too.

``pow``/``cos``/``log`` are glibc's (:mod:`lraudit.semantics.libm`), as in TensorFlow's CPU
kernels, torch and XLA on CPU, except ``cos`` on the torch backend (``backend="torch"``), which
is MKL's (:mod:`lraudit.semantics.torch_math`). Step dtype per era: E3 OptimizerV2 passes
``float32(iterations)`` (``step_dtype="float32"``); E4/E5 pass the integer counter (``"int"``),
which matters only for ``PiecewiseConstantDecay`` boundaries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from lraudit.errors import InputError
from lraudit.semantics import libm, torch_math
from lraudit.semantics.specs import ScheduleSpec

__all__ = [
    "EXECUTORS",
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LinearCosineDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "Schedule",
    "schedule_from_spec",
]

#: how the schedule's ops are executed (see the module docstring)
EXECUTORS = ("eager", "tf-graph", "xla")

F32 = np.float32


def f32(value: Any) -> np.ndarray | np.float32:
    """Round a Python number or array to float32 (what ``convert_to_tensor``/``cast`` does)."""
    return np.asarray(value, dtype=np.float64).astype(F32) if np.ndim(value) else F32(value)


def _check_executor(executor: str) -> str:
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; expected one of {', '.join(EXECUTORS)}")
    return executor


class _Ops:
    """float32 scalar-tensor ops as one executor performs them (every result rounded to float32)."""

    def __init__(self, executor: str, backend: str | None = None) -> None:
        self.executor = _check_executor(executor)
        self.rewrites = executor in ("tf-graph", "xla")
        self.fused = executor == "xla"
        #: ``torch.cos`` is MKL VML's, not the C library's
        self.cos = torch_math.cosf if backend == "torch" else libm.cosf

    def div_const(self, x: np.ndarray, c: np.float32) -> np.ndarray:
        """``x / c`` for a constant ``c``: a reciprocal multiply after graph rewriting."""
        if self.rewrites:
            return (x * (F32(1) / F32(c))).astype(F32)
        return (x / F32(c)).astype(F32)

    def mul_add(self, a, b, c) -> np.ndarray:
        """``a*b + c``: one rounding under XLA (fused multiply-add), two otherwise."""
        if self.fused:
            return libm.fmaf(a, b, c)
        return (F32(1) * np.multiply(a, b, dtype=F32) + np.asarray(c, dtype=F32)).astype(F32)


def _steps_f32(step: np.ndarray) -> np.ndarray:
    """``cast(step, float32)`` of the int64 counter (round to nearest, exact below 2**24)."""
    return np.asarray(step, dtype=np.int64).astype(F32)


@dataclass
class Schedule:
    """Base class: a schedule's constructor arguments and its evaluation at many steps."""

    #: Keras class name and the source file @ version each formula mirrors
    class_name: ClassVar[str] = ""
    keras_source: ClassVar[str] = ""
    #: constructor arguments without a default in Keras
    required: ClassVar[tuple[str, ...]] = ()

    name: str | None = field(default=None, kw_only=True)

    def __call__(
        self,
        step: np.ndarray,
        *,
        executor: str = "eager",
        step_dtype: str = "int",
        backend: str | None = None,
    ) -> np.ndarray:
        """The schedule's float32 value at each raw counter value in ``step`` (int64 array).

        ``backend`` is the Keras 3 backend when known: ``"torch"`` selects torch's ``cos``.
        """
        steps = np.atleast_1d(np.asarray(step, dtype=np.int64))
        with np.errstate(all="ignore"):
            out = self._evaluate(steps, _Ops(executor, backend), step_dtype)
        return np.broadcast_to(np.asarray(out, dtype=F32), steps.shape).copy()

    @classmethod
    def from_spec(cls, spec: ScheduleSpec) -> Schedule:
        """The schedule a :class:`ScheduleSpec` describes (see :func:`schedule_from_spec`)."""
        schedule = schedule_from_spec(spec)
        if cls is not Schedule and not isinstance(schedule, cls):
            raise InputError(f"{spec.class_name} is not a {cls.class_name}")
        return schedule

    def _evaluate(self, steps: np.ndarray, ops: _Ops, step_dtype: str) -> np.ndarray:
        raise NotImplementedError

    #: which executors give different bits for this schedule's arithmetic
    def uses_rewritable_arithmetic(self) -> bool:
        """True when graph/XLA rewrites can change the value (False: every executor agrees)."""
        return True


@dataclass
class ExponentialDecay(Schedule):
    """``init * decay_rate ** p``, ``p = step / decay_steps`` (``floor(p)`` when ``staircase``).

    Mirrors ``keras/src/optimizers/schedules/learning_rate_schedule.py @ v3.15.1`` and
    ``tf_keras/optimizers/schedules/learning_rate_schedule.py @ v2.21.0`` (same op order)::

        p = cast(step, f32) / f32(decay_steps)        # tf-graph/xla: step * f32(1/decay_steps)
        if staircase: p = floor(p)
        lr = f32(init) * powf(f32(decay_rate), p)
    """

    class_name: ClassVar[str] = "ExponentialDecay"
    required: ClassVar[tuple[str, ...]] = ("initial_learning_rate", "decay_steps", "decay_rate")
    keras_source: ClassVar[str] = "keras/src/optimizers/schedules/learning_rate_schedule.py @ v3.15.1"

    initial_learning_rate: float = 0.0
    decay_steps: float = 1.0
    decay_rate: float = 1.0
    staircase: bool = False

    def _evaluate(self, steps, ops, step_dtype):
        p = ops.div_const(_steps_f32(steps), f32(self.decay_steps))
        if self.staircase:
            p = np.floor(p)
        return (f32(self.initial_learning_rate) * libm.powf(f32(self.decay_rate), p)).astype(F32)


@dataclass
class PiecewiseConstantDecay(Schedule):
    """``values[0]`` for ``step <= b[0]``, ``values[i]`` for ``b[i-1] < step <= b[i]``, ``values[-1]`` after.

    Boundaries are cast to the step's dtype: the float32 counter of E3 OptimizerV2, the integer
    counter of E4/E5 (a float boundary such as 1000.5 is truncated). Keras 3
    (``keras/src/optimizers/schedules/learning_rate_schedule.py @ v3.15.1``) sums masked values
    (``0 + [step<=b0]*v0 + [step>bl]*vl + Σ[b(i-1)<step<=bi]*vi``, result dtype of ``values[0]``);
    TF/tf-keras (``tf_keras/... @ v2.21.0``) selects with ``tf.case`` — equal for finite values.
    """

    class_name: ClassVar[str] = "PiecewiseConstantDecay"
    required: ClassVar[tuple[str, ...]] = ("boundaries", "values")
    keras_source: ClassVar[str] = "keras/src/optimizers/schedules/learning_rate_schedule.py @ v3.15.1"

    boundaries: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.boundaries) != len(self.values) - 1:
            raise InputError(
                "PiecewiseConstantDecay: the length of boundaries should be 1 less than the length of "
                f"values (boundaries={self.boundaries}, values={self.values})"
            )

    def uses_rewritable_arithmetic(self) -> bool:
        return False

    def _evaluate(self, steps, ops, step_dtype):
        if step_dtype == "float32":
            x = _steps_f32(steps)
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
    non-integer ``power`` gives NaN (reference §1.8).
    """

    class_name: ClassVar[str] = "PolynomialDecay"
    required: ClassVar[tuple[str, ...]] = ("initial_learning_rate", "decay_steps")
    keras_source: ClassVar[str] = "keras/src/optimizers/schedules/learning_rate_schedule.py @ v3.15.1"

    initial_learning_rate: float = 0.0
    decay_steps: float = 1.0
    end_learning_rate: float = 0.0001
    power: float = 1.0
    cycle: bool = False

    def _evaluate(self, steps, ops, step_dtype):
        init = f32(self.initial_learning_rate)
        end = f32(self.end_learning_rate)
        power = f32(self.power)
        x = _steps_f32(steps)
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


@dataclass
class InverseTimeDecay(Schedule):
    """``init / (1 + decay_rate * p)``, ``p = step / decay_steps`` (``floor(p)`` when ``staircase``).

    Mirrors ``keras/src/optimizers/schedules/learning_rate_schedule.py @ v3.15.1``::

        p = step / f32(decay_steps)           # graphs: step * f32(1/decay_steps)
        denom = 1 + f32(decay_rate) * p       # tf-graph (no staircase): 1 + step * f32(rate*recip)
        lr = f32(init) / denom                # xla: denom = fma(rate, p, 1)

    The legacy ``decay`` of OptimizerV2 (``lr / (1 + decay * it)``) has the same operands with
    ``decay_steps = 1``.
    """

    class_name: ClassVar[str] = "InverseTimeDecay"
    required: ClassVar[tuple[str, ...]] = ("initial_learning_rate", "decay_steps", "decay_rate")
    keras_source: ClassVar[str] = "keras/src/optimizers/schedules/learning_rate_schedule.py @ v3.15.1"

    initial_learning_rate: float = 0.0
    decay_steps: float = 1.0
    decay_rate: float = 0.0
    staircase: bool = False

    def _evaluate(self, steps, ops, step_dtype):
        x = _steps_f32(steps)
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


def _cosine_core(
    ops: _Ops, x: np.ndarray, decay_steps: np.float32, alpha: float, scale: np.float32, in_cond: bool
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
    """

    class_name: ClassVar[str] = "CosineDecay"
    required: ClassVar[tuple[str, ...]] = ("initial_learning_rate", "decay_steps")
    keras_source: ClassVar[str] = "keras/src/optimizers/schedules/learning_rate_schedule.py @ v3.15.1"

    initial_learning_rate: float = 0.0
    decay_steps: float = 1.0
    alpha: float = 0.0
    warmup_target: float | None = None
    warmup_steps: float = 0

    def _evaluate(self, steps, ops, step_dtype):
        init = f32(self.initial_learning_rate)
        decay_steps = f32(self.decay_steps)
        x = _steps_f32(steps)
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
    """

    class_name: ClassVar[str] = "CosineDecayRestarts"
    required: ClassVar[tuple[str, ...]] = ("initial_learning_rate", "first_decay_steps")
    keras_source: ClassVar[str] = "keras/src/optimizers/schedules/learning_rate_schedule.py @ v3.15.1"

    initial_learning_rate: float = 0.0
    first_decay_steps: float = 1.0
    t_mul: float = 2.0
    m_mul: float = 1.0
    alpha: float = 0.0

    def _evaluate(self, steps, ops, step_dtype):
        init = f32(self.initial_learning_rate)
        first = f32(self.first_decay_steps)
        alpha = f32(self.alpha)
        t_mul = f32(self.t_mul)
        m_mul = f32(self.m_mul)
        one = F32(1)
        x = _steps_f32(steps)
        recip = one / first
        fraction = ops.div_const(x, first)
        if t_mul == one:
            i_restart = np.floor(fraction)
            fraction = (fraction - i_restart).astype(F32)
        else:
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
                fraction = (numerator * libm.powf(t_mul, -i_restart)).astype(F32)
            else:
                fraction = ((fraction - sum_r).astype(F32) / t_pow).astype(F32)
        m_fac = libm.powf(m_mul, i_restart)
        angle = (F32(math.pi) * fraction).astype(F32)
        one_plus_cos = (one + ops.cos(angle)).astype(F32)
        one_minus_alpha = (one - alpha).astype(F32)
        if ops.executor == "tf-graph":
            scaled = (((one_minus_alpha * F32(0.5)).astype(F32) * m_fac).astype(F32) * one_plus_cos).astype(
                F32
            )
            decayed = (scaled + alpha).astype(F32)
        else:
            cosine = ((F32(0.5) * m_fac).astype(F32) * one_plus_cos).astype(F32)
            decayed = ops.mul_add(one_minus_alpha, cosine, alpha)
        return (init * decayed).astype(F32)


@dataclass
class LinearCosineDecay(Schedule):
    """TF-only linear cosine decay (``tf.compat.v1.train.linear_cosine_decay``).

    Mirrors ``tensorflow/python/keras/optimizer_v2/learning_rate_schedule.py @ v2.5.0``::

        s = min(step, D); linear = (D - s) / D
        c = 0.5 * (1 + cos(pi * 2 * num_periods * s / D))
        lr = init * ((alpha + linear) * c + beta)
    """

    class_name: ClassVar[str] = "LinearCosineDecay"
    required: ClassVar[tuple[str, ...]] = ("initial_learning_rate", "decay_steps")
    keras_source: ClassVar[str] = "tensorflow/python/keras/optimizer_v2/learning_rate_schedule.py @ v2.5.0"

    initial_learning_rate: float = 0.0
    decay_steps: float = 1.0
    num_periods: float = 0.5
    alpha: float = 0.0
    beta: float = 0.001

    def _evaluate(self, steps, ops, step_dtype):
        init = f32(self.initial_learning_rate)
        decay_steps = f32(self.decay_steps)
        num_periods = f32(self.num_periods)
        x = np.minimum(_steps_f32(steps), decay_steps)
        linear = ops.div_const((decay_steps - x).astype(F32), decay_steps)
        fraction = ops.div_const(x, decay_steps)
        # TF source: completed_fraction * 2 * num_periods, then pi * that
        fraction = ((fraction * F32(2)).astype(F32) * num_periods).astype(F32)
        cosine = (F32(0.5) * (F32(1) + ops.cos((F32(math.pi) * fraction).astype(F32))).astype(F32)).astype(
            F32
        )
        linear_cosine = ((f32(self.alpha) + linear).astype(F32) * cosine).astype(F32)
        return (init * (linear_cosine + f32(self.beta)).astype(F32)).astype(F32)


_SCHEDULE_CLASSES: dict[str, type[Schedule]] = {
    cls.class_name: cls
    for cls in (
        ExponentialDecay,
        PiecewiseConstantDecay,
        PolynomialDecay,
        InverseTimeDecay,
        CosineDecay,
        CosineDecayRestarts,
        LinearCosineDecay,
    )
}
#: older export names and aliases seen in configs
_ALIASES = {"SGDRDecay": "CosineDecayRestarts", "PiecewiseConstant": "PiecewiseConstantDecay"}


def schedule_from_spec(spec: ScheduleSpec) -> Schedule:
    """Build the schedule a :class:`ScheduleSpec` describes; unknown classes/arguments → InputError."""
    class_name = _ALIASES.get(spec.class_name, spec.class_name)
    cls = _SCHEDULE_CLASSES.get(class_name)
    if cls is None:
        known = ", ".join(sorted(_SCHEDULE_CLASSES))
        raise InputError(f"unsupported learning-rate schedule {spec.class_name!r} (known: {known})")
    fields = {f for f in cls.__dataclass_fields__ if f != "name"}
    kwargs: dict[str, Any] = {}
    for key, value in spec.config.items():
        if key == "name":
            continue
        if key not in fields:
            raise InputError(f"{class_name}: unexpected argument {key!r}")
        kwargs[key] = value
    missing = [key for key in cls.required if key not in kwargs]
    if missing:
        raise InputError(f"{class_name}: missing argument(s) {', '.join(missing)}")
    for key in ("decay_steps", "first_decay_steps"):
        value = kwargs.get(key)
        if value is not None and (not isinstance(value, (int, float)) or value <= 0):
            raise InputError(f"{class_name}: `{key}` must be > 0, got {value!r}")
    try:
        schedule = cls(**kwargs, name=spec.config.get("name"))
    except TypeError as exc:  # missing required argument
        raise InputError(f"{class_name}: {exc}") from None
    return schedule
