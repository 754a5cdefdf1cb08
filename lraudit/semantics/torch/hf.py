"""Hugging Face ``transformers`` lr schedules and Trainer step counts, computed as transformers does.

Every ``lr_scheduler_type`` of ``TrainingArguments`` (``transformers.optimization.get_scheduler``)
except ``reduce_lr_on_plateau`` (a plain ReduceLROnPlateau) and ``greedy`` (5.x GreedyLR) is a
``LambdaLR`` whose function :func:`hf_lr_lambda` returns: the same Python float expressions in the
same order, so ``base_lr * hf_lr_lambda(...)(step)`` is bit-exact. Version differences handled
(checked in the 4.48.3, 4.49-4.52 and 5.25.0 sources):

* ``cosine`` runs the ``min_lr_rate`` variant of the cosine lambda (transformers defines the function
  twice and the second definition wins) with ``min_lr_rate=0``: same values as the plain formula;
* ``warmup_stable_decay``: 4.x warms up linearly from 0 with a cosine decay; 5.x adds
  ``warmup_type``/``decay_type`` and warms up from ``min_lr_ratio``, and may derive the stable
  steps from ``num_training_steps``;
* ``inverse_sqrt`` takes ``timescale`` from ``lr_scheduler_kwargs`` only in 5.x;
* ``cosine_warmup_with_min_lr`` exists in 5.x only;
* warm-up steps: ``warmup_steps`` if > 0 else ``ceil(warmup_ratio * total)`` (4.x); 5.x has no
  ``warmup_ratio``: ``warmup_steps >= 1`` is a count, a fraction below 1 a ratio;
* optimizer steps per epoch: ``len(dataloader) // gradient_accumulation_steps`` up to 4.51, rounded
  up from 4.52 (the partial accumulation window at an epoch end then counts);
* logging: before 4.51 the Trainer logged ``_get_learning_rate()`` *after* ``lr_scheduler.step()``
  (the next step's lr); from 4.51 it reads it before.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

__all__ = [
    "HF_CEIL_UPDATE_STEPS_SINCE", "HF_LOGS_APPLIED_LR_SINCE", "HF_SCHEDULER_TYPES", "HFStepPlan",
    "hf_log_lead_candidates", "hf_logs_next_step_lr", "hf_lr_lambda", "hf_step_plan", "hf_total_steps",
    "hf_warmup_steps",
]

#: first transformers version whose Trainer logs the lr the step used (read before scheduler.step())
HF_LOGS_APPLIED_LR_SINCE = "4.51"
#: first version counting a partial accumulation window as an update in ``num_update_steps_per_epoch``
HF_CEIL_UPDATE_STEPS_SINCE = "4.52"

#: ``lr_scheduler_type`` values that are a LambdaLR (see :func:`hf_lr_lambda`)
HF_SCHEDULER_TYPES = (
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
    "inverse_sqrt", "cosine_with_min_lr", "cosine_warmup_with_min_lr", "warmup_stable_decay",
)


def _version_tuple(version: str | None) -> tuple[int, ...]:
    """``"4.48.3"`` -> (4, 48, 3); None or unreadable -> a far-future version (newest semantics)."""
    if not version:
        return (999,)
    parts = []
    for piece in version.split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit()) if piece[:1].isdigit() else ""
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts) or (999,)


def _at_least(version: str | None, threshold: str) -> bool:
    """Whether ``version`` (None = newest) is ``threshold`` or later."""
    return _version_tuple(version) >= _version_tuple(threshold)


def hf_logs_next_step_lr(transformers_version: str | None) -> bool:
    """True when that Trainer logs the *next* step's lr (before 4.51: read after scheduler.step())."""
    return not _at_least(transformers_version, HF_LOGS_APPLIED_LR_SINCE)


def hf_log_lead_candidates(transformers_version: str | None) -> tuple[bool, ...]:
    """The values :func:`hf_logs_next_step_lr` may take for that version, most likely first.

    Unknown (None), or a pre-release of the release that changed the log (``4.51.0.dev0``,
    ``4.51.0rc1``: the change landed somewhere in that development cycle), leaves both open.
    """
    if not transformers_version:
        return (False, True)
    boundary = _version_tuple(HF_LOGS_APPLIED_LR_SINCE)
    release = _version_tuple(transformers_version)
    prerelease = re.search(r"\d(?:\.?dev|rc|a|b)\d*$", transformers_version.strip().lower()) is not None
    if prerelease and release[: len(boundary)] == boundary:
        return (True, False)
    return (hf_logs_next_step_lr(transformers_version),)


