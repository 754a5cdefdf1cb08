"""The loop each PyTorch-ecosystem framework runs, written as :class:`~lraudit.torchfacts.LoopAction`
statements for :func:`~lraudit.reconstruction.torch_replay.replay_loop`.

- a hand-written PyTorch loop: the statements the script holds, as the code reader found them;
- the Hugging Face ``Trainer``: ``optimizer.step()``, ``lr_scheduler.step()`` and the log of
  ``learning_rate`` after every update (before transformers 4.51 the log reads
  ``get_last_lr()`` *after* the scheduler stepped: the next update's lr);
- Lightning: ``LearningRateMonitor`` reads ``param_groups`` at every batch start (``"step"``) or
  epoch start (``"epoch"``), the scheduler steps after each update (``interval="step"``) or at
  the epoch end (``"epoch"``, with the monitored metric for ReduceLROnPlateau).

Each function returns the statements and the facts the replay needs, or raises
:class:`ProgramUnknown` saying what is missing.
"""
from __future__ import annotations

import ast
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from lraudit.reconstruction.torch_replay import LoopProgram
from lraudit.torchfacts import Construction, FunctionRef, LoopAction, TorchFacts, Unevaluated

if TYPE_CHECKING:
    import pandas as pd

#: the lr scheduler Lightning, the Trainer and PyTorch itself treat as metric-driven
PLATEAU = "ReduceLROnPlateau"


class ProgramUnknown(Exception):
    """What the replay would need and the files do not tell (the message says what)."""


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProgramUnknown(f"{what} is {value!s}, which the code reader could not evaluate")
    return float(value)


def function_callable(ref: FunctionRef) -> Callable[[int], float]:
    """A LambdaLR/MultiplicativeLR function read from code, as a callable evaluated from its ``ast``
    (never compiled or run); raises :class:`ProgramUnknown` when it is not a pure function."""
    from lraudit.code.evaluate import schedule_callable
    from lraudit.code.schedule_function import analyse_schedule_function
    from lraudit.code.values import Constant

    try:
        tree = ast.parse(ref.source.strip())
    except SyntaxError as exc:
        raise ProgramUnknown(f"{ref.name} ({ref.location}) does not parse: {exc.msg}") from None
    node = next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Lambda))), None)
    if node is None:
        raise ProgramUnknown(f"{ref.name} ({ref.location}) is not a function")
    constants = dict(ref.constants)

    def lookup(name: str) -> Constant | None:
        return Constant(constants[name], ref.location or "") if name in constants else None

    analysed = analyse_schedule_function(node, ref.name, ref.location or "", lookup, lambda d: d)
    if not analysed.evaluable:
        raise ProgramUnknown(f"lr_lambda {ref.name} ({ref.location}) is not evaluated: {analysed.reason}")
    function = schedule_callable(analysed)

    def lr_lambda(step: int) -> float:
        return function(step)

    return lr_lambda


def _callables(construction: Construction) -> dict[str, Callable]:
    found = {}
    for key, value in construction.kwargs.items():
        if isinstance(value, FunctionRef):
            found[key] = function_callable(value)
        elif isinstance(value, Unevaluated) and key in ("lr_lambda", "scale_fn"):
            raise ProgramUnknown(f"{construction.name}'s {key} ({value}) is not a function the code defines")
    return found


def optimizer_builder(facts: TorchFacts, schedulers: list[Construction]):
    """A function making a fresh optimizer state and its schedulers, as the code constructs them."""
    from lraudit.semantics.torch.optimizer_state import ParamGroups
    from lraudit.semantics.torch.schedulers import build_scheduler

    optimizer = facts.optimizer
    if optimizer is None:
        raise ProgramUnknown("no optimizer construction was found")
    lr = _number(optimizer.kwargs.get("lr", _default_lr(optimizer.name)), f"{optimizer.name}'s lr")
    lrs = list(facts.group_lrs) if facts.group_lrs else [lr] * max(1, facts.param_groups or 1)
    options = {k: v for k, v in optimizer.kwargs.items() if isinstance(v, (int, float, tuple, bool))}

    def build() -> tuple[Any, dict[str, Any], str]:
        groups = ParamGroups.from_lrs(lrs, optimizer.name, options)
        built: dict[str, Any] = {}
        outermost = ""
        for index, construction in enumerate(schedulers):
            variable = construction.variable or f"<scheduler {index}>"
            built[variable] = _build_one(construction, groups, built, build_scheduler)
            outermost = variable
        return groups, built, outermost

    return build


