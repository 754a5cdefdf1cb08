"""The Keras model JSON the TensorBoard callback stores (tag ``keras``, plugin ``graph_keras_model``).

With ``write_graph=True`` (the default) the callback writes ``model.to_json()`` once, when it is
attached to the model at the start of ``fit()``, as a one-element DT_STRING tensor in the
``train`` event file. What it tells about the learning rate:

* Keras 3 (top-level ``module``/``registered_name``, no ``keras_version``): ``compile_config``
  with the optimizer in ``serialize()`` form *as it was before training* (a float lr is the lr
  variable when ``fit()`` began) and the compile settings, among them the **resolved**
  ``jit_compile``: ``True`` where XLA compiled the train step (JAX's default, TensorFlow only
  when asked or on GPU), ``False`` on TensorFlow's and torch's defaults;
* Keras 2 (``keras_version``, ``backend``): the architecture only, no compile settings.

:func:`read_model_json` turns the text into :class:`ModelJson`; it never raises.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import lraudit.sources.optimizer_config as optimizer_config

#: backends a Keras 2 model JSON may name that lraudit models
_KNOWN_BACKENDS = ("tensorflow", "jax", "torch")


@dataclass
class ModelJson:
    """What one model JSON says about the run (``None``/empty when it does not say)."""

    keras: str | None = None  # "2" | "3"
    backend: str | None = None
    #: optimizer config in the normalised serialize() form, as compiled (before training)
    optimizer: dict[str, Any] | None = None
    #: compile settings except the optimizer (jit_compile, steps_per_execution, loss, ...)
    compile_config: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def generation(config: dict[str, Any]) -> str | None:
    """"2" or "3": Keras 2 writes ``keras_version``; Keras 3 its serialization keys instead."""
    version = config.get("keras_version")
    if isinstance(version, str) and version[:1] in ("2", "3"):
        return version[:1]
    if version is None and "module" in config and "registered_name" in config:
        return "3"
    return None


def read_model_json(text: str | bytes, where: str) -> ModelJson:
    """Parse one model JSON; ``where`` (``file:tag``) prefixes the warnings about bad content."""
    found = ModelJson()
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        config = json.loads(text)
    except ValueError as exc:
        found.warnings.append(f"{where}: the Keras model summary is not valid JSON ({exc}); ignored")
        return found
    if not isinstance(config, dict):
        found.warnings.append(f"{where}: the Keras model summary is not a JSON object; ignored")
        return found
    found.keras = generation(config)
    backend = config.get("backend")
    if isinstance(backend, str) and backend in _KNOWN_BACKENDS:
        found.backend = backend
    compile_config = config.get("compile_config")
    if compile_config is None:
        return found  # Keras 2, or a Keras 3 model that was not compiled
    if not isinstance(compile_config, dict):
        found.warnings.append(f"{where}: compile_config of the Keras model summary is not an object; ignored")
        return found
    found.compile_config = {key: value for key, value in compile_config.items() if key != "optimizer"}
    optimizer, warnings = optimizer_config.from_json_value(compile_config)
    found.warnings.extend(f"{where}: {warning}" for warning in warnings)
    if optimizer is not None:
        found.optimizer = optimizer
    elif compile_config.get("optimizer") is not None and not isinstance(compile_config["optimizer"], str):
        found.warnings.append(f"{where}: compile_config.optimizer holds no optimizer config; ignored")
    return found
