"""Reading training code statically: which optimizer, callbacks and ``fit`` arguments each training had.

:func:`read_code` walks the code cells (in execution order) with :mod:`ast` as a small abstract
interpreter: names bound to constants are folded (:mod:`lraudit.code.values`), optimizer,
schedule and callback constructions go through the ``--optimizer``/``--callback`` whitelist
(:mod:`lraudit.semantics.expressions`) with the folded values substituted, models are tracked
by object (a name rebound to a new model is a new model), ``compile`` attaches an optimizer
object to a model, and each ``fit``/``fit_generator`` becomes a :class:`CodeFit` linked to the
compile before it. ``for`` loops over constant ranges/lists are unrolled, ``if`` tests that
fold pick their branch, and functions that train are followed where they are called.

Nothing is imported or executed: the only computation is constant folding of literals.
"""
from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from lraudit.code.backend import keras_backend
from lraudit.code.cells import execution_order, parse_cell
from lraudit.code.model import (
    CallbackRecord,
    CodeCell,
    CodeFacts,
    CodeFit,
    CodeMarker,
    FitArgument,
    LrChange,
    OptimizerRecord,
    ScheduleFunction,
)
from lraudit.code.schedule_function import analyse_schedule_function
from lraudit.code.values import (
    PURE_CONSTANTS,
    PURE_FUNCTIONS,
    Constant,
    ConstantFolder,
    NotConstant,
    dotted_name,
)
from lraudit.errors import UsageError
from lraudit.semantics.expressions import (
    CALLBACK_SIGNATURES,
    OPTIMIZER_SIGNATURES,
    SCHEDULE_SIGNATURES,
    classify_class,
    parse_callback_expr,
    parse_optimizer_expr,
    parse_schedule_expr,
)
from lraudit.semantics.specs import CallbackSpec, ScheduleSpec

#: ``compile(optimizer='adam')`` strings and the class they build (Keras 2 and 3 alike)
OPTIMIZER_STRINGS = {
    "sgd": "SGD", "rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW", "adagrad": "Adagrad",
    "adadelta": "Adadelta", "adamax": "Adamax", "nadam": "Nadam", "ftrl": "Ftrl", "lion": "Lion",
}
#: optimizer arguments that decide the lr (an unreadable one makes the optimizer unknown)
_LR_ARGUMENTS = frozenset({"lr", "learning_rate", "decay", "weight_decay", "gradient_accumulation_steps"})
#: callback arguments that do not change when the lr changes (dropped when unreadable)
_COSMETIC_CALLBACK_ARGUMENTS = frozenset({"verbose", "restore_best_weights", "name"})
#: fit keywords that only a Keras training call has (``datagen.fit(x)``, ``clf.fit(X, y)`` have none)
_TRAINING_KEYWORDS = frozenset({
    "epochs", "nb_epoch", "batch_size", "callbacks", "validation_data", "validation_split",
    "steps_per_epoch", "samples_per_epoch", "initial_epoch", "validation_steps", "validation_freq",
    "class_weight", "nb_val_samples",
})
FIT_POSITIONAL = (
    "x", "y", "batch_size", "epochs", "verbose", "callbacks", "validation_split",
    "validation_data", "shuffle", "class_weight", "sample_weight", "initial_epoch",
    "steps_per_epoch", "validation_steps",
)
FIT_GENERATOR_POSITIONAL = (
    "generator", "steps_per_epoch", "epochs", "verbose", "callbacks", "validation_data",
    "validation_steps", "class_weight", "max_queue_size", "workers", "use_multiprocessing",
    "shuffle", "initial_epoch",
)
#: fit arguments that are data, not numbers (kept as text)
_DATA_ARGUMENTS = frozenset({
    "x", "y", "generator", "validation_data", "class_weight", "sample_weight", "callbacks",
})
#: the option that supplies a fit argument the code does not give as a literal
_ARGUMENT_OPTION = {"steps_per_epoch": "--steps-per-epoch"}
_MODEL_CONSTRUCTORS = frozenset({
    "Sequential", "Model", "Functional", "load_model", "clone_model", "model_from_json",
    "model_from_yaml", "model_from_config",
})
#: import aliases assumed when the code read does not import them (a notebook's import cell may be missing)
_DEFAULT_ALIASES = {"np": "numpy", "K": "keras.backend", "tf": "tensorflow"}
_MAX_UNROLL = 50
_LR_NAMES = ("lr", "learning_rate")
_MAX_INLINE_DEPTH = 4


# --------------------------------------------------------------------------------------------
# abstract values
# --------------------------------------------------------------------------------------------


@dataclass
class _Unknown:
    reason: str


@dataclass
class _OptimizerState:
    record: OptimizerRecord
    pending: list[LrChange] = field(default_factory=list)
    last_fit: int | None = None


@dataclass
class _Schedule:
    spec: ScheduleSpec | None
    text: str
    reasons: list[str]
    citations: list[str]


@dataclass
class _Callback:
    record: CallbackRecord


@dataclass
class _List:
    items: list[Any]


@dataclass
class _Function:
    name: str
    location: str
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
    trains: bool
    called: bool = False


@dataclass
class _Class:
    name: str
    location: str
    is_callback: bool
    sets_lr: bool


@dataclass
class _Compile:
    optimizer: _OptimizerState | None
    reasons: list[str]
    location: str


@dataclass
class _Model:
    id: int
    compiled: _Compile | None = None


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


def _mentions_training(node: ast.AST) -> bool:
    for child in ast.walk(node):
        if (
            isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
            and child.func.attr in ("fit", "fit_generator", "compile", "set_value")
        ):
            return True
    return False