def _default_lr(name: str) -> Any:
    from lraudit.semantics.torch.signatures import with_defaults

    return with_defaults(name, {}).get("lr", Unevaluated(f"{name}'s default lr"))


def _build_one(construction: Construction, groups, built: dict[str, Any], build_scheduler) -> Any:
    nested = None
    if construction.name in ("SequentialLR", "ChainedScheduler"):
        nested = []
        for inner in construction.kwargs.get("schedulers") or []:
            if isinstance(inner, Construction) and inner.variable in built:
                nested.append(built[inner.variable])
            elif isinstance(inner, Construction):
                nested.append(_build_one(inner, groups, built, build_scheduler))
            else:
                raise ProgramUnknown(f"{construction.name}'s scheduler {inner!s} is not one the code builds")
    kwargs = {
        k: v for k, v in construction.kwargs.items()
        if k != "schedulers" and not isinstance(v, FunctionRef)
    }
    unknown = [f"{k}={v}" for k, v in kwargs.items() if isinstance(v, Unevaluated)]
    if unknown:
        where = f"{construction.name} ({construction.location})"
        raise ProgramUnknown(f"{where}: {', '.join(unknown)} not evaluated")
    try:
        return build_scheduler(
            construction.name, groups, kwargs, callables=_callables(construction), nested=nested
        )
    except (ValueError, TypeError) as exc:
        raise ProgramUnknown(f"{construction.name} ({construction.location}): {exc}") from None


# --------------------------------------------------------------------------- per-epoch metrics

def epoch_metrics(scalars: pd.DataFrame | None, names: set[str]) -> dict[str, dict[int, float]]:
    """Per-epoch values of the monitored metrics, the most precise logged value of each epoch.

    A row's epoch is its ``epoch`` column, else its step when the metric is written per epoch
    (``add_scalar("val_loss", v, epoch)``). Exact sources win over printed ones.
    """
    from lraudit.sources.registry import facts_for

    found: dict[str, dict[int, tuple[int, float]]] = {name: {} for name in names}
    if scalars is None or len(scalars) == 0:
        return {}
    rows = scalars[scalars["name"].isin(list(names))]
    for row in rows.itertuples(index=False):
        facts = facts_for(row.source)
        rank = 0 if facts is None or facts.exact else 1
        epoch = row.epoch if _present(row.epoch) else row.step
        if not _present(epoch) or not math.isfinite(float(row.value)):
            continue
        current = found[str(row.name)].get(int(epoch))
        if current is None or rank < current[0]:
            found[str(row.name)][int(epoch)] = (rank, float(row.value))
    return {name: {e: v for e, (_, v) in by_epoch.items()} for name, by_epoch in found.items() if by_epoch}


def _present(value: Any) -> bool:
    from lraudit.reconstruction.scalars import is_missing

    return not is_missing(value)


def monitored_metrics(actions: list[LoopAction]) -> set[str]:
    """The metric names the statements step ReduceLROnPlateau with."""
    return {a.step_arg.split(":", 1)[1] for a in actions if a.step_arg and a.step_arg.startswith("metric:")}


# --------------------------------------------------------------------------- Hugging Face Trainer

def hf_actions(logs_next_lr: bool, accumulation: int) -> list[LoopAction]:
    """The Trainer's lr statements per batch (``every`` = gradient accumulation)."""
    every = accumulation if accumulation > 1 else None
    step = LoopAction("optimizer_step", "batch", "transformers Trainer", every=every)
    scheduler = LoopAction("scheduler_step", "batch", "transformers Trainer", every=every)
    if logs_next_lr:
        log = LoopAction("log_lr", "batch", "transformers Trainer", every=every, read="get_last_lr",
                         sink="any", axis="update_count")
        return [step, scheduler, log]
    log = LoopAction("log_lr", "batch", "transformers Trainer", every=every, read="param_groups",
                     sink="any", axis="update_count")
    return [step, log, scheduler]


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return int(value)


