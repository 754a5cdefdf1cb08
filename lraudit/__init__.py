"""lraudit: reconstruct the learning rate Keras really applied and audit what the logs say.

The public API is imported lazily (on first attribute access), so ``lraudit --help`` stays fast:
``lraudit.load_run(path)``, ``lraudit.load_runs(paths)``, ``lraudit.parse(path)`` (a DataFrame of
every logged scalar and event) and the ``Run``/``Fit`` dataclasses.
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

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'lraudit' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
