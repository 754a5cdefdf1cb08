"""Optimizer configs saved as JSON: ``optimizer.get_config()`` or ``keras.optimizers.serialize()``.

Accepted (recognised by content, reference §0, §3, §7):

* a bare ``get_config()`` dict of Keras 2 or 3: ``{"name": ..., "learning_rate" | "lr": ..., ...}``;
* the ``serialize()`` form ``{"class_name", "config", "module"?, "registered_name"?}``;
* the same nested in a ``training_config`` (``"optimizer_config"``) or ``compile_config``
  (``"optimizer"``) dump;
* a mixed-precision ``LossScaleOptimizer`` (tf.keras 2.4+, tf_keras, Keras 3) in any of these
  forms: kept as the wrapper, whose ``inner_optimizer`` holds the optimizer and its lr.

Everything is normalised to ``{"class_name": str, "module": str | None, "config": {...}}``, with a
nested learning-rate schedule normalised the same way (TF 2.x ``{"class_name", "config"}`` and
Keras 2.13+/3 ``{"module", "class_name", "config", "registered_name"}`` alike).

A bare ``get_config()`` does not store the class. It is inferred from ``"name"`` when that is a
known optimizer class name in any case (Keras 2 writes ``"Adam"``, Keras 3 ``"adam"``); else
from the optimizer-specific keys (``amsgrad`` -> Adam, ``centered`` -> RMSprop, ``nesterov`` ->
SGD, ``learning_rate_power`` -> Ftrl, ``initial_accumulator_value`` -> Adagrad, ``rho`` alone ->
Adadelta); else ``"Optimizer"`` with a warning.

The Keras generation hint (``SourceData.keras``) comes from keys: module
``keras.optimizers.legacy`` or an ``is_legacy_optimizer`` key (tf.keras 2.11+) or an ``lr`` key
(standalone Keras) or a numeric ``decay`` without ``weight_decay`` -> "2";
``loss_scale_factor``/``gradient_accumulation_steps`` keys (Keras 3 only) -> "3"; else None.
When the config was taken (before or after training) cannot be told from content, so
``optimizer_stage`` stays None.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from lraudit.sources.base import SNIFF_BYTES, Source, SourceData, SourceFacts
from lraudit.sources.text import decode, looks_like_text, read_json

KIND = "optimizer_config"

#: Keras optimizer classes of every era, by lower-case name
KNOWN_OPTIMIZERS = {
    name.lower(): name
    for name in (
        "SGD",
        "Adam",
        "AdamW",
        "RMSprop",
        "Adagrad",
        "Adadelta",
        "Adamax",
        "Nadam",
        "Ftrl",
        "Lion",
        "Lamb",
        "Adafactor",
        "Muon",
        "LossScaleOptimizer",
    )
}

# optimizer-specific keys that identify the class of a bare get_config() (first match wins)
_CLASS_BY_KEYS = (
    ("amsgrad", "Adam"),
    ("centered", "RMSprop"),
    ("nesterov", "SGD"),
    ("learning_rate_power", "Ftrl"),
    ("initial_accumulator_value", "Adagrad"),
    ("rho", "Adadelta"),
)

_LR_KEY = re.compile(r'"(?:learning_rate|lr)"\s*:\s*[^\s\[]')
_LR_KEYS = ("learning_rate", "lr")


def sniff(prefix: bytes, path: Path) -> bool:
    """True when the text is a JSON object holding an optimizer config (an lr key, not a list)."""
    text, _ = decode(prefix)
    if not looks_like_text(text) or not text.lstrip().startswith("{"):
        return False
    if len(prefix) < SNIFF_BYTES:  # the whole file: decide by parsing it
        try:
            return find_optimizer(json.loads(text)) is not None
        except ValueError:
            pass  # truncated or corrupt: fall back to the key pattern
    return bool(_LR_KEY.search(text))


def find_optimizer(obj: Any) -> dict[str, Any] | None:
    """The optimizer config inside a parsed JSON value (serialize(), get_config() or a wrapper)."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("class_name"), str) and isinstance(obj.get("config"), dict):
        config = obj["config"]
        if any(key in config for key in _LR_KEYS) or "inner_optimizer" in config:
            return obj
        return None
    if any(key in obj for key in _LR_KEYS) and not isinstance(obj.get("learning_rate", obj.get("lr")), list):
        return obj
    if isinstance(obj.get("inner_optimizer"), dict):
        return obj  # a bare LossScaleOptimizer.get_config(): the wrapped optimizer holds the lr
    for wrapper in ("optimizer_config", "optimizer"):
        inner = obj.get(wrapper)
        if isinstance(inner, dict):
            return find_optimizer(inner)
    return None