def _hf_updates_per_epoch(facts: TorchFacts, total: int, epochs: int | None) -> int | None:
    """Updates per epoch: the files' count, ``max_steps / num_train_epochs`` when exact, or the
    header's ``global_step / epoch`` when that is a whole number the length agrees with (a run
    ended by ``max_steps``: ``num_train_epochs`` is then ``ceil(max_steps / per_epoch)``)."""
    if facts.steps_per_epoch:
        return facts.steps_per_epoch
    if epochs and total % epochs == 0:
        return total // epochs
    state = facts.trainer_state
    done, fraction = _as_int(state.get("global_step")), state.get("epoch")
    if not done or isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or fraction <= 0:
        return None
    ratio = done / float(fraction)
    per_epoch = round(ratio)
    if per_epoch <= 0 or abs(ratio - per_epoch) > 1e-6 * per_epoch:
        return None
    if epochs and math.ceil(total / per_epoch) != epochs:
        return None
    return per_epoch


def _skipping(lr_lambda: Callable[[int], float], skipped: tuple[int, ...]) -> Callable[[int], float]:
    """The schedule of a Trainer that did not step its scheduler after the ``skipped`` updates
    (0-based; an fp16 overflow skipped them): after ``c`` updates it has stepped ``c - #skips < c``."""
    marks = np.array(sorted(skipped), dtype=np.int64)

    def skipping_lambda(step: int) -> float:
        return lr_lambda(step - int(np.searchsorted(marks, step, side="left")))

    return skipping_lambda


def hf_program(facts: TorchFacts, logs_next_lr: bool,
               skipped: tuple[int, ...] = ()) -> tuple[LoopProgram, list[str]]:
    """The Trainer's loop over the epochs and updates its files tell; ``skipped``: updates after
    which the scheduler did not step (fp16 overflow, see :mod:`lraudit.reconstruction.torch_amp`)."""
    from lraudit.semantics.torch.hf import hf_lr_lambda, hf_warmup_steps
    from lraudit.semantics.torch.optimizer_state import ParamGroups
    from lraudit.semantics.torch.schedulers import build_scheduler

    args, state = facts.training_args, facts.trainer_state
    notes: list[str] = []
    lr = args.get("learning_rate", 5e-5)
    if "learning_rate" not in args:
        notes.append("TrainingArguments' learning_rate is not in the files: its default 5e-05 is assumed")
    lr = _number(lr, "learning_rate")
    accumulation = _as_int(args.get("gradient_accumulation_steps")) or facts.gradient_accumulation_steps or 1
    total = _as_int(state.get("max_steps")) or _as_int(args.get("max_steps"))
    epochs = _as_int(state.get("num_train_epochs")) or _as_int(args.get("num_train_epochs")) or facts.epochs
    if not total or total <= 0:
        raise ProgramUnknown("the schedule's length (trainer_state.json max_steps) is not in the files")
    per_epoch = _hf_updates_per_epoch(facts, total, epochs)
    if not per_epoch or not epochs:
        raise ProgramUnknown("the updates per epoch are not in the files (trainer_state.json, the script)")
    kind = str(args.get("lr_scheduler_type", "linear")).split(".")[-1].lower()
    version = facts.versions.get("transformers")
    warmup = hf_warmup_steps(args.get("warmup_steps", 0) or 0, args.get("warmup_ratio", 0.0) or 0.0, total,
                             transformers_version=version)
    extra = args.get("lr_scheduler_kwargs")
    if extra is not None and not isinstance(extra, dict):
        raise ProgramUnknown(f"lr_scheduler_kwargs ({extra}) cannot be read from the files")
    def schedule(length: int, warmup_steps: int) -> Callable[[int], float]:
        try:
            # polynomial's lr_end and min_lr are absolute: the lambda needs the optimizer's lr
            return hf_lr_lambda(kind, warmup_steps, length, initial_lr=lr, transformers_version=version,
                                **(extra or {}))
        except (ValueError, TypeError) as exc:
            raise ProgramUnknown(f"the Trainer schedule {kind!r} cannot be built: {exc}") from None

    lr_lambda = schedule(total, warmup)
    segments = [(int(end), int(length)) for end, length in facts.resume.get("trainer_schedule_segments", [])]
    if segments and segments[-1][1] == total:
        lr_lambda = _resumed_schedule(segments, schedule, args, version)
        notes.append(
            "resumed with another length: the Trainer rebuilt its schedule at each resume ("
            + ", ".join(f"{length} updates up to step {end}" for end, length in segments) + ")"
        )
    if skipped:
        lr_lambda = _skipping(lr_lambda, skipped)
    ended = _as_int(state.get("trained_until"))
    if ended and ended < total:
        notes.append(f"training ended after {ended} of the schedule's {total} updates (the Trainer's final "
                     "log row, train_runtime, is at that step: early stopping or should_training_stop)")
    notes.append(
        f"Trainer schedule {kind!r}: learning_rate {lr!r}, {warmup} warm-up of {total} updates "
        f"({epochs} epochs x {per_epoch}), gradient accumulation {accumulation}"
    )

    def build() -> tuple[Any, dict[str, Any], str]:
        groups = ParamGroups.from_lrs([lr], "AdamW", {})
        scheduler = build_scheduler("LambdaLR", groups, {}, callables={"lr_lambda": lr_lambda})
        return groups, {"lr_scheduler": scheduler}, "lr_scheduler"

    program = LoopProgram(
        build=build,
        actions=hf_actions(logs_next_lr, accumulation),
        first_epoch=0,
        end_epoch=epochs,
        batches_per_epoch=per_epoch * accumulation,
        flush_partial_window=True,
        max_updates=min(total, ended) if ended else total,
    )
    return program, notes