def _sets_lr(node: ast.AST) -> bool:
    """True when a class body writes an lr: ``set_value(...lr...)``, ``lr.assign``, ``...lr = ``."""
    for child in ast.walk(node):
        if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute):
            if child.func.attr == "set_value" and child.args and "lr" in ast.unparse(child.args[0]).lower():
                return True
            target = child.func.value
            if child.func.attr == "assign" and isinstance(target, ast.Attribute) and target.attr in _LR_NAMES:
                return True
        if isinstance(child, ast.Assign) and any(
            isinstance(t, ast.Attribute) and t.attr in _LR_NAMES for t in child.targets
        ):
            return True
    return False


def _literal_text(value: Any) -> str:
    """Python source for a folded value (``repr`` round-trips floats exactly)."""
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_literal_text(item) for item in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    return repr(float(value)) if type(value).__name__.startswith("float") else repr(value)


class _Reader:
    def __init__(self) -> None:
        self.facts = CodeFacts()
        # the code runs as a script or notebook kernel: ``if __name__ == "__main__":`` is taken
        self.globals: dict[str, Any] = {"__name__": Constant("__main__")}
        self.scopes: list[dict[str, Any]] = [self.globals]
        self.aliases: dict[str, str] = {}
        self.cell: CodeCell | None = None
        self.unexecuted: set[str] = set()
        self.order = 0
        self.next_id = 0
        self.callback_records: list[CallbackRecord] = []
        self.functions: list[_Function] = []
        self.inline_stack: list[str] = []
        self.context_notes: list[str] = []

    # ---------------------------------------------------------------- names and locations

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def loc(self, node: ast.AST) -> str:
        assert self.cell is not None
        return self.cell.location(getattr(node, "lineno", 0))

    def resolve(self, dotted: str) -> str:
        head, dot, rest = dotted.partition(".")
        full = self.aliases.get(head) or _DEFAULT_ALIASES.get(head)
        if full is None:
            return dotted
        return f"{full}{dot}{rest}"

    def lookup(self, name: str) -> Any:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def lookup_constant(self, name: str) -> Constant | None:
        value = self.lookup(name)
        return value if isinstance(value, Constant) else None

    def bind(self, name: str, value: Any) -> None:
        self.scopes[-1][name] = value

    def folder(self) -> ConstantFolder:
        return ConstantFolder(self.lookup_constant, self.resolve)

    def fold(self, node: ast.expr) -> Constant | _Unknown:
        try:
            return self.folder().fold(node)
        except NotConstant as exc:
            return _Unknown(str(exc))
        except RecursionError:
            return _Unknown(f"{ast.unparse(node)[:60]!r} is too deeply nested")

    # ---------------------------------------------------------------- statements

    def run_cell(self, cell: CodeCell, tree: ast.Module) -> None:
        self.cell = cell
        self.block(tree.body)

    def block(self, body: list[ast.stmt]) -> None:
        for statement in body:
            self.statement(statement)

    def statement(self, node: ast.stmt) -> None:
        handler = getattr(self, f"stmt_{type(node).__name__}", None)
        if handler is None:
            return
        try:
            handler(node)
        except (_Return, RecursionError):
            raise
        except Exception as exc:  # a construct the reader mishandles must not stop the rest
            self.facts.warnings.append(
                f"{self.loc(node)}: statement not read ({type(exc).__name__}: {exc})"
            )

    def stmt_Expr(self, node: ast.Expr) -> None:
        self.value(node.value)

    def stmt_Assign(self, node: ast.Assign) -> None:
        value = self.value(node.value)
        for target in node.targets:
            self.assign(target, value, node)

    def stmt_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.assign(node.target, self.value(node.value), node)

    def stmt_AugAssign(self, node: ast.AugAssign) -> None:
        if not isinstance(node.target, ast.Name):
            return
        current = self.lookup(node.target.id)
        if isinstance(current, _List) and isinstance(node.op, ast.Add):
            extra = self.value(node.value)
            items = extra.items if isinstance(extra, _List) else [extra]
            self.bind(node.target.id, _List(current.items + items))
            return
        combined = ast.BinOp(left=ast.Name(node.target.id, ast.Load()), op=node.op, right=node.value)
        folded = self.fold(ast.copy_location(combined, node))
        self.bind(node.target.id, self.cite(node.target.id, folded, node))

    def stmt_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                head = alias.name.partition(".")[0]
                self.aliases[head] = head

    def stmt_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            if alias.name != "*":
                self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}" if module else alias.name

    def stmt_FunctionDef(self, node: ast.FunctionDef) -> None:
        function = _Function(node.name, self.loc(node), node, _mentions_training(node))
        self.bind(node.name, function)
        if len(self.scopes) == 1:
            self.functions.append(function)

    stmt_AsyncFunctionDef = stmt_FunctionDef

    def stmt_ClassDef(self, node: ast.ClassDef) -> None:
        bases = [self.resolve(dotted_name(base) or "") for base in node.bases]
        is_callback = any(base.rpartition(".")[2] in ("Callback", *CALLBACK_SIGNATURES) for base in bases)
        self.bind(node.name, _Class(node.name, self.loc(node), is_callback, _sets_lr(node)))

    def stmt_Return(self, node: ast.Return) -> None:
        if len(self.scopes) > 1:
            raise _Return(self.value(node.value) if node.value is not None else Constant(None))

    def stmt_If(self, node: ast.If) -> None:
        test = self.fold(node.test)
        if isinstance(test, Constant):
            self.block(node.body if test.value else node.orelse)
            return
        if _mentions_training(node):
            self.context_notes.append(
                f"inside the if at {self.loc(node)} whose condition {ast.unparse(node.test)[:60]!r} "
                "is not a constant: both branches were read"
            )
            self.block(node.body)
            self.block(node.orelse)
            self.context_notes.pop()
        else:
            self.block(node.body)
            self.block(node.orelse)

    def stmt_For(self, node: ast.For) -> None:
        values = self.loop_values(node.iter)
        if values is not None and isinstance(node.target, ast.Name) and len(values) <= _MAX_UNROLL:
            for item in values:
                citation = f"{node.target.id} = {item!r} at {self.loc(node)}"
                self.bind(node.target.id, Constant(item, [citation]))
                self.block(node.body)
            self.block(node.orelse)
            return
        self.loop_once(node, f"the for loop at {self.loc(node)}")

    stmt_AsyncFor = stmt_For

    def stmt_While(self, node: ast.While) -> None:
        self.loop_once(node, f"the while loop at {self.loc(node)}")

    def loop_once(self, node: ast.For | ast.While | ast.AsyncFor, where: str) -> None:
        trains = _mentions_training(node)
        if trains:
            self.context_notes.append(f"inside {where}, read once: it may run several times")
        self.block(node.body)
        if trains:
            self.context_notes.pop()
        self.block(node.orelse)

    def loop_values(self, node: ast.expr) -> list[Any] | None:
        if isinstance(node, ast.Call) and dotted_name(node.func) == "range" and not node.keywords:
            bounds = [self.fold(arg) for arg in node.args]
            integers = all(isinstance(b, Constant) and isinstance(b.value, int) for b in bounds)
            if integers and 1 <= len(bounds) <= 3:
                numbers = [b.value for b in bounds]
                if len(range(*numbers)) <= _MAX_UNROLL:
                    return list(range(*numbers))
            return None
        folded = self.fold(node)
        if isinstance(folded, Constant) and isinstance(folded.value, (list, tuple)):
            return list(folded.value)
        return None

    def stmt_With(self, node: ast.With) -> None:
        self.block(node.body)

    stmt_AsyncWith = stmt_With

    def stmt_Try(self, node: ast.Try) -> None:
        self.block(node.body)
        self.block(node.orelse)
        self.block(node.finalbody)

    stmt_TryStar = stmt_Try

    # ---------------------------------------------------------------- assignment

    def cite(self, name: str, value: Any, node: ast.AST) -> Any:
        """A constant bound to ``name`` is cited by that definition from now on."""
        if isinstance(value, Constant):
            return Constant(value.value, [f"{name} = {_short(value.value)} at {self.loc(node)}"])
        return value

    def assign(self, target: ast.expr, value: Any, node: ast.stmt) -> None:
        if isinstance(target, ast.Name):
            self.assign_name(target.id, value, node)
        elif isinstance(target, ast.Attribute):
            if target.attr in ("lr", "learning_rate"):
                self.record_lr_change(target, getattr(node, "value", None), node)
            else:
                text = dotted_name(target)
                if text:
                    self.assign_name(text, value, node)
        elif isinstance(target, (ast.Tuple, ast.List)):
            items = None
            if isinstance(value, _List):
                items = value.items
            elif isinstance(value, Constant) and isinstance(value.value, (list, tuple)):
                items = [Constant(item, value.citations) for item in value.value]
            for position, element in enumerate(target.elts):
                if items is not None and len(items) == len(target.elts):
                    self.assign(element, items[position], node)
                else:
                    self.assign(element, _Unknown(f"unpacked from {ast.unparse(node)[:60]!r}"), node)

    def assign_name(self, name: str, value: Any, node: ast.stmt) -> None:
        previous = self.lookup(name)
        if isinstance(value, _Model) and value is not previous:
            self.marker("new_model", name, node)
        elif isinstance(previous, _Model) and isinstance(getattr(node, "value", None), ast.Call):
            # a model name rebound to the result of a call (create_model(), build(...)): a new model
            value = _Model(self.new_id())
            self.marker("new_model", name, node)
        self.bind(name, self.cite(name, value, node))

    def marker(self, kind: str, name: str, node: ast.AST) -> None:
        self.order += 1
        self.facts.markers.append(CodeMarker(kind, name, self.loc(node), self.order))

    # ---------------------------------------------------------------- expressions

    def value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Name):
            bound = self.lookup(node.id)
            return bound if bound is not None else _Unknown(f"{node.id!r} is not defined in the code read")
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Lambda):
            return _Function("<lambda>", self.loc(node), node, False)
        if isinstance(node, (ast.List, ast.Tuple)):
            folded = self.fold(node)
            if isinstance(folded, Constant):
                return folded
            return _List([self.value(item) for item in node.elts])
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.value(node.left), self.value(node.right)
            if isinstance(left, _List) and isinstance(right, _List):
                return _List(left.items + right.items)
        if isinstance(node, ast.IfExp):
            test = self.fold(node.test)
            if isinstance(test, Constant):
                return self.value(node.body if test.value else node.orelse)
            return _Unknown(
                f"chosen when the code runs: {ast.unparse(node.body)[:50]} or {ast.unparse(node.orelse)[:50]}"
            )
        if isinstance(node, (ast.Await, ast.NamedExpr)):
            return self.value(node.value)
        return self.fold(node)

    def attribute(self, node: ast.Attribute) -> Any:
        text = dotted_name(node)
        if text is not None:
            bound = self.lookup(text)
            if bound is not None:
                return bound
            if self.resolve(text) in PURE_CONSTANTS:
                return self.fold(node)
        if node.attr == "optimizer":
            owner = self.value(node.value)
            if isinstance(owner, _Model) and owner.compiled and owner.compiled.optimizer:
                return owner.compiled.optimizer
        return _Unknown(f"{ast.unparse(node)[:60]!r} is known only when the code runs")

    def call(self, node: ast.Call) -> Any:
        dotted = dotted_name(node.func)
        if isinstance(node.func, ast.Attribute):
            handled = self.method_call(node, node.func)
            if handled is not None:
                return handled
        if dotted is not None:
            built = self.construction(node, dotted)
            if built is not None:
                return built
        if dotted is not None and self.resolve(dotted) in PURE_FUNCTIONS:
            return self.fold(node)
        # arguments may hold trainings of their own (history.append(model.fit(...)))
        for argument in [*node.args, *(keyword.value for keyword in node.keywords)]:
            if isinstance(argument, ast.Call):
                self.value(argument)
        return _Unknown(f"{ast.unparse(node)[:60]!r} is computed when the code runs")

    def construction(self, node: ast.Call, dotted: str) -> Any:
        bound = self.lookup(dotted)
        if isinstance(bound, _Class):
            return self.custom_instance(node, bound)
        if isinstance(bound, _Function):
            return self.inline(bound, node)
        resolved = self.resolve(dotted)
        kind = self.classify(dotted, resolved)
        if kind is not None:
            category, class_name, generation = kind
            if category == "optimizer":
                return self.build_optimizer(node, class_name, generation)
            if category == "schedule":
                return self.build_schedule(node, class_name)
            return self.build_callback(node, class_name)
        last = resolved.rpartition(".")[2]
        keras_path = "keras" in resolved or "tensorflow" in resolved or "." not in resolved
        if (last in _MODEL_CONSTRUCTORS and keras_path) or ".applications." in resolved:
            return _Model(self.new_id())
        return None

    def classify(self, dotted: str, resolved: str) -> tuple[str, str, str | None] | None:
        for candidate in (resolved, dotted):
            found = classify_class(candidate)
            if found is not None:
                return found
        bare = resolved.rpartition(".")[2]
        if "keras" in resolved or "tensorflow" in resolved:
            found = classify_class(bare)
            if found is not None and found[0] == "optimizer" and ".legacy." in resolved:
                return found[0], found[1], "k2-legacy"
            return found
        return None

    # ---------------------------------------------------------------- constructions

    def bind_arguments(
        self, node: ast.Call, names: list[str], class_name: str
    ) -> tuple[list[tuple[str, ast.expr]], list[str]]:
        """(name, node) of each argument, positional ones named by the constructor signature."""
        problems = []
        pairs: list[tuple[str, ast.expr]] = []
        for position, argument in enumerate(node.args):
            if isinstance(argument, ast.Starred) or position >= len(names):
                problems.append(
                    f"{class_name}(...) at {self.loc(node)} has positional arguments that cannot be named"
                )
                continue
            pairs.append((names[position], argument))
        for keyword in node.keywords:
            if keyword.arg is None:
                problems.append(f"**{ast.unparse(keyword.value)} at {self.loc(node)} is not a literal")
                continue
            pairs.append((keyword.arg, keyword.value))
        return pairs, problems

    def substituted(
        self, pairs: list[tuple[str, ast.expr]], relevant: Any, option: str, node: ast.Call
    ) -> tuple[list[str], list[str], list[str], list[str]]:
        """(``name=literal`` texts, citations, reasons, notes) for the arguments of a construction."""
        texts, citations, reasons, notes = [], [], [], []
        for name, argument in pairs:
            value = self.value(argument)
            if isinstance(value, _Schedule) and name in ("lr", "learning_rate"):
                if value.spec is None:
                    reasons.extend(value.reasons)
                    continue
                texts.append(f"{name}={value.text}")
                citations.extend(value.citations)
                continue
            if isinstance(value, Constant):
                texts.append(f"{name}={_literal_text(value.value)}")
                citations.append(f"{name}={ast.unparse(argument)[:60]} at {self.loc(argument)}")
                citations.extend(value.citations)
                continue
            why = value.reason if isinstance(value, _Unknown) else "not a literal"
            message = (
                f"{name}={ast.unparse(argument)[:60]} at {self.loc(argument)} is not a literal ({why}): "
                f"give it with {option}"
            )
            (reasons if relevant(name) else notes).append(message)
        return texts, list(dict.fromkeys(citations)), reasons, notes

    def build_optimizer(self, node: ast.Call, class_name: str, generation: str | None) -> _OptimizerState:
        names = [name for name, _ in OPTIMIZER_SIGNATURES[class_name]]
        pairs, reasons = self.bind_arguments(node, names, class_name)
        texts, citations, more, notes = self.substituted(
            pairs, _LR_ARGUMENTS.__contains__, "--optimizer", node
        )
        reasons += more
        location = self.loc(node)
        spec = None
        if not reasons:
            try:
                spec = parse_optimizer_expr(f"{class_name}({', '.join(texts)})", option=location)
                spec = dataclasses.replace(spec, generation=generation or spec.generation, source=location)
            except UsageError as exc:
                reasons.append(str(exc))
        self.facts.notes.extend(f"{note} (ignored: it does not change the lr)" for note in notes)
        record = OptimizerRecord(self.new_id(), ast.unparse(node), location, spec, reasons, citations)
        return _OptimizerState(record)

    def build_schedule(self, node: ast.Call, class_name: str) -> _Schedule:
        names = [name for name, _ in SCHEDULE_SIGNATURES[class_name]]
        pairs, reasons = self.bind_arguments(node, names, class_name)
        texts, citations, more, _ = self.substituted(pairs, lambda name: name != "name", "--optimizer", node)
        reasons += more
        text = f"{class_name}({', '.join(texts)})"
        spec = None
        if not reasons:
            try:
                spec = parse_schedule_expr(text, option=self.loc(node))
            except UsageError as exc:
                reasons.append(str(exc))
        return _Schedule(spec, text, reasons, citations)

    def build_callback(self, node: ast.Call, class_name: str) -> _Callback:
        location = self.loc(node)
        if class_name == "LearningRateScheduler":
            return _Callback(self.build_scheduler(node))
        signature = CALLBACK_SIGNATURES.get(class_name)
        names = [name for name, _ in signature] if signature else []
        pairs, reasons = self.bind_arguments(node, names, class_name)
        if signature is None:  # a callback that never writes the lr: keep what folds
            kwargs = {}
            for name, argument in pairs:
                folded = self.fold(argument)
                kwargs[name] = folded.value if isinstance(folded, Constant) else None
            spec = CallbackSpec(class_name, kwargs, source=location)
            record = CallbackRecord(class_name, ast.unparse(node), location, spec)
        else:
            texts, citations, more, notes = self.substituted(
                pairs, lambda name: name not in _COSMETIC_CALLBACK_ARGUMENTS, "--callback", node
            )
            reasons += more
            spec = None
            if not reasons:
                try:
                    spec = parse_callback_expr(f"{class_name}({', '.join(texts)})", option=location)
                    spec.source = location
                except UsageError as exc:
                    reasons.append(str(exc))
            record = CallbackRecord(class_name, ast.unparse(node), location, spec, reasons, citations)
            self.facts.notes.extend(notes)
        self.callback_records.append(record)
        return _Callback(record)

    def build_scheduler(self, node: ast.Call) -> CallbackRecord:
        location = self.loc(node)
        pairs, reasons = self.bind_arguments(node, ["schedule", "verbose"], "LearningRateScheduler")
        arguments = dict(pairs)
        function = None
        verbose: Any = 0
        if "verbose" in arguments:
            folded = self.fold(arguments["verbose"])
            verbose = folded.value if isinstance(folded, Constant) else None
        schedule = (
            self.value(arguments["schedule"]) if "schedule" in arguments else _Unknown("no schedule given")
        )
        if isinstance(schedule, _Function):
            schedule.called = True
            name = dotted_name(arguments["schedule"]) or schedule.name
            function = analyse_schedule_function(
                schedule.node, name, schedule.location, self.lookup_constant, self.resolve  # type: ignore[arg-type]
            )
            self.facts.schedule_functions.append(function)
            if not function.evaluable:
                reasons.append(
                    f"schedule function {name} ({schedule.location}) is not statically evaluable: "
                    f"{function.reason}; give it with --callback \"LearningRateScheduler(file.py:{name})\""
                )
        else:
            why = schedule.reason if isinstance(schedule, _Unknown) else "not a function defined in the code"
            reasons.append(
                f"schedule={ast.unparse(arguments.get('schedule', node))[:60]} at {location} "
                "is not a function "
                f"of the code read ({why}): give it with --callback"
            )
        kwargs = {"schedule": function, "verbose": verbose}
        spec = CallbackSpec("LearningRateScheduler", kwargs, source=location)
        record = CallbackRecord(
            "LearningRateScheduler", ast.unparse(node), location, spec, reasons,
            list(function.citations) if function else [], schedule_function=function,
        )
        self.callback_records.append(record)
        return record

    def custom_instance(self, node: ast.Call, klass: _Class) -> Any:
        if not klass.is_callback:
            return _Unknown(f"an instance of {klass.name} ({klass.location})")
        reasons = []
        if klass.sets_lr:
            reasons.append(
                f"custom callback {klass.name} ({klass.location}) sets the lr from its own code: "
                "the lr it applies is not read statically"
            )
        record = CallbackRecord(
            klass.name, ast.unparse(node), self.loc(node), None, reasons, custom=True,
            custom_sets_lr=klass.sets_lr,
        )
        self.callback_records.append(record)
        return _Callback(record)

    def inline(self, function: _Function, node: ast.Call) -> Any:
        if not function.trains or isinstance(function.node, ast.Lambda):
            return _Unknown(f"the result of {function.name}() is computed when the code runs")
        if function.name in self.inline_stack or len(self.inline_stack) >= _MAX_INLINE_DEPTH:
            return _Unknown(f"{function.name}() is recursive or nested too deeply to follow")
        function.called = True
        scope: dict[str, Any] = {}
        params = [arg.arg for arg in function.node.args.posonlyargs + function.node.args.args]
        defaults = function.node.args.defaults
        for name, default in zip(params[len(params) - len(defaults):], defaults, strict=True):
            scope[name] = self.value(default)
        for name, argument in zip(params, node.args, strict=False):
            scope[name] = self.value(argument)
        for keyword in node.keywords:
            if keyword.arg is not None:
                scope[keyword.arg] = self.value(keyword.value)
        for name in params:
            scope.setdefault(name, _Unknown(f"parameter {name!r} of {function.name}() has no value"))
        self.inline_stack.append(function.name)
        self.scopes.append(scope)
        try:
            self.block(function.node.body)
            result: Any = Constant(None)
        except _Return as returned:
            result = returned.value
        finally:
            self.scopes.pop()
            self.inline_stack.pop()
        return result

    # ---------------------------------------------------------------- method calls

    def method_call(self, node: ast.Call, func: ast.Attribute) -> Any:
        name = func.attr
        if name in ("fit", "fit_generator"):
            return self.fit(node, func)
        if name == "compile":
            return self.compile(node, func)
        if name == "set_value" and node.args:
            resolved = self.resolve(dotted_name(func) or "")
            if "backend" in resolved or resolved.startswith("K."):
                target = node.args[0]
                if isinstance(target, ast.Attribute) and target.attr in ("lr", "learning_rate"):
                    self.record_lr_change(target, node.args[1] if len(node.args) > 1 else None, node)
                    return Constant(None)
        if name == "assign" and isinstance(func.value, ast.Attribute) and func.value.attr in _LR_NAMES:
            self.record_lr_change(func.value, node.args[0] if node.args else None, node)
            return Constant(None)
        if name == "summary":
            receiver = self.value(func.value)
            if isinstance(receiver, _Model) or "model" in ast.unparse(func.value).lower():
                self.marker("summary", ast.unparse(func.value), node)
            return Constant(None)
        if name in ("append", "extend") and isinstance(func.value, ast.Name) and node.args:
            current = self.lookup(func.value.id)
            if isinstance(current, _List):
                added = self.value(node.args[0])
                extra = added.items if name == "extend" and isinstance(added, _List) else [added]
                self.bind(func.value.id, _List(current.items + extra))
                return Constant(None)
        return None

    def model_of(self, receiver: ast.expr) -> _Model:
        value = self.value(receiver)
        if isinstance(value, _Model):
            return value
        model = _Model(self.new_id())
        text = dotted_name(receiver)
        if text is not None:
            self.bind(text, model)
        return model

    def compile(self, node: ast.Call, func: ast.Attribute) -> Any:
        keywords = {keyword.arg: keyword.value for keyword in node.keywords if keyword.arg}
        optimizer_node = keywords.get("optimizer", node.args[0] if node.args else None)
        optimizer = self.value(optimizer_node) if optimizer_node is not None else None
        is_string = isinstance(optimizer, Constant) and isinstance(optimizer.value, str)
        keras_like = (
            "loss" in keywords or "metrics" in keywords or isinstance(optimizer, _OptimizerState)
            or (is_string and optimizer.value.lower() in OPTIMIZER_STRINGS)
        )
        if not keras_like:
            return None
        location = self.loc(node)
        reasons: list[str] = []
        state = None
        if isinstance(optimizer, _OptimizerState):
            state = optimizer
        elif optimizer is None or is_string:
            # Keras' compile() default optimizer is "rmsprop"
            text = optimizer.value if is_string else "rmsprop"
            state = self.string_optimizer(text, location, optimizer.citations if is_string else [])
            if state is None:
                reasons.append(
                    f"optimizer={text!r} at {location} is not a Keras optimizer name: "
                    "give it with --optimizer"
                )
        else:
            why = optimizer.reason if isinstance(optimizer, _Unknown) else "not an optimizer"
            reasons.append(
                f"optimizer={ast.unparse(optimizer_node)[:60]} at {location} is not a literal ({why}): "
                "give it with --optimizer"
            )
        model = self.model_of(func.value)
        model.compiled = _Compile(state, reasons, location)
        return Constant(None)

    def string_optimizer(self, text: str, location: str, citations: list[str]) -> _OptimizerState | None:
        class_name = OPTIMIZER_STRINGS.get(text.lower())
        if class_name is None:
            return None
        spec = dataclasses.replace(parse_optimizer_expr(f"{class_name}()", option=location), source=location)
        record = OptimizerRecord(
            self.new_id(), repr(text), location, spec, [],
            [f"optimizer={text!r} at {location}", *citations], shortcut=True,
        )
        return _OptimizerState(record)

    def record_lr_change(self, target: ast.Attribute, value_node: ast.expr | None, node: ast.AST) -> None:
        owner = self.value(target.value)
        state = owner if isinstance(owner, _OptimizerState) else None
        target_text = ast.unparse(target)
        change = LrChange(
            self.loc(node), target_text, state.record.id if state else None,
            ast.unparse(value_node) if value_node is not None else "",
        )
        if value_node is None:
            change.reason = "no value given"
        else:
            folded = self.fold(value_node)
            if isinstance(folded, Constant) and isinstance(folded.value, (int, float)):
                change.value = float(folded.value)
                change.citations = folded.citations
            else:
                factor = self.relative_factor(value_node, target_text)
                if factor is not None:
                    change.factor = factor
                else:
                    why = folded.reason if isinstance(folded, _Unknown) else "not a number"
                    change.reason = (
                        f"the new lr {change.text[:60]!r} at {change.location} is not a literal ({why})"
                    )
        if state is None:
            change.reason = change.reason or f"{target_text} is not an optimizer constructed in the code read"
        else:
            state.pending.append(change)
        self.facts.lr_changes.append(change)

    def relative_factor(self, node: ast.expr, target_text: str) -> float | None:
        """``k * get_value(target)`` / ``target * k`` / ``target / k``: the factor k (or 1/k)."""
        if not isinstance(node, ast.BinOp) or not isinstance(node.op, (ast.Mult, ast.Div)):
            return None

        def reads_target(side: ast.expr) -> bool:
            if ast.unparse(side) == target_text:
                return True
            if isinstance(side, ast.Call) and isinstance(side.func, (ast.Attribute, ast.Name)):
                called = ast.unparse(side.func)
                if called.endswith("get_value") and side.args and ast.unparse(side.args[0]) == target_text:
                    return True
                return called == f"{target_text}.numpy"
            return False

        for lr_side, other, inverse in ((node.left, node.right, True), (node.right, node.left, False)):
            if reads_target(lr_side):
                if isinstance(node.op, ast.Div) and not inverse:
                    return None
                folded = self.fold(other)
                if isinstance(folded, Constant) and isinstance(folded.value, (int, float)) and folded.value:
                    return 1.0 / folded.value if isinstance(node.op, ast.Div) else float(folded.value)
        return None

    # ---------------------------------------------------------------- fits

    def fit(self, node: ast.Call, func: ast.Attribute) -> Any:
        receiver = self.value(func.value)
        keywords = {keyword.arg for keyword in node.keywords if keyword.arg}
        compiled = isinstance(receiver, _Model) and receiver.compiled is not None
        if not compiled and not keywords & _TRAINING_KEYWORDS:
            return None
        model = self.model_of(func.value)
        positional = FIT_GENERATOR_POSITIONAL if func.attr == "fit_generator" else FIT_POSITIONAL
        arguments: dict[str, FitArgument] = {}
        callbacks_node = None
        pairs = list(zip(positional, node.args, strict=False))
        pairs += [(keyword.arg, keyword.value) for keyword in node.keywords if keyword.arg]
        for name, argument in pairs:
            if name == "callbacks":
                callbacks_node = argument
            arguments[name] = self.fit_argument(name, argument)
        assert self.cell is not None
        self.order += 1
        training = CodeFit(
            index=len(self.facts.trainings), method=func.attr, model=ast.unparse(func.value),
            location=self.loc(node), cell=self.cell.label, execution_count=self.cell.execution_count,
            model_id=model.id, optimizer=None, optimizer_record=None, arguments=arguments,
            notes=list(self.context_notes),
        )
        self.link_optimizer(training, model)
        if callbacks_node is not None:
            self.link_callbacks(training, callbacks_node)
        if self.inline_stack:
            training.notes.append(f"inside {self.inline_stack[-1]}(), followed from its call")
        self.facts.trainings.append(training)
        return _Unknown(f"the History of the fit at {training.location}")

    def fit_argument(self, name: str, argument: ast.expr) -> FitArgument:
        result = FitArgument(name, ast.unparse(argument), self.loc(argument))
        if name in _DATA_ARGUMENTS:
            return result
        folded = self.fold(argument)
        if isinstance(folded, Constant):
            result.value = folded.value
            result.citations = [f"{name}={result.text[:60]} at {result.location}", *folded.citations]
        else:
            option = _ARGUMENT_OPTION.get(name)
            suffix = f": give it with {option}" if option else ""
            result.reason = (
                f"{name}={result.text[:60]} at {result.location} is not a literal ({folded.reason}){suffix}"
            )
        return result

    def link_optimizer(self, training: CodeFit, model: _Model) -> None:
        compiled = model.compiled
        if compiled is None:
            training.optimizer_reasons.append(
                f"no compile of {training.model} before the fit at {training.location} in the code read: "
                "give the optimizer with --optimizer"
            )
            return
        training.compile_location = compiled.location
        training.optimizer_reasons.extend(compiled.reasons)
        state = compiled.optimizer
        if state is None:
            return
        training.optimizer_record = state.record
        training.optimizer = state.record.spec
        training.optimizer_reasons.extend(state.record.reasons)
        training.lr_changes = state.pending
        state.pending = []
        training.continues_fit = state.last_fit
        state.last_fit = training.index

    def link_callbacks(self, training: CodeFit, node: ast.expr) -> None:
        value = self.value(node)
        items = value.items if isinstance(value, _List) else [value]
        if isinstance(value, Constant) and value.value in (None, [], ()):
            return
        for item, item_node in zip(items, _elements(node, len(items)), strict=True):
            if isinstance(item, _Callback):
                item.record.used = True
                training.callback_records.append(item.record)
                if item.record.spec is not None:
                    training.callbacks.append(item.record.spec)
                training.callback_reasons.extend(item.record.reasons)
            else:
                why = item.reason if isinstance(item, _Unknown) else "not a callback"
                training.callback_reasons.append(
                    f"callback {ast.unparse(item_node)[:60]} at {self.loc(item_node)} is not read ({why}): "
                    "if it sets the lr, give it with --callback"
                )

    # ---------------------------------------------------------------- end of reading

    def finish(self) -> CodeFacts:
        for function in self.functions:
            if function.trains and not function.called and not isinstance(function.node, ast.Lambda):
                self.cell = _cell_of(function.location)
                self.context_notes.append(f"inside {function.name}(), which the code read never calls")
                self.inline(function, ast.Call(func=ast.Name(function.name), args=[], keywords=[]))
                self.context_notes.pop()
        for record in self.callback_records:
            if not record.used:
                self.facts.notes.append(
                    f"{record.class_name} at {record.location} is constructed but passed to no fit"
                )
        self.note_unexecuted()
        return self.facts

    def note_unexecuted(self) -> None:
        if not self.unexecuted:
            return
        for training in self.facts.trainings:
            places = [training.location, training.compile_location or ""]
            if training.optimizer_record is not None:
                places += [training.optimizer_record.location, *training.optimizer_record.citations]
            for argument in training.arguments.values():
                places += argument.citations
            cells = sorted({cell for cell in self.unexecuted for place in places if f"{cell}:" in place})
            for cell in cells:
                training.notes.append(
                    f"{cell} has no execution count in the saved notebook: its code may not be what ran"
                )


