"""``torch.optim.lr_scheduler`` replayed in Python floats, bit for bit (torch 2.13 semantics).

Each class follows the method of the same name in torch's ``torch/optim/lr_scheduler.py``: the
same state (attribute names as torch's, so :meth:`Scheduler.state_dict` is shaped like torch's and
:meth:`Scheduler.load_state_dict` accepts a state read from ``scheduler.pt``), the same operation
order (``math.cos``, ``math.pi``, ``**``, ``bisect_right``), and so the same float64 values: the
chainable (recursive) forms used by ``step()`` and the closed forms used by ``step(epoch)``
differ in their last bits, and both are reproduced.

Semantics kept from torch:

* constructing a scheduler performs its initial step (``last_epoch`` -1 -> 0), writes
  ``initial_lr`` into the groups and takes ``base_lrs`` from it;
* ``step()`` advances ``last_epoch`` and calls :meth:`get_lr` (chainable form); ``step(epoch)``
  sets ``last_epoch = epoch`` and uses ``_get_closed_form_lr`` where the class has one;
* :meth:`get_lr` called from outside ``step`` recomputes from the *current* group lr (e.g.
  StepLR at a boundary applies ``gamma`` once more) and warns, as torch does;
* warnings torch would print are recorded in :attr:`Scheduler.emitted_warnings`.

Differences of older torch (2.0-2.6), not replayed here: ``get_lr`` tested ``last_epoch == 0``
where 2.13 tests the initial step (``_is_initial``) - same values except for
``MultiplicativeLR`` switched to by SequentialLR, and CosineAnnealingLR/ExponentialLR built with
``last_epoch >= 0``; SequentialLR called ``scheduler.step(0)`` at a milestone (counting a step and
warning) where 2.13 calls ``_update_lr(0)``, and it always started with ``schedulers[0]`` (2.13 picks
``bisect_right(milestones, 0)``); ReduceLROnPlateau had ``verbose`` (removed in 2.7).
"""
from __future__ import annotations

import math
import types
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, ClassVar, SupportsFloat

from lraudit.semantics.torch.optimizer_state import ParamGroups

__all__ = [
    "EPOCH_DEPRECATION_WARNING",
    "GET_LR_WARNING",
    "ORDER_WARNING",
    "SCHEDULER_CLASSES",
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "OneCycleLR",
    "PolynomialLR",
    "ReduceLROnPlateau",
    "Scheduler",
    "SchedulerStepError",
    "SequentialLR",
    "StepLR",
    "UnsupportedScheduler",
    "build_scheduler",
]

#: torch's warning texts (first words), as recorded in :attr:`Scheduler.emitted_warnings`
ORDER_WARNING = "Detected call of `lr_scheduler.step()` before `optimizer.step()`."
EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated"
)
GET_LR_WARNING = "To get the last learning rate computed by the scheduler, please use `get_last_lr()`."

#: attributes of ours that torch's state_dict does not have
_NOT_STATE = frozenset({"optimizer", "emitted_warnings"})


class SchedulerStepError(ValueError):
    """A step torch refuses at run time (OneCycleLR stepped past ``total_steps``)."""


def _format_param(name: str, optimizer: ParamGroups, param: Any) -> list[Any]:
    """One value per group: a list/tuple must match the group count, a scalar is repeated."""
    if isinstance(param, (list, tuple)):
        if len(param) != len(optimizer.param_groups):
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups: "
                f"{name} has {len(param)} values, param_groups has {len(optimizer.param_groups)}"
            )
        return list(param)
    return [param] * len(optimizer.param_groups)


def _group_values(optimizer: ParamGroups, key: str) -> list[Any]:
    """``[group[key] for group in param_groups]``."""
    return [group[key] for group in optimizer.param_groups]


