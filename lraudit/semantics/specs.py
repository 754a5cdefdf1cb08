"""Plain descriptions of an optimizer, a schedule and a callback, whatever they were read from.

These are the contract between the readers (config files, models, ``--optimizer`` /
``--callback`` expressions) and the arithmetic (:mod:`lraudit.semantics.schedules`,
:mod:`lraudit.semantics.optimizers`, :mod:`lraudit.semantics.callbacks`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: optimizer generations (reference §0): standalone Keras 2.0-2.3 (E1/E2), OptimizerV2 and
#: ``legacy.*`` (E3), the 2.11+ new optimizer (E4), Keras 3 (E5)
GENERATIONS = ("k2-standalone", "k2-legacy", "k2-new", "k3")


@dataclass
class ScheduleSpec:
    """A ``LearningRateSchedule``: its Keras class name and constructor arguments."""

    class_name: str
    config: dict[str, Any]


@dataclass
class OptimizerSpec:
    """An optimizer as constructed: what decides the lr of every update."""

    class_name: str
    #: one of :data:`GENERATIONS`, or None while unknown
    generation: str | None
    #: the lr variable's value at construction (a Python float as given), or a schedule
    learning_rate: float | ScheduleSpec
    #: legacy ``decay`` as given (0.0 when absent); applied or not depending on ``generation``
    decay: float = 0.0
    weight_decay: float | None = None
    gradient_accumulation_steps: int | None = None
    #: executor of the train step, decides bit-level arithmetic: tensorflow | jax | torch | None
    backend: str | None = None
    #: the arguments exactly as given (config dict or expression kwargs)
    raw: dict[str, Any] = field(default_factory=dict)
    #: where the spec came from: a file path or "--optimizer"
    source: str = ""
    #: True when learning_rate was read from a config saved *after* training (the variable then
    #: holds the final value, not the initial one)
    lr_is_final: bool = False
    #: the class wrapping this optimizer (``LossScaleOptimizer``), which does not change the lr
    wrapper: str | None = None
    #: True when XLA compiled the train step (``compile(jit_compile=True)``): with ``backend`` it
    #: decides the arithmetic (Keras 2 and Keras 3 on TensorFlow then run XLA's, not the graph's)
    jit_compile: bool | None = None


@dataclass
class CallbackSpec:
    """A callback as the user constructed it: ``ReduceLROnPlateau(monitor=..., ...)``."""

    class_name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    source: str = "--callback"
    #: global ``(first, end)`` epoch ranges of the fits it was passed to (read from code); None:
    #: every epoch of the run (a ``--callback`` given by the user)
    epochs: tuple[tuple[int, int], ...] | None = None

    def active(self, epoch: int) -> bool:
        """True when the callback ran at this global epoch."""
        return self.epochs is None or any(first <= epoch < end for first, end in self.epochs)
