"""Hugging Face Transformers ``trainer_state.json`` (and the model ``config.json`` beside it).

``trainer_state.json`` is recognised by content: a JSON object holding ``"log_history"`` and
``"global_step"``. Every number of every ``log_history`` row becomes a scalar: ``name`` the key as
written (``learning_rate``, ``loss``, ``grad_norm``, ``eval_loss``, ``epoch`` (the float epoch, kept
as a value), ``train_runtime``...), ``step`` the row's ``step`` (the 1-based global optimizer step
after which the Trainer logged), ``epoch`` the 0-based epoch *that step ran in*: ``ceil(epoch) - 1``
of the float epoch (the Trainer writes ``epoch = step / steps_per_epoch``, so the last step of
epoch 0 logs ``1.0``: a floor would put it in epoch 1); ``<NA>`` when a row has no epoch. The
header (``global_step``, ``max_steps``, ``num_train_epochs``, ``logging_steps``,
``train_batch_size``, ``save_steps``, ``eval_steps``, ``epoch``...) goes to
:attr:`TorchFacts.trainer_state <lraudit.torchfacts.TorchFacts.trainer_state>`.

Checkpoints: ``out/checkpoint-12/trainer_state.json`` and ``out/checkpoint-24/...`` each hold the
log_history up to their step, the earlier one a prefix of the later one. Each file is read for
itself (``lraudit parse`` shows what each holds); the header of an earlier checkpoint is marked
``trainer_state["superseded_by"] = <path of the latest sibling checkpoint folder>`` (found from the
folder *names* ``checkpoint-<N>`` beside it, no other file is read); the run builder keeps one row
per value that several files of one kind log at the same step, so a run assembled from several
checkpoints holds each log row once.

The model ``config.json`` (:class:`HfModelConfigSource`, a kind that logs no values; recognised by
``"transformers_version"`` with ``"model_type"`` or ``"architectures"``) gives
``versions["transformers"]`` and its values as ``hparams``. The trainer_state reader also looks
at the ``config.json`` in its own folder for the version (the one sibling it reads, documented so:
a trainer_state.json alone names no version).
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from lraudit.sources.base import Source, SourceData, SourceFacts, scalars_frame
from lraudit.sources.text import decode, looks_like_text, read_json
from lraudit.torchfacts import TorchFacts

KIND = "hf_trainer_state"
CONFIG_KIND = "hf_model_config"

_CHECKPOINT_DIR = re.compile(r"^checkpoint-(\d+)$")
#: header keys copied to TorchFacts.trainer_state (every non-list, non-dict header value is kept)
_HEADER_SKIP = ("log_history",)


def _json_object_prefix(prefix: bytes) -> str | None:
    text, _ = decode(prefix)
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped.startswith("{") or not looks_like_text(text):
        return None
    return stripped


def sniff(prefix: bytes, path: Path) -> bool:
    """True for a JSON object naming ``"log_history"`` and ``"global_step"`` (keys, not values)."""
    text = _json_object_prefix(prefix)
    return text is not None and '"log_history"' in text and '"global_step"' in text


def sniff_config(prefix: bytes, path: Path) -> bool:
    """True for a Transformers model config: ``"transformers_version"`` and a model key."""
    text = _json_object_prefix(prefix)
    if text is None or '"transformers_version"' not in text or '"log_history"' in text:
        return False
    return '"model_type"' in text or '"architectures"' in text


def _epoch_index(epoch: Any) -> int | None:
    """0-based epoch a row's step ran in, from the Trainer's float epoch (see module docstring)."""
    if isinstance(epoch, bool) or not isinstance(epoch, (int, float)) or not math.isfinite(epoch):
        return None
    if epoch <= 0:
        return 0
    # 1e-9: the float epoch is step / steps_per_epoch summed in float64 (1.0000000000000002)
    return max(0, math.ceil(epoch - 1e-9) - 1)


def _rows(path: Path, history: list[Any], warnings: list[str]) -> list[tuple]:
    rows: list[tuple] = []
    for index, entry in enumerate(history):
        if not isinstance(entry, dict):
            warnings.append(f"{path}: log_history[{index}] is not an object; skipped")
            continue
        step = entry.get("step")
        if isinstance(step, bool) or not isinstance(step, int):
            step = None
        epoch = _epoch_index(entry.get("epoch"))
        for name, value in entry.items():
            if name == "step" or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            rows.append((KIND, str(path), None, name, epoch, step, None, float(value), repr(value)))
    return rows


def _latest_sibling_checkpoint(path: Path) -> Path | None:
    """The sibling ``checkpoint-<N>`` folder with the highest N above this file's own, if any."""
    here = _CHECKPOINT_DIR.match(path.parent.name)
    if here is None:
        return None
    try:
        siblings = [child for child in path.parent.parent.iterdir() if child.is_dir()]
    except OSError:
        return None
    numbered = [
        (int(match.group(1)), child)
        for child in siblings
        if (match := _CHECKPOINT_DIR.match(child.name)) and (child / "trainer_state.json").is_file()
    ]
    later = [item for item in numbered if item[0] > int(here.group(1))]
    return max(later)[1] if later else None


