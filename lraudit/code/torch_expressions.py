"""Optimizer/scheduler expressions typed on the command line in PyTorch syntax, read with ``ast``.

``"SGD(lr=0.1, momentum=0.9)"``, ``"torch.optim.lr_scheduler.StepLR(step_size=3, gamma=0.5)"``,
``"SequentialLR([LinearLR(start_factor=0.1, total_iters=5), CosineAnnealingLR(T_max=25)], milestones=[5])"``:
module prefixes are dropped, the optimizer argument may be omitted or written ``opt``/``optimizer``,
positional arguments are named by :func:`~lraudit.semantics.torch.signatures.bind_arguments`.
Values must be literals (numbers, strings, lists, ``math.pi``-style constants and their arithmetic).
"""

from __future__ import annotations

import ast
from typing import Any

from lraudit.code.values import ConstantFolder, NotConstant, dotted_name
from lraudit.errors import UsageError
from lraudit.semantics.torch.signatures import OPTIMIZER_PARAMETERS, SCHEDULER_PARAMETERS, bind_arguments
from lraudit.torchfacts import Construction, FunctionRef

_OPTIMIZER_NAMES = ("opt", "optimizer", "optim", "params", "model.parameters()")
_KINDS = ("optimizer", "scheduler")
_FOLDER = ConstantFolder(
    lambda name: None, lambda dotted: "numpy" + dotted[2:] if dotted.startswith("np.") else dotted
)


def parse_torch_construction(text: str, kind: str) -> Construction:
    """The :class:`Construction` a command-line expression describes; UsageError naming the problem."""
    if kind not in _KINDS:
        raise UsageError(f"kind must be one of {', '.join(_KINDS)}, not {kind!r}")
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise UsageError(f"{kind} {text!r} is not a Python expression ({exc.msg})", argument=kind) from None
    return _construction(node, kind, text)


def _construction(node: ast.expr, kind: str, text: str) -> Construction:
    if not isinstance(node, ast.Call):
        raise UsageError(f"{kind} {text!r} must be a call such as StepLR(step_size=3)", argument=kind)
    dotted = dotted_name(node.func)
    if dotted is None:
        raise UsageError(f"{kind} {text!r}: {ast.unparse(node.func)!r} is not a class name", argument=kind)
    name = dotted.rsplit(".", 1)[-1]
    table = OPTIMIZER_PARAMETERS if kind == "optimizer" else SCHEDULER_PARAMETERS
    if name not in table:
        known = ", ".join(sorted(table))
        raise UsageError(f"{kind} {name!r} is not a PyTorch {kind} class (known: {known})", argument=kind)
    args = list(node.args)
    if args and name != "ChainedScheduler" and ast.unparse(args[0]) in _OPTIMIZER_NAMES:
        args = args[1:]
    keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg and kw.arg not in ("optimizer", "params")}
    if any(kw.arg is None for kw in node.keywords):
        raise UsageError(f"{kind} {text!r}: **kwargs cannot be read", argument=kind)
    bound = bind_arguments(name, args, keywords)
    unknown = [key for key in bound if key.startswith("*")]
    if unknown:
        raise UsageError(f"{kind} {name}: too many positional arguments in {text!r}", argument=kind)
    kwargs = {key: _value(key, value, kind, text) for key, value in bound.items()}
    return Construction(name, kwargs, location="command line")


def _value(key: str, node: ast.expr, kind: str, text: str) -> Any:
    if key == "schedulers" and isinstance(node, (ast.List, ast.Tuple)):
        return [_construction(item, "scheduler", text) for item in node.elts]
    if isinstance(node, ast.Lambda):
        return FunctionRef("<lambda>", ast.unparse(node), "command line")
    try:
        return _FOLDER.fold(node).value
    except NotConstant as exc:
        raise UsageError(
            f"{kind} {text!r}: {key}={ast.unparse(node)} is not a literal ({exc.args[0]})", argument=kind
        ) from None
