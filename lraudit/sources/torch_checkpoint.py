"""``torch.save`` files of a run: ``training_args.bin``, ``scheduler.pt``, ``optimizer.pt``,
Lightning ``.ckpt``, plain ``checkpoint.pt`` dicts. A kind that logs no values.

Recognised by content (:func:`lraudit.sources.torch_pickle.sniff_bytes`): a zip archive whose
first record is ``<name>/data.pkl``, torch's legacy magic number, or a binary pickle (protocol 2+)
whose file name ends in a torch suffix (``.pt .pth .bin .ckpt .pkl``: a pickle has no magic of
its own). Read with the restricted unpickler (nothing imported or run), then by what it holds:

* ``TrainingArguments`` (a stand-in of that class) -> ``TorchFacts.training_args`` (its fields;
  enums as their values), framework ``transformers``;
* a scheduler ``state_dict`` (``last_epoch`` + ``base_lrs``) -> ``TorchFacts.resume`` (the dict);
* an optimizer ``state_dict`` (``param_groups`` + ``state``) -> ``param_groups`` (count),
  ``group_lrs`` (when the groups' lrs differ) and ``resume["optimizer_lrs"]`` /
  ``resume["optimizer_initial_lrs"]`` (every group's current ``lr`` and ``initial_lr``);
* a checkpoint dict: ``scheduler``/``lr_scheduler``/``lr_schedulers`` (Lightning: a list) and
  ``optimizer``/``optimizer_states`` as above, plus ``resume["checkpoint_epoch"]``,
  ``resume["checkpoint_global_step"]``, ``resume["checkpoint_file"]``; Lightning's
  ``pytorch-lightning_version`` -> ``versions["lightning"]``, ``hyper_parameters`` -> ``hparams``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from lraudit.sources.base import Source, SourceData, SourceFacts, scalars_frame
from lraudit.sources.torch_pickle import class_name, load, plain, sniff_bytes
from lraudit.torchfacts import TorchFacts

KIND = "torch_checkpoint"

#: a bare pickle is read only under these suffixes (a pickle has no magic of its own)
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl")
_SCHEDULER_KEYS = ("scheduler", "lr_scheduler", "sched")
_OPTIMIZER_KEYS = ("optimizer", "optim", "opt")


def sniff(prefix: bytes, path: Path) -> bool:
    """True for a torch.save zip/legacy file, or a binary pickle with a torch suffix."""
    found = sniff_bytes(prefix)
    if found == "pickle":
        return path.suffix.lower() in PICKLE_SUFFIXES
    return found is not None


def is_scheduler_state(value: Any) -> bool:
    """A scheduler ``state_dict()``: ``last_epoch`` and ``base_lrs`` (every torch scheduler has them)."""
    return isinstance(value, dict) and "last_epoch" in value and "base_lrs" in value


def is_optimizer_state(value: Any) -> bool:
    """An optimizer ``state_dict()``: ``param_groups`` (a list) and ``state``."""
    return isinstance(value, dict) and isinstance(value.get("param_groups"), list) and "state" in value


def _apply_optimizer(facts: TorchFacts, state: dict[str, Any]) -> None:
    groups = [group for group in state["param_groups"] if isinstance(group, dict)]
    facts.param_groups = len(groups)
    lrs = [group.get("lr") for group in groups]
    if len(set(map(repr, lrs))) > 1:
        facts.group_lrs = [float(lr) for lr in lrs if isinstance(lr, (int, float))]
    facts.resume["optimizer_lrs"] = lrs
    if any("initial_lr" in group for group in groups):
        facts.resume["optimizer_initial_lrs"] = [group.get("initial_lr") for group in groups]


def _first(document: dict[str, Any], keys: tuple[str, ...], test: Any) -> Any:
    for key in keys:
        value = document.get(key)
        if isinstance(value, list) and value and test(value[0]):
            return value[0]
        if test(value):
            return value
    return None


def _apply_checkpoint(facts: TorchFacts, document: dict[str, Any], path: Path) -> bool:
    """A checkpoint dict (plain loop or Lightning); False when it holds nothing of the lr."""
    scheduler = _first(document, (*_SCHEDULER_KEYS, "lr_schedulers"), is_scheduler_state)
    optimizer = _first(document, (*_OPTIMIZER_KEYS, "optimizer_states"), is_optimizer_state)
    if scheduler is None and optimizer is None:
        return False
    if scheduler is not None:
        facts.resume.update(scheduler)
    if optimizer is not None:
        _apply_optimizer(facts, optimizer)
    for key, name in (("epoch", "checkpoint_epoch"), ("global_step", "checkpoint_global_step")):
        if isinstance(document.get(key), int):
            facts.resume[name] = document[key]
    facts.resume["checkpoint_file"] = str(path)
    version = document.get("pytorch-lightning_version")
    if isinstance(version, str):
        facts.framework = "lightning"
        facts.versions["lightning"] = version
    if isinstance(document.get("hyper_parameters"), dict):
        facts.hparams = document["hyper_parameters"]
    return True


def facts_of(obj: Any, path: Path) -> tuple[TorchFacts, str]:
    """What a loaded torch.save object tells, and what it was (for the evidence line)."""
    facts = TorchFacts()
    name = class_name(obj) or ""
    value = plain(obj)
    if name.endswith("TrainingArguments") and isinstance(value, dict):
        facts.framework = "transformers"
        facts.training_args = value
        return facts, f"training arguments ({name})"
    if is_scheduler_state(value):
        facts.resume = dict(value)
        return facts, "scheduler state_dict"
    if is_optimizer_state(value):
        _apply_optimizer(facts, value)
        return facts, "optimizer state_dict"
    if isinstance(value, dict) and _apply_checkpoint(facts, value, path):
        return facts, "checkpoint dict"
    return facts, f"{name or type(value).__name__} holding no lr state"


def read(path: Path) -> SourceData:
    """Read a torch.save file inertly into TorchFacts (no scalars); never raises."""
    data = SourceData(path=str(path), kind=KIND, scalars=scalars_frame([]))
    loaded = load(path)
    data.warnings.extend(loaded.warnings)
    if not loaded.ok:
        return data
    facts, what = facts_of(loaded.obj, path)
    facts.framework = facts.framework or "pytorch"
    facts.evidence.append(f"{what}: {path}")
    data.torch = facts
    return data


class TorchCheckpointSource(Source):
    """The registered face of this module (see :mod:`lraudit.sources.registry`)."""

    # TorchFacts only (no Keras optimizer config)
    facts = SourceFacts.logging_no_values(KIND, "torch.save file", frozenset({"torch_facts"}), hint_rank=6)
    sniff = staticmethod(sniff)
    read = staticmethod(read)