def _normalize_schedule(value: Any) -> Any:
    if isinstance(value, dict) and isinstance(value.get("class_name"), str) and "config" in value:
        return {
            "class_name": value["class_name"],
            "module": value.get("module"),
            "config": value["config"],
        }
    return value


def _infer_class(config: dict[str, Any]) -> tuple[str, str | None]:
    """The class name of a bare get_config() and a warning when it is only a guess."""
    name = config.get("name")
    if isinstance(config.get("inner_optimizer"), dict):
        return "LossScaleOptimizer", None  # tf.keras 2.4+ writes no name for the wrapper
    if isinstance(name, str) and name.lower() in KNOWN_OPTIMIZERS:
        return KNOWN_OPTIMIZERS[name.lower()], None
    for key, class_name in _CLASS_BY_KEYS:
        if key in config:
            return class_name, None
    return "Optimizer", f"optimizer class not stored (name {name!r}); unknown class"


def normalize(found: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``found`` (serialize() or get_config() form) as ``{"class_name", "module", "config"}``."""
    warnings: list[str] = []
    if isinstance(found.get("class_name"), str) and isinstance(found.get("config"), dict):
        class_name, module, config = found["class_name"], found.get("module"), dict(found["config"])
    else:
        config = dict(found)
        class_name, warning = _infer_class(config)
        module = None
        if warning:
            warnings.append(warning)
    for key in _LR_KEYS:
        if key in config:
            config[key] = _normalize_schedule(config[key])
    return {"class_name": class_name, "module": module, "config": config}, warnings


def keras_hint(optimizer: dict[str, Any]) -> str | None:
    """"2" or "3" when the normalised config's keys or module tell the Keras generation."""
    config = optimizer.get("config") or {}
    inner = config.get("inner_optimizer")
    if isinstance(inner, dict):
        # LossScaleOptimizer: the wrapped optimizer's keys tell the generation
        return keras_hint(normalize(inner)[0])
    module = optimizer.get("module") or ""
    if "legacy" in module.split(".") or "is_legacy_optimizer" in config or "lr" in config:
        return "2"
    if "loss_scale_factor" in config or "gradient_accumulation_steps" in config:
        return "3"
    decay = config.get("decay")
    if isinstance(decay, (int, float)) and not isinstance(decay, bool) and "weight_decay" not in config:
        return "2"
    return None


def from_json_value(obj: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """Find and normalise the optimizer config in a parsed JSON value (None when there is none)."""
    found = find_optimizer(obj)
    if found is None:
        return None, []
    return normalize(found)


def read(path: Path) -> SourceData:
    """Read an optimizer config JSON file; never raises on bad content (warnings instead)."""
    data = SourceData(path=str(path), kind=KIND)
    loaded = read_json(path, data.warnings, "no optimizer config read")
    if loaded is None:
        return data
    _, parsed = loaded
    optimizer, warnings = from_json_value(parsed)
    data.warnings.extend(f"{path}: {warning}" for warning in warnings)
    if optimizer is None:
        data.warnings.append(f"{path}: no optimizer config (no learning_rate/lr key) in this JSON")
        return data
    data.optimizer = optimizer
    data.keras = keras_hint(optimizer)
    return data


class OptimizerConfigSource(Source):
    """The registered face of this module (see :mod:`lraudit.sources.registry`)."""

    facts = SourceFacts.logging_no_values(KIND, "optimizer config", frozenset({"optimizer"}), 1)
    sniff = staticmethod(sniff)
    read = staticmethod(read)
