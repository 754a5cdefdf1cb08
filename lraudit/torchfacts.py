"""What a PyTorch-ecosystem run says about its learning rate: the contract between the sources that
read such runs and the reconstruction that replays them.

A Keras run is described by :class:`lraudit.run.Run` (fits, callbacks, an optimizer config). A
PyTorch, Hugging Face Transformers or Lightning run adds one :class:`TorchFacts`: the optimizer and
scheduler *constructions* (as written in ``train.py``, saved in ``training_args.bin`` /
``scheduler.pt``, or given on the command line), the *training loop* reduced to the statements that
touch the lr (:class:`LoopAction`, in execution order), and the framework's own settings
(``TrainingArguments``, Lightning's scheduler dict and ``LearningRateMonitor``). Logged values stay
in :attr:`Run.scalars <lraudit.run.Run.scalars>` like Keras ones (the ``name`` column holds the
tag/key: ``lr``, ``train/learning_rate``, ``lr-SGD``; ``step`` the step axis as logged).

Sources fill the parts they know and :func:`merge_torch_facts` joins them (the first non-empty
value of each field wins, in the order given). This module imports nothing of lraudit: it is a
light contract, like :mod:`lraudit.run`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

#: :attr:`TorchFacts.framework` values, from the most specific to the least
FRAMEWORKS = ("transformers", "lightning", "pytorch")

#: :attr:`LoopAction.action` values
#: ``set_lr``: the loop writes the lr itself (``for g in optimizer.param_groups: g["lr"] = ...``, or
#: a call of a user function that does, such as ``adjust_learning_rate(optimizer, epoch)``); the
#: written value's source text is in :attr:`LoopAction.expression`
ACTIONS = ("optimizer_step", "scheduler_step", "log_lr", "set_lr")
#: :attr:`LoopAction.phase` values: before the batch loop, inside it, after it
PHASES = ("epoch_start", "batch", "epoch_end")
#: :attr:`LoopAction.read` values: what a ``log_lr`` reads
#: ``param_groups``: ``optimizer.param_groups[0]["lr"]``; ``get_last_lr``: ``scheduler.get_last_lr()[0]``;
#: ``get_lr``: ``scheduler.get_lr()[0]`` (recomputes, may apply a decay again)
READS = ("param_groups", "get_last_lr", "get_lr")
#: :attr:`LoopAction.sink` kinds (a sink is ``<kind>`` or ``<kind>:<tag or key>``): TensorBoard
#: ``add_scalar``, printed text (print/logging/tqdm), ``wandb.log``, ``mlflow.log_metric``,
#: Lightning ``self.log``, ``any`` (every logged lr series: a framework's own logger)
SINKS = ("tensorboard", "print", "wandb", "mlflow", "lightning", "any")
#: :attr:`LoopAction.axis` values: the step value a ``log_lr`` writes with its value.
#: ``global_step``: the 0-based index of the update of the current iteration (a script's own
#: counter incremented at the end of the iteration; Lightning's ``trainer.global_step`` at batch
#: start); ``update_count``: updates completed at the log point (the HF Trainer's 1-based
#: ``state.global_step``); ``epoch``: the epoch loop variable (0-based); ``none``: no step written
AXES = ("global_step", "update_count", "epoch", "none")


@dataclass(frozen=True)
class Unevaluated:
    """An argument the static reader could not turn into a value (kept as its source text)."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Construction:
    """A constructor call: an optimizer, a scheduler, ``TrainingArguments``, a Lightning ``Trainer``.

    ``kwargs`` maps every argument to its value, positional ones under their parameter names
    (``CosineAnnealingLR(opt, 30)`` -> ``{"T_max": 30}``; the optimizer argument is dropped).
    Values are Python literals, a nested :class:`Construction` (SequentialLR's ``schedulers``), a
    :class:`FunctionRef` (LambdaLR's ``lr_lambda``), or :class:`Unevaluated`.
    """

    name: str  # class name as PyTorch spells it: "SGD", "CosineAnnealingLR", "OneCycleLR"
    kwargs: dict[str, Any] = field(default_factory=dict)
    location: str | None = None  # "train.py:21", "out/checkpoint-12/scheduler.pt"
    variable: str | None = None  # the name it was bound to in code ("scheduler"), if any


