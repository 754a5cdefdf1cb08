"""PyTorch, Hugging Face Transformers and Lightning training code read statically into :class:`TorchFacts`.

:func:`read_torch_code` walks the code cells (or a script) statement by statement, in the order
they run, keeping a :class:`~lraudit.code.torch_env.TorchEnv` of what is bound: constants (folded
by :class:`~lraudit.code.values.ConstantFolder`), ``argparse`` defaults, tensors/datasets/loaders
and their sizes, optimizers and schedulers (:class:`~lraudit.torchfacts.Construction`). The
hand-written loop is read by :class:`~lraudit.code.torch_loop.LoopReader`. The code is never
imported or executed. None when the code builds no torch optimizer, no HF ``Trainer`` and no
LightningModule (Keras code, data scripts).
"""

from __future__ import annotations

import ast
import contextlib
import re
from typing import Any

from lraudit.code.cells import parse_cell
from lraudit.code.model import CodeCell
from lraudit.code.torch_env import Bound, TorchEnv, ceil_div
from lraudit.code.torch_frameworks import FrameworkReader
from lraudit.code.torch_loop import LoopReader, LoopResult
from lraudit.code.values import NotConstant
from lraudit.semantics.torch.signatures import (
    OPTIMIZER_PARAMETERS,
    SCHEDULER_PARAMETERS,
    bind_arguments,
)
from lraudit.torchfacts import Construction, FunctionRef, TorchFacts, Unevaluated

#: Hugging Face schedule functions (``transformers.get_*_schedule*``): parameters after ``optimizer``
HF_SCHEDULE_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "get_constant_schedule": ("last_epoch",),
    "get_constant_schedule_with_warmup": ("num_warmup_steps", "last_epoch"),
    "get_linear_schedule_with_warmup": ("num_warmup_steps", "num_training_steps", "last_epoch"),
    "get_cosine_schedule_with_warmup": ("num_warmup_steps", "num_training_steps", "num_cycles", "last_epoch"),
    "get_cosine_with_hard_restarts_schedule_with_warmup": (
        "num_warmup_steps",
        "num_training_steps",
        "num_cycles",
        "last_epoch",
    ),
    "get_polynomial_decay_schedule_with_warmup": (
        "num_warmup_steps",
        "num_training_steps",
        "lr_end",
        "power",
        "last_epoch",
    ),
    "get_inverse_sqrt_schedule": ("num_warmup_steps", "timescale", "last_epoch"),
    "get_wsd_schedule": ("num_warmup_steps", "num_decay_steps", "num_training_steps", "num_stable_steps"),
}
_PIP_VERSION = re.compile(r"\b(torch|transformers|lightning|pytorch[-_]lightning)==([\w.+]+)")


def read_torch_code(cells: list[CodeCell]) -> TorchFacts | None:
    """The PyTorch-ecosystem training facts of ``cells`` (in execution order); None when none train.

    Never raises on bad code: a cell that does not parse is skipped with a warning in
    ``facts.warnings`` (the other cells are read).
    """
    reader = _TorchReader()
    for cell in cells:
        reader.read_cell(cell)
    return reader.facts()


