"""Is a ``LearningRateScheduler`` schedule function statically evaluable? Decided on its ``ast``.

Evaluable means: a pure function of ``(epoch)`` or ``(epoch, lr)`` (extra parameters only with
constant defaults) whose body is local assignments, ``if``/``elif``/``else``, ``return`` and
``print(...)`` (ignored), over literals, its parameters, module constants, arithmetic,
comparisons and the whitelisted pure functions of :mod:`lraudit.code.values`. Nested
functions, loops, attribute access to objects, calls of anything else: not evaluable, with the
reason. The function is never called here.
"""
from __future__ import annotations

import ast
from collections.abc import Callable

from lraudit.code.model import ScheduleFunction
from lraudit.code.values import (
    PURE_CONSTANTS,
    PURE_FUNCTIONS,
    Constant,
    ConstantFolder,
    NotConstant,
    dotted_name,
)

_ALLOWED_EXPRESSIONS = (
    ast.Constant, ast.Name, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call,
    ast.Attribute, ast.Load, ast.Store, ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
    ast.keyword, ast.JoinedStr, ast.FormattedValue, ast.Tuple,
)


class _Refused(Exception):
    pass


class _Checker:
    def __init__(
        self, params: list[str], lookup: Callable[[str], Constant | None], resolve: Callable[[str], str]
    ) -> None:
        self.known = set(params)
        self.lookup = lookup
        self.resolve = resolve
        self.constants: dict[str, object] = {}
        self.citations: list[str] = []

    def statements(self, body: list[ast.stmt]) -> None:
        for statement in body:
            self.statement(statement)

    def statement(self, node: ast.stmt) -> None:
        line = getattr(node, "lineno", "?")
        if isinstance(node, ast.Pass):
            return
        if isinstance(node, ast.Expr):
            if isinstance(node.value, ast.Constant):
                return  # docstring
            if isinstance(node.value, ast.Call) and dotted_name(node.value.func) == "print":
                return  # output only; the evaluator skips it
            raise _Refused(f"line {line}: {ast.unparse(node)!r} is a statement with effects")
        if isinstance(node, ast.Return):
            if node.value is None:
                raise _Refused(f"line {line}: returns nothing")
            self.expression(node.value)
            return
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if not all(isinstance(target, ast.Name) for target in targets) or node.value is None:
                raise _Refused(f"line {line}: {ast.unparse(node)!r} assigns something else than a local name")
            if isinstance(node, ast.AugAssign) and node.target.id not in self.known:
                self.expression(node.target)
            self.expression(node.value)
            self.known.update(target.id for target in targets)
            return
        if isinstance(node, ast.If):
            self.expression(node.test)
            self.statements(node.body)
            self.statements(node.orelse)
            return
        kind = type(node).__name__
        raise _Refused(f"line {line}: a {kind} statement (only assignments, if and return are evaluated)")

    def expression(self, node: ast.expr) -> None:
        for child in ast.walk(node):
            if not isinstance(child, _ALLOWED_EXPRESSIONS):
                raise _Refused(f"{ast.unparse(node)!r} uses {type(child).__name__}")
            if isinstance(child, ast.Call):
                self._call(child)
            elif isinstance(child, ast.Attribute):
                self._attribute(child)
            elif isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load):
                self._name(child)
            elif isinstance(child, ast.Constant) and isinstance(child.value, (bytes, complex)):
                raise _Refused(f"{ast.unparse(child)!r} is not a number")

    def _call(self, node: ast.Call) -> None:
        dotted = dotted_name(node.func)
        if dotted != "print" and self.resolve(dotted or "") not in PURE_FUNCTIONS:
            called = ast.unparse(node.func)
            raise _Refused(f"{ast.unparse(node)!r} calls {called}, not a whitelisted math function")

    def _attribute(self, node: ast.Attribute) -> None:
        dotted = dotted_name(node)
        resolved = self.resolve(dotted or "")
        if resolved not in PURE_CONSTANTS and resolved not in PURE_FUNCTIONS:
            raise _Refused(f"{ast.unparse(node)!r} reads an attribute of an object")

    def _name(self, node: ast.Name) -> None:
        name = node.id
        if name in self.known or name in self.constants or name in ("print", "True", "False", "None"):
            return
        if self.resolve(name) in PURE_FUNCTIONS or self.resolve(name) in ("math", "numpy"):
            return  # a whitelisted function, or the module of an attribute checked in _attribute
        bound = self.lookup(name)
        if bound is None:
            raise _Refused(f"it reads {name!r}, which is not a constant of the code read")
        self.constants[name] = bound.value
        self.citations.extend(bound.citations)


def _parameters(
    arguments: ast.arguments, folder: ConstantFolder
) -> tuple[list[str], dict[str, object], list[str]]:
    """Positional parameter names, the constant defaults of the extra ones, and citations."""
    if arguments.vararg or arguments.kwarg or arguments.kwonlyargs:
        raise _Refused("it takes *args, **kwargs or keyword-only parameters")
    params = [arg.arg for arg in arguments.posonlyargs + arguments.args]
    defaults = arguments.defaults
    first_default = len(params) - len(defaults)
    if not params or first_default > 2:
        raise _Refused("Keras calls it with (epoch) or (epoch, lr); it needs other arguments")
    values: dict[str, object] = {}
    citations: list[str] = []
    for name, node in zip(params[first_default:], defaults, strict=True):
        try:
            folded = folder.fold(node)
        except NotConstant as exc:
            raise _Refused(f"the default of {name!r} is not a constant: {exc}") from None
        values[name] = folded.value
        citations.extend(folded.citations)
    return params, values, citations


def analyse_schedule_function(
    node: ast.FunctionDef | ast.Lambda,
    name: str,
    location: str,
    lookup: Callable[[str], Constant | None],
    resolve: Callable[[str], str],
) -> ScheduleFunction:
    """Decide whether the schedule ``node`` can be evaluated safely, without running it."""
    folder = ConstantFolder(lookup, resolve)
    try:
        params, defaults, citations = _parameters(node.args, folder)
    except _Refused as exc:
        return ScheduleFunction(name, location, node, [], evaluable=False, reason=str(exc))
    # Keras 2.2+ passes lr when the function takes two arguments (it tries fn(epoch, lr) first)
    takes_lr = len(params) >= 2
    checker = _Checker(params, lookup, resolve)
    try:
        if isinstance(node, ast.Lambda):
            checker.expression(node.body)
        else:
            if not any(isinstance(child, ast.Return) for child in ast.walk(node)):
                raise _Refused("it has no return statement")
            checker.statements(node.body)
    except _Refused as exc:
        return ScheduleFunction(
            name, location, node, params, evaluable=False, reason=str(exc), takes_lr=takes_lr
        )
    return ScheduleFunction(
        name, location, node, params, evaluable=True,
        constants={**checker.constants, **defaults},
        citations=list(dict.fromkeys(citations + checker.citations)), takes_lr=takes_lr,
    )
