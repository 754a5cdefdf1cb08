"""Keras' learning-rate callbacks as pure state machines, era by era.

* :class:`ReduceLROnPlateau` mirrors ``on_train_begin``/``on_epoch_end`` of every Keras era
  line by line (reference §4.1), including the float32/float64 arithmetic of ``old_lr * factor``,
  the ``min_lr`` guard and the text Keras prints. :func:`replay_plateau` runs it over a whole
  run (one ``on_train_begin`` per ``fit``).
* :class:`LearningRateScheduler` replays ``on_epoch_begin`` (reference §4.2) from a schedule
  function the user named explicitly (:func:`load_schedule_function`) or from the values the
  run printed/logged (:func:`scheduler_values_from_log`).
* :class:`EarlyStoppingSpec` only knows what is needed to tell that its monitor is missing.

Upstream sources mirrored (cited per era in :data:`PLATEAU_ERAS`):
``keras-team/keras keras/callbacks.py @ 2.0.0, 2.0.9, 2.1.3, 2.1.5, 2.1.6, 2.2.4``;
``tensorflow/tensorflow tensorflow/python/keras/callbacks.py @ v2.0.0 - v2.5.0``;
``keras-team/keras keras/callbacks.py @ v2.6.0, v2.8.0, v2.15.0``;
``keras-team/tf-keras tf_keras/callbacks.py @ v2.21.0``;
``keras-team/keras keras/src/callbacks/reduce_lr_on_plateau.py @ v3.0.0, v3.10.0, v3.15.1`` and
``keras/src/callbacks/monitor_callback.py @ v3.15.1``.

Nothing here imports TensorFlow or Keras; the user's schedule function is imported only when
the user names it explicitly on the command line.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lraudit.errors import UsageError

# --------------------------------------------------------------------------------------------
# Eras
# --------------------------------------------------------------------------------------------

#: ReduceLROnPlateau behaviour groups (oldest first) and what each one covers.
PLATEAU_ERAS: dict[str, str] = {
    "2.0": "standalone Keras 2.0.0-2.0.8 (keras/callbacks.py @ 2.0.0): patience tested before "
    "wait += 1, min_lr guard old_lr > min_lr*(1+1e-4), message without class name, 0-based epoch",
    "2.0.9": "standalone Keras 2.0.9-2.1.2 (keras/callbacks.py @ 2.0.9): as 2.0 with epoch + 1",
    "2.1.3": "standalone Keras 2.1.3-2.1.5 (keras/callbacks.py @ 2.1.5): patience tested before "
    "wait += 1, plain min_lr guard, 'ReduceLROnPlateau reducing' message",
    "2.1.6": "standalone Keras 2.1.6-2.3.1 and tf.keras of TF 2.0-2.4 (keras/callbacks.py @ 2.2.4, "
    "tensorflow/python/keras/callbacks.py @ v2.4.0): wait += 1 then patience test, float64 "
    "min_lr guard, '%05d' message",
    "tf2.5": "tf.keras of TF 2.5 and keras 2.6-2.7 (keras/callbacks.py @ v2.6.0): np.float32 old_lr "
    "and min_lr guard, '%05d' message",
    "2.8": "keras 2.8-2.15 and tf-keras (keras/callbacks.py @ v2.15.0, tf_keras/callbacks.py @ "
    "v2.21.0): np.float32 old_lr, f-string message",
    "3.0": "Keras 3.0-3.10 (keras/src/callbacks/reduce_lr_on_plateau.py @ v3.10.0): Python float "
    "old_lr, np.float32 min_lr guard, 'acc' in monitor decides mode auto",
    "3.11": "Keras 3.11+ (reduce_lr_on_plateau.py + monitor_callback.py @ v3.15.1): best starts "
    "None, |min_delta|, mode auto from the compiled metric's direction",
}

_ERA_ORDER = tuple(PLATEAU_ERAS)
#: eras whose patience test runs before ``wait += 1``
_PATIENCE_FIRST = {"2.0", "2.0.9", "2.1.3"}
#: eras comparing ``float(old_lr) > min_lr`` in float64 (tensorflow/tensorflow#39462)
_FLOAT64_GUARD = {"2.0", "2.0.9", "2.1.3", "2.1.6"}
#: eras whose ``old_lr`` is ``np.float32`` (the product's type then depends on NumPy)
_NUMPY_OLD_LR = {"tf2.5", "2.8"}
#: eras printing with ``'%s' % new_lr`` (the others use an f-string)
_PERCENT_FORMAT = {"2.0", "2.0.9", "2.1.3", "2.1.6", "tf2.5"}


def _check_era(era: str) -> str:
    if era not in PLATEAU_ERAS:
        raise UsageError(f"unknown Keras callback era {era!r}; known: {', '.join(_ERA_ORDER)}")
    return era


def _version_tuple(text: str) -> tuple[int, ...]:
    numbers = re.findall(r"\d+", text)
    return tuple(int(n) for n in numbers[:3]) + (0,) * (3 - len(numbers[:3]))


def plateau_era(keras: str | None = None, tensorflow: str | None = None) -> str:
    """The :data:`PLATEAU_ERAS` key for a Keras (or tf.keras) version.

    ``keras`` is a version string (``"2.15.0"``, ``"3.15.1"``) or a bare generation
    (``"2"`` -> ``"2.8"``, the current tf.keras/tf-keras code; ``"3"`` -> ``"3.11"``);
    ``tensorflow`` decides when only TF is known or for the ``keras`` 2.4 wrapper.
    """
    if keras in ("2", "3"):
        return "2.8" if keras == "2" else "3.11"
    if keras:
        v = _version_tuple(keras)
        if v >= (3, 11, 0):
            return "3.11"
        if v >= (3, 0, 0):
            return "3.0"
        if v >= (2, 8, 0):
            return "2.8"
        if v >= (2, 5, 0):
            return "tf2.5"
        if v >= (2, 4, 0):  # keras 2.4 re-exports tf.keras: the installed TF decides
            return plateau_era(None, tensorflow) if tensorflow else "2.1.6"
        if v >= (2, 1, 6):
            return "2.1.6"
        if v >= (2, 1, 3):
            return "2.1.3"
        if v >= (2, 0, 9):
            return "2.0.9"
        return "2.0"
    if tensorflow:
        v = _version_tuple(tensorflow)
        if v >= (2, 16, 0):
            return "3.11"
        if v >= (2, 8, 0):
            return "2.8"
        if v >= (2, 5, 0):
            return "tf2.5"
        return "2.1.6"
    return "2.8"


# --------------------------------------------------------------------------------------------
# Mode inference
# --------------------------------------------------------------------------------------------

#: Keras 3 built-in metric names (class defaults, snake_case class names and compile aliases)
#: with the ``_direction`` their class declares (keras/src/metrics/*.py @ v3.15.1).
KERAS3_METRIC_DIRECTIONS: dict[str, str] = {
    **dict.fromkeys(
        (
            "accuracy", "acc", "binary_accuracy", "categorical_accuracy",
            "sparse_categorical_accuracy", "top_k_categorical_accuracy",
            "sparse_top_k_categorical_accuracy", "precision", "recall",
            "sensitivity_at_specificity", "specificity_at_sensitivity", "precision_at_recall",
            "recall_at_precision", "auc", "pearson_correlation", "concordance_correlation",
            "fbeta_score", "f1_score", "iou", "binary_iou", "mean_iou", "one_hot_iou",
            "one_hot_mean_iou", "cosine_similarity", "r2_score",
        ),
        "up",
    ),
    **dict.fromkeys(
        (
            "hinge", "squared_hinge", "categorical_hinge", "binary_crossentropy", "bce",
            "categorical_crossentropy", "sparse_categorical_crossentropy",
            "mean_squared_error", "mse", "mean_absolute_error", "mae",
            "mean_absolute_percentage_error", "mape", "mean_squared_logarithmic_error", "msle",
            "root_mean_squared_error", "logcosh", "kl_divergence", "poisson",
        ),
        "down",
    ),
}


def declared_direction(monitor: str) -> str | None:
    """``"up"``/``"down"``: the direction the Keras metric behind ``monitor`` declares, or None.

    Looked up in :data:`KERAS3_METRIC_DIRECTIONS` without the ``val_`` prefix and, failing
    that, without a trailing ``_<n>`` uniquifier (``auc_1``). The one table every direction
    question (Keras 3.11's ``mode='auto'``, the rules' "higher is better") reads.
    """
    name = monitor.removeprefix("val_")
    direction = KERAS3_METRIC_DIRECTIONS.get(name)
    if direction is None:
        direction = KERAS3_METRIC_DIRECTIONS.get(re.sub(r"_\d+$", "", name))
    return direction


def plateau_mode(monitor: str, mode: str = "auto", era: str = "2.8") -> tuple[str | None, str]:
    """The direction ReduceLROnPlateau compares ``monitor`` in: ``("min"|"max", reason)``.

    Up to Keras 3.10 ``auto`` means *max* exactly when ``'acc'`` is a substring of the monitor
    name, so ``val_auc`` or ``val_cosine_similarity`` are minimised. From 3.11 the direction is
    the one the compiled metric declares; it is looked up in
    :data:`KERAS3_METRIC_DIRECTIONS` (a trailing ``_<n>`` uniquifier is ignored). When that
    direction is unknown the result is ``(None, reason)``: Keras raises ``ValueError`` at the
    first epoch end unless the model compiled a metric of that name with a direction.
    """
    era = _check_era(era)
    fallback = ""
    if mode not in ("auto", "min", "max"):
        fallback = f"unknown mode {mode!r} falls back to 'auto'; "
        mode = "auto"
    if mode != "auto":
        return mode, f"{fallback}mode={mode!r} given explicitly"
    if era != "3.11":
        if "acc" in monitor:
            return "max", f"{fallback}mode 'auto' chose max because 'acc' is in {monitor!r}"
        return "min", f"{fallback}mode 'auto' chose min because 'acc' is not in {monitor!r}"
    name = monitor.removeprefix("val_")
    if name == "loss":
        return "min", f"{fallback}mode 'auto' chose min for the loss {monitor!r}"
    direction = declared_direction(monitor)
    if direction is None:
        return None, (
            f"{fallback}mode 'auto' cannot tell the direction of {monitor!r}: Keras 3.11+ raises "
            "ValueError at the first epoch end unless a compiled metric named "
            f"{name!r} declares one"
        )
    chosen = "max" if direction == "up" else "min"
    return chosen, (
        f"{fallback}mode 'auto' chose {chosen} from the direction of the Keras metric {name!r}"
    )


# --------------------------------------------------------------------------------------------
# ReduceLROnPlateau
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlateauState:
    """The callback's counters after an epoch end."""

    wait: int
    cooldown_counter: int
    best: float | None


