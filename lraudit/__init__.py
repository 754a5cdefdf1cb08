"""lraudit: reconstruct the learning rate Keras really applied and audit what the logs say.

The public API is imported lazily (on first attribute access), so ``lraudit --help`` stays fast:
``lraudit.load_run(path)``, ``lraudit.load_runs(paths)``, ``lraudit.parse(path)`` (a DataFrame of
every logged scalar and event), ``lraudit.timeline(path, optimizer=..., ...)`` (a DataFrame with
one row per optimizer update), ``lraudit.audit(paths, ...)`` and the ``Run``/``Fit`` dataclasses.
"""
from __future__ import annotations

from typing import Any

__version__ = "1.0.0"

#: public name -> module that defines it
_EXPORTS = {
    "load_run": "lraudit.api",
    "load_runs": "lraudit.api",
    "parse": "lraudit.api",
    "parse_to_file": "lraudit.api",
    "Run": "lraudit.run",
    "Fit": "lraudit.run",
    "SavedCounter": "lraudit.run",
    "build_run": "lraudit.run",
}
#: public functions that share their name with a module: the module itself is callable
_CALLABLE_MODULES = {"timeline": "lraudit.timeline", "audit": "lraudit.audit"}

__all__ = ["__version__", *_EXPORTS, *_CALLABLE_MODULES]


def __getattr__(name: str) -> Any:
    import importlib

    if name in _CALLABLE_MODULES:
        return importlib.import_module(_CALLABLE_MODULES[name])
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'lraudit' has no attribute {name!r}")

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | set(_CALLABLE_MODULES))
