"""The Keras 3 backend the code chose: ``os.environ["KERAS_BACKEND"] = "torch"`` before ``import keras``.

Keras 3 reads ``KERAS_BACKEND`` once, when ``keras`` is first imported; notebooks (Colab, Kaggle)
set it in their first cell. Read statically: assignments and ``os.environ.setdefault`` with a
literal value, and IPython's ``%env KERAS_BACKEND=jax`` line magic, in execution order. A value
set after ``keras`` was imported changes nothing, so only settings before the first import count.
"""
from __future__ import annotations

import ast
import re

from lraudit.code.model import CodeCell

_VARIABLE = "KERAS_BACKEND"
_BACKENDS = frozenset({"tensorflow", "jax", "torch", "numpy", "openvino"})
_ENV_MAGIC = re.compile(r"^\s*%env\s+KERAS_BACKEND(?:\s*=\s*|\s+)['\"]?(\w+)['\"]?\s*$", re.MULTILINE)


def _is_environ(node: ast.expr) -> bool:
    """``os.environ`` or a bare ``environ`` (``from os import environ``)."""
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _setting(node: ast.AST) -> str | None:
    """The backend a statement sets, if it sets ``KERAS_BACKEND`` to a literal."""
    if isinstance(node, ast.Assign):
        for target in node.targets:
            if (
                isinstance(target, ast.Subscript)
                and _is_environ(target.value)
                and _literal(target.slice) == _VARIABLE
            ):
                return _literal(node.value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and len(node.args) == 2:
        owner, method = node.func.value, node.func.attr
        sets_environment = (method == "setdefault" and _is_environ(owner)) or (
            method == "putenv" and isinstance(owner, ast.Name) and owner.id == "os"
        )
        if sets_environment and _literal(node.args[0]) == _VARIABLE:
            return _literal(node.args[1])
    return None


def _imports_keras(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] == "keras" for alias in node.names)
    return isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "keras"


def keras_backend(cells: list[tuple[CodeCell, ast.Module]]) -> tuple[str, str] | None:
    """``(backend, where)`` set before Keras was first imported, else None.

    ``cells`` are in execution order with their parsed trees.
    """
    chosen: tuple[str, str] | None = None
    for cell, tree in cells:
        magic = _ENV_MAGIC.search(cell.text)
        if magic is not None and magic.group(1) in _BACKENDS:
            line = cell.text[: magic.start(1)].count("\n") + 1
            chosen = (magic.group(1), f"{cell.label}:line {line}")
        for statement in tree.body:
            for node in ast.walk(statement):
                value = _setting(node)
                if value in _BACKENDS:
                    chosen = (value, f"{cell.label}:line {getattr(node, 'lineno', statement.lineno)}")
            if _imports_keras(statement):
                return chosen  # Keras read the variable here: later settings change nothing
    return chosen


__all__ = ["keras_backend"]
