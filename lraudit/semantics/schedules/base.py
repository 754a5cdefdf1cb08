"""What every schedule class shares: float32 ops per executor, the signature, validation, the registry.

A schedule class is a dataclass whose fields *are* the Keras constructor: same names, same order
(``name`` included where Keras puts it), a default exactly where Keras has one. Everything else
reads that single declaration: ``--optimizer`` parsing (:meth:`Schedule.signature`), config
readers (:func:`schedule_from_spec`), validation (:meth:`Schedule.__post_init__`), ``explain``
and the rules (:meth:`Schedule.describe`, :meth:`Schedule.floor`, :meth:`Schedule.warmup`, ...).
Defining a subclass with a ``class_name`` registers it (:data:`SCHEDULES`).
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from lraudit.errors import InputError
from lraudit.semantics import libm, torch_math
from lraudit.semantics.specs import ScheduleSpec

#: how the schedule's ops are executed (see the package docstring)
EXECUTORS = ("eager", "tf-graph", "xla")

F32 = np.float32

#: class name -> class, every built-in schedule (filled as subclasses are defined)
SCHEDULES: dict[str, type[Schedule]] = {}
#: older export names and aliases seen in configs -> class name
SCHEDULE_ALIASES: dict[str, str] = {}
#: module paths Keras exported the schedules under, as written before the class name
#: (``CosineDecay``/``CosineDecayRestarts``/``LinearCosineDecay`` lived in ``keras.experimental``
#: in TF 2.0-2.4)
MODULE_PREFIXES = (
    "", "schedules.", "optimizers.schedules.", "keras.optimizers.schedules.",
    "tf.keras.optimizers.schedules.", "tensorflow.keras.optimizers.schedules.",
    "tf_keras.optimizers.schedules.", "tf.optimizers.schedules.",
    "keras.experimental.", "tf.keras.experimental.",
)  # fmt: skip


def f32(value: Any) -> np.ndarray | np.float32:
    """Round a Python number or array to float32 (what ``convert_to_tensor``/``cast`` does)."""
    return np.asarray(value, dtype=np.float64).astype(F32) if np.ndim(value) else F32(value)


def check_executor(executor: str) -> str:
    """``executor`` when it is one of :data:`EXECUTORS`, else ValueError."""
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; expected one of {', '.join(EXECUTORS)}")
    return executor


class Ops:
    """float32 scalar-tensor ops as one executor performs them (every result rounded to float32)."""

    def __init__(self, executor: str, backend: str | None = None) -> None:
        self.executor = check_executor(executor)
        self.rewrites = executor in ("tf-graph", "xla")
        self.fused = executor == "xla"
        #: ``torch.cos`` is MKL VML's, not the C library's
        self.cos = torch_math.cosf if backend == "torch" else libm.cosf

    def div_const(self, x: np.ndarray, c: np.float32) -> np.ndarray:
        """``x / c`` for a constant ``c``: a reciprocal multiply after graph rewriting."""
        if self.rewrites:
            return (x * (F32(1) / F32(c))).astype(F32)
        return (x / F32(c)).astype(F32)

    def mul_add(self, a: Any, b: Any, c: Any) -> np.ndarray:
        """``a*b + c``: one rounding under XLA (fused multiply-add), two otherwise."""
        if self.fused:
            return libm.fmaf(a, b, c)
        return (F32(1) * np.multiply(a, b, dtype=F32) + np.asarray(c, dtype=F32)).astype(F32)


def steps_f32(step: np.ndarray) -> np.ndarray:
    """``cast(step, float32)`` of the int64 counter (round to nearest, exact below 2**24)."""
    return np.asarray(step, dtype=np.int64).astype(F32)


# --------------------------------------------------------------------------- facts and words


@dataclass(frozen=True)
class Parameter:
    """One constructor argument: its name, its Keras default, whether Keras requires it."""

    name: str
    default: Any
    required: bool


@dataclass(frozen=True)
class Warmup:
    """A linear warm-up: from ``start`` to ``target`` over ``steps`` optimizer updates."""

    start: float
    target: float
    steps: float


@dataclass(frozen=True)
class Floor:
    """The value a schedule settles at for good: from update ``step`` on, ``formula`` in words."""

    step: int
    formula: str


def fmt_number(value: Any) -> str:
    """A hyperparameter as the user would write it (``0.001``, ``0.75``)."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def fmt_epochs(steps: Any, steps_per_epoch: int) -> str:
    """``steps`` optimizer updates as a number of epochs (``"2.5 epochs"``)."""
    try:
        return f"{float(steps) / steps_per_epoch:.4g} epochs"
    except (TypeError, ValueError, ZeroDivisionError):
        return "? epochs"


# --------------------------------------------------------------------------- validation

#: field annotation -> (check, what the value must be)
_TYPE_CHECKS: dict[str, tuple[Any, str]] = {
    "float": (lambda v: _is_real(v), "a number"),
    "float | None": (lambda v: v is None or _is_real(v), "a number or None"),
    "bool": (lambda v: isinstance(v, bool) or v in (0, 1), "True or False"),
    "str | None": (lambda v: v is None or isinstance(v, str), "a string or None"),
    "list[float]": (
        lambda v: isinstance(v, (list, tuple)) and all(_is_real(x) for x in v),
        "a list of numbers",
    ),
}


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


# --------------------------------------------------------------------------- the base class


