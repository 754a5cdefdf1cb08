"""What a PyTorch training script has bound so far, read statically: imports, constants, objects.

:class:`TorchEnv` is filled statement by statement (in the order the code runs) by
:mod:`lraudit.code.torch_reader`. Constants are folded with :class:`~lraudit.code.values.ConstantFolder`;
besides plain names it knows dotted keys (``args.epochs`` from an ``argparse`` default,
``self.hparams.lr`` from a LightningModule's ``__init__`` default), subscripts of dict literals
(``CONFIG["lr"]``) and ``len(train_loader)`` when the loader's length is known. Nothing is
imported or executed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from lraudit.code.model import CodeCell
from lraudit.code.values import Constant, ConstantFolder, NotConstant, dotted_name
from lraudit.torchfacts import Construction, Unevaluated

#: functions building a tensor whose first dimension is their first argument (or shape tuple)
_TENSOR_BUILDERS = frozenset({"randn", "rand", "zeros", "ones", "empty", "randperm", "full", "normal"})


@dataclass
class Bound:
    """An object the code built and bound to a name: what it is and what is known of it."""

    kind: str  # "optimizer", "scheduler", "loader", "dataset", "tensor", "writer", "parser", ...
    construction: Construction | None = None
    rows: int | None = None  # tensors/datasets: first dimension; loaders: batches per epoch
    location: str | None = None
    #: the variable of the optimizer a scheduler was built on
    optimizer: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Cli:
    """A constant that is an ``argparse`` default: the command line may have given another value."""

    option: str
    location: str


class TorchEnv:
    """Names the code bound so far (flat: module and function scopes share one table)."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}
        self.constants: dict[str, Constant] = {}
        self.cli: dict[str, Cli] = {}
        self.objects: dict[str, Bound] = {}
        #: the last expression assigned to each simple name (list/dict literals are read through it)
        self.exprs: dict[str, ast.expr] = {}
        self.functions: dict[str, tuple[ast.FunctionDef | ast.Lambda, CodeCell]] = {}
        self.classes: dict[str, tuple[ast.ClassDef, CodeCell]] = {}
        self.parsers: dict[str, dict[str, tuple[Any, str, str]]] = {}
        self.folder = ConstantFolder(self.constants.get, self.resolve)

    # ------------------------------------------------------------------ imports
    def add_import(self, node: ast.Import | ast.ImportFrom) -> None:
        """Remember what each imported name stands for (``optim`` -> ``torch.optim``)."""
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.aliases[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    self.aliases[head] = head
            return
        module = node.module or ""
        for alias in node.names:
            if alias.name != "*":
                self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}" if module else alias.name

    def resolve(self, dotted: str) -> str:
        """``np.exp`` -> ``numpy.exp``, ``optim.SGD`` -> ``torch.optim.SGD`` (unknown heads unchanged)."""
        head, _, rest = dotted.partition(".")
        canonical = self.aliases.get(head, head)
        if canonical == "np":
            canonical = "numpy"
        return f"{canonical}.{rest}" if rest else canonical

    def call_name(self, call: ast.Call) -> tuple[str, str] | None:
        """(canonical dotted name, last component) of a call's function, None for ``f()()`` etc."""
        dotted = dotted_name(call.func)
        if dotted is None:
            return None
        canonical = self.resolve(dotted)
        return canonical, canonical.rsplit(".", 1)[-1]

    # ------------------------------------------------------------------ constants
    def key_of(self, node: ast.expr) -> str | None:
        """The table key of a name-like expression: ``a``, ``args.lr``, ``CONFIG['lr']``, ``len(x)``."""
        if isinstance(node, (ast.Name, ast.Attribute)):
            return dotted_name(node)
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            base = self.key_of(node.value)
            return f"{base}[{node.slice.value!r}]" if base is not None else None
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "len"
            and len(node.args) == 1
            and not node.keywords
        ):
            inner = self.key_of(node.args[0])
            return f"len({inner})" if inner is not None else None
        return None

    def fold(self, node: ast.expr) -> Constant:
        """The constant value of ``node`` (raises :class:`NotConstant` with the reason)."""
        return self.folder.fold(_Substitute(self).visit(_copy(node)))

    def value(self, node: ast.expr, cell: CodeCell | None = None) -> Any:
        """A literal for a constant expression; a nested Construction/FunctionRef is the caller's job.

        Anything else becomes :class:`Unevaluated` with its source text.
        """
        try:
            folded = self.fold(node).value
        except NotConstant:
            return Unevaluated(ast.unparse(node))
        return folded

    def bind_constant(self, name: str, node: ast.expr, location: str) -> bool:
        """Bind ``name`` to ``node``'s value when it folds; True when it did."""
        try:
            folded = self.fold(node)
        except NotConstant:
            return False
        self.constants[name] = Constant(folded.value, [location, *folded.citations])
        cli = [self.cli[key] for key in _names_in(node) if key in self.cli]
        if cli:
            self.cli[name] = cli[0]
        elif name in self.cli:
            del self.cli[name]
        return True

    def forget(self, name: str) -> None:
        """``name`` was rebound to something that is not a constant."""
        self.constants.pop(name, None)
        self.cli.pop(name, None)

    def cli_options(self, node: ast.expr) -> list[Cli]:
        """The command-line defaults ``node``'s value depends on."""
        return [self.cli[key] for key in _names_in(node) if key in self.cli]

    def bind_dict(self, name: str, node: ast.Dict, location: str) -> None:
        """``CONFIG = {"lr": 0.1}``: every constant entry becomes ``CONFIG['lr']``."""
        for key, item in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                self.bind_constant(f"{name}[{key.value!r}]", item, location)

    # ------------------------------------------------------------------ objects
    def bound(self, node: ast.expr, kind: str | None = None) -> Bound | None:
        """The object a name-like expression refers to (of ``kind`` when given)."""
        key = self.key_of(node)
        found = self.objects.get(key) if key else None
        if found is not None and (kind is None or found.kind == kind):
            return found
        return None

    def rows_of(self, node: ast.expr) -> int | None:
        """The first dimension of a tensor/dataset expression when the code makes it plain."""
        known = self.bound(node)
        if known is not None and known.kind in ("tensor", "dataset"):
            return known.rows
        if isinstance(node, (ast.List, ast.Tuple)):
            return len(node.elts)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            return self.rows_of(node.left)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
            return self.rows_of(node.left) or self.rows_of(node.right)
        if isinstance(node, ast.Call):
            return self._rows_of_call(node)
        return None

    def _rows_of_call(self, call: ast.Call) -> int | None:
        names = self.call_name(call)
        if names is None:
            return None
        canonical, last = names
        if last in ("range", "arange") and len(call.args) == 1:
            return self._int(call.args[0])
        if last in (
            "tensor",
            "as_tensor",
            "from_numpy",
            "array",
            "asarray",
            "FloatTensor",
            "LongTensor",
            "list",
        ):
            return self.rows_of(call.args[0]) if call.args else None
        if last == "TensorDataset" and call.args:
            return self.rows_of(call.args[0])
        if last == "randint":
            size = _keyword(call, "size") or (call.args[2] if len(call.args) >= 3 else None)
            return self._first_dim(size)
        if last in _TENSOR_BUILDERS and call.args and canonical.startswith(("torch.", "numpy.")):
            return self._first_dim(call.args[0])
        if last in self.classes:
            return self.dataset_length(last, call)
        return None

    def _first_dim(self, node: ast.expr | None) -> int | None:
        if node is None:
            return None
        if isinstance(node, (ast.Tuple, ast.List)):
            return self._int(node.elts[0]) if node.elts else None
        return self._int(node)

    def _int(self, node: ast.expr | None) -> int | None:
        if node is None:
            return None
        try:
            value = self.fold(node).value
        except NotConstant:
            return None
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

    def dataset_length(self, class_name: str, call: ast.Call) -> int | None:
        """``len()`` of ``MyDataset(128)`` when ``__len__`` plainly returns a size built from the arguments.

        Understood: ``return n`` / ``return self.n`` (``self.n = n``), ``return len(self.x)`` where
        ``self.x`` is a tensor built in ``__init__`` from the arguments. Anything else: None.
        """
        node, _ = self.classes[class_name]
        methods = {item.name: item for item in node.body if isinstance(item, ast.FunctionDef)}
        init, length = methods.get("__init__"), methods.get("__len__")
        if init is None or length is None:
            return None
        returned = [
            stmt.value for stmt in length.body if isinstance(stmt, ast.Return) and stmt.value is not None
        ]
        if len(returned) != 1:
            return None
        local = TorchEnv()
        local.aliases = self.aliases
        local.classes = {}
        _bind_call_arguments(local, self, init, call)
        for stmt in init.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                key = local.key_of(stmt.targets[0])
                if key is None:
                    continue
                rows = local.rows_of(stmt.value)
                if rows is not None:
                    local.objects[key] = Bound("tensor", rows=rows)
                local.bind_constant(key, stmt.value, "")
        result = returned[0]
        if (
            isinstance(result, ast.Call)
            and isinstance(result.func, ast.Name)
            and result.func.id == "len"
            and result.args
        ):
            return local.rows_of(result.args[0])
        return local._int(result)