@dataclass(frozen=True)
class PlateauDecision:
    """What ``ReduceLROnPlateau.on_epoch_end`` did at one epoch end.

    ``new_lr`` is the float32 value stored in the lr variable when a reduction happened,
    else None. ``printed_text`` is what Keras prints for the new value (``repr`` of the float64
    product, ``min_lr`` as given when the floor won, or an ``np.float32`` formatted by ``%s``
    / an f-string under NumPy 2) and ``printed`` the float64 those digits denote;
    ``message`` the whole verbose line (without the leading newline). ``warning`` is set when
    the monitor was missing; ``error`` when Keras would have raised (training stops there).
    """

    epoch: int
    old_lr: np.float32
    metric: float | None
    new_lr: np.float32 | None = None
    printed: float | None = None
    printed_text: str | None = None
    message: str | None = None
    improved: bool = False
    warning: str | None = None
    error: str | None = None
    state: PlateauState = PlateauState(0, 0, None)

    @property
    def reduced(self) -> bool:
        """True when the callback set a new lr at this epoch end."""
        return self.new_lr is not None


class ReduceLROnPlateau:
    """Keras' ``ReduceLROnPlateau`` without Keras: one instance per callback, per run.

    Mirrors ``on_train_begin`` / ``on_epoch_end`` of the upstream file of ``era`` (see
    :data:`PLATEAU_ERAS`), e.g. ``keras/callbacks.py @ v2.15.0`` for ``"2.8"`` and
    ``keras/src/callbacks/reduce_lr_on_plateau.py @ v3.15.1`` for ``"3.11"``. ``numpy_major``
    matters only in the ``"tf2.5"``/``"2.8"`` eras, where ``old_lr`` is ``np.float32``: under
    NumPy 1 ``old_lr * factor`` is the float64 product, under NumPy 2 (NEP 50) a float32
    product of ``f32(factor)`` that prints with its widened digits.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0,
        era: str = "2.8",
        numpy_major: int = 1,
    ) -> None:
        self.era = _check_era(era)
        if factor >= 1.0:
            # every era refuses this in __init__, so the run cannot have used it
            raise UsageError(f"ReduceLROnPlateau does not support a factor >= 1.0 (got {factor})")
        self.monitor = monitor
        self.factor = factor
        self.patience = patience
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.numpy_major = numpy_major
        self.mode_warning: str | None = None
        if mode not in ("auto", "min", "max"):
            self.mode_warning = f"ReduceLROnPlateau mode {mode!r} is unknown, fallback to auto mode"
            mode = "auto"
        self.mode = mode
        # 3.11+: MonitorCallback stores abs(min_delta) and negates it for "less"
        self.min_delta = abs(min_delta) if era == "3.11" else min_delta
        self.direction: str | None = None
        self.direction_reason = ""
        self._monitor_op_set = False
        self.stopped: str | None = None  # Keras raised: no further epoch ends happen
        self.wait = 0
        self.cooldown_counter = 0
        self.best: float | None = None
        self._reset()

    # -- upstream _reset / on_train_begin -------------------------------------------------
    def _reset(self) -> None:
        if self.era == "3.11":
            self.best = None
        else:
            self.direction, self.direction_reason = plateau_mode(self.monitor, self.mode, self.era)
            self.best = math.inf if self.direction == "min" else -math.inf
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self) -> None:
        """A new ``fit()``: wait, cooldown and best restart (the lr does not)."""
        self._reset()

    # -- helpers ---------------------------------------------------------------------------
    def _set_monitor_op(self) -> None:
        """Keras 3.11+ ``MonitorCallback._set_monitor_op`` (first epoch end)."""
        self._monitor_op_set = True
        self.direction, self.direction_reason = plateau_mode(self.monitor, self.mode, self.era)
        if self.direction is None:
            self.stopped = (
                f"ReduceLROnPlateau callback received monitor={self.monitor}, but Keras isn't "
                "able to automatically determine whether that metric should be maximized or "
                "minimized."
            )
            return
        if self.best is None:
            self.best = math.inf if self.direction == "min" else -math.inf

    def _is_improvement(self, current: float) -> bool:
        if self.era == "3.11":
            if self.best is None:
                return True
            if self.direction == "min":  # ops.less(current - (-|d|), best)
                return bool(np.less(current + self.min_delta, self.best))
            return bool(np.greater(current - self.min_delta, self.best))
        assert self.best is not None
        if self.direction == "min":  # np.less(a, b - min_delta)
            return bool(np.less(current, self.best - self.min_delta))
        return bool(np.greater(current, self.best + self.min_delta))

    def _lr_guard(self, old_lr: np.float32) -> bool:
        """``old_lr > min_lr`` with each era's operand types."""
        if self.era in ("2.0", "2.0.9"):
            return float(old_lr) > self.min_lr + self.min_lr * 1e-4
        if self.era in _FLOAT64_GUARD:
            return float(old_lr) > self.min_lr
        return bool(np.float32(old_lr) > np.float32(self.min_lr))

    def _reduced_value(self, old_lr: np.float32) -> Any:
        """``max(old_lr * factor, min_lr)`` with the Python/NumPy types of the era."""
        if self.era in _NUMPY_OLD_LR and self.numpy_major >= 2:
            product: Any = np.float32(old_lr) * np.float32(self.factor)
            floor_wins = bool(np.float32(self.min_lr) > product)
        else:
            product = float(old_lr) * float(self.factor)
            floor_wins = self.min_lr > product
        # Python's max() keeps the first argument unless the second is strictly greater
        return self.min_lr if floor_wins else product

    def _message(self, epoch: int, value_text: str) -> str:
        # percent formatting on purpose: these eras printed with it (ruff UP031 silenced)
        if self.era == "2.0":
            return "Epoch %05d: reducing learning rate to %s." % (epoch, value_text)  # noqa: UP031
        if self.era == "2.0.9":
            return "Epoch %05d: reducing learning rate to %s." % (epoch + 1, value_text)  # noqa: UP031
        if self.era in _PERCENT_FORMAT:
            return "Epoch %05d: ReduceLROnPlateau reducing learning rate to %s." % (  # noqa: UP031
                epoch + 1,
                value_text,
            )
        return f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {value_text}."

    def _missing_warning(self) -> str:
        if self.era == "2.0":
            return f"Learning Rate Plateau Reducing requires {self.monitor} available!"
        if self.era in ("2.0.9", "2.1.3", "2.1.6"):
            # TF 2.4 already used the newer text; the monitor name is what matters
            return (
                f"Reduce LR on plateau conditioned on metric `{self.monitor}` which is not "
                "available."
            )
        return f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not available."

    def state(self) -> PlateauState:
        """A snapshot of wait, cooldown counter and best."""
        return PlateauState(self.wait, self.cooldown_counter, self.best)

    # -- upstream on_epoch_end -------------------------------------------------------------
    def on_epoch_end(
        self, epoch: int, current_lr: float | np.float32, metric: float | None
    ) -> PlateauDecision:
        """One epoch end: ``current_lr`` is the lr variable (float32) before the callback acts,
        ``metric`` the monitored value in the epoch logs (None when it was not logged)."""
        old_lr = np.float32(current_lr)
        if self.stopped:
            return PlateauDecision(epoch, old_lr, metric, error=self.stopped, state=self.state())
        if self.era == "3.11" and not self._monitor_op_set:
            self._set_monitor_op()  # before the logs are looked at, as upstream
            if self.stopped:
                return PlateauDecision(epoch, old_lr, metric, error=self.stopped, state=self.state())
        if metric is None:
            return PlateauDecision(
                epoch, old_lr, None, warning=self._missing_warning(), state=self.state()
            )
        current = float(metric)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        improved = self._is_improvement(current)
        result: dict[str, Any] = {}
        if improved:
            self.best = current
            self.wait = 0
        elif not self.cooldown_counter > 0:
            if self.era not in _PATIENCE_FIRST:
                self.wait += 1
            if self.wait >= self.patience and self._lr_guard(old_lr):
                value = self._reduced_value(old_lr)
                # '%s' and f-string differ for np.float32 under NumPy 2 ('0.01' vs '0.009999999776482582')
                text = ("%s" % (value,)) if self.era in _PERCENT_FORMAT else f"{value}"  # noqa: UP031
                result = {
                    "new_lr": np.float32(value),
                    "printed": float(text),  # what the digits say ('%s' of np.float32 is short)
                    "printed_text": text,
                    "message": self._message(epoch, text),
                }
                self.cooldown_counter = self.cooldown
                self.wait = 0
            if self.era in _PATIENCE_FIRST:
                self.wait += 1
        return PlateauDecision(
            epoch, old_lr, current, improved=improved, state=self.state(), **result
        )