@dataclass
class Schedule:
    """Base class: a schedule's constructor arguments, their checks, its words and its values.

    Subclasses declare their Keras constructor as dataclass fields and override
    :meth:`_evaluate` (the float32 arithmetic) and :meth:`describe`; the other facts default to
    "none" (no warm-up, no floor, ...).
    """

    #: Keras class name and the source file @ version each formula mirrors
    class_name: ClassVar[str] = ""
    keras_source: ClassVar[str] = ""
    #: other names this class had in Keras exports or configs
    aliases: ClassVar[tuple[str, ...]] = ()
    #: arguments Keras requires to be > 0 (``ValueError`` at construction)
    positive: ClassVar[tuple[str, ...]] = ()
    #: arguments counted in optimizer updates that set how long the decay lasts (the
    #: decay-steps-look-like-epochs rule compares them with the number of epochs)
    length_arguments: ClassVar[tuple[str, ...]] = ()
    #: False for the TF-only schedules Keras 3 does not have
    in_keras3: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.class_name:
            SCHEDULES[cls.class_name] = cls
            SCHEDULE_ALIASES.update((alias, cls.class_name) for alias in cls.aliases)

    def __post_init__(self) -> None:
        self._check_types()
        for key in self.positive:
            value = getattr(self, key)
            if not value > 0:  # NaN fails too
                raise InputError(f"{self.class_name}: `{key}` must be > 0, got {value!r}")
        self._check()

    def _check_types(self) -> None:
        for item in dataclasses.fields(self):
            check, what = _TYPE_CHECKS.get(str(item.type), (None, ""))
            value = getattr(self, item.name)
            if check is not None and not check(value):
                raise InputError(f"{self.class_name}: `{item.name}` must be {what}, got {value!r}")

    def _check(self) -> None:
        """Checks beyond types and positivity (Keras' own ``ValueError``s); InputError when wrong."""

    # ----------------------------------------------------------------- signature and building

    @classmethod
    def signature(cls) -> tuple[Parameter, ...]:
        """The Keras constructor's parameters in order (positional arguments map to it)."""
        params = []
        for item in dataclasses.fields(cls):
            required = item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
            params.append(Parameter(item.name, None if required else item.default, required))
        return tuple(params)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Schedule:
        """The schedule built from a ``get_config()`` dict; unknown/missing arguments → InputError."""
        params = {p.name: p for p in cls.signature()}
        unexpected = [key for key in config if key not in params]
        if unexpected:
            raise InputError(f"{cls.class_name}: unexpected argument {unexpected[0]!r}")
        missing = [name for name, p in params.items() if p.required and name not in config]
        if missing:
            raise InputError(f"{cls.class_name}: missing argument(s) {', '.join(missing)}")
        return cls(**config)

    @classmethod
    def from_spec(cls, spec: ScheduleSpec) -> Schedule:
        """The schedule a :class:`ScheduleSpec` describes (see :func:`schedule_from_spec`)."""
        schedule = schedule_from_spec(spec)
        if cls is not Schedule and not isinstance(schedule, cls):
            raise InputError(f"{spec.class_name} is not a {cls.class_name}")
        return schedule

    # ----------------------------------------------------------------- values

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
            out = self._evaluate(steps, Ops(executor, backend), step_dtype)
        return np.broadcast_to(np.asarray(out, dtype=F32), steps.shape).copy()

    def _evaluate(self, steps: np.ndarray, ops: Ops, step_dtype: str) -> np.ndarray:
        raise NotImplementedError

    def uses_rewritable_arithmetic(self) -> bool:
        """True when graph/XLA rewrites can change the value (False: every executor agrees)."""
        return True

    # ----------------------------------------------------------------- facts and words

    def describe(self, steps_per_epoch: int) -> str:
        """The schedule in plain words with its key numbers (one sentence or two)."""
        args = ", ".join(f"{p.name}={getattr(self, p.name)!r}" for p in self.signature())
        return f"{self.class_name}({args})."

    def warmup(self) -> Warmup | None:
        """The linear warm-up, if the schedule has one."""
        return None

    def floor(self) -> Floor | None:
        """Where the lr stops changing for good (None: it keeps changing or only approaches a limit)."""
        return None

    def zero_lr_cause(self) -> str | None:
        """Why this schedule can apply lr = 0, in words (None: it has no such argument)."""
        return None

    def invalid_lr_cause(self, backend: str | None) -> str | None:
        """Why this schedule can produce a NaN/inf/negative lr on ``backend`` (None: it cannot)."""
        return None

    def lengths(self) -> dict[str, float]:
        """The :attr:`length_arguments` with their largest value (a list counts by its maximum)."""
        found: dict[str, float] = {}
        for key in self.length_arguments:
            value = getattr(self, key)
            values = list(value) if isinstance(value, (list, tuple)) else [value]
            if values and all(_is_real(v) for v in values):
                found[key] = float(max(values))
        return found


def schedule_class(class_name: str) -> type[Schedule] | None:
    """The registered class for a class name or one of its aliases (None when unknown)."""
    return SCHEDULES.get(SCHEDULE_ALIASES.get(class_name, class_name))


def schedule_from_spec(spec: ScheduleSpec) -> Schedule:
    """Build the schedule a :class:`ScheduleSpec` describes; unknown classes/arguments → InputError."""
    cls = schedule_class(spec.class_name)
    if cls is None:
        known = ", ".join(sorted(SCHEDULES))
        raise InputError(f"unsupported learning-rate schedule {spec.class_name!r} (known: {known})")
    return cls.from_config(dict(spec.config))
