"""Saved models: ``.h5`` (HDF5) and ``.keras`` (zip) files, read with h5py, never with Keras.

What they hold about the learning rate (reference §7):

* ``.h5``: root attributes ``keras_version``, ``backend`` and ``training_config`` (JSON with
  ``optimizer_config`` and compile arguments); the optimizer's iteration counter is a scalar
  dataset in ``optimizer_weights`` named ``iterations`` (standalone Keras), ``iter``
  (OptimizerV2) or ``iteration`` (Keras 3 legacy h5), with or without a ``:0`` suffix.
* ``.keras``: a zip with ``config.json`` (``compile_config.optimizer`` in serialize() form,
  ``steps_per_execution``, ``jit_compile``), ``metadata.json`` (``keras_version``) and
  ``model.weights.h5`` whose ``optimizer/vars/0`` is the raw iteration counter (opened in
  memory with h5py through :class:`io.BytesIO`).

h5py is used because HDF5 is a binary container with B-trees and compressed chunks that cannot
be parsed reasonably by hand; it is a declared dependency. The config is the one at save time,
so ``optimizer_stage`` is ``"saved"``.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import lraudit.sources.optimizer_config as optimizer_config
from lraudit.sources.base import Source, SourceData, SourceFacts

KIND = "models"

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"
_COUNTER_NAMES = ("iterations", "iter", "iteration")


def sniff(prefix: bytes, path: Path) -> bool:
    """True for an HDF5 file, or a zip with a ``config.json`` member (a ``.keras`` model)."""
    if prefix.startswith(HDF5_SIGNATURE):
        return True
    if not prefix.startswith(ZIP_SIGNATURE):
        return False
    if b"config.json" in prefix:
        return True
    try:  # the member may start beyond the prefix: the central directory tells
        with zipfile.ZipFile(path) as archive:
            return "config.json" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _generation(keras_version: str | None) -> str | None:
    if not keras_version:
        return None
    major = keras_version.strip().split(".")[0]
    return major if major in ("2", "3") else None


def _find_counter(group: Any) -> int | None:
    """The iteration counter: a scalar dataset named iterations/iter/iteration under ``group``."""
    import h5py

    found: list[int] = []

    def visit(name: str, obj: Any) -> None:
        if found or not isinstance(obj, h5py.Dataset) or obj.shape not in ((), (1,)):
            return
        if name.rsplit("/", 1)[-1].split(":")[0] in _COUNTER_NAMES:
            found.append(int(obj[()].item() if hasattr(obj[()], "item") else obj[()]))

    group.visititems(visit)
    return found[0] if found else None


def _set_optimizer(data: SourceData, obj: Any, where: str) -> None:
    optimizer, warnings = optimizer_config.from_json_value(obj)
    data.warnings.extend(f"{data.path}: {warning}" for warning in warnings)
    if optimizer is None:
        data.warnings.append(f"{data.path}: no optimizer config in {where}")
        return
    data.optimizer = optimizer
    data.optimizer_stage = "saved"
    data.keras = data.keras or optimizer_config.keras_hint(optimizer)


def _compile_settings(config: dict[str, Any], skip: str) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key != skip}


def _read_h5(path: Path, data: SourceData) -> None:
    import h5py

    with h5py.File(path, "r") as handle:
        data.keras = _generation(_text(handle.attrs.get("keras_version")))
        data.backend = _text(handle.attrs.get("backend"))
        training = _text(handle.attrs.get("training_config"))
        if training:
            try:
                config = json.loads(training)
            except ValueError as exc:
                data.warnings.append(f"{path}: training_config is not valid JSON ({exc})")
            else:
                _set_optimizer(data, config, "training_config")
                if isinstance(config, dict):
                    data.compile_config = _compile_settings(config, "optimizer_config")
        else:
            data.warnings.append(f"{path}: no training_config (model saved without compile)")
        if "optimizer_weights" in handle:
            data.iterations = _find_counter(handle["optimizer_weights"])
        if data.iterations is None:
            data.warnings.append(f"{path}: no optimizer iteration counter stored")


def _read_keras_zip(path: Path, data: SourceData) -> None:
    import h5py

    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if "metadata.json" in names:
            try:
                metadata = json.loads(archive.read("metadata.json"))
                data.keras = _generation(str(metadata.get("keras_version", "")))
            except (ValueError, AttributeError) as exc:
                data.warnings.append(f"{path}: metadata.json unreadable ({exc})")
        try:
            config = json.loads(archive.read("config.json"))
        except (KeyError, ValueError) as exc:
            data.warnings.append(f"{path}: config.json unreadable ({exc})")
            config = {}
        compile_config = config.get("compile_config") if isinstance(config, dict) else None
        if isinstance(compile_config, dict):
            _set_optimizer(data, compile_config, "compile_config")
            data.compile_config = _compile_settings(compile_config, "optimizer")
        else:
            data.warnings.append(f"{path}: no compile_config (model saved without compile)")
        if "model.weights.h5" in names:
            with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as weights:
                counter = weights.get("optimizer/vars/0")
                if isinstance(counter, h5py.Dataset) and counter.shape in ((), (1,)):
                    data.iterations = int(counter[()].item() if hasattr(counter[()], "item") else counter[()])
        if data.iterations is None:
            data.warnings.append(f"{path}: no optimizer iteration counter stored")


def read(path: Path) -> SourceData:
    """Read a saved ``.h5``/``.keras`` model; never raises on bad content (warnings instead)."""
    data = SourceData(path=str(path), kind=KIND)
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(HDF5_SIGNATURE))
        if head.startswith(HDF5_SIGNATURE):
            _read_h5(Path(path), data)
        else:
            _read_keras_zip(Path(path), data)
    except Exception as exc:  # h5py/zipfile raise many types on corrupt files; keep what was read
        data.warnings.append(f"{path}: saved model unreadable ({type(exc).__name__}: {exc})")
    return data


class ModelsSource(Source):
    """The registered face of this module (see :mod:`lraudit.sources.registry`)."""

    # the saved file states its Keras version and backend
    facts = SourceFacts.logging_no_values(
        KIND, "saved model", frozenset({"optimizer", "iterations", "backend"}), hint_rank=0
    )
    sniff = staticmethod(sniff)
    read = staticmethod(read)