def plateau_from_spec(
    kwargs: Mapping[str, Any], era: str = "2.8", numpy_major: int = 1
) -> ReduceLROnPlateau:
    """Build the state machine from constructor kwargs (a ``CallbackSpec.kwargs``).

    ``epsilon`` is the threshold's name up to 2.1.5 and a deprecated alias of ``min_delta``
    from 2.1.6 through tf-keras; Keras 3 silently ignores it (reference §4.1).
    """
    era = _check_era(era)
    args = dict(kwargs)
    epsilon = args.pop("epsilon", None)
    min_delta = args.pop("min_delta", None)
    if era in _PATIENCE_FIRST:
        threshold = epsilon if epsilon is not None else 1e-4
    elif era in ("3.0", "3.11"):
        threshold = min_delta if min_delta is not None else 1e-4
    else:
        threshold = epsilon if epsilon is not None else (min_delta if min_delta is not None else 1e-4)
    return ReduceLROnPlateau(
        monitor=args.get("monitor", "val_loss"),
        factor=args.get("factor", 0.1),
        patience=args.get("patience", 10),
        mode=args.get("mode", "auto"),
        min_delta=threshold,
        cooldown=args.get("cooldown", 0),
        min_lr=args.get("min_lr", 0),
        era=era,
        numpy_major=numpy_major,
    )