# -- the lambdas, written as transformers writes them ---------------------------------------------

def _warmup(current_step: int, num_warmup_steps: int) -> float:
    return float(current_step) / float(max(1, num_warmup_steps))


def _constant_lambda(_: int | None = None) -> int:
    return 1


def _constant_with_warmup(current_step: int, *, num_warmup_steps: int) -> float:
    if current_step < num_warmup_steps:
        return float(current_step) / float(max(1.0, num_warmup_steps))
    return 1.0


def _linear(current_step: int, *, num_warmup_steps: int, num_training_steps: int) -> float:
    if current_step < num_warmup_steps:
        return _warmup(current_step, num_warmup_steps)
    return max(0.0, float(num_training_steps - current_step)
               / float(max(1, num_training_steps - num_warmup_steps)))


def _cosine(current_step: int, *, num_warmup_steps: int, num_training_steps: int, num_cycles: float,
            min_lr_rate: float = 0.0) -> float:
    if current_step < num_warmup_steps:
        return _warmup(current_step, num_warmup_steps)
    progress = float(current_step - num_warmup_steps) / float(max(1, num_training_steps - num_warmup_steps))
    factor = 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress))
    factor = factor * (1 - min_lr_rate) + min_lr_rate
    return max(0, factor)


def _cosine_hard_restarts(current_step: int, *, num_warmup_steps: int, num_training_steps: int,
                          num_cycles: int) -> float:
    if current_step < num_warmup_steps:
        return _warmup(current_step, num_warmup_steps)
    progress = float(current_step - num_warmup_steps) / float(max(1, num_training_steps - num_warmup_steps))
    if progress >= 1.0:
        return 0.0
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(num_cycles) * progress) % 1.0))))


def _polynomial(current_step: int, *, num_warmup_steps: int, num_training_steps: int, lr_end: float,
                power: float, lr_init: float) -> float:
    if current_step < num_warmup_steps:
        return _warmup(current_step, num_warmup_steps)
    if current_step > num_training_steps:
        return lr_end / lr_init
    lr_range = lr_init - lr_end
    decay_steps = num_training_steps - num_warmup_steps
    pct_remaining = 1 - (current_step - num_warmup_steps) / decay_steps
    decay = lr_range * pct_remaining**power + lr_end
    return decay / lr_init


def _inverse_sqrt(current_step: int, *, num_warmup_steps: int, timescale: int) -> float:
    if current_step < num_warmup_steps:
        return _warmup(current_step, num_warmup_steps)
    shift = timescale - num_warmup_steps
    return 1.0 / math.sqrt((current_step + shift) / timescale)


def _cosine_warmup_min_lr_rate(current_step: int, *, num_warmup_steps: int, num_training_steps: int,
                               num_cycles: float, min_lr_rate: float = 0.0,
                               warmup_lr_rate: float | None = None) -> float:
    step, warmup, total = float(current_step), float(num_warmup_steps), float(num_training_steps)
    if step < warmup:
        if warmup_lr_rate is None:
            return (step + 1.0) / max(1.0, warmup)
        rate = float(warmup_lr_rate)
        return rate + (1.0 - rate) * (step) / (max(1, warmup - 1))
    progress = (step - warmup + 1.0) / (max(1.0, total - warmup))
    factor = 0.5 * (1.0 + math.cos(math.pi * num_cycles * 2.0 * progress))
    factor = factor * (1 - min_lr_rate) + min_lr_rate
    return max(0, factor)


def _wsd_4x(current_step: int, *, num_warmup_steps: int, num_stable_steps: int, num_decay_steps: int,
            num_cycles: float, min_lr_ratio: float) -> float:
    if current_step < num_warmup_steps:
        return _warmup(current_step, num_warmup_steps)
    if current_step < num_warmup_steps + num_stable_steps:
        return 1.0
    if current_step < num_warmup_steps + num_stable_steps + num_decay_steps:
        progress = float(current_step - num_warmup_steps - num_stable_steps) / float(max(1, num_decay_steps))
        value = max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))
        return (1.0 - min_lr_ratio) * value + min_lr_ratio
    return min_lr_ratio