def _bind_call_arguments(local: TorchEnv, outer: TorchEnv, init: ast.FunctionDef, call: ast.Call) -> None:
    """Bind ``__init__``'s parameters (after ``self``) to the call's folded arguments or defaults."""
    params = [arg.arg for arg in init.args.args][1:]
    defaults = init.args.defaults
    for param, default in zip(params[len(params) - len(defaults) :], defaults, strict=True):
        local.bind_constant(param, default, "")
    for param, arg in zip(params, call.args, strict=False):
        try:
            local.constants[param] = outer.fold(arg)
        except NotConstant:
            local.forget(param)
    for keyword in call.keywords:
        if keyword.arg in params:
            try:
                local.constants[keyword.arg] = outer.fold(keyword.value)
            except NotConstant:
                local.forget(keyword.arg)


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def _names_in(node: ast.expr) -> list[str]:
    keys = []
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Name, ast.Attribute)):
            dotted = dotted_name(sub)
            if dotted:
                keys.append(dotted)
    return keys


def _copy(node: ast.expr) -> ast.expr:
    # the substitution rewrites nodes: never touch the caller's tree
    return ast.parse(ast.unparse(node), mode="eval").body if not isinstance(node, ast.Name) else node


class _Substitute(ast.NodeTransformer):
    """Replace name-like expressions bound to constants by a Name the folder looks up."""

    def __init__(self, env: TorchEnv) -> None:
        self.env = env

    def _swap(self, node: ast.expr) -> ast.expr | None:
        key = self.env.key_of(node)
        if key is not None and key in self.env.constants and not isinstance(node, ast.Name):
            return ast.Name(id=key, ctx=ast.Load())
        return None

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        return self._swap(node) or self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        return self._swap(node) or self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> ast.expr:
        return self._swap(node) or self.generic_visit(node)


def ceil_div(numerator: int, denominator: int) -> int:
    """``ceil(a / b)`` on ints, exactly."""
    return -(-numerator // denominator) if denominator else 0


__all__ = ["Bound", "Cli", "TorchEnv", "ceil_div"]