LrAtEpochEnd = Callable[[int, np.float32], float]


def replay_plateau(
    spec: Mapping[str, Any] | Any,
    epochs_metrics: Sequence[float | None],
    lr_at_epoch_end: float | LrAtEpochEnd,
    fits: Iterable[tuple[int, int] | Any] | None = None,
    era: str = "2.8",
    numpy_major: int = 1,
) -> list[PlateauDecision]:
    """Run ReduceLROnPlateau over a run: one decision per epoch end that happened.

    ``spec`` is a ``CallbackSpec`` (its ``kwargs`` are used) or the kwargs mapping;
    ``epochs_metrics[e]`` the monitored value at the end of global epoch ``e`` (None: not
    logged). ``lr_at_epoch_end`` is the lr variable before training (a float; the replay then
    carries its own reductions forward) or ``f(epoch, lr_after_last_reduction) -> lr variable``
    when other writers exist (e.g. a LearningRateScheduler that sets it at each epoch begin).
    ``fits`` are ``(first_epoch, end_epoch)`` pairs or objects with those attributes (each
    starts with ``on_train_begin``); by default one fit over every epoch. Replay stops where
    Keras would have raised.
    """
    kwargs = getattr(spec, "kwargs", spec)
    rlr = plateau_from_spec(kwargs, era=era, numpy_major=numpy_major)
    if fits is None:
        fit_ranges = [(0, len(epochs_metrics))]
    else:
        fit_ranges = [
            (f.first_epoch, f.end_epoch) if hasattr(f, "first_epoch") else (int(f[0]), int(f[1]))
            for f in fits
        ]
    tracked = np.float32(0.0 if callable(lr_at_epoch_end) else lr_at_epoch_end)
    decisions: list[PlateauDecision] = []
    for first, end in fit_ranges:
        rlr.on_train_begin()
        for epoch in range(first, min(end, len(epochs_metrics))):
            lr_now = (
                np.float32(lr_at_epoch_end(epoch, tracked))
                if callable(lr_at_epoch_end)
                else tracked
            )
            decision = rlr.on_epoch_end(epoch, lr_now, epochs_metrics[epoch])
            decisions.append(decision)
            tracked = decision.new_lr if decision.reduced else lr_now
            if decision.error:
                return decisions
    return decisions


