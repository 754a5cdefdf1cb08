"""A safe evaluator for the schedule functions read from code: the ``ast`` is interpreted, never run.

Only functions that :mod:`lraudit.code.schedule_function` judged evaluable get here: their body
is local assignments, ``if``/``elif``/``else``, ``return`` and ``print`` (skipped), over their
parameters, the module constants they captured, arithmetic, comparisons and whitelisted pure
functions. Each expression is folded by the same :class:`~lraudit.code.values.ConstantFolder`
that reads constants, with the parameters and locals as its names: no Python code of the user's
is compiled or called, so the evaluation cannot have a side effect.
"""
from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from lraudit.code.model import ScheduleFunction
from lraudit.code.values import PURE_CONSTANTS, PURE_FUNCTIONS, Constant, ConstantFolder, NotConstant

#: the module names a schedule's maths is written with, and what they stand for
_MODULE_ALIASES = {"np": "numpy", "numpy": "numpy", "math": "math", "tf.math": "math", "K": "math"}
#: how deep ``if`` blocks may nest before the evaluator gives up (user code is small)
_MAX_STATEMENTS = 10_000


class _Returned(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


def _resolve(dotted: str) -> str:
    """``np.exp`` -> ``numpy.exp``; a bare ``exp`` (``from math import exp``) -> ``math.exp``."""
    head, _, tail = dotted.rpartition(".")
    if head in _MODULE_ALIASES:
        return f"{_MODULE_ALIASES[head]}.{tail}"
    for module in ("math", "numpy"):
        candidate = f"{module}.{dotted}"
        if candidate in PURE_FUNCTIONS or candidate in PURE_CONSTANTS:
            return candidate
    return dotted


class _Interpreter:
    def __init__(self, function: ScheduleFunction, arguments: dict[str, Any]) -> None:
        self.function = function
        self.names: dict[str, Any] = {**function.constants, **arguments}
        self.folder = ConstantFolder(self._lookup, _resolve)
        self.steps = 0

    def _lookup(self, name: str) -> Constant | None:
        if name in self.names:
            return Constant(self.names[name])
        return None

    def value(self, node: ast.expr) -> Any:
        return self.folder.fold(node).value

    def run(self, body: list[ast.stmt]) -> None:
        for statement in body:
            self.steps += 1
            if self.steps > _MAX_STATEMENTS:
                raise NotConstant("too many statements evaluated")
            self.statement(statement)

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Return):
            raise _Returned(None if node.value is None else self.value(node.value))
        if isinstance(node, ast.Assign):
            value = self.value(node.value)
            for target in node.targets:
                if not isinstance(target, ast.Name):
                    raise NotConstant(f"assignment to {ast.unparse(target)!r}")
                self.names[target.id] = value
            return
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            combined = ast.BinOp(left=ast.Name(node.target.id, ast.Load()), op=node.op, right=node.value)
            self.names[node.target.id] = self.value(ast.fix_missing_locations(combined))
            return
        if isinstance(node, ast.If):
            self.run(node.body if self.value(node.test) else node.orelse)
            return
        if isinstance(node, (ast.Pass, ast.Expr)):
            return  # a docstring or print(): output only
        raise NotConstant(f"statement {ast.unparse(node)[:60]!r}")


def evaluate(function: ScheduleFunction, epoch: int, lr: float | None = None) -> Any:
    """The value ``function(epoch[, lr])`` returns, computed from its ``ast`` (never executed).

    Raises :class:`~lraudit.code.values.NotConstant` with the reason when a step cannot be folded.
    """
    if not function.evaluable:
        raise NotConstant(function.reason or f"{function.name} is not statically evaluable")
    node = function.node
    params = list(function.params)
    values: list[Any] = [epoch, lr][: len(params)]
    arguments = dict(zip(params, values, strict=False))
    interpreter = _Interpreter(function, arguments)
    if isinstance(node, ast.Lambda):
        return interpreter.value(node.body)
    try:
        interpreter.run(node.body)
    except _Returned as returned:
        return returned.value
    return None


def schedule_callable(function: ScheduleFunction) -> Callable[..., Any]:
    """A callable standing for the user's schedule, for the LearningRateScheduler replay.

    It takes ``(epoch, lr)`` or ``(epoch)`` as the function's own parameters do; a step that
    cannot be folded raises ``ValueError`` naming the function and where it is defined.
    """

    def schedule(epoch: int, lr: float | None = None) -> Any:
        try:
            return evaluate(function, epoch, lr)
        except NotConstant as exc:
            raise ValueError(f"{function.name} ({function.location}) could not be evaluated: {exc}") from None

    schedule.__name__ = function.name
    return schedule