def _training_end(history: list[Any]) -> int | None:
    """The step of the row ``trainer.train()`` writes when it returns (``train_runtime``): training
    ended there, before ``max_steps`` when early stopping or ``should_training_stop`` ended it."""
    for row in reversed(history):
        if isinstance(row, dict) and "train_runtime" in row:
            step = row.get("step")
            return step if isinstance(step, int) and not isinstance(step, bool) and step > 0 else None
    return None


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _steps_per_epoch(header: dict[str, Any]) -> tuple[int | None, str | None]:
    max_steps, epochs = header.get("max_steps"), header.get("num_train_epochs")
    done, fraction = header.get("global_step"), header.get("epoch")
    if _whole(done) and isinstance(fraction, float) and 0 < fraction < (epochs if _whole(epochs) else 0):
        # max_steps ended training inside an epoch: the header's epoch is updates / per-epoch
        # updates (a whole number when the accumulation window divides the epoch's batches)
        ratio = done / fraction
        if abs(ratio - round(ratio)) <= 1e-6 * ratio:
            return round(ratio), f"global_step={done} / epoch={fraction}"
    if isinstance(max_steps, int) and isinstance(epochs, int) and epochs > 0 and max_steps % epochs == 0:
        return max_steps // epochs, f"max_steps={max_steps} / num_train_epochs={epochs}"
    return None, None


def transformers_version_beside(path: Path, warnings: list[str]) -> str | None:
    """``transformers_version`` of the ``config.json`` in ``path``'s folder, when there is one."""
    config = path.parent / "config.json"
    if not config.is_file():
        return None
    loaded = read_json(config, warnings, "transformers version not read")
    value = loaded[1].get("transformers_version") if loaded and isinstance(loaded[1], dict) else None
    return value if isinstance(value, str) else None


def read(path: Path) -> SourceData:
    """Read a trainer_state.json: log_history rows as scalars, header as TorchFacts.trainer_state."""
    data = SourceData(path=str(path), kind=KIND, scalars=scalars_frame([]))
    loaded = read_json(path, data.warnings, "nothing read")
    if loaded is None:
        return data
    document = loaded[1]
    if not isinstance(document, dict):
        data.warnings.append(f"{path}: not a JSON object; nothing read")
        return data
    history = document.get("log_history")
    if not isinstance(history, list):
        data.warnings.append(f"{path}: log_history is not a list; no logged values")
        history = []
    data.scalars = scalars_frame(_rows(path, history, data.warnings))
    header = {key: value for key, value in document.items() if key not in _HEADER_SKIP}
    ended = _training_end(history)
    if ended is not None:
        header["trained_until"] = ended
    later = _latest_sibling_checkpoint(path)
    if later is not None:
        header["superseded_by"] = str(later)
    facts = TorchFacts(framework="transformers", trainer_state=header)
    facts.steps_per_epoch, facts.steps_per_epoch_evidence = _steps_per_epoch(header)
    if isinstance(header.get("num_train_epochs"), int):
        facts.epochs = header["num_train_epochs"]
    version = transformers_version_beside(path, data.warnings)
    if version is not None:
        facts.versions["transformers"] = version
    facts.evidence.append(f"trainer_state: {path}")
    data.torch = facts
    return data


def read_config(path: Path) -> SourceData:
    """Read a Transformers model config.json: the version and the config values (no scalars)."""
    data = SourceData(path=str(path), kind=CONFIG_KIND, scalars=scalars_frame([]))
    loaded = read_json(path, data.warnings, "nothing read")
    if loaded is None or not isinstance(loaded[1], dict):
        if loaded is not None:
            data.warnings.append(f"{path}: not a JSON object; nothing read")
        return data
    config = loaded[1]
    facts = TorchFacts(framework="transformers", hparams=dict(config))
    version = config.get("transformers_version")
    if isinstance(version, str):
        facts.versions["transformers"] = version
    facts.evidence.append(f"model config: {path}")
    data.torch = facts
    return data


class HfTrainerStateSource(Source):
    """The registered face of ``trainer_state.json`` (see :mod:`lraudit.sources.registry`)."""

    facts = SourceFacts(
        kind=KIND,
        label="Transformers trainer_state.json",
        tells=frozenset({"lr", "metrics", "torch_facts"}),
        epoch_values="exact",  # JSON floats: repr of the float64 the Trainer held
        epoch_numbering="0-based",  # ceil(float epoch) - 1: see the module docstring
        names="log-keys",
        located_by="key",
        value_rank=1,
        fit_rank=9,  # no fit() structure of its own: last
        hint_rank=5,
    )
    sniff = staticmethod(sniff)
    read = staticmethod(read)


class HfModelConfigSource(Source):
    """The registered face of a Transformers model ``config.json`` (logs no values)."""

    facts = SourceFacts.logging_no_values(
        CONFIG_KIND, "Transformers model config.json", frozenset({"torch_facts"}), hint_rank=6
    )
    sniff = staticmethod(sniff_config)
    read = staticmethod(read_config)