def _elements(node: ast.expr, count: int) -> list[ast.expr]:
    if isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) == count:
        return list(node.elts)
    return [node] * count


def _cell_of(location: str) -> CodeCell:
    # a label for citations inside functions read at the end (the location carries the cell)
    label = location.rsplit(":line ", 1)[0] if ":line " in location else location.rsplit(":", 1)[0]
    return CodeCell("", label)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def read_code(cells: list[CodeCell]) -> CodeFacts:
    """Read the trainings in ``cells`` (notebook cells or one script) without running anything.

    Cells are read in execution order (:func:`lraudit.code.cells.execution_order`); a cell
    that does not parse is skipped with one warning and the rest is read.
    """
    reader = _Reader()
    notebook = any(":cell " in cell.label for cell in cells)
    ordered = execution_order(cells)
    if notebook and any(cell.executed for cell in cells):
        reader.unexecuted = {cell.label for cell in cells if not cell.executed and cell.text.strip()}
        if ordered == list(cells) and reader.unexecuted:
            reader.facts.notes.append(
                f"{len(reader.unexecuted)} code cells have no execution count (outputs of another "
                "session): all cells read in document order"
            )
    parsed = []
    for cell in ordered:
        tree = parse_cell(cell, reader.facts.warnings)
        if tree is None:
            continue
        parsed.append((cell, tree))
        try:
            reader.run_cell(cell, tree)
        except RecursionError:
            reader.facts.warnings.append(f"{cell.label}: nested too deeply to read; skipped")
    facts = reader.finish()
    facts.keras_backend = keras_backend(parsed)
    return facts