# --------------------------------------------------------------------------------------------
# LearningRateScheduler
# --------------------------------------------------------------------------------------------

#: LearningRateScheduler message eras (reference §4.2): "%05d ... reducing", "%05d ... setting",
#: f-string "setting"
_SCHEDULER_FORMATS = ("reducing", "setting", "fstring")


@dataclass(frozen=True)
class SchedulerDecision:
    """What ``LearningRateScheduler.on_epoch_begin`` did: the value the schedule returned, the
    float32 value stored in the lr variable, and the verbose line (without leading newline)."""

    epoch: int
    returned: Any
    new_lr: np.float32
    printed_text: str
    message: str


def load_schedule_function(reference: str) -> Callable[..., Any]:
    """Import the schedule function the user named: ``path/to/file.py:fn`` or ``module:fn``.

    Only ever called for a function given explicitly on the command line. Raises
    :class:`UsageError` (one line) for a missing file, module or function, or an import that fails.
    """
    target, sep, name = reference.rpartition(":")
    if not sep or not target or not name.isidentifier():
        raise UsageError(
            f"schedule function {reference!r} must be given as path/to/file.py:function or "
            "module:function"
        )
    try:
        if target.endswith(".py") or "/" in target or "\\" in target:
            path = Path(target)
            if not path.is_file():
                raise UsageError(f"schedule file {target!r} does not exist")
            spec = importlib.util.spec_from_file_location(f"_lraudit_schedule_{path.stem}", path)
            if spec is None or spec.loader is None:
                raise UsageError(f"cannot import schedule file {target!r}")
            module = importlib.util.module_from_spec(spec)
            # the user's module may print at import: stdout carries the report, never its prints
            with contextlib.redirect_stdout(sys.stderr):
                spec.loader.exec_module(module)
        else:
            with contextlib.redirect_stdout(sys.stderr):
                module = importlib.import_module(target)
    except UsageError:
        raise
    except ModuleNotFoundError as exc:
        raise UsageError(f"schedule module {target!r} not found ({exc})") from None
    except Exception as exc:  # the user's code: any failure becomes one line
        raise UsageError(
            f"importing schedule {target!r} failed: {type(exc).__name__}: {exc}"
        ) from None
    function = getattr(module, name, None)
    if not callable(function):
        raise UsageError(f"no function {name!r} in schedule {target!r}")
    return function