@dataclass(frozen=True)
class FunctionRef:
    """A named function or lambda passed as ``lr_lambda`` (evaluated from its ``ast`` when pure)."""

    name: str  # "warmup" or "<lambda>"
    source: str  # the function's source text (a ``def`` or a ``lambda`` expression)
    location: str | None = None
    #: module-level constants the function reads, folded to values (``WARMUP = 8`` -> {"WARMUP": 8})
    constants: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class LoopAction:
    """One statement of a hand-written training loop that reads or changes the lr, in program order.

    ``every`` is set for statements of the batch loop guarded by ``if (i + 1) % k == 0`` (gradient
    accumulation): they run on every k-th batch. ``frequency`` (Lightning's scheduler ``frequency``)
    further restricts a statement to the batches with ``(batch + 1) % frequency == 0`` (batch phase,
    checked when ``every`` lets it run) or the epochs with ``(epoch + 1) % frequency == 0``.
    ``step_arg`` is the argument of
    ``scheduler.step(...)``: None, ``"epoch"`` (the epoch loop variable), ``"epoch_fraction"``
    (``epoch + i / iters``), ``"metric:<name>"`` (ReduceLROnPlateau's monitored value, e.g.
    ``metric:val_loss``). ``sink`` says where a ``log_lr`` goes: ``tensorboard:<tag>`` or
    ``print`` (printed text, with ``text_format`` the format spec: ``.4f``, ``g``, ``repr``), also
    ``wandb:<key>``, ``mlflow:<key>`` and ``lightning:<key>`` (``self.log``). ``step_arg`` may also
    be ``explicit:<text>`` for another explicit value (``scheduler.step(global_step)``).
    """

    action: str  # one of ACTIONS
    phase: str  # one of PHASES
    location: str | None = None
    every: int | None = None
    scheduler: str | None = None  # the variable of the scheduler stepped or read
    step_arg: str | None = None
    read: str | None = None  # one of READS, for log_lr
    sink: str | None = None
    axis: str | None = None  # one of AXES, for log_lr
    text_format: str | None = None
    #: log_lr of a value read earlier in the epoch (``lr_at_start = ...`` printed at its end): the
    #: phase where it was read
    read_phase: str | None = None
    #: ``set_lr``: the source text of the value written (``lr * 0.1``) or of the call that writes it
    expression: str | None = None
    #: runs only when the 1-based batch (batch phase) or epoch (epoch phases) is a multiple of it
    frequency: int | None = None


