"""Constant folding of code read with ``ast``: the values a training script really passes.

A value is folded only from literals, names already bound to constants, the arithmetic of
those (``+ - * / // % **`` and unary ``+ -``), comparisons and boolean operators (for ``if``
tests), and a whitelist of pure numeric functions (``math.exp``, ``np.sqrt``, ``min``, ...).
Everything else (``len(x)``, attributes of data objects, calls of user functions) is refused
with a reason naming the expression. Nothing is ever evaluated by Python's ``eval``: each
node is computed here by the operator it names, with guards against huge powers/strings.
"""
from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class NotConstant(Exception):
    """The expression is not a constant; ``args[0]`` says why."""


@dataclass
class Constant:
    """A folded value and the locations of the definitions it was computed from."""

    value: Any
    citations: list[str] = field(default_factory=list)


def _np_unary(function: Callable[[Any], Any]) -> Callable[[float], float]:
    # numpy's scalar ufuncs, widened back to a Python float (the value Keras would receive)
    return lambda x: float(function(np.float64(x)))


#: pure functions by canonical dotted name (``np.`` is resolved to ``numpy.`` by the reader)
PURE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    **{f"math.{name}": getattr(math, name) for name in (
        "exp", "sqrt", "log", "log10", "log2", "pow", "floor", "ceil", "cos", "sin", "tan",
        "fabs", "trunc", "expm1", "log1p",
    )},
    **{f"numpy.{name}": _np_unary(getattr(np, name)) for name in (
        "exp", "sqrt", "log", "log10", "log2", "floor", "ceil", "cos", "sin", "tan", "abs",
        "fabs", "trunc", "expm1", "log1p",
    )},
    "numpy.power": lambda x, y: float(np.power(np.float64(x), np.float64(y))),
    "numpy.float32": lambda x: float(np.float32(x)),
    "numpy.float64": float,
    "abs": abs, "min": min, "max": max, "float": float, "int": int, "round": round, "pow": pow,
}
#: pure constants by canonical dotted name
PURE_CONSTANTS: dict[str, float] = {
    "math.pi": math.pi, "math.e": math.e, "numpy.pi": float(np.pi), "numpy.e": float(np.e),
}

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
}
_MAX_STRING = 10_000
_MAX_INT_BITS = 4096


def _is_number(value: Any) -> bool:
    # bools are ints in Python arithmetic (True * 0.1), so they count
    return isinstance(value, (int, float))