def call_schedule(function: Callable[..., Any], epoch: int, current_lr: float) -> Any:
    """Call a schedule as Keras 2.2+ / Keras 3 do: ``fn(epoch, lr)``, on ``TypeError`` ``fn(epoch)``.

    Like Keras, a ``TypeError`` raised *inside* the two-argument call also triggers the
    fallback. Any other failure, or a return that is not a float, becomes a one-line
    :class:`UsageError` (Keras raises ``ValueError('... should be float ...')`` there).
    """
    name = getattr(function, "__name__", "schedule")
    try:
        # its prints go to stderr: stdout carries the report (JSON, SARIF...) and must stay clean
        with contextlib.redirect_stdout(sys.stderr):
            try:
                value = function(epoch, float(current_lr))
            except TypeError:
                value = function(epoch)
    except Exception as exc:
        raise UsageError(
            f"schedule function {name!r} raised when called with epoch={epoch} "
            f"(Keras's Epoch {epoch + 1}): {type(exc).__name__}: {exc}"
        ) from None
    if isinstance(value, bool) or not isinstance(value, (float, np.float32, np.float64)):
        raise UsageError(
            f"schedule function {name!r} returned {value!r} when called with epoch={epoch} "
            f"(Keras's Epoch {epoch + 1}); Keras requires a "
            "float (training would have stopped with ValueError)"
        )
    return value