def _wsd_shape(kind: str, progress: float, num_cycles: float, rising: bool) -> float:
    """5.x WSD warm-up (rising) / decay shape: linear, cosine or 1-sqrt."""
    if kind == "linear":
        return progress if rising else 1.0 - progress
    if kind == "cosine":
        if rising:
            return 0.5 * (1.0 - math.cos(math.pi * progress))
        return 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress))
    return 1.0 - math.sqrt(1.0 - progress) if rising else 1.0 - math.sqrt(progress)


def _wsd_5x(current_step: int, *, num_warmup_steps: int, num_stable_steps: int, num_decay_steps: int,
            warmup_type: str, decay_type: str, min_lr_ratio: float, num_cycles: float) -> float:
    if current_step < num_warmup_steps:
        progress = float(current_step) / float(max(1, num_warmup_steps))
        factor = _wsd_shape(warmup_type, progress, num_cycles, rising=True)
        factor = factor * (1.0 - min_lr_ratio) + min_lr_ratio
        return max(0.0, factor)
    if current_step < num_warmup_steps + num_stable_steps:
        return 1.0
    if current_step < num_warmup_steps + num_stable_steps + num_decay_steps:
        progress = float(current_step - num_warmup_steps - num_stable_steps) / float(max(1, num_decay_steps))
        factor = _wsd_shape(decay_type, progress, num_cycles, rising=False)
        factor = factor * (1.0 - min_lr_ratio) + min_lr_ratio
        return max(0.0, factor)
    return min_lr_ratio


# -- hf_lr_lambda -----------------------------------------------------------------------------------

def _min_lr_rate(kwargs: dict[str, Any], initial_lr: float | None) -> float:
    """``min_lr_rate``, or ``min_lr / optimizer lr``, as get_cosine_with_min_lr_schedule_with_warmup."""
    min_lr, min_lr_rate = kwargs.get("min_lr"), kwargs.get("min_lr_rate")
    if min_lr is not None and min_lr_rate is not None:
        raise ValueError("Only one of min_lr or min_lr_rate should be set")
    if min_lr is not None:
        if initial_lr is None:
            raise ValueError("min_lr needs the optimizer's lr (initial_lr) to become min_lr_rate")
        return min_lr / initial_lr
    if min_lr_rate is None:
        raise ValueError("One of min_lr or min_lr_rate should be set through the `lr_scheduler_kwargs`")
    return min_lr_rate


def _wsd_lambda(warmup: int, total: int | None, kwargs: dict[str, Any],
                version: str | None) -> Callable[[int], float]:
    """get_wsd_schedule of 4.x or 5.x."""
    decay = kwargs.get("num_decay_steps")
    if decay is None:
        raise ValueError("warmup_stable_decay needs num_decay_steps (lr_scheduler_kwargs)")
    ratio, cycles = kwargs.get("min_lr_ratio", 0), kwargs.get("num_cycles", 0.5)
    stable = kwargs.get("num_stable_steps")
    if not _at_least(version, "5"):
        if stable is None:
            raise ValueError("warmup_stable_decay (transformers 4.x) needs num_stable_steps")
        return partial(_wsd_4x, num_warmup_steps=warmup, num_stable_steps=stable, num_decay_steps=decay,
                       num_cycles=cycles, min_lr_ratio=ratio)
    if stable is None:
        if total is None:
            raise ValueError("Either num_training_steps or num_stable_steps must be specified.")
        stable = total - warmup - decay
    warmup_type, decay_type = kwargs.get("warmup_type", "linear"), kwargs.get("decay_type", "cosine")
    for label, kind in (("warmup", warmup_type), ("decay", decay_type)):
        if kind not in ("linear", "cosine", "1-sqrt"):
            raise ValueError(f"Unknown {label} type: {kind}, expected 'linear', 'cosine' or '1-sqrt'")
    return partial(_wsd_5x, num_warmup_steps=warmup, num_stable_steps=stable, num_decay_steps=decay,
                   warmup_type=warmup_type, decay_type=decay_type, min_lr_ratio=ratio, num_cycles=cycles)