def lr_at_fit_start(facts: CodeFacts, fit_index: int) -> tuple[float | ScheduleSpec | None, list[str]]:
    """The lr variable when fit ``fit_index`` starts, from the code alone, and why/where from.

    The constructed value, changed by the ``set_value``/``assign`` calls between fits; an
    optimizer continued from an earlier fit carries that fit's final lr, which is known here
    only when none of its callbacks writes the lr. None (with the reason) when not known.
    """
    training = facts.trainings[fit_index]
    record = training.optimizer_record
    if record is None or record.spec is None:
        return None, list(training.optimizer_reasons)
    if training.continues_fit is None:
        current: float | ScheduleSpec | None = record.spec.learning_rate
        reasons = [f"lr {_short(current)} as constructed at {record.location}"]
    else:
        current, reasons = lr_at_fit_start(facts, training.continues_fit)
        previous = facts.trainings[training.continues_fit]
        writers = [
            r.class_name for r in previous.callback_records
            if r.class_name in ("ReduceLROnPlateau", "LearningRateScheduler") or r.custom_sets_lr
        ]
        if writers:
            current = None
            reasons = [
                f"the optimizer continues from the fit at {previous.location}, whose "
                f"{', '.join(writers)} may have changed the lr: read it from that fit's log"
            ]
        else:
            reasons = [*reasons, f"optimizer continued from the fit at {previous.location}"]
    for change in training.lr_changes:
        if change.value is not None:
            current = change.value
        elif change.factor is not None and isinstance(current, float):
            current = current * change.factor
        else:
            return None, [*reasons, change.reason or f"the lr change at {change.location} is not a constant"]
        reasons.append(f"lr set to {_short(current)} by {change.target} at {change.location}")
    return (current, reasons) if current is not None else (None, reasons)