class Scheduler:
    """``torch.optim.lr_scheduler.LRScheduler``: the shared construction and ``step`` logic."""

    #: the torch class name
    name: ClassVar[str] = "LRScheduler"
    _get_lr_called_within_step: bool = False
    _is_initial: bool = False

    def __init__(self, optimizer: ParamGroups, last_epoch: int = -1) -> None:
        """Set ``initial_lr``/``base_lrs`` and perform the initial step, as torch does."""
        self.optimizer = optimizer
        if not hasattr(self, "emitted_warnings"):
            self.emitted_warnings: list[str] = []
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for index, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise ValueError(
                        f"param 'initial_lr' is not specified in param_groups[{index}] when resuming "
                        f"a scheduler with last_epoch={last_epoch}"
                    )
        self.base_lrs: list[float] = _group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        self._initial_step()

    # -- torch's context managers, as flags -------------------------------------------------
    @contextmanager
    def _within_step(self) -> Iterator[None]:
        """``_enable_get_lr_call``: get_lr called by step does not warn."""
        self._get_lr_called_within_step = True
        try:
            yield
        finally:
            self._get_lr_called_within_step = False

    @contextmanager
    def _initial_mode(self) -> Iterator[None]:
        """``_initial_mode``: the construction step."""
        self._is_initial = True
        try:
            yield
        finally:
            self._is_initial = False

    def _warn(self, message: str) -> None:
        """Record a warning torch would emit."""
        self.emitted_warnings.append(message)

    def _warn_get_lr_outside_step(self) -> None:
        """torch's ``_warn_get_lr_called_within_step``."""
        if not self._get_lr_called_within_step:
            self._warn(GET_LR_WARNING)

    # -- public API ---------------------------------------------------------------------------
    def _initial_step(self) -> None:
        """Reset the step count and perform the construction step."""
        self._step_count = 0
        with self._initial_mode():
            self.step()

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state as torch saves it: every attribute but the optimizer."""
        return {key: value for key, value in self.__dict__.items() if key not in _NOT_STATE}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict` (or torch's own ``scheduler.state_dict()``)."""
        self.__dict__.update(state_dict)

    def get_last_lr(self) -> list[float]:
        """The lrs the last step set (``_last_lr``)."""
        return self._last_lr

    def get_lr(self) -> list[float]:
        """The chainable form; subclasses implement it."""
        raise NotImplementedError(f"{self.name} has no get_lr")

    def _check_order(self) -> None:
        """The 'scheduler stepped before the optimizer' warning, on the first user step."""
        if self._step_count == 1 and not getattr(self.optimizer, "_opt_called", False):
            self._warn(ORDER_WARNING)

    def step(self, epoch: float | None = None) -> None:
        """``scheduler.step()`` / ``scheduler.step(epoch)`` (deprecated: closed form where defined)."""
        self._check_order()
        self._step_count += 1
        if epoch is not None:
            self._warn(EPOCH_DEPRECATION_WARNING)
        self._update_lr(epoch)

    def _update_lr(self, epoch: float | None = None) -> None:
        """Compute the new lrs (chainable or closed form) and write them into the groups."""
        with self._within_step():
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed_form = getattr(self, "_get_closed_form_lr", None)
                values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = _group_values(self.optimizer, "lr")

    def __repr__(self) -> str:
        """Class name, last_epoch and the current lrs."""
        return f"{self.name}(last_epoch={getattr(self, 'last_epoch', None)}, lr={self.optimizer.lrs()!r})"