class _TorchReader:
    """Statement-by-statement walk over all cells, filling a :class:`TorchEnv`."""

    def __init__(self) -> None:
        self.env = TorchEnv()
        self.warnings: list[str] = []
        self.evidence: list[str] = []
        self.versions: dict[str, str] = {}
        self.optimizers: list[tuple[str | None, Construction, ast.Call]] = []
        self.param_groups: dict[int, tuple[int | None, list[Any] | None]] = {}
        self.schedulers: list[tuple[Construction, str | None]] = []
        self.loops: list[LoopResult] = []
        self.loop_reader = LoopReader(self.env)
        self.frameworks = FrameworkReader(self)
        self.resume: dict[str, Any] = {}
        self._checkpoints: set[str] = set()

    # ------------------------------------------------------------------ cells and statements
    def read_cell(self, cell: CodeCell) -> None:
        for match in _PIP_VERSION.finditer(cell.text):
            self.versions[match.group(1).replace("_", "-").replace("pytorch-lightning", "lightning")] = (
                match.group(2)
            )
        tree = parse_cell(cell, self.warnings)
        if tree is not None:
            self.walk(tree.body, cell, conditional=False)

    def walk(self, stmts: list[ast.stmt], cell: CodeCell, conditional: bool) -> None:
        for stmt in stmts:
            try:
                self.statement(stmt, cell, conditional)
            except RecursionError:
                self.warnings.append(f"{cell.location(stmt.lineno)}: statement too deeply nested; skipped")

    def statement(self, stmt: ast.stmt, cell: CodeCell, conditional: bool) -> None:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self.env.add_import(stmt)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.env.functions[stmt.name] = (stmt, cell)
            self._parameter_defaults(stmt, cell)
            self.walk(stmt.body, cell, conditional=True)
        elif isinstance(stmt, ast.ClassDef):
            self.env.classes[stmt.name] = (stmt, cell)
            self.frameworks.class_defined(stmt, cell)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            self.assignment(stmt, cell, conditional)
        elif isinstance(stmt, ast.Expr):
            self.expression(stmt.value, cell)
        elif isinstance(stmt, (ast.For, ast.While, ast.AsyncFor)):
            self.loop(stmt, cell)
        elif isinstance(stmt, ast.If):
            self._if(stmt, cell, conditional)
        elif isinstance(stmt, (ast.With, ast.AsyncWith, ast.Try)):
            for name in ("body", "orelse", "finalbody"):
                self.walk(getattr(stmt, name, []) or [], cell, conditional)
            for handler in getattr(stmt, "handlers", []):
                self.walk(handler.body, cell, True)
        elif isinstance(stmt, ast.Return) and stmt.value is not None:
            self.expression(stmt.value, cell)

    def _parameter_defaults(self, function: ast.FunctionDef | ast.AsyncFunctionDef, cell: CodeCell) -> None:
        """``def main(epochs=10)``: a default is the value unless a call says otherwise."""
        params = function.args.args[len(function.args.args) - len(function.args.defaults) :]
        for param, default in zip(params, function.args.defaults, strict=True):
            if param.arg not in self.env.constants:
                self.env.bind_constant(param.arg, default, cell.location(default.lineno))

    def _if(self, stmt: ast.If, cell: CodeCell, conditional: bool) -> None:
        try:
            if self.env.cli_options(stmt.test):  # a command-line option: either branch may run
                raise NotConstant("command-line option")
            taken = self.env.fold(stmt.test).value
        except NotConstant:
            self.walk(stmt.body, cell, True)
            self.walk(stmt.orelse, cell, True)
            return
        self.walk(stmt.body if taken else stmt.orelse, cell, conditional)

    def loop(self, stmt: ast.For | ast.While | ast.AsyncFor, cell: CodeCell) -> None:
        result = self.loop_reader.read(stmt, cell)
        if result is None:
            self.walk(stmt.body, cell, True)
            return
        self.loops.append(result)

    # ------------------------------------------------------------------ assignments
    def assignment(
        self, stmt: ast.Assign | ast.AnnAssign | ast.AugAssign, cell: CodeCell, conditional: bool
    ) -> None:
        location = cell.location(stmt.lineno)
        if isinstance(stmt, ast.AugAssign):
            key = self.env.key_of(stmt.target)
            if key is not None:
                self.env.forget(key)
            return
        if stmt.value is None:
            return
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        for target in targets:
            if (
                isinstance(target, (ast.Tuple, ast.List))
                and isinstance(stmt.value, (ast.Tuple, ast.List))
                and (len(target.elts) == len(stmt.value.elts))
            ):
                for sub_target, sub_value in zip(target.elts, stmt.value.elts, strict=True):
                    self.bind(sub_target, sub_value, location, cell, conditional)
            elif isinstance(target, (ast.Tuple, ast.List)):
                self.expression(stmt.value, cell)
                for sub_target in target.elts:
                    key = self.env.key_of(sub_target)
                    if key and not conditional:
                        self.env.forget(key)
            else:
                self.bind(target, stmt.value, location, cell, conditional)

    def bind(
        self, target: ast.expr, value: ast.expr, location: str, cell: CodeCell, conditional: bool
    ) -> None:
        """``target = value``: an object, a constant, or nothing known."""
        key = self.env.key_of(target)
        bound = self.expression(value, cell, variable=key)
        if key is None:
            return
        self.env.exprs[key] = value
        if bound is not None:
            self.env.objects[key] = bound
            if bound.kind == "loader" and bound.rows is not None:
                self.env.constants[f"len({key})"] = _constant(bound.rows, location)
            if bound.kind in ("tensor", "dataset") and bound.rows is not None:
                self.env.constants[f"len({key})"] = _constant(bound.rows, location)
            return
        rows = self.env.rows_of(value)
        if rows is not None:
            self.env.objects[key] = Bound("tensor", rows=rows, location=location)
            self.env.constants[f"len({key})"] = _constant(rows, location)
        if isinstance(value, ast.Dict):
            self.env.bind_dict(key, value, location)
        if conditional and key in self.env.constants:
            return  # a branch may not run: the value bound outside it still holds on the other path
        if not self.env.bind_constant(key, value, location):
            self.env.forget(key)

    # ------------------------------------------------------------------ calls
    def expression(self, node: ast.expr, cell: CodeCell, variable: str | None = None) -> Bound | None:
        """Note every construction in ``node``; the Bound of ``node`` itself when it is one."""
        if not isinstance(node, ast.Call):
            for sub in ast.iter_child_nodes(node):
                if isinstance(sub, ast.expr):
                    self.expression(sub, cell)
            return None
        return self.call(node, cell, variable)

    def call(self, call: ast.Call, cell: CodeCell, variable: str | None) -> Bound | None:
        names = self.env.call_name(call)
        location = cell.location(call.lineno)
        if names is None:
            return None
        canonical, last = names
        if self._is_optimizer(canonical, last):
            return self.optimizer(call, last, location, variable)
        if self._is_scheduler(canonical, last):
            return self.scheduler(call, last, location, variable, cell)
        handled = self.frameworks.call(call, canonical, last, location, variable, cell)
        if handled is not False:
            return handled  # type: ignore[return-value]
        return self._plain_call(call, canonical, last, location, variable, cell)

    def _plain_call(
        self, call: ast.Call, canonical: str, last: str, location: str, variable: str | None, cell: CodeCell
    ) -> Bound | None:
        if last == "DataLoader":
            return self.loader(call, location)
        if last == "TensorDataset" or last in self.env.classes:
            rows = self.env.rows_of(call)
            return Bound("dataset", rows=rows, location=location) if rows is not None else None
        if last == "SummaryWriter":
            return Bound("writer", location=location)
        if last == "ArgumentParser":
            if variable:
                self.env.parsers[variable] = {}
            return Bound("parser", location=location)
        if last == "add_argument" and isinstance(call.func, ast.Attribute):
            self._argument(call, location)
        if last in ("parse_args", "parse_known_args") and variable:
            self._parsed(variable)
        if last == "load" and canonical.startswith("torch."):
            self.resume.setdefault("location", location)
            options = [cli.option for arg in call.args for cli in self.env.cli_options(arg)]
            if options:
                self.resume.setdefault("argument", options[0])
            if variable:
                self._checkpoints.add(variable)
            return None
        if last == "load_state_dict" and isinstance(call.func, ast.Attribute):
            self._load_state(call, location)
        return None

    @staticmethod
    def _is_optimizer(canonical: str, last: str) -> bool:
        if last not in OPTIMIZER_PARAMETERS:
            return False
        return (
            canonical.startswith(("torch.optim", "transformers", "timm", "apex", "bitsandbytes"))
            or canonical == last
        )

    @staticmethod
    def _is_scheduler(canonical: str, last: str) -> bool:
        return (last in SCHEDULER_PARAMETERS and ("lr_scheduler" in canonical or canonical == last)) or (
            last in HF_SCHEDULE_FUNCTIONS or last == "get_scheduler"
        )

    # ------------------------------------------------------------------ optimizer and schedulers
    def optimizer(self, call: ast.Call, name: str, location: str, variable: str | None) -> Bound:
        positional = list(call.args[1:])
        keywords = {kw.arg: kw.value for kw in call.keywords if kw.arg and kw.arg != "params"}
        params = (
            call.args[0]
            if call.args
            else next((kw.value for kw in call.keywords if kw.arg == "params"), None)
        )
        bound_nodes = bind_arguments(name, positional, keywords)
        kwargs = {key: self.value(node) for key, node in bound_nodes.items()}
        construction = Construction(name, kwargs, location, variable)
        self.optimizers.append((variable, construction, call))
        self.param_groups[id(construction)] = self._groups(params, kwargs.get("lr"))
        return Bound("optimizer", construction=construction, location=location)

    def _groups(self, params: ast.expr | None, default_lr: Any) -> tuple[int | None, list[Any] | None]:
        """(group count, per-group lrs) of an optimizer's first argument."""
        if isinstance(params, ast.Name) and isinstance(self.env.exprs.get(params.id), (ast.List, ast.Tuple)):
            params = self.env.exprs[params.id]
        if (
            isinstance(params, (ast.List, ast.Tuple))
            and params.elts
            and all(isinstance(item, ast.Dict) for item in params.elts)
        ):
            lrs = []
            for group in params.elts:
                entries = {
                    key.value: item
                    for key, item in zip(group.keys, group.values, strict=True)  # type: ignore[union-attr]
                    if isinstance(key, ast.Constant)
                }
                lrs.append(self.value(entries["lr"]) if "lr" in entries else default_lr)
            return len(params.elts), lrs
        if isinstance(params, (ast.ListComp, ast.Name)) and not _is_parameters_call(params):
            return None, None
        return 1, None

    def scheduler(
        self, call: ast.Call, name: str, location: str, variable: str | None, cell: CodeCell
    ) -> Bound:
        args = list(call.args)
        keywords = {kw.arg: kw.value for kw in call.keywords if kw.arg}
        optimizer_node: ast.expr | None = keywords.pop("optimizer", None)
        if name == "get_scheduler":
            names = (
                "name",
                "optimizer",
                "num_warmup_steps",
                "num_training_steps",
                "scheduler_specific_kwargs",
            )
            bound_nodes = dict(zip(names, args, strict=False))
            bound_nodes.update(keywords)
            optimizer_node = bound_nodes.pop("optimizer", optimizer_node)
        elif name in HF_SCHEDULE_FUNCTIONS:
            if optimizer_node is None and args:
                optimizer_node = args.pop(0)
            bound_nodes = dict(zip(HF_SCHEDULE_FUNCTIONS[name], args, strict=False))
            bound_nodes.update(keywords)
        else:
            if name != "ChainedScheduler" and optimizer_node is None and args:
                optimizer_node = args.pop(0)
            bound_nodes = bind_arguments(name, args, keywords)
        kwargs = {key: self.scheduler_argument(key, node, cell) for key, node in bound_nodes.items()}
        construction = Construction(name, kwargs, location, variable)
        optimizer = self.env.key_of(optimizer_node) if optimizer_node is not None else None
        self.schedulers.append((construction, optimizer))
        return Bound("scheduler", construction=construction, location=location, optimizer=optimizer)

    def scheduler_argument(self, key: str, node: ast.expr, cell: CodeCell) -> Any:
        """A scheduler argument: nested schedulers, lr_lambda functions, or a folded value."""
        if key == "schedulers" and isinstance(node, (ast.List, ast.Tuple)):
            return [self._nested_scheduler(item, cell) for item in node.elts]
        if key in ("lr_lambda", "scale_fn"):
            if isinstance(node, (ast.List, ast.Tuple)):
                return [self.function_ref(item, cell) for item in node.elts]
            return self.function_ref(node, cell)
        return self.value(node)

    def _nested_scheduler(self, node: ast.expr, cell: CodeCell) -> Any:
        if isinstance(node, ast.Call):
            made = self.call(node, cell, None)
            if made is not None and made.construction is not None:
                return made.construction
        bound = self.env.bound(node, "scheduler")
        if bound is not None and bound.construction is not None:
            return bound.construction
        return Unevaluated(ast.unparse(node))

    def function_ref(self, node: ast.expr, cell: CodeCell) -> FunctionRef | Unevaluated:
        """A ``def`` or ``lambda`` given as ``lr_lambda``, with its source text."""
        if isinstance(node, ast.Lambda):
            return FunctionRef("<lambda>", _source(cell, node), cell.location(node.lineno),
                               self._globals_read(node))
        if isinstance(node, ast.Name) and node.id in self.env.functions:
            function, where = self.env.functions[node.id]
            name = node.id if isinstance(function, ast.FunctionDef) else "<lambda>"
            return FunctionRef(name, _source(where, function), where.location(function.lineno),
                               self._globals_read(function))
        if isinstance(node, ast.Name) and isinstance(self.env.exprs.get(node.id), ast.Lambda):
            function = self.env.exprs[node.id]
            return FunctionRef(node.id, ast.unparse(function), None, self._globals_read(function))
        return Unevaluated(ast.unparse(node))

    def _globals_read(self, function: ast.AST) -> dict[str, Any]:
        """The module constants a function reads (``WARMUP, TOTAL = 4, 30`` above a ``def``), as
        bound when the scheduler is built: the function sees those values when it is called."""
        names = {
            sub.id
            for sub in ast.walk(function)
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id in self.env.constants
        }
        return {name: self.env.constants[name].value for name in sorted(names)}

    def value(self, node: ast.expr) -> Any:
        return self.env.value(node)

    # ------------------------------------------------------------------ data
    def loader(self, call: ast.Call, location: str) -> Bound:
        """``DataLoader(dataset, batch_size=B, drop_last=...)``: batches per epoch when the size is known."""
        dataset = (
            call.args[0]
            if call.args
            else next((kw.value for kw in call.keywords if kw.arg == "dataset"), None)
        )
        keywords = {kw.arg: kw.value for kw in call.keywords if kw.arg}
        size_node = call.args[1] if len(call.args) > 1 else keywords.get("batch_size")
        rows = self.env.rows_of(dataset) if dataset is not None else None
        try:
            batch_size = self.env.fold(size_node).value if size_node is not None else 1
            drop_last = self.env.fold(keywords["drop_last"]).value if "drop_last" in keywords else False
        except NotConstant:
            return Bound("loader", location=location)
        if (
            "batch_sampler" in keywords
            or "sampler" in keywords
            or rows is None
            or not isinstance(batch_size, int)
        ):
            return Bound("loader", location=location, extra={"batch_size": batch_size})
        batches = rows // batch_size if drop_last else ceil_div(rows, batch_size)
        return Bound(
            "loader",
            rows=batches,
            location=location,
            extra={
                "batch_size": batch_size,
                "dataset_rows": rows,
                "drop_last": bool(drop_last),
            },
        )

    # ------------------------------------------------------------------ argparse and resume
    def _argument(self, call: ast.Call, location: str) -> None:
        options = [
            arg.value for arg in call.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
        ]
        keywords = {kw.arg: kw.value for kw in call.keywords if kw.arg}
        longs = [option for option in options if option.startswith("--")] or options
        if not longs:
            return
        dest = (
            keywords["dest"].value
            if isinstance(keywords.get("dest"), ast.Constant)
            # type: ignore[union-attr]
            else (longs[0].lstrip("-").replace("-", "_"))
        )
        parser = self.env.key_of(call.func.value) or ""  # type: ignore[attr-defined]
        default = keywords.get("default")
        kind = keywords.get("type")
        self.env.parsers.setdefault(parser, {})[dest] = (default, longs[0], location, kind)  # type: ignore[assignment]

    def _parsed(self, variable: str) -> None:
        from lraudit.code.torch_env import Cli

        for arguments in self.env.parsers.values():
            for dest, (default, option, location, kind) in arguments.items():  # type: ignore[misc]
                key = f"{variable}.{dest}"
                if default is None or not self.env.bind_constant(key, default, location):
                    continue
                value = self.env.constants[key].value
                kind_name = kind.id if isinstance(kind, ast.Name) else None
                if isinstance(value, str) and kind_name in ("int", "float"):
                    with contextlib.suppress(ValueError):
                        self.env.constants[key].value = int(value) if kind_name == "int" else float(value)
                self.env.cli[key] = Cli(option, location)

    def _load_state(self, call: ast.Call, location: str) -> None:
        receiver = self.env.key_of(call.func.value)  # type: ignore[attr-defined]
        bound = self.env.objects.get(receiver or "")
        source = any(
            isinstance(sub, ast.Name) and sub.id in self._checkpoints
            for arg in call.args
            for sub in ast.walk(arg)
        )
        if bound is None or not (source or self._checkpoints):
            return
        if bound.kind == "scheduler":
            self.resume["loads_scheduler"] = True
            self.resume["scheduler_location"] = location
        elif bound.kind == "optimizer":
            self.resume["loads_optimizer"] = True

    # ------------------------------------------------------------------ the result
    def facts(self) -> TorchFacts | None:
        framework = self.frameworks.framework() or ("pytorch" if self.optimizers else None)
        if framework is None:
            return None
        facts = TorchFacts(framework=framework, versions=dict(self.versions))
        self._optimizer_facts(facts)
        self._loop_facts(facts)
        self.frameworks.fill(facts)
        if self.resume.get("location") and (
            self.resume.get("loads_optimizer") or "loads_scheduler" in self.resume
        ):
            facts.resume = {"loads_scheduler": bool(self.resume.get("loads_scheduler")), **self.resume}
            facts.evidence.append(
                f"resume: torch.load at {self.resume['location']}; scheduler state "
                f"{'loaded' if facts.resume['loads_scheduler'] else 'NOT loaded'}"
            )
        facts.warnings = self.warnings + facts.warnings
        return facts

    def _optimizer_facts(self, facts: TorchFacts) -> None:
        if not self.optimizers:
            return
        stepped_on = {optimizer for _, optimizer in self.schedulers if optimizer}
        chosen = next((item for item in self.optimizers if item[0] in stepped_on), self.optimizers[0])
        facts.optimizer = chosen[1]
        facts.param_groups, lrs = self.param_groups.get(id(chosen[1]), (None, None))
        if lrs is not None and len(set(map(repr, lrs))) > 1:
            facts.group_lrs = lrs
        if len(self.optimizers) > 1:
            facts.warnings.append(
                f"{len(self.optimizers)} optimizers are built; the one at {chosen[1].location} is read"
            )
        facts.evidence.append(f"optimizer: {_describe(chosen[1])} at {chosen[1].location}")
        facts.schedulers = [
            construction
            for construction, optimizer in self.schedulers
            if optimizer is None or optimizer == chosen[0] or chosen[0] is None
        ]
        for construction in facts.schedulers:
            named = f" {construction.variable!r}" if construction.variable else ""
            facts.evidence.append(f"scheduler{named}: {_describe(construction)} at {construction.location}")

    def _loop_facts(self, facts: TorchFacts) -> None:
        if not self.loops:
            return
        inlined = {name for loop in self.loops for name in loop.functions}
        loops = [loop for loop in self.loops if not _inside(loop, inlined, self.env)] or self.loops
        loop = max(loops, key=lambda item: (item.has_epoch_loop, len(item.actions)))
        if len(loops) > 1:
            facts.warnings.append(f"{len(loops)} training loops; the one at {loop.location} is read")
        facts.loop = loop.actions
        facts.warnings.extend(loop.notes)
        facts.epochs = loop.epochs
        if loop.epochs is not None:
            facts.evidence.append(f"epochs: {loop.epochs} ({loop.epochs_evidence})")
        for cli in loop.epochs_cli:
            facts.warnings.append(
                f"epochs = {loop.epochs} is the default of {cli.option} ({cli.location}); a command line "
                f"giving {cli.option} would change it (not knowable from the code)"
            )
        facts.gradient_accumulation_steps = loop.accumulation or 1
        batches = loop.batches
        loader = self.env.objects.get(loop.loader or "")
        if batches is None and loader is not None:
            batches = loader.rows
            if batches is not None:
                extra = loader.extra
                facts.evidence.append(
                    f"batches per epoch: {batches} ({loop.loader}: {extra.get('dataset_rows')} rows, "
                    f"batch_size {extra.get('batch_size')}{', drop_last' if extra.get('drop_last') else ''}; "
                    f"{loader.location})"
                )
        facts.batches_per_epoch = batches
        if batches is not None:
            every = facts.gradient_accumulation_steps
            steps = ceil_div(batches, every) if loop.flushes_last else batches // every
            facts.steps_per_epoch = steps
            facts.steps_per_epoch_evidence = (
                f"{batches} batches per epoch / optimizer.step() every {every} batch(es) ({loop.location})"
            )


