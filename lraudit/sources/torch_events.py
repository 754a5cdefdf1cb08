"""Which TensorBoard event files a PyTorch-ecosystem writer made, and what their first records tell.

``torch.utils.tensorboard.SummaryWriter``, tensorboardX, the Transformers Trainer and Lightning's
``TensorBoardLogger`` write the same ``brain.Event:2`` TFRecord files as TensorFlow. What tells
them apart, read from the first records only (:data:`HEAD_RECORDS`, bounded):

* never Keras: no Keras tag (``epoch_*``, ``batch_*``, ``evaluation_*``, the ``keras`` model
  summary) and no TF graph (``graph_def``/``meta_graph_def`` events: Keras' callback writes one);
* ``transformers``: the Trainer's ``args/text_summary`` / ``model_config/text_summary`` text
  summaries (their JSON gives ``training_args`` and ``versions["transformers"]``) or
  ``train/learning_rate``; Transformers 5.x default folder ``out/runs/<Mon>DD_HH-MM-SS_<host>/``;
* ``lightning``: ``LearningRateMonitor`` tags ``lr-<Optimizer>``, ``hp_metric``, or a
  ``lightning_logs/version_N`` folder;
* ``pytorch``: the file name ``events.out.tfevents.<time>.<host>.<pid>.<n>`` (torch/tensorboardX
  append the pid and a counter; TF1's writer appends none, TF2's ends in ``.v2``). This is weak
  evidence: any program using tensorboard's ``EventFileWriter`` names files so, so such a file's
  plain tags keep the TF1 epoch rule (:func:`lraudit.sources.tfevents.plain_tag_epochs`) and the
  run's other files (a torch console, a script) should confirm the framework.

:func:`event_file_torch_facts` answers None for every other file, which is then read exactly as
before (Keras files are untouched).
"""
from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any

from lraudit.torchfacts import TorchFacts

#: records examined at the start of a file
HEAD_RECORDS = 256
_HEAD_BYTES = 4 * 1024 * 1024
_KERAS_PREFIXES = ("epoch_", "batch_", "evaluation_")
_TORCH_NAME = re.compile(r"^events\.out\.tfevents\.\d+\..+\.\d+\.\d+$")
_HF_RUN_DIR = re.compile(r"^[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_.+$")
_LR_MONITOR = re.compile(r"^lr-[A-Za-z]\w*")
_VERSION_DIR = re.compile(r"^version_\d+$")


def _head_events(path: Path) -> list[Any]:
    """The first :data:`HEAD_RECORDS` events (protobuf), stopping quietly at any damage."""
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto import event_pb2

    try:
        with open(path, "rb") as handle:
            data = handle.read(_HEAD_BYTES)
    except OSError:
        return []
    events = []
    position = 0
    while len(events) < HEAD_RECORDS and position + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, position)
        start, end = position + 12, position + 12 + length
        if end + 4 > len(data):
            break
        try:
            events.append(event_pb2.Event.FromString(data[start:end]))
        except (DecodeError, RuntimeError, ValueError):
            break
        position = end + 4
    return events


def _text(value: Any) -> str | None:
    if value.HasField("tensor") and value.tensor.string_val:
        return value.tensor.string_val[0].decode("utf-8", errors="replace")
    return None


def _json_text(text: str | None) -> dict[str, Any] | None:
    """The JSON object of a Trainer text summary (it may be wrapped in a Markdown code block)."""
    if not text:
        return None
    body = text.strip().strip("`").strip()
    try:
        value = json.loads(body[body.find("{") :]) if "{" in body else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class _Head:
    """What the first records hold: tags, plugins, graphs, the Trainer's text summaries."""

    def __init__(self, events: list[Any]) -> None:
        self.tags: set[str] = set()
        self.plugins: set[str] = set()
        self.graph = False
        self.texts: dict[str, str] = {}
        for event in events:
            what = event.WhichOneof("what")
            if what in ("graph_def", "meta_graph_def"):
                self.graph = True
            if what != "summary":
                continue
            for value in event.summary.value:
                self.tags.add(value.tag)
                if value.HasField("metadata"):
                    self.plugins.add(value.metadata.plugin_data.plugin_name)
                text = _text(value) if value.tag.endswith("text_summary") else None
                if text is not None:
                    self.texts.setdefault(value.tag, text)

    @property
    def keras(self) -> bool:
        base = {tag.rsplit("/", 1)[-1] for tag in self.tags}
        return self.graph or "keras" in base or "graph_keras_model" in self.plugins or any(
            tag.startswith(_KERAS_PREFIXES) for tag in base
        )


def _framework(head: _Head, path: Path) -> tuple[str | None, str | None]:
    """(framework, what told it) for a non-Keras file; (None, None) when nothing tells."""
    parents = [part for part in path.parent.parts]
    if {"args/text_summary", "model_config/text_summary"} & head.tags or "train/learning_rate" in head.tags:
        return "transformers", "Trainer tags (args/text_summary, train/learning_rate)"
    if len(parents) >= 2 and parents[-2] == "runs" and _HF_RUN_DIR.match(parents[-1]):
        return "transformers", f"Trainer's default folder runs/{parents[-1]}"
    if any(_LR_MONITOR.match(tag) for tag in head.tags) or "hp_metric" in head.tags:
        return "lightning", "Lightning tags (lr-<Optimizer>, hp_metric)"
    if parents and _VERSION_DIR.match(parents[-1]) and "lightning_logs" in parents:
        return "lightning", "lightning_logs/version_N folder"
    if _TORCH_NAME.match(path.name) and not path.name.endswith(".v2"):
        return "pytorch", "file name events.out.tfevents.<time>.<host>.<pid>.<n> (SummaryWriter)"
    return None, None


def event_file_torch_facts(path: Path) -> TorchFacts | None:
    """TorchFacts of an event file a PyTorch-ecosystem writer made; None for any other (Keras) file."""
    path = Path(path)
    head = _Head(_head_events(path))
    if head.keras:
        return None
    framework, told = _framework(head, path)
    if framework is None:
        return None
    facts = TorchFacts(framework=framework, evidence=[f"TensorBoard {told}: {path}"])
    args = _json_text(head.texts.get("args/text_summary"))
    if args is not None:
        facts.training_args = args
    config = _json_text(head.texts.get("model_config/text_summary"))
    if config is not None and isinstance(config.get("transformers_version"), str):
        facts.versions["transformers"] = config["transformers_version"]
    return facts
