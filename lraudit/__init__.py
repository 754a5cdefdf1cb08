"""lraudit: reconstruct the learning rate Keras or PyTorch (Transformers, Lightning) really applied,
and audit what the logs say.

The library API is four plain functions (:mod:`lraudit.api`): ``lraudit.parse(path)`` (a
DataFrame of every logged scalar and event), ``lraudit.load_run(path)`` (a :class:`Run`),
``lraudit.timeline(path, optimizer=..., ...)`` (a DataFrame with one row per optimizer update)
and ``lraudit.audit(paths, ...)`` (an ``AuditResult``); ``lraudit.load_timeline`` gives the
whole :class:`Timeline` (frame, joined logged values, notes). Errors are :class:`LrauditError`
subclasses. :mod:`lraudit.api` imports its heavy dependencies inside the functions, so
``import lraudit`` (and ``lraudit --help``) stays fast; the dataclasses load on first access.
"""
from __future__ import annotations

from typing import Any

from lraudit.api import (
    audit,
    build_run,
    load_run,
    load_runs,
    load_timeline,
    parse,
    parse_to_file,
    run_options,
    timeline,
)
from lraudit.errors import InputError, LrauditError, UsageError

__version__ = "1.0.0"

#: dataclasses exported lazily (their modules import pandas): name -> module that defines it
_LAZY_EXPORTS = {
    "Run": "lraudit.run",
    "Fit": "lraudit.run",
    "SavedCounter": "lraudit.run",
    "Timeline": "lraudit.reconstruction",
    "AuditResult": "lraudit.auditing",
    "RunAudit": "lraudit.auditing",
    "RunOptions": "lraudit.options",
}

__all__ = [
    "InputError",
    "LrauditError",
    "UsageError",
    "__version__",
    "audit",
    "build_run",
    "load_run",
    "load_runs",
    "load_timeline",
    "parse",
    "parse_to_file",
    "run_options",
    "timeline",
    *_LAZY_EXPORTS,
]


def __getattr__(name: str) -> Any:
    import importlib

    module_name = _LAZY_EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'lraudit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_EXPORTS))