class LearningRateScheduler:
    """Keras' ``LearningRateScheduler.on_epoch_begin`` (reference §4.2).

    ``keras/callbacks.py @ v2.15.0``, ``keras/src/callbacks/learning_rate_scheduler.py @
    v3.15.1``: the schedule gets the 0-based epoch (``initial_epoch`` included) and the current
    lr as a Python float; the value it returns is stored as float32 and printed as returned.
    ``message_format`` is ``"reducing"`` (TF 2.0-2.5, Keras 2.1.3-2.2.0), ``"setting"``
    (Keras 2.2.1-2.7) or ``"fstring"`` (keras 2.8+, tf-keras, Keras 3).
    """

    def __init__(self, schedule: Callable[..., Any], message_format: str = "fstring") -> None:
        if message_format not in _SCHEDULER_FORMATS:
            raise UsageError(
                f"unknown LearningRateScheduler message format {message_format!r}; known: "
                f"{', '.join(_SCHEDULER_FORMATS)}"
            )
        self.schedule = schedule
        self.message_format = message_format

    def on_epoch_begin(self, epoch: int, current_lr: float | np.float32) -> SchedulerDecision:
        """Epoch ``epoch`` begins with the lr variable at ``current_lr``."""
        returned = call_schedule(self.schedule, epoch, float(np.float32(current_lr)))
        if self.message_format == "fstring":
            text = f"{returned}"
            message = f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {text}."
        else:
            text = "%s" % (returned,)  # noqa: UP031 - the era's own formatting
            message = "Epoch %05d: LearningRateScheduler %s learning rate to %s." % (  # noqa: UP031
                epoch + 1,
                self.message_format,
                text,
            )
        return SchedulerDecision(epoch, returned, np.float32(returned), text, message)