def _resumed_schedule(segments: list[tuple[int, int]], schedule, args: dict[str, Any],
                      version: str | None) -> Callable[[int], float]:
    """The lr factor of a run resumed with another ``max_steps``: each process' schedule (built for its
    own length, warm-up recomputed) from the step its checkpoint restored up to its last step."""
    from lraudit.semantics.torch.hf import hf_warmup_steps

    pieces = []
    for end, length in segments:
        warmup = hf_warmup_steps(args.get("warmup_steps", 0) or 0, args.get("warmup_ratio", 0.0) or 0.0,
                                 length, transformers_version=version)
        pieces.append((end, schedule(length, warmup)))

    def lr_lambda(step: int) -> float:
        # the restored optimizer keeps the lr the old schedule set after its last step, so the first
        # update of the new process still applies the old schedule's value at that step
        for end, piece in pieces:
            if step <= end:
                return piece(step)
        return pieces[-1][1](step)

    return lr_lambda


# --------------------------------------------------------------------------- Lightning

def lightning_actions(facts: TorchFacts) -> list[LoopAction]:
    """Lightning's lr statements from the scheduler dict, LearningRateMonitor and the Trainer args."""
    config = facts.scheduler_config or {}
    interval = str(config.get("interval", "epoch"))
    frequency = _as_int(config.get("frequency")) or 1
    accumulation = _as_int(facts.trainer_args.get("accumulate_grad_batches")) or 1
    where = "lightning Trainer"
    every = accumulation if accumulation > 1 else None
    actions: list[LoopAction] = []
    monitor = facts.lr_monitor
    logging_interval = None if monitor is None else monitor.get("logging_interval")
    logs_per_batch = monitor is not None and (
        logging_interval == "step" or (logging_interval is None and interval == "step")
    )
    logs_per_epoch = monitor is not None and not logs_per_batch
    if logs_per_epoch:
        actions.append(LoopAction("log_lr", "epoch_start", "LearningRateMonitor", read="param_groups",
                                  sink="any", axis="global_step"))
    if logs_per_batch:
        actions.append(LoopAction("log_lr", "batch", "LearningRateMonitor", read="param_groups",
                                  sink="any", axis="global_step"))
    actions.append(LoopAction("optimizer_step", "batch", where, every=every))
    if not facts.schedulers:
        return actions
    plateau = facts.schedulers[-1].name == PLATEAU
    step_arg = f"metric:{config.get('monitor', 'val_loss')}" if plateau else None
    # Lightning's _update_learning_rates: a step-interval scheduler steps after an update (not
    # while accumulating; the epoch's last batch flushes a partial window) whose 1-based batch_idx
    # is a multiple of frequency; an epoch-interval one after every frequency-th epoch
    every_frequency = frequency if frequency > 1 else None
    if interval == "step":
        actions.append(LoopAction("scheduler_step", "batch", where, every=every, step_arg=step_arg,
                                  frequency=every_frequency))
    else:
        actions.append(LoopAction("scheduler_step", "epoch_end", where, step_arg=step_arg,
                                  frequency=every_frequency))
    return actions