def _inside(loop: LoopResult, functions: set[str], env: TorchEnv) -> bool:
    """True when ``loop`` lies in a function another loop calls (read there, in place)."""
    for name in functions:
        found = env.functions.get(name)
        if found is not None and loop.location.startswith(found[1].label):
            node = found[0]
            line = int(loop.location.rsplit(":", 1)[-1].split()[-1])
            if node.lineno <= line <= (node.end_lineno or node.lineno):
                return True
    return False


def _is_parameters_call(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "parameters"
    )


def _source(cell: CodeCell, node: ast.AST) -> str:
    text = ast.get_source_segment(cell.text, node)
    return text if text else ast.unparse(node)


def _constant(value: Any, location: str):
    from lraudit.code.values import Constant

    return Constant(value, [location])


def _describe(construction: Construction) -> str:
    args = ", ".join(f"{key}={_short(value)}" for key, value in construction.kwargs.items())
    return f"{construction.name}({args})"


def _short(value: Any) -> str:
    if isinstance(value, Construction):
        return _describe(value)
    if isinstance(value, FunctionRef):
        return value.name
    if isinstance(value, list):
        return "[" + ", ".join(_short(item) for item in value) + "]"
    return str(value) if isinstance(value, Unevaluated) else repr(value)


def describe_construction(construction: Construction) -> str:
    """``StepLR(step_size=3, gamma=0.5)``: a construction as one line of text."""
    return _describe(construction)