def _needs_total(scheduler_type: str, total: int | None) -> int:
    if total is None:
        raise ValueError(f"{scheduler_type} requires `num_training_steps`")
    return total


def _decaying_lambda(kind: str, warmup: int, total: int, kwargs: dict[str, Any],
                     initial_lr: float | None, version: str | None) -> Callable[[int], float]:
    """The schedules that need ``num_training_steps``."""
    if kind == "linear":
        return partial(_linear, num_warmup_steps=warmup, num_training_steps=total)
    if kind == "cosine":
        return partial(_cosine, num_warmup_steps=warmup, num_training_steps=total,
                       num_cycles=kwargs.get("num_cycles", 0.5))
    if kind == "cosine_with_restarts":
        return partial(_cosine_hard_restarts, num_warmup_steps=warmup, num_training_steps=total,
                       num_cycles=kwargs.get("num_cycles", 1))
    if kind == "polynomial":
        lr_end, lr_init = kwargs.get("lr_end", 1e-7), initial_lr
        if lr_init is None:
            raise ValueError("polynomial needs the optimizer's lr (initial_lr)")
        if not (lr_init > lr_end):
            raise ValueError(f"lr_end ({lr_end}) must be smaller than initial lr ({lr_init})")
        return partial(_polynomial, num_warmup_steps=warmup, num_training_steps=total, lr_end=lr_end,
                       power=kwargs.get("power", 1.0), lr_init=lr_init)
    if kind == "cosine_with_min_lr":
        return partial(_cosine, num_warmup_steps=warmup, num_training_steps=total,
                       num_cycles=kwargs.get("num_cycles", 0.5), min_lr_rate=_min_lr_rate(kwargs, initial_lr))
    if kind == "cosine_warmup_with_min_lr" and _at_least(version, "5"):
        return partial(_cosine_warmup_min_lr_rate, num_warmup_steps=warmup, num_training_steps=total,
                       num_cycles=kwargs.get("num_cycles", 0.5), min_lr_rate=_min_lr_rate(kwargs, initial_lr),
                       warmup_lr_rate=kwargs.get("warmup_lr_rate"))
    raise ValueError(f"unknown lr_scheduler_type {kind!r} for transformers {version or 'newest'}")


def hf_lr_lambda(scheduler_type: str, num_warmup_steps: int | None, num_training_steps: int | None, *,
                 initial_lr: float | None = None, transformers_version: str | None = None,
                 **scheduler_specific_kwargs: Any) -> Callable[[int], float]:
    """The LambdaLR function ``get_scheduler(scheduler_type, ...)`` builds (``lr = base_lr * f(step)``).

    ``scheduler_specific_kwargs`` are ``TrainingArguments.lr_scheduler_kwargs``; ``initial_lr`` is
    the optimizer's lr (``optimizer.defaults["lr"]``), needed by ``polynomial`` and by ``min_lr``;
    ``transformers_version`` selects version-specific behaviour (None = newest). Raises
    ``ValueError`` as ``get_scheduler`` would (missing steps, unknown type, bad kwargs).
    """
    kind = str(scheduler_type).lower()
    kwargs = dict(scheduler_specific_kwargs)
    if kind == "constant":
        return _constant_lambda
    if kind in ("reduce_lr_on_plateau", "greedy"):
        raise ValueError(f"lr_scheduler_type {kind!r} is not a LambdaLR (a metric-driven scheduler)")
    if num_warmup_steps is None:
        raise ValueError(f"{kind} requires `num_warmup_steps`")
    if kind == "constant_with_warmup":
        return partial(_constant_with_warmup, num_warmup_steps=num_warmup_steps)
    if kind == "inverse_sqrt":
        timescale = kwargs.get("timescale") if _at_least(transformers_version, "5") else None
        if timescale is None:
            timescale = num_warmup_steps or 10_000
        return partial(_inverse_sqrt, num_warmup_steps=num_warmup_steps, timescale=timescale)
    if kind == "warmup_stable_decay":
        return _wsd_lambda(num_warmup_steps, num_training_steps, kwargs, transformers_version)
    total = _needs_total(kind, num_training_steps)
    return _decaying_lambda(kind, num_warmup_steps, total, kwargs, initial_lr, transformers_version)