def replay_scheduler(
    schedule: Callable[..., Any],
    epochs: Iterable[int],
    lr_at_epoch_begin: float | Callable[[int, np.float32], float],
    message_format: str = "fstring",
) -> list[SchedulerDecision]:
    """Call the schedule at the beginning of each epoch in ``epochs`` (global, 0-based).

    ``lr_at_epoch_begin`` is the lr variable before the first epoch (a float; the replay then
    carries the scheduler's own values forward) or ``f(epoch, lr_set_last) -> lr variable``.
    """
    scheduler = LearningRateScheduler(schedule, message_format)
    tracked = np.float32(0.0 if callable(lr_at_epoch_begin) else lr_at_epoch_begin)
    decisions = []
    for epoch in epochs:
        lr_now = (
            np.float32(lr_at_epoch_begin(epoch, tracked))
            if callable(lr_at_epoch_begin)
            else tracked
        )
        decision = scheduler.on_epoch_begin(epoch, lr_now)
        decisions.append(decision)
        tracked = decision.new_lr
    return decisions


def scheduler_values_from_log(events: Iterable[Any]) -> dict[int, np.float32]:
    """The float32 lr a LearningRateScheduler set per epoch, from ``scheduler_set`` events.

    The printed value is what the schedule returned; ``set_value`` stores its float32
    rounding. A later event for the same epoch (a second fit numbering epochs again) wins.
    """
    values: dict[int, np.float32] = {}
    for event in events:
        if getattr(event, "kind", None) != "scheduler_set" or event.epoch is None:
            continue
        if event.value is None or not math.isfinite(event.value):
            continue
        values[int(event.epoch)] = np.float32(event.value)
    return values


# --------------------------------------------------------------------------------------------
# EarlyStopping
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EarlyStoppingSpec:
    """``EarlyStopping`` arguments; used only to tell that its monitor was never logged."""

    monitor: str = "val_loss"
    min_delta: float = 0.0
    patience: int = 0
    mode: str = "auto"
    baseline: float | None = None
    restore_best_weights: bool = False
    start_from_epoch: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> EarlyStoppingSpec:
        """Build from constructor kwargs; unknown ones are kept in ``extra``."""
        known = {k: v for k, v in kwargs.items() if k in cls.__dataclass_fields__ and k != "extra"}
        extra = {k: v for k, v in kwargs.items() if k not in known}
        return cls(**known, extra=extra)


def monitor_missing(monitor: str, logged_names: Iterable[str]) -> bool:
    """True when ``monitor`` is not among the epoch-log keys a run logged.

    ``logged_names`` are metric names as Keras put them in ``logs`` (``loss``, ``val_loss``,
    ``lr``/``learning_rate`` ...); a monitor that is never there makes ReduceLROnPlateau and
    EarlyStopping warn at every epoch end and never act.
    """
    return monitor not in set(logged_names)