def optimizer_for_fit(facts: CodeFacts, fit_index: int):  # -> tuple[OptimizerSpec | None, list[str]]
    """The optimizer of fit ``fit_index`` as an :class:`OptimizerSpec`, and the citations.

    The spec's ``learning_rate`` is the lr variable at the start of that fit when the code
    tells it (after ``set_value`` between fits); when only the construction is known, the
    constructed spec is returned and the citations say why the start value is not. None
    with the reasons when the code does not give the optimizer.
    """
    training = facts.trainings[fit_index]
    record = training.optimizer_record
    if record is None or record.spec is None:
        return None, list(training.optimizer_reasons)
    citations = [f"optimizer {record.expression[:80]} at {record.location}", *record.citations]
    if training.compile_location:
        citations.append(f"compiled at {training.compile_location}")
    value, reasons = lr_at_fit_start(facts, fit_index)
    if value is None:
        return record.spec, citations + reasons
    if value != record.spec.learning_rate:
        return dataclasses.replace(record.spec, learning_rate=value), citations + reasons
    return record.spec, citations


def callbacks_for_fit(facts: CodeFacts, fit_index: int) -> tuple[list[CallbackSpec], list[str]]:
    """The callbacks passed to fit ``fit_index`` (as :class:`CallbackSpec`) and the citations/reasons.

    A ``LearningRateScheduler`` spec holds its :class:`~lraudit.code.model.ScheduleFunction`
    (or None) under ``kwargs['schedule']``; a custom callback has no spec and a reason.
    """
    training = facts.trainings[fit_index]
    citations = [f"{r.class_name} at {r.location}" for r in training.callback_records]
    for record in training.callback_records:
        citations.extend(record.citations)
    return list(training.callbacks), citations + list(training.callback_reasons)


__all__ = [
    "OPTIMIZER_STRINGS", "ScheduleFunction", "callbacks_for_fit", "lr_at_fit_start",
    "optimizer_for_fit", "read_code",
]