# -- Trainer step counts ----------------------------------------------------------------------------

def hf_warmup_steps(warmup_steps: float, warmup_ratio: float, num_training_steps: int,
                    transformers_version: str | None = None) -> int:
    """``TrainingArguments.get_warmup_steps(num_training_steps)``.

    4.x: ``warmup_steps`` if > 0, else ``ceil(num_training_steps * warmup_ratio)``. 5.x (no
    ``warmup_ratio``): ``int(warmup_steps)`` if >= 1, else ``ceil(num_training_steps * warmup_steps)``;
    a ``warmup_ratio`` given with 5.x and ``warmup_steps == 0`` is used as that fraction.
    """
    if not _at_least(transformers_version, "5"):
        return int(warmup_steps) if warmup_steps > 0 else math.ceil(num_training_steps * warmup_ratio)
    if warmup_steps == 0 and warmup_ratio:
        warmup_steps = warmup_ratio
    if warmup_steps >= 1:
        return int(warmup_steps)
    return math.ceil(num_training_steps * warmup_steps)


@dataclass(frozen=True)
class HFStepPlan:
    """How a Trainer counts its optimizer steps (``_inner_training_loop`` set-up)."""

    #: batches per epoch (``len(train_dataloader)``)
    batches_per_epoch: int
    #: what the Trainer calls num_update_steps_per_epoch (the schedule's unit)
    num_update_steps_per_epoch: int
    #: optimizer steps an epoch really makes (a partial accumulation window at the end is one)
    optimizer_steps_per_epoch: int
    #: the schedule's num_training_steps (``state.max_steps``); training stops there
    max_steps: int
    #: epochs the loop runs (``ceil(num_train_epochs)``, or from max_steps)
    num_train_epochs: int
    #: optimizer steps really made: min(max_steps, epochs * optimizer_steps_per_epoch)
    total_optimizer_steps: int


def hf_step_plan(num_train_epochs: float, num_examples: int, per_device_train_batch_size: int,
                 gradient_accumulation_steps: int = 1, max_steps: int = -1, world_size: int = 1,
                 dataloader_drop_last: bool = False,
                 transformers_version: str | None = None) -> HFStepPlan:
    """The Trainer's step counts for a map-style dataset of ``num_examples`` rows.

    ``len(train_dataloader)`` is ``ceil(examples / (batch * world_size))`` (floor with
    ``dataloader_drop_last``). ``num_update_steps_per_epoch`` rounds down up to 4.51 and up from
    4.52; the loop itself always steps the optimizer at an epoch's last batch, so with a partial
    window before 4.52 an epoch has one step more than the schedule counts and training stops at
    ``max_steps`` early in the last epoch.
    """
    if per_device_train_batch_size <= 0 or gradient_accumulation_steps <= 0 or world_size <= 0:
        raise ValueError("batch size, gradient_accumulation_steps and world_size must be positive")
    global_batch = per_device_train_batch_size * world_size
    batches = num_examples // global_batch if dataloader_drop_last else -(-num_examples // global_batch)
    real_updates = -(-batches // gradient_accumulation_steps)
    if _at_least(transformers_version, HF_CEIL_UPDATE_STEPS_SINCE):
        per_epoch = max(real_updates, 1)
    else:
        per_epoch = max(batches // gradient_accumulation_steps, 1)
    if max_steps > 0:
        total = max_steps
        epochs = max_steps // per_epoch + int(max_steps % per_epoch > 0)
    else:
        total = math.ceil(num_train_epochs * per_epoch)
        epochs = math.ceil(num_train_epochs)
    return HFStepPlan(batches, per_epoch, real_updates, total, epochs, min(total, epochs * real_updates))


def hf_total_steps(num_train_epochs: float, num_examples: int, per_device_train_batch_size: int,
                   gradient_accumulation_steps: int = 1, max_steps: int = -1, world_size: int = 1,
                   dataloader_drop_last: bool = False, transformers_version: str | None = None) -> int:
    """``state.max_steps``: the ``num_training_steps`` the Trainer gives its lr scheduler."""
    return hf_step_plan(num_train_epochs, num_examples, per_device_train_batch_size,
                        gradient_accumulation_steps, max_steps, world_size, dataloader_drop_last,
                        transformers_version).max_steps