def dotted_name(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of names and attributes, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _guarded_binary(op: ast.operator, left: Any, right: Any, text: str) -> Any:
    """Apply a whitelisted operator to folded operands without risking huge results."""
    function = _BINARY.get(type(op))
    if function is None:
        raise NotConstant(f"{text!r} uses an operator that is not folded")
    both_numbers = _is_number(left) and _is_number(right)
    both_strings = isinstance(left, str) and isinstance(right, str)
    if not (both_numbers or (both_strings and isinstance(op, ast.Add))):
        raise NotConstant(f"{text!r} is not arithmetic on numbers")
    integer_power = isinstance(op, ast.Pow) and isinstance(left, int) and isinstance(right, int)
    if integer_power and right > 0 and abs(left) > 1 and right * abs(left).bit_length() > _MAX_INT_BITS:
        raise NotConstant(f"{text!r} is too large to fold")
    try:
        result = function(left, right)
    except (ArithmeticError, ValueError) as exc:
        raise NotConstant(f"{text!r} cannot be computed ({exc})") from None
    if isinstance(result, complex):
        raise NotConstant(f"{text!r} is not a real number")
    if isinstance(result, str) and len(result) > _MAX_STRING:
        raise NotConstant(f"{text!r} is too long to fold")
    return result


class ConstantFolder:
    """Folds expressions given how to look names up and how to resolve import aliases.

    ``lookup(name)`` returns a :class:`Constant` for a name bound to one, or None;
    ``resolve(dotted)`` maps an alias such as ``np.exp`` to its canonical ``numpy.exp``.
    """

    def __init__(
        self,
        lookup: Callable[[str], Constant | None],
        resolve: Callable[[str], str] = lambda dotted: dotted,
    ) -> None:
        self.lookup = lookup
        self.resolve = resolve

    def fold(self, node: ast.expr) -> Constant:
        """The constant value of ``node``, or :class:`NotConstant` with the reason."""
        citations: list[str] = []
        value = self._fold(node, citations)
        return Constant(value, list(dict.fromkeys(citations)))

    def _fold(self, node: ast.expr, citations: list[str]) -> Any:
        if isinstance(node, ast.Constant):
            if node.value is None or isinstance(node.value, (bool, int, float, str)):
                return node.value
            raise NotConstant(f"{ast.unparse(node)!r} is not a number, string, bool or None")
        if isinstance(node, ast.Name):
            return self._name(node.id, citations)
        if isinstance(node, ast.Attribute):
            dotted = dotted_name(node)
            canonical = self.resolve(dotted) if dotted else None
            if canonical in PURE_CONSTANTS:
                return PURE_CONSTANTS[canonical]
            raise NotConstant(f"{ast.unparse(node)!r} is not a constant")
        if isinstance(node, ast.UnaryOp):
            return self._unary(node, citations)
        if isinstance(node, ast.BinOp):
            left = self._fold(node.left, citations)
            right = self._fold(node.right, citations)
            return _guarded_binary(node.op, left, right, ast.unparse(node))
        if isinstance(node, ast.BoolOp):
            return self._bool(node, citations)
        if isinstance(node, ast.Compare):
            return self._compare(node, citations)
        if isinstance(node, ast.IfExp):
            test = self._fold(node.test, citations)
            return self._fold(node.body if test else node.orelse, citations)
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self._fold(item, citations) for item in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.Dict):
            return self._dict(node, citations)
        if isinstance(node, ast.Call):
            return self._call(node, citations)
        raise NotConstant(f"{ast.unparse(node)!r} is not a literal")

    def _dict(self, node: ast.Dict, citations: list[str]) -> dict[Any, Any]:
        """A dict display of literal keys and values (``lr_scheduler_kwargs={"num_cycles": 2}``)."""
        if any(key is None for key in node.keys):
            raise NotConstant(f"{ast.unparse(node)!r} unpacks another mapping")
        keys = [self._fold(key, citations) for key in node.keys if key is not None]
        if not all(isinstance(key, (str, int, float, bool)) for key in keys):
            raise NotConstant(f"{ast.unparse(node)!r} has a key that is not a literal")
        return dict(zip(keys, (self._fold(value, citations) for value in node.values), strict=True))

    def _unary(self, node: ast.UnaryOp, citations: list[str]) -> Any:
        operand = self._fold(node.operand, citations)
        if isinstance(node.op, ast.Not):
            return not operand
        if isinstance(node.op, (ast.USub, ast.UAdd)) and _is_number(operand):
            return -operand if isinstance(node.op, ast.USub) else +operand
        raise NotConstant(f"{ast.unparse(node)!r} is not arithmetic on numbers")

    def _bool(self, node: ast.BoolOp, citations: list[str]) -> Any:
        values = [self._fold(item, citations) for item in node.values]
        result = values[0]
        for value in values[1:]:
            result = (result and value) if isinstance(node.op, ast.And) else (result or value)
        return result

    def _name(self, name: str, citations: list[str]) -> Any:
        bound = self.lookup(name)
        if bound is None:
            raise NotConstant(f"{name!r} is not a constant")
        citations.extend(bound.citations)
        return bound.value

    def _compare(self, node: ast.Compare, citations: list[str]) -> bool:
        left = self._fold(node.left, citations)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self._fold(right_node, citations)
            function = _COMPARE.get(type(op))
            if function is None:
                raise NotConstant(f"{ast.unparse(node)!r} uses a comparison that is not folded")
            try:
                if not function(left, right):
                    return False
            except TypeError:
                raise NotConstant(f"{ast.unparse(node)!r} compares values of different kinds") from None
            left = right
        return True

    def _call(self, node: ast.Call, citations: list[str]) -> Any:
        dotted = dotted_name(node.func)
        canonical = self.resolve(dotted) if dotted else None
        if canonical == "dict" and not node.args and all(kw.arg for kw in node.keywords):
            # dict(num_cycles=2): the keyword form of a literal mapping
            return {kw.arg: self._fold(kw.value, citations) for kw in node.keywords}
        function = PURE_FUNCTIONS.get(canonical or "")
        if function is None or node.keywords:
            raise NotConstant(f"{ast.unparse(node)!r} is not a literal")
        args = [self._fold(arg, citations) for arg in node.args]
        if not all(_is_number(arg) for arg in args):
            raise NotConstant(f"{ast.unparse(node)!r} has an argument that is not a number")
        if canonical == "pow" and len(args) == 2:  # the builtin on ints: same guard as **
            return _guarded_binary(ast.Pow(), args[0], args[1], ast.unparse(node))
        try:
            result = function(*args)
        except (ArithmeticError, ValueError, TypeError) as exc:
            raise NotConstant(f"{ast.unparse(node)!r} cannot be computed ({exc})") from None
        if isinstance(result, int) and result.bit_length() > _MAX_INT_BITS:
            raise NotConstant(f"{ast.unparse(node)!r} is too large to fold")
        return result
