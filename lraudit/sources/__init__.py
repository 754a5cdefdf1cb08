"""Input sources: each module reads one kind of file, recognised by content (never by name).

:func:`source_modules` is the registry, in the order files are tried: binary containers first
(saved models, TensorBoard event files), then the JSON kinds (a notebook first: its
``{"cells": [...]`` would otherwise pass for a History layout; an optimizer config before a
History, whose sniffs exclude each other anyway), CSVLogger files, and the console last
because console output is the most free-form text. :func:`sniff_file` gives the first module
whose ``sniff`` accepts a file's first :data:`~lraudit.sources.base.SNIFF_BYTES` bytes.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from lraudit.sources.base import SNIFF_BYTES

#: source modules in the order they are tried
SOURCE_MODULE_NAMES = (
    "models", "tfevents", "notebook", "optimizer_config", "history", "csvlogger", "console",
)


def source_modules() -> list[ModuleType]:
    """The source modules, in the order they are tried."""
    return [importlib.import_module(f"lraudit.sources.{name}") for name in SOURCE_MODULE_NAMES]


def read_prefix(path: Path) -> bytes:
    """The first :data:`SNIFF_BYTES` of a file (what a sniff may look at)."""
    with open(path, "rb") as handle:
        return handle.read(SNIFF_BYTES)


def sniff_prefix(prefix: bytes, path: Path) -> ModuleType | None:
    """The first source module that recognises ``prefix``, or None."""
    for module in source_modules():
        try:
            if module.sniff(prefix, path):
                return module
        except Exception:  # a sniff must not take the run down: treat as "not this kind"
            continue
    return None


def sniff_file(path: Path) -> ModuleType | None:
    """The source module that reads ``path``, or None when nothing recognises its content."""
    try:
        prefix = read_prefix(path)
    except OSError:
        return None
    if not prefix:
        return None
    return sniff_prefix(prefix, Path(path))
