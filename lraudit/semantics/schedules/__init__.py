"""Keras' built-in ``LearningRateSchedule`` classes: signature, checks, words, and values bit for bit.

One class per schedule (:mod:`.base` says what a class declares); :data:`SCHEDULES` is the one
registry every reader uses (``--optimizer`` parsing, config readers, ``explain``, rules).

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

from lraudit.semantics.schedules.base import (
    EXECUTORS,
    MODULE_PREFIXES,
    SCHEDULE_ALIASES,
    SCHEDULES,
    Floor,
    Parameter,
    Schedule,
    Warmup,
    schedule_class,
    schedule_from_spec,
)
from lraudit.semantics.schedules.cosine import CosineDecay, CosineDecayRestarts, LinearCosineDecay
from lraudit.semantics.schedules.exponential import ExponentialDecay, InverseTimeDecay
from lraudit.semantics.schedules.piecewise import PiecewiseConstantDecay
from lraudit.semantics.schedules.polynomial import PolynomialDecay

__all__ = [
    "EXECUTORS",
    "MODULE_PREFIXES",
    "SCHEDULES",
    "SCHEDULE_ALIASES",
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "Floor",
    "InverseTimeDecay",
    "LinearCosineDecay",
    "Parameter",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "Schedule",
    "Warmup",
    "schedule_class",
    "schedule_from_spec",
]