class _LambdaScheduler(Scheduler):
    """Shared construction of LambdaLR and MultiplicativeLR (one function per group)."""

    def __init__(self, optimizer: ParamGroups, lr_lambda: Any, last_epoch: int = -1) -> None:
        """Accept one callable or one per group."""
        self.optimizer = optimizer
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != len(optimizer.param_groups):
                raise ValueError(
                    f"Expected {len(optimizer.param_groups)} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas: list[Callable[[int], float]] = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        for function in self.lr_lambdas:
            if not callable(function):
                raise ValueError(f"lr_lambda should be a function, but got {type(function).__name__}")
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict[str, Any]:
        """As torch: plain functions are not saved (None), callable objects save their ``__dict__``."""
        state = {key: value for key, value in self.__dict__.items() if key not in _NOT_STATE | {"lr_lambdas"}}
        state["lr_lambdas"] = [
            None if isinstance(function, types.FunctionType) else dict(getattr(function, "__dict__", {}))
            for function in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore everything but the functions (a callable object gets its saved ``__dict__``)."""
        saved = dict(state_dict)
        lambdas = saved.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        self.__dict__.update(saved)
        for function, attributes in zip(self.lr_lambdas, lambdas, strict=False):
            if attributes is not None and hasattr(function, "__dict__"):
                function.__dict__.update(attributes)


class LambdaLR(_LambdaScheduler):
    """``lr = base_lr * lr_lambda(last_epoch)``."""

    name = "LambdaLR"

    def get_lr(self) -> list[float]:
        """``base_lr * lmbda(last_epoch)`` per group."""
        self._warn_get_lr_outside_step()
        return [base_lr * lmbda(self.last_epoch)
                for lmbda, base_lr in zip(self.lr_lambdas, self.base_lrs, strict=True)]


class MultiplicativeLR(_LambdaScheduler):
    """``lr = lr * lr_lambda(last_epoch)`` at every step after the first."""

    name = "MultiplicativeLR"

    def get_lr(self) -> list[float]:
        """Multiply the current lr, except on the initial step."""
        self._warn_get_lr_outside_step()
        if not self._is_initial:
            return [group["lr"] * lmbda(self.last_epoch)
                    for lmbda, group in zip(self.lr_lambdas, self.optimizer.param_groups, strict=True)]
        return _group_values(self.optimizer, "lr")


class StepLR(Scheduler):
    """Multiply by ``gamma`` every ``step_size`` steps."""

    name = "StepLR"

    def __init__(self, optimizer: ParamGroups, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        """Keep the parameters, then the initial step."""
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Chainable: ``lr * gamma`` when ``last_epoch`` is a non-zero multiple of step_size."""
        self._warn_get_lr_outside_step()
        if (self.last_epoch == 0) or (self.last_epoch % self.step_size != 0):
            return _group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        """``base_lr * gamma ** (last_epoch // step_size)``."""
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(Scheduler):
    """Multiply by ``gamma`` at each milestone (a repeated milestone multiplies repeatedly)."""

    name = "MultiStepLR"

    def __init__(self, optimizer: ParamGroups, milestones: Any, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        """Milestones are counted (``Counter``) as torch does."""
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Chainable: ``lr * gamma ** count`` at a milestone."""
        self._warn_get_lr_outside_step()
        if self.last_epoch not in self.milestones:
            return _group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma ** self.milestones[self.last_epoch]
                for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        """``base_lr * gamma ** (milestones passed)``."""
        milestones = sorted(self.milestones.elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch)
                for base_lr in self.base_lrs]


class ConstantLR(Scheduler):
    """``lr * factor`` until ``total_iters``, then the lr divided back."""

    name = "ConstantLR"

    def __init__(self, optimizer: ParamGroups, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        """Validate ``factor`` in [0, 1]."""
        if factor > 1.0 or factor < 0:
            raise ValueError("ConstantLR factor expected to be between 0 and 1")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Chainable: multiply by factor at 0, by ``1/factor`` at total_iters."""
        self._warn_get_lr_outside_step()
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return _group_values(self.optimizer, "lr")
        return [group["lr"] * (1.0 / self.factor) for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        """``base_lr * (factor + (last_epoch >= total_iters) * (1 - factor))``."""
        return [base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base_lr in self.base_lrs]


class LinearLR(Scheduler):
    """Linear change of the multiplier from ``start_factor`` to ``end_factor`` over ``total_iters``."""

    name = "LinearLR"

    def __init__(self, optimizer: ParamGroups, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        """Validate the factors as torch does."""
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError("LinearLR start_factor expected to be greater than 0 and less or equal to 1")
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError("LinearLR end_factor expected to be between 0 and 1")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Chainable: the ratio of consecutive multipliers times the current lr."""
        self._warn_get_lr_outside_step()
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return _group_values(self.optimizer, "lr")
        delta = self.end_factor - self.start_factor
        return [
            group["lr"]
            * (1.0 + delta / (self.total_iters * self.start_factor + (self.last_epoch - 1) * delta))
            for group in self.optimizer.param_groups
        ]

    def _get_closed_form_lr(self) -> list[float]:
        """``base_lr * (start + (end - start) * min(total_iters, last_epoch) / total_iters)``."""
        return [
            base_lr * (self.start_factor + (self.end_factor - self.start_factor)
                       * min(self.total_iters, self.last_epoch) / self.total_iters)
            for base_lr in self.base_lrs
        ]


class ExponentialLR(Scheduler):
    """Multiply by ``gamma`` at every step."""

    name = "ExponentialLR"

    def __init__(self, optimizer: ParamGroups, gamma: float, last_epoch: int = -1) -> None:
        """Keep gamma, then the initial step."""
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Chainable: ``lr * gamma`` (the recursive float64 product)."""
        self._warn_get_lr_outside_step()
        if self._is_initial:
            return _group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        """``base_lr * gamma ** last_epoch``."""
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class PolynomialLR(Scheduler):
    """``base_lr * (1 - t/total_iters) ** power`` (chainable as the ratio of consecutive values)."""

    name = "PolynomialLR"

    def __init__(self, optimizer: ParamGroups, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1) -> None:
        """Keep the parameters, then the initial step."""
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Chainable decay factor times the current lr."""
        self._warn_get_lr_outside_step()
        if self._is_initial or self.last_epoch > self.total_iters:
            return _group_values(self.optimizer, "lr")
        decay_factor = ((1.0 - self.last_epoch / self.total_iters)
                        / (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power
        return [group["lr"] * decay_factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        """``base_lr * (1 - min(total_iters, last_epoch) / total_iters) ** power``."""
        return [base_lr * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
                for base_lr in self.base_lrs]


class CosineAnnealingLR(Scheduler):
    """Cosine from the base lr to ``eta_min`` over ``T_max`` steps, then back up (period ``2*T_max``)."""

    name = "CosineAnnealingLR"

    def __init__(self, optimizer: ParamGroups, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        """Keep the parameters, then the initial step."""
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The recursive (chainable) form torch uses on ``step()``."""
        self._warn_get_lr_outside_step()
        if self._is_initial:
            return _group_values(self.optimizer, "lr")
        if self._step_count == 1 and self.last_epoch > 0:
            return [self.eta_min + (base_lr - self.eta_min)
                    * (1 + math.cos((self.last_epoch) * math.pi / self.T_max)) / 2
                    for base_lr in self.base_lrs]
        if (self.last_epoch - 1 - self.T_max) % (2 * self.T_max) == 0:
            return [group["lr"] + (base_lr - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
                    for base_lr, group in zip(self.base_lrs, self.optimizer.param_groups, strict=True)]
        return [
            (1 + math.cos(math.pi * self.last_epoch / self.T_max))
            / (1 + math.cos(math.pi * (self.last_epoch - 1) / self.T_max))
            * (group["lr"] - self.eta_min) + self.eta_min
            for group in self.optimizer.param_groups
        ]

    def _get_closed_form_lr(self) -> list[float]:
        """``eta_min + (base_lr - eta_min) * (1 + cos(pi * last_epoch / T_max)) / 2``."""
        return [self.eta_min
                + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base_lr in self.base_lrs]


def _check_nested(owner: str, optimizer: ParamGroups, schedulers: list[Scheduler]) -> None:
    """SequentialLR/ChainedScheduler refuse an empty list, ReduceLROnPlateau and a foreign optimizer."""
    if len(schedulers) < 1:
        raise ValueError(f"{owner} expects at least one scheduler, but got none")
    for index, scheduler in enumerate(schedulers):
        if not isinstance(scheduler, Scheduler):
            raise ValueError(f"{owner}: schedulers[{index}] is not a scheduler ({type(scheduler).__name__})")
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(f"{owner} does not support ReduceLROnPlateau (schedulers[{index}])")
        if scheduler.optimizer is not optimizer:
            raise ValueError(
                f"{owner} expects all schedulers to belong to the same optimizer (schedulers[{index}])")


class _NestingScheduler(Scheduler):
    """state_dict/load_state_dict of schedulers that hold others (``_schedulers``)."""

    _schedulers: list[Scheduler]

    def state_dict(self) -> dict[str, Any]:
        """Own attributes plus each nested scheduler's state, as torch."""
        excluded = _NOT_STATE | {"_schedulers"}
        state = {key: value for key, value in self.__dict__.items() if key not in excluded}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore own attributes and each nested scheduler."""
        saved = dict(state_dict)
        nested = saved.pop("_schedulers", [])
        self.__dict__.update(saved)
        for scheduler, state in zip(self._schedulers, nested, strict=False):
            scheduler.load_state_dict(state)


class SequentialLR(_NestingScheduler):
    """Run ``schedulers[i]`` between ``milestones[i-1]`` and ``milestones[i]``; each restarts at 0."""

    name = "SequentialLR"

    def __init__(self, optimizer: ParamGroups, schedulers: list[Scheduler], milestones: list[int],
                 last_epoch: int = -1) -> None:
        """Undo the sub-schedulers' construction steps, then initialise the one active at 0."""
        _check_nested(self.name, optimizer, schedulers)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR expects one milestone fewer than schedulers, got {len(schedulers)} "
                f"schedulers and {len(milestones)} milestones"
            )
        self.emitted_warnings = []
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self.recursive_undo()
        index = bisect_right(self._milestones, 0)
        self._schedulers[index]._initial_step()
        self._last_lr = self._schedulers[index].get_last_lr()

    def recursive_undo(self, sched: Any = None) -> None:
        """Decrement ``last_epoch`` of every (nested) sub-scheduler."""
        scheds = self if sched is None else sched
        if hasattr(scheds, "_schedulers"):
            for scheduler in scheds._schedulers:
                self.recursive_undo(scheduler)
        elif hasattr(scheds, "last_epoch"):
            scheds.last_epoch -= 1

    def step(self, epoch: float | None = None) -> None:
        """Step the active scheduler; at a milestone, start the next one at its epoch 0 (closed form)."""
        if epoch is not None:
            raise ValueError("SequentialLR.step() takes no epoch argument")
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    @property
    def all_warnings(self) -> list[str]:
        """Warnings of this scheduler and its sub-schedulers."""
        return self.emitted_warnings + [w for s in self._schedulers for w in s.emitted_warnings]


class ChainedScheduler(_NestingScheduler):
    """Step every scheduler in turn at each step (their effects compose)."""

    name = "ChainedScheduler"

    def __init__(self, schedulers: list[Scheduler], optimizer: ParamGroups | None = None) -> None:
        """No initial step of its own: the sub-schedulers already made theirs."""
        if not schedulers:
            raise ValueError("ChainedScheduler expects at least one scheduler, but got none")
        optimizer = optimizer or schedulers[0].optimizer
        _check_nested(self.name, optimizer, schedulers)
        self.emitted_warnings = []
        self._schedulers = list(schedulers)
        self.optimizer = optimizer
        self._last_lr = _group_values(self._schedulers[-1].optimizer, "lr")

    def step(self, epoch: float | None = None) -> None:
        """``scheduler.step()`` of each, in order."""
        if epoch is not None:
            raise ValueError("ChainedScheduler.step() takes no epoch argument")
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = _group_values(self._schedulers[-1].optimizer, "lr")


class ReduceLROnPlateau(Scheduler):
    """Multiply the lr by ``factor`` when the metric has not improved for more than ``patience`` steps."""

    name = "ReduceLROnPlateau"

    def __init__(self, optimizer: ParamGroups, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | list[float] = 0, eps: float = 1e-8) -> None:
        """No initial step: the lr is left as it is (``last_epoch = 0``)."""
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau factor should be < 1.0")
        self.emitted_warnings = []
        self.factor = factor
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f"expected {len(optimizer.param_groups)} min_lrs, got {len(min_lr)}")
            self.default_min_lr: float | None = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = _group_values(optimizer, "lr")
        self._init_is_better(mode=mode, threshold=threshold, threshold_mode=threshold_mode)
        self._reset()

    def _reset(self) -> None:
        """Forget the best value, cooldown and bad-epoch count."""
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics: SupportsFloat, epoch: float | None = None) -> None:  # type: ignore[override]
        """One evaluation of the monitored metric."""
        current = float(metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            self._warn(EPOCH_DEPRECATION_WARNING)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown are ignored
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = _group_values(self.optimizer, "lr")

    def _reduce_lr(self) -> None:
        """``max(lr * factor, min_lr)``, skipped when the change is not above ``eps``."""
        if len(self.optimizer.param_groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise ValueError("the number of param groups differs from the number of min_lrs")
            self.min_lrs = [self.default_min_lr] * len(self.optimizer.param_groups)
        for index, group in enumerate(self.optimizer.param_groups):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, self.min_lrs[index])
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    @property
    def in_cooldown(self) -> bool:
        """Whether the cooldown period is running."""
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        """torch's comparison, with its rel/abs threshold."""
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min" and self.threshold_mode == "abs":
            return a < best - self.threshold
        if self.mode == "max" and self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        """Validate mode/threshold_mode and set the worst value."""
        if mode not in {"min", "max"}:
            raise ValueError(f"ReduceLROnPlateau mode {mode!r} is unknown (min or max)")
        if threshold_mode not in {"rel", "abs"}:
            raise ValueError(f"ReduceLROnPlateau threshold_mode {threshold_mode!r} is unknown (rel or abs)")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore, then re-derive the comparison (as torch)."""
        self.__dict__.update(state_dict)
        self._init_is_better(mode=self.mode, threshold=self.threshold, threshold_mode=self.threshold_mode)


def _set_momentum(group: dict[str, Any], use_beta1: bool, momentum: float) -> None:
    """Write a cycled momentum: ``betas[0]`` for Adam-like optimizers, ``momentum`` otherwise."""
    if use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


def _init_momentum(optimizer: ParamGroups, base_momentum: Any, max_momentum: Any,
                   last_epoch: int) -> tuple[bool, list[float], list[float]]:
    """CyclicLR/OneCycleLR ``cycle_momentum`` set-up: (use_beta1, base momentums, max momentums)."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
    use_beta1 = "betas" in optimizer.defaults
    base_momentums = _format_param("base_momentum", optimizer, base_momentum)
    max_momentums = _format_param("max_momentum", optimizer, max_momentum)
    if last_epoch == -1:
        groups = optimizer.param_groups
        for m_momentum, b_momentum, group in zip(max_momentums, base_momentums, groups, strict=True):
            _set_momentum(group, use_beta1, m_momentum)
            group["max_momentum"] = m_momentum
            group["base_momentum"] = b_momentum
    return use_beta1, base_momentums, max_momentums


class CyclicLR(Scheduler):
    """Cyclical lr between ``base_lr`` and ``max_lr`` (triangular, triangular2, exp_range, scale_fn)."""

    name = "CyclicLR"

    def __init__(self, optimizer: ParamGroups, base_lr: float | list[float], max_lr: float | list[float],
                 step_size_up: int = 2000, step_size_down: int | None = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn: Callable[[float], float] | None = None,
                 scale_mode: str = "cycle", cycle_momentum: bool = True, base_momentum: float = 0.8,
                 max_momentum: float = 0.9, last_epoch: int = -1) -> None:
        """Set the groups' lr to base_lr (and momentum to max_momentum), then the initial step."""
        self.emitted_warnings = []
        self.optimizer = optimizer
        base_lrs = _format_param("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups, strict=True):
                group["lr"] = lr
        self.max_lrs = _format_param("max_lr", optimizer, max_lr)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if mode not in ["triangular", "triangular2", "exp_range"] and scale_fn is None:
            raise ValueError("CyclicLR mode is invalid and scale_fn is None")
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_fn()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1, self.base_momentums, self.max_momentums = _init_momentum(
                optimizer, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _init_scale_fn(self) -> None:
        """The mode's scale function (a custom ``scale_fn`` keeps the given scale_mode)."""
        if self._scale_fn_custom is not None:
            return
        if self.mode == "triangular":
            self._scale_fn_ref: Callable[[float], float] = self._triangular_scale_fn
            self.scale_mode = "cycle"
        elif self.mode == "triangular2":
            self._scale_fn_ref = self._triangular2_scale_fn
            self.scale_mode = "cycle"
        elif self.mode == "exp_range":
            self._scale_fn_ref = partial(self._exp_range_scale_fn, self.gamma)
            self.scale_mode = "iterations"

    def scale_fn(self, x: float) -> float:
        """The custom scale_fn, or the mode's."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        return self._scale_fn_ref(x)

    @staticmethod
    def _triangular_scale_fn(x: float) -> float:
        return 1.0

    @staticmethod
    def _triangular2_scale_fn(x: float) -> float:
        return 1 / (2.0 ** (x - 1))

    @staticmethod
    def _exp_range_scale_fn(gamma: float, x: float) -> float:
        return gamma**x

    def get_lr(self) -> list[float]:
        """The lr at ``last_epoch`` (and, with cycle_momentum, the momentum written into the groups)."""
        self._warn_get_lr_outside_step()
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        scale_factor = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        scale_at = cycle if self.scale_mode == "cycle" else self.last_epoch
        lrs = []
        for base_lr, max_lr in zip(self.base_lrs, self.max_lrs, strict=True):
            base_height = (max_lr - base_lr) * scale_factor
            lrs.append(base_lr + base_height * self.scale_fn(scale_at))
        if self.cycle_momentum:
            for base_momentum, max_momentum, group in zip(
                    self.base_momentums, self.max_momentums, self.optimizer.param_groups, strict=True):
                base_height = (max_momentum - base_momentum) * scale_factor
                _set_momentum(group, self.use_beta1, max_momentum - base_height * self.scale_fn(scale_at))
        return lrs

    def state_dict(self) -> dict[str, Any]:
        """As torch: the scale function is not saved (a callable object saves its ``__dict__``)."""
        state = super().state_dict()
        state.pop("_scale_fn_ref", None)
        function = state.pop("_scale_fn_custom")
        state["_scale_fn_custom"] = None
        if function is not None and not isinstance(function, types.FunctionType):
            state["_scale_fn_custom"] = dict(getattr(function, "__dict__", {}))
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore, keeping our scale function."""
        saved = dict(state_dict)
        attributes = saved.pop("_scale_fn_custom", None)
        self.__dict__.update(saved)
        if attributes is not None and hasattr(self._scale_fn_custom, "__dict__"):
            self._scale_fn_custom.__dict__.update(attributes)
        self._init_scale_fn()


class CosineAnnealingWarmRestarts(Scheduler):
    """SGDR: cosine over ``T_i`` epochs, restarting with ``T_i *= T_mult``; accepts fractional epochs."""

    name = "CosineAnnealingWarmRestarts"

    def __init__(self, optimizer: ParamGroups, T_0: int, T_mult: int = 1,
                 eta_min: float = 0.0, last_epoch: int = -1) -> None:
        """Validate as torch, then the initial step."""
        if isinstance(T_0, bool) or not isinstance(T_0, int) or T_0 <= 0:
            raise ValueError(f"Expected positive integer T_0, but got {T_0}")
        if isinstance(T_mult, bool) or not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
        if not isinstance(eta_min, (float, int)):
            raise ValueError(f"Expected float or int eta_min, but got {eta_min!r}")
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """``eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2``."""
        self._warn_get_lr_outside_step()
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base_lr in self.base_lrs]

    def _advance_to(self, epoch: float) -> None:
        """``T_cur``/``T_i`` for an explicit (possibly fractional) epoch."""
        if epoch < 0:
            raise ValueError(f"Expected non-negative epoch, but got {epoch}")
        if epoch >= self.T_0:
            if self.T_mult == 1:
                self.T_cur = epoch % self.T_0
            else:
                n = int(math.log((epoch / self.T_0 * (self.T_mult - 1) + 1), self.T_mult))
                self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                self.T_i = self.T_0 * self.T_mult ** (n)
        else:
            self.T_i = self.T_0
            self.T_cur = epoch

    def step(self, epoch: float | None = None) -> None:
        """``step()`` advances T_cur by one; ``step(epoch)`` places it.

        torch overrides ``step`` here entirely: no order or deprecation warning, no ``_step_count``.
        """
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            self._advance_to(epoch)
        self.last_epoch = math.floor(epoch)
        with self._within_step():
            for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
                group["lr"] = lr
        self._last_lr = _group_values(self.optimizer, "lr")


def _one_cycle_total_steps(total_steps: Any, epochs: Any, steps_per_epoch: Any) -> int:
    """``total_steps``, or ``epochs * steps_per_epoch``, validated as torch."""
    def positive_int(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value > 0

    if total_steps is not None:
        if not positive_int(total_steps):
            raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
        return total_steps
    if epochs is not None and steps_per_epoch is not None:
        if not positive_int(epochs):
            raise ValueError(f"Expected positive integer epochs, but got {epochs}")
        if not positive_int(steps_per_epoch):
            raise ValueError(f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
        return epochs * steps_per_epoch
    raise ValueError("OneCycleLR needs either total_steps or (epochs and steps_per_epoch)")


def _one_cycle_phases(total_steps: int, pct_start: float, three_phase: bool) -> list[dict[str, Any]]:
    """The phase table of OneCycleLR (end step and the group keys it anneals between)."""
    if three_phase:
        return [
            {"end_step": float(pct_start * total_steps) - 1, "start_lr": "initial_lr", "end_lr": "max_lr",
             "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
            {"end_step": float(2 * pct_start * total_steps) - 2, "start_lr": "max_lr", "end_lr": "initial_lr",
             "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
            {"end_step": total_steps - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
             "start_momentum": "max_momentum", "end_momentum": "max_momentum"},
        ]
    return [
        {"end_step": float(pct_start * total_steps) - 1, "start_lr": "initial_lr", "end_lr": "max_lr",
         "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
        {"end_step": total_steps - 1, "start_lr": "max_lr", "end_lr": "min_lr",
         "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
    ]


class OneCycleLR(Scheduler):
    """1cycle: warm up from ``max_lr/div_factor`` to ``max_lr``, anneal to ``initial/final_div_factor``."""

    name = "OneCycleLR"

    def __init__(self, optimizer: ParamGroups, max_lr: float | list[float], total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True, base_momentum: Any = 0.85,
                 max_momentum: Any = 0.95, div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1) -> None:
        """Write initial_lr/max_lr/min_lr into the groups (overriding the optimizer's lr), then step."""
        self.emitted_warnings = []
        self.optimizer = optimizer
        self.total_steps = _one_cycle_total_steps(total_steps, epochs, steps_per_epoch)
        self._schedule_phases = _one_cycle_phases(self.total_steps, pct_start, three_phase)
        if not isinstance(pct_start, float) or pct_start < 0 or pct_start > 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ["cos", "linear"]:
            raise ValueError(
                f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy!r}")
        self._anneal_func_type = anneal_strategy
        max_lrs = _format_param("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for index, group in enumerate(optimizer.param_groups):
                group["initial_lr"] = max_lrs[index] / div_factor
                group["max_lr"] = max_lrs[index]
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1, _, _ = _init_momentum(optimizer, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)

    def _anneal_func(self, start: float, end: float, pct: float) -> float:
        """Cosine or linear interpolation."""
        if self._anneal_func_type == "cos":
            return self._annealing_cos(start, end, pct)
        return self._annealing_linear(start, end, pct)

    @staticmethod
    def _annealing_cos(start: float, end: float, pct: float) -> float:
        cos_out = math.cos(math.pi * pct) + 1
        return end + (start - end) / 2.0 * cos_out

    @staticmethod
    def _annealing_linear(start: float, end: float, pct: float) -> float:
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        """The lr at ``last_epoch``; raises :class:`SchedulerStepError` past ``total_steps``."""
        self._warn_get_lr_outside_step()
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise SchedulerStepError(
                f"Tried to step {step_num} times. The specified number of total steps is {self.total_steps}")
        lrs = []
        last_phase = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for index, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or index == last_phase:
                    pct = (step_num - start_step) / (end_step - start_step)
                    lrs.append(self._anneal_func(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        momentum = self._anneal_func(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                        _set_momentum(group, self.use_beta1, momentum)
                    break
                start_step = phase["end_step"]
        return lrs


# -- construction from bound arguments ---------------------------------------------------------

class UnsupportedScheduler(ValueError):
    """A scheduler class this replay does not know."""


#: torch class name -> replay class
SCHEDULER_CLASSES: dict[str, type[Scheduler]] = {
    cls.name: cls for cls in (
        LambdaLR, MultiplicativeLR, StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, SequentialLR,
        PolynomialLR, CosineAnnealingLR, ChainedScheduler, ReduceLROnPlateau, CyclicLR,
        CosineAnnealingWarmRestarts, OneCycleLR,
    )
}

#: arguments accepted and ignored: they print, they do not change the lr (``verbose``: torch < 2.7)
_IGNORED_ARGUMENTS = frozenset({"verbose"})
_PLAIN_TYPES = (int, float, str, bool, type(None))


def _is_plain(value: Any) -> bool:
    """A literal the schedulers can take (numbers, strings, lists of them, callables, schedulers)."""
    if isinstance(value, _PLAIN_TYPES) or callable(value) or isinstance(value, Scheduler):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(item) for item in value)
    return False


def _scheduler_arguments(name: str, kwargs: dict[str, Any], callables: dict[str, Any] | None,
                         nested: list[Scheduler] | None) -> dict[str, Any]:
    """The keyword arguments for the class: callables and nested schedulers put in, checked."""
    from lraudit.semantics.torch.signatures import SCHEDULER_PARAMETERS, missing_required

    arguments = {key: value for key, value in kwargs.items() if key not in _IGNORED_ARGUMENTS}
    arguments.update(callables or {})
    if nested is not None:
        arguments["schedulers"] = list(nested)
    if name == "ChainedScheduler":
        arguments.pop("optimizer", None)  # the groups given to build_scheduler are the optimizer
    known = {key for key, _ in SCHEDULER_PARAMETERS.get(name, ())}
    unknown = sorted(key for key in arguments if key not in known)
    if unknown:
        raise ValueError(f"{name} got unexpected argument(s): {', '.join(unknown)}")
    missing = [key for key in missing_required(name, arguments) if key != "optimizer"]
    if missing:
        raise ValueError(f"{name} is missing required argument(s): {', '.join(missing)}")
    for key, value in arguments.items():
        if not _is_plain(value):
            raise ValueError(f"{name} argument {key} is not a usable value: {value}")
    return arguments


def build_scheduler(name: str, groups: ParamGroups, kwargs: dict[str, Any], *,
                    callables: dict[str, Callable[..., Any]] | None = None,
                    nested: list[Scheduler] | None = None) -> Scheduler:
    """Construct scheduler ``name`` on ``groups`` as ``torch.optim.lr_scheduler.<name>(optimizer, **kwargs)``.

    ``kwargs`` are the bound arguments (:func:`lraudit.semantics.torch.signatures.bind_arguments`,
    defaults not needed); ``callables`` supplies Python callables by parameter name (``lr_lambda``,
    ``scale_fn``), replacing what ``kwargs`` holds there; ``nested`` supplies the already-built
    schedulers of SequentialLR/ChainedScheduler. Construction performs the initial step (it changes
    ``groups``), as in torch. Raises :class:`UnsupportedScheduler` for an unknown class and
    ``ValueError`` (one line) for arguments torch would refuse.
    """
    cls = SCHEDULER_CLASSES.get(name)
    if cls is None:
        raise UnsupportedScheduler(
            f"unsupported scheduler class {name!r} (known: {', '.join(sorted(SCHEDULER_CLASSES))})")
    arguments = _scheduler_arguments(name, kwargs, callables, nested)
    try:
        if cls is ChainedScheduler:
            return ChainedScheduler(arguments["schedulers"], groups)
        return cls(groups, **arguments)
    except (TypeError, KeyError, ZeroDivisionError, OverflowError) as error:
        raise ValueError(f"{name}: invalid arguments ({type(error).__name__}: {error})") from None