@dataclass
class TorchFacts:
    """Everything the files of one PyTorch-ecosystem run tell about its lr (see module docstring)."""

    framework: str | None = None  # one of FRAMEWORKS
    #: versions the files tell: {"torch": "2.13.0", "transformers": "4.48.3", "lightning": "2.6.6"}
    versions: dict[str, str] = field(default_factory=dict)
    optimizer: Construction | None = None
    #: number of parameter groups the optimizer was built with (1 unless a list of dicts was passed)
    param_groups: int | None = None
    #: per-group lr when groups differ (from the code or optimizer.pt); None when all share one
    group_lrs: list[float] | None = None
    #: every scheduler built on the optimizer, in construction order (the one stepped last)
    schedulers: list[Construction] = field(default_factory=list)
    #: the hand-written loop's lr statements (plain PyTorch); empty for Trainer/Lightning runs
    loop: list[LoopAction] = field(default_factory=list)
    #: HF ``TrainingArguments`` (from the script or ``training_args.bin``)
    training_args: dict[str, Any] = field(default_factory=dict)
    #: Lightning ``Trainer(...)`` arguments (max_epochs, accumulate_grad_batches, ...)
    trainer_args: dict[str, Any] = field(default_factory=dict)
    #: Lightning's ``lr_scheduler`` dict from ``configure_optimizers`` (interval, frequency, monitor)
    scheduler_config: dict[str, Any] = field(default_factory=dict)
    #: ``LearningRateMonitor(...)`` arguments, when one is used (``{}`` = used with defaults)
    lr_monitor: dict[str, Any] | None = None
    #: Lightning ``hparams.yaml`` / HF model config values
    hparams: dict[str, Any] = field(default_factory=dict)
    #: HF ``trainer_state.json`` header: global_step, max_steps, num_train_epochs, logging_steps,
    #: train_batch_size, ...
    trainer_state: dict[str, Any] = field(default_factory=dict)
    #: optimizer steps per epoch when a file or the code tells it, and what told it
    steps_per_epoch: int | None = None
    steps_per_epoch_evidence: str | None = None
    #: batches per epoch (before gradient accumulation), when known
    batches_per_epoch: int | None = None
    epochs: int | None = None
    gradient_accumulation_steps: int | None = None
    #: a resumed run: the scheduler state it started from (``scheduler.pt`` / a checkpoint dict), or
    #: ``{"loads_scheduler": bool}`` from the code
    resume: dict[str, Any] = field(default_factory=dict)
    #: what was read from where, for notes ("optimizer: train.py:18")
    evidence: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def framework_label(framework: str, versions: dict[str, str]) -> str:
    """``transformers 4.48.3``, ``pytorch 2.13.0``, or the framework alone when no file names its
    version (a plain PyTorch run's version is torch's)."""
    version = versions.get("torch" if framework == "pytorch" else framework)
    return f"{framework} {version}" if version else framework


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (list, dict, str)) and not value)


def merge_torch_facts(parts: list[TorchFacts]) -> TorchFacts | None:
    """Join what several files told: per field, the first non-empty value (lists of notes add up).

    Order ``parts`` by trust (the code first, then saved state, then logs). None when empty.
    """
    if not parts:
        return None
    merged = replace(parts[0])
    for name in (f.name for f in fields(TorchFacts)):
        if name in ("evidence", "warnings"):
            setattr(merged, name, [item for part in parts for item in getattr(part, name)])
            continue
        if name == "framework":
            # the most specific wins: a TensorBoard file looks like plain PyTorch, the
            # trainer_state.json beside it says the Trainer wrote it
            told = [part.framework for part in parts if part.framework in FRAMEWORKS]
            merged.framework = min(told, key=FRAMEWORKS.index) if told else None
            continue
        if name in ("versions", "resume"):
            # key by key, the most trusted file first: the code tells whether the scheduler
            # state is loaded, a second process' console where it resumed
            joined: dict[str, Any] = {}
            for part in reversed(parts):
                joined.update(getattr(part, name))
            setattr(merged, name, joined)
            continue
        for part in parts:
            value = getattr(part, name)
            if not _empty(value):
                setattr(merged, name, value)
                break
    return merged


def describe(facts: TorchFacts) -> list[str]:
    """Short human-readable lines of what ``facts`` holds (for ``lraudit parse`` and notes)."""
    head = facts.framework or "unknown framework"
    if facts.versions:
        named = sorted(facts.versions.items())
        head += " (" + ", ".join(f"{name} {version}" for name, version in named) + ")"
    lines = [head]
    sizes = [
        ("epochs", facts.epochs), ("steps per epoch", facts.steps_per_epoch),
        ("batches per epoch", facts.batches_per_epoch), ("param groups", facts.param_groups),
        ("group lrs", facts.group_lrs),
    ]
    told = [f"{name} {value}" for name, value in sizes if not _empty(value)]
    if told:
        lines.append(", ".join(told))
    for name in ("training_args", "trainer_state", "hparams", "resume"):
        value = getattr(facts, name)
        if value:
            shown = ", ".join(f"{key}={value[key]!r}" for key in list(value)[:8])
            more = f", ... ({len(value)} in all)" if len(value) > 8 else ""
            lines.append(f"{name}: {shown}{more}")
    lines.extend(f"from {item}" for item in facts.evidence[:12])
    return lines
