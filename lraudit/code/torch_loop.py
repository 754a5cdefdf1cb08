"""The hand-written training loop of a PyTorch script, reduced to its lr statements (read with ``ast``).

The *batch loop* is the innermost loop holding ``optimizer.step()`` (directly or in a user function
it calls, which is read in place); the *epoch loop* is the loop around it. Statements of the epoch
loop before the batch loop run in phase ``epoch_start``, after it in ``epoch_end``. Inside the batch
loop an ``if (i + 1) % K == 0:`` guard (gradient accumulation) gives its statements ``every=K``.
Each optimizer step, scheduler step, lr write and lr log becomes a
:class:`~lraudit.torchfacts.LoopAction`, in program order.
"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field

from lraudit.code.model import CodeCell
from lraudit.code.torch_env import Cli, TorchEnv
from lraudit.code.values import NotConstant, dotted_name
from lraudit.torchfacts import SINKS, LoopAction

#: how deep calls of user functions are followed from the loop
_MAX_INLINE = 3
#: receivers of ``.log(...)`` that are experiment trackers (``wandb.log``, ``run.log``)
#: the sink of console lines
_CONSOLE = SINKS[1]
_TRACKERS = ("wandb", "run", "experiment", "comet", "neptune")
_CONSOLE_CALLS = frozenset(
    {
        "print",
        "info",
        "debug",
        "warning",
        "write",
        "set_postfix",
        "set_description",
        "set_postfix_str",
        "echo",
        "log_info",
    }
)
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?([-+ #0]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%])")

Loop = ast.For | ast.While | ast.AsyncFor


@dataclass
class LoopResult:
    """What the training loop tells: its lr statements and its shape."""

    actions: list[LoopAction] = field(default_factory=list)
    epochs: int | None = None
    epochs_evidence: str | None = None
    epochs_cli: list[Cli] = field(default_factory=list)
    loader: str | None = None  # the DataLoader variable the batch loop iterates
    batches: int | None = None  # batches per epoch when the loop itself tells (range(0, N, B))
    accumulation: int | None = None
    flushes_last: bool = False  # ``... or (i + 1) == len(loader)``: a last partial accumulation steps
    has_epoch_loop: bool = False
    location: str = ""
    functions: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


@dataclass
class _State:
    phase: str
    cell: CodeCell
    renames: dict[str, str]
    every: int | None = None
    depth: int = 0


@dataclass
class _Binding:
    read: str
    scheduler: str | None
    phase: str
    position: int  # index in the action list when it was read


class LoopReader:
    """Reads one training loop; :meth:`read` returns None when the loop does not step an optimizer."""

    def __init__(self, env: TorchEnv) -> None:
        self.env = env
        self._has_step_cache: dict[int, bool] = {}

    # ------------------------------------------------------------ recognising the statements
    def receiver_kind(self, receiver: ast.expr, renames: dict[str, str]) -> str | None:
        """ "optimizer" / "scheduler" / None for the object whose ``.step()`` is called."""
        key = self.env.key_of(receiver)
        if key is None:
            return None
        key = renames.get(key, key)
        bound = self.env.objects.get(key)
        if bound is not None and bound.kind in ("optimizer", "scheduler"):
            return bound.kind
        last = key.rsplit(".", 1)[-1].lower()
        if "sched" in last:
            return "scheduler"
        if "optim" in last or last in ("opt", "optim"):
            return "optimizer"
        return None

    def is_optimizer_step(self, call: ast.Call, renames: dict[str, str]) -> bool:
        """``optimizer.step()``, ``scaler.step(optimizer)`` (AMP), ``xm.optimizer_step(optimizer)``."""
        func = call.func
        if not isinstance(func, ast.Attribute):
            return False
        if func.attr == "optimizer_step":
            return True
        if func.attr != "step":
            return False
        if self.receiver_kind(func.value, renames) == "optimizer":
            return True
        return bool(call.args) and self.receiver_kind(call.args[0], renames) == "optimizer"

    def is_scheduler_step(self, call: ast.Call, renames: dict[str, str]) -> bool:
        func = call.func
        return (
            isinstance(func, ast.Attribute)
            and func.attr == "step"
            and self.receiver_kind(func.value, renames) == "scheduler"
        )

    def user_function(self, call: ast.Call) -> tuple[ast.FunctionDef, CodeCell] | None:
        if isinstance(call.func, ast.Name):
            found = self.env.functions.get(call.func.id)
            if found is not None and isinstance(found[0], ast.FunctionDef):
                return found  # type: ignore[return-value]
        return None

    def has_step(self, node: ast.AST, depth: int = 0) -> bool:
        """True when ``node`` (or a user function it calls) runs an optimizer step."""
        cached = self._has_step_cache.get(id(node))
        if cached is not None:
            return cached
        result = False
        for sub in ast.walk(node):
            if not isinstance(sub, ast.Call):
                continue
            if self.is_optimizer_step(sub, {}):
                result = True
                break
            called = self.user_function(sub)
            inlined = called is not None and depth < _MAX_INLINE and called[0] is not node
            if inlined and self.has_step(called[0], depth + 1):  # type: ignore[index]
                    result = True
                    break
        self._has_step_cache[id(node)] = result
        return result

    # ------------------------------------------------------------ the loop chain
    def _inner_loop(self, stmts: list[ast.stmt], depth: int) -> tuple[Loop, ast.FunctionDef | None] | None:
        """The first loop among ``stmts`` (not a param_groups loop) that steps an optimizer."""
        for stmt in stmts:
            if isinstance(stmt, (ast.For, ast.While, ast.AsyncFor)) and not _over_param_groups(stmt):
                if self.has_step(stmt):
                    return stmt, None
                continue
            for block in _blocks(stmt):
                found = self._inner_loop(block, depth)
                if found is not None:
                    return found
            for sub in ast.walk(stmt):
                called = self.user_function(sub) if isinstance(sub, ast.Call) else None
                if called is not None and depth < _MAX_INLINE and self.has_step(called[0]):
                    inner = self._inner_loop(called[0].body, depth + 1)
                    if inner is not None:
                        return inner[0], inner[1] or called[0]
        return None

    def chain(self, loop: Loop) -> tuple[Loop | None, Loop]:
        """(epoch loop or None, batch loop) for a training loop."""
        outer: Loop | None = None
        current: Loop = loop
        while True:
            inner = self._inner_loop(current.body, 0)
            if inner is None:
                return outer, current
            outer, current = current, inner[0]

    # ------------------------------------------------------------ reading
    def read(self, loop: Loop, cell: CodeCell) -> LoopResult | None:
        """The lr statements of the training loop starting at ``loop`` (None: it steps no optimizer)."""
        if not self.has_step(loop):
            return None
        epoch_loop, batch_loop = self.chain(loop)
        result = LoopResult(location=cell.location(loop.lineno), has_epoch_loop=epoch_loop is not None)
        self._batch_loop = batch_loop
        self._result = result
        self._bindings: dict[str, _Binding] = {}
        self._epoch_var = _loop_var(epoch_loop) if epoch_loop is not None else None
        self._batch_vars = set(_target_names(batch_loop))
        self._step_vars: set[str] = set()
        if epoch_loop is not None:
            self._epochs(epoch_loop, cell, result)
            if loop is not epoch_loop:
                result.notes.append(
                    f"{cell.location(loop.lineno)}: an outer loop repeats the training (folds, runs); "
                    "one pass of it is read"
                )
            self._walk(epoch_loop.body, _State("epoch_start", cell, {}))
        else:
            self._walk([batch_loop], _State("batch", cell, {}))
        if result.accumulation is None:
            steps = [a for a in result.actions if a.action == "optimizer_step" and a.phase == "batch"]
            if steps and all(a.every for a in steps):
                result.accumulation = steps[0].every
        return result

    def _epochs(self, loop: Loop, cell: CodeCell, result: LoopResult) -> None:
        """The epoch count of ``for epoch in range(...)`` / ``while epoch < E``."""
        count_node: ast.expr | None = None
        start_node: ast.expr | None = None
        if isinstance(loop, (ast.For, ast.AsyncFor)):
            call = _unwrap_progress(loop.iter)
            names = self.env.call_name(call) if isinstance(call, ast.Call) else None
            if names and names[1] in ("range", "trange") and call.args:  # type: ignore[union-attr]
                args = call.args  # type: ignore[union-attr]
                count_node = args[0] if len(args) == 1 else args[1]
                start_node = args[0] if len(args) >= 2 else None
        elif (
            isinstance(loop.test, ast.Compare) and len(loop.test.comparators) == 1
            and isinstance(loop.test.ops[0], (ast.Lt, ast.LtE))
        ):
                count_node = loop.test.comparators[0]
        if count_node is None:
            result.notes.append(f"{cell.location(loop.lineno)}: the number of epochs is not a constant")
            return
        try:
            stop = self.env.fold(count_node).value
            start = self.env.fold(start_node).value if start_node is not None else 0
        except NotConstant as exc:
            result.notes.append(f"{cell.location(loop.lineno)}: epochs not known ({exc.args[0]})")
            return
        if isinstance(stop, int) and isinstance(start, int):
            extra = 1 if isinstance(loop, ast.While) and isinstance(loop.test.ops[0], ast.LtE) else 0
            result.epochs = max(stop - start + extra, 0)
            result.epochs_evidence = f"{cell.location(loop.lineno)}: {ast.unparse(_loop_head(loop))}"
            result.epochs_cli = self.env.cli_options(count_node)

    def _walk(self, stmts: list[ast.stmt], state: _State) -> None:
        for stmt in stmts:
            if stmt is self._batch_loop:
                self._enter_batch_loop(stmt, state)
                state.phase = "epoch_end"
                continue
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if isinstance(stmt, (ast.For, ast.AsyncFor)) and _over_param_groups(stmt):
                self._param_group_loop(stmt, state)
                continue
            if isinstance(stmt, ast.If):
                self._if(stmt, state)
                continue
            if isinstance(stmt, (ast.For, ast.While, ast.AsyncFor, ast.With, ast.AsyncWith, ast.Try)):
                if not isinstance(stmt, (ast.With, ast.AsyncWith, ast.Try)):
                    self._statement_calls(_loop_head(stmt), state)
                for block in _blocks(stmt):
                    self._walk(block, state)
                continue
            self._simple(stmt, state)

    def _enter_batch_loop(self, loop: Loop, state: _State) -> None:
        inner = _State("batch", state.cell, state.renames, None, state.depth)
        if isinstance(loop, (ast.For, ast.AsyncFor)):
            self._batch_source(loop)
        self._walk(loop.body, inner)

    def _batch_source(self, loop: ast.For | ast.AsyncFor) -> None:
        """The loader the batch loop iterates (or the batch count of ``range(0, N, B)``)."""
        for sub in ast.walk(loop.iter):
            bound = self.env.bound(sub, "loader") if isinstance(sub, (ast.Name, ast.Attribute)) else None
            if bound is not None:
                self._result.loader = self.env.key_of(sub)
                return
        call = _unwrap_progress(loop.iter)
        names = self.env.call_name(call) if isinstance(call, ast.Call) else None
        if names and names[1] == "range" and len(call.args) == 3:  # type: ignore[union-attr]
            try:
                start, stop, step = (self.env.fold(arg).value for arg in call.args)  # type: ignore[union-attr]
            except NotConstant:
                return
            if all(isinstance(v, int) for v in (start, stop, step)) and step > 0:
                self._result.batches = len(range(start, stop, step))

    def _if(self, stmt: ast.If, state: _State) -> None:
        try:
            taken = None if self.env.cli_options(stmt.test) else self.env.fold(stmt.test).value
        except NotConstant:
            taken = None
        if taken is not None and not any(name in self._bindings for name in _names(stmt.test)):
            self._walk(stmt.body if taken else stmt.orelse, state)
            return
        every = self._accumulation_guard(stmt.test) if state.phase == "batch" else None
        self._statement_calls(stmt.test, state)
        if every is not None:
            guarded = _State(state.phase, state.cell, state.renames, every, state.depth)
            self._walk(stmt.body, guarded)
            self._walk(stmt.orelse, state)
            return
        self._walk(stmt.body, state)
        self._walk(stmt.orelse, state)

    def _accumulation_guard(self, test: ast.expr) -> int | None:
        """K of ``(i + 1) % K == 0`` (also ``... or (i + 1) == len(loader)``, a flushing guard)."""
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
            for value in test.values:
                every = self._accumulation_guard(value)
                if every is not None:
                    self._result.flushes_last = True
                    return every
            return None
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
            return None
        left, right = test.left, test.comparators[0]
        if not (isinstance(left, ast.BinOp) and isinstance(left.op, ast.Mod)):
            return None
        counter = left.left
        offset_one = (
            isinstance(counter, ast.BinOp)
            and isinstance(counter.op, ast.Add)
            and (isinstance(counter.right, ast.Constant) and counter.right.value == 1)
        )
        try:
            modulus = self.env.fold(left.right).value
            remainder = self.env.fold(right).value
        except NotConstant:
            return None
        if not isinstance(modulus, int) or modulus < 1:
            return None
        if (offset_one and remainder == 0) or (not offset_one and remainder == modulus - 1):
            return modulus
        self._result.notes.append(
            f"guard {ast.unparse(test)!r}: statements run every {modulus} batches from batch {remainder}"
        )
        return None

    # ------------------------------------------------------------ statements
    def _simple(self, stmt: ast.stmt, state: _State) -> None:
        if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            self._assignment(stmt, state)
        self._statement_calls(stmt, state)

    def _assignment(self, stmt: ast.Assign | ast.AugAssign | ast.AnnAssign, state: _State) -> None:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        for target in targets:
            if _writes_group_lr(target, set()):
                self._set_lr(stmt, state, None)
                return
            if isinstance(stmt, ast.AugAssign) and isinstance(target, ast.Name) and state.phase == "batch":
                self._step_vars.add(target.id)
        if stmt.value is None:
            return
        read = self._read_of(stmt.value, state)
        for target in targets:
            if isinstance(target, ast.Name):
                if read is not None:
                    self._bindings[target.id] = _Binding(
                        read[0], read[1], state.phase, len(self._result.actions)
                    )
                else:
                    self._bindings.pop(target.id, None)

    def _param_group_loop(self, loop: ast.For | ast.AsyncFor, state: _State) -> None:
        """``for g in optimizer.param_groups: g["lr"] = ...`` (a write) or ``lr = g["lr"]`` (a read)."""
        group_vars = set(_target_names(loop))
        for stmt in ast.walk(loop):
            if isinstance(stmt, (ast.Assign, ast.AugAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                if any(_writes_group_lr(target, group_vars) for target in targets):
                    self._set_lr(stmt, state, None)
                    return
                if isinstance(stmt, ast.Assign) and _reads_group_lr(stmt.value, group_vars):
                    for target in targets:
                        if isinstance(target, ast.Name):
                            self._bindings[target.id] = _Binding(
                                "param_groups", None, state.phase, len(self._result.actions)
                            )
        for stmt in loop.body:
            self._statement_calls(stmt, state)

    def _set_lr(self, stmt: ast.stmt, state: _State, call_text: str | None) -> None:
        if call_text is not None:
            expression = call_text
        elif isinstance(stmt, ast.AugAssign):
            expression = f"lr {_OPERATORS.get(type(stmt.op), '?')}= {ast.unparse(stmt.value)}"
        else:
            expression = (
                ast.unparse(stmt.value) if getattr(stmt, "value", None) is not None else ast.unparse(stmt)
            )
        self._add(
            LoopAction(
                "set_lr",
                state.phase,
                state.cell.location(stmt.lineno),
                every=state.every,
                expression=expression,
            )
        )

    def _statement_calls(self, node: ast.AST, state: _State) -> None:
        """Every call of ``node`` that is an lr statement, in source order (nested reads not twice)."""
        calls = sorted(
            (sub for sub in ast.walk(node) if isinstance(sub, ast.Call)),
            key=lambda call: (call.lineno, call.col_offset),
        )
        consumed: set[int] = set()
        for call in calls:
            if id(call) in consumed:
                continue
            if self._call(call, state):
                consumed.update(id(sub) for sub in ast.walk(call))

    def _call(self, call: ast.Call, state: _State) -> bool:
        """Record ``call`` when it is an lr statement; True when it was (its inner calls are done)."""
        location = state.cell.location(call.lineno)
        if self.is_optimizer_step(call, state.renames):
            # kept as written: ``scaler.step(optimizer)`` (AMP) may skip the update
            self._add(LoopAction("optimizer_step", state.phase, location, every=state.every,
                                 expression=ast.unparse(call)))
            return True
        if self.is_scheduler_step(call, state.renames):
            receiver = self._variable(call.func.value, state)  # type: ignore[attr-defined]
            self._add(
                LoopAction(
                    "scheduler_step",
                    state.phase,
                    location,
                    every=state.every,
                    scheduler=receiver,
                    step_arg=self._step_arg(call, receiver),
                )
            )
            return True
        if self._log(call, state):
            return True
        called = self.user_function(call)
        if called is not None and state.depth < _MAX_INLINE:
            return self._user_call(call, called, state)
        return False

    def _user_call(self, call: ast.Call, called: tuple[ast.FunctionDef, CodeCell], state: _State) -> bool:
        function, cell = called
        if _function_writes_lr(function):
            self._set_lr(call, state, ast.unparse(call))
            self._result.functions.add(function.name)
            return True
        relevant = self.has_step(function) or any(
            isinstance(sub, ast.Call)
            and (self.is_scheduler_step(sub, {}) or self._log_target(sub) is not None)
            for sub in ast.walk(function)
        )
        if not relevant:
            return False
        self._result.functions.add(function.name)
        renames = dict(state.renames)
        params = [arg.arg for arg in function.args.args]
        for param, arg in zip(params, call.args, strict=False):
            key = self.env.key_of(arg)
            if key is not None and param != key:
                renames[param] = renames.get(key, key)
        for keyword in call.keywords:
            key = self.env.key_of(keyword.value)
            if keyword.arg and key is not None and keyword.arg != key:
                renames[keyword.arg] = renames.get(key, key)
        inner = _State(state.phase, cell, renames, state.every, state.depth + 1)
        self._walk(function.body, inner)
        state.phase = inner.phase
        return True

    def _variable(self, node: ast.expr, state: _State) -> str | None:
        key = self.env.key_of(node)
        return state.renames.get(key, key) if key is not None else None

    def _step_arg(self, call: ast.Call, receiver: str | None) -> str | None:
        """None, ``epoch``, ``epoch_fraction``, ``metric:<text>`` or ``explicit:<text>``."""
        arg = (
            call.args[0]
            if call.args
            else next((kw.value for kw in call.keywords if kw.arg in ("metrics", "epoch", "metric")), None)
        )
        if arg is None:
            return None
        bound = self.env.objects.get(receiver or "")
        plateau = (
            bound is not None
            and bound.construction is not None
            and (bound.construction.name == "ReduceLROnPlateau")
        )
        names = set(_names(arg))
        if plateau or any(kw.arg == "metrics" for kw in call.keywords):
            return f"metric:{ast.unparse(arg)}"
        if self._epoch_var is not None and names == {self._epoch_var}:
            return "epoch"
        if self._epoch_var in names and any(isinstance(sub, ast.Div) for sub in ast.walk(arg)):
            return "epoch_fraction"
        if bound is None and not names & (self._batch_vars | self._step_vars | {self._epoch_var}):
            return f"metric:{ast.unparse(arg)}"  # an unknown scheduler given a value that is no counter
        return f"explicit:{ast.unparse(arg)}"

    # ------------------------------------------------------------ lr reads and logs
    def _read_of(self, node: ast.expr, state: _State) -> tuple[str, str | None] | None:
        """(read, scheduler variable) when ``node`` reads the lr, else None."""
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id in self._bindings:
                binding = self._bindings[sub.id]
                return binding.read, binding.scheduler
            if (
                isinstance(sub, ast.Call)
                and isinstance(sub.func, ast.Attribute)
                and sub.func.attr
                in (
                    "get_last_lr",
                    "get_lr",
                )
            ):
                return sub.func.attr, self._variable(sub.func.value, state)
            if isinstance(sub, ast.Subscript) and _slice_is(sub, "lr") and _mentions_param_groups(sub.value):
                return "param_groups", None
            if isinstance(sub, (ast.ListComp, ast.GeneratorExp)) and _reads_group_lr(
                sub.elt, _comp_vars(sub)
            ) and any(_mentions_param_groups(gen.iter) for gen in sub.generators):
                return "param_groups", None
        return None

    def _log_target(self, call: ast.Call) -> tuple[str, ast.expr | None, list[ast.expr]] | None:
        """(sink, step expression, value expressions) of a logging call, None for other calls."""
        func = call.func
        name = (
            func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        )
        receiver = dotted_name(func.value) if isinstance(func, ast.Attribute) else None
        step = next((kw.value for kw in call.keywords if kw.arg in ("global_step", "step")), None)
        if name in ("add_scalar", "add_scalars") and len(call.args) >= 2:
            tag = call.args[0]
            tag_text = tag.value if isinstance(tag, ast.Constant) else ast.unparse(tag)
            if step is None and len(call.args) >= 3:
                step = call.args[2]
            return f"tensorboard:{tag_text}", step, [call.args[1]]
        if name == "log" and receiver and receiver.split(".")[0] in _TRACKERS and call.args:
            return "wandb", step, [call.args[0]]
        if name in ("log_metric", "log_metrics") and receiver and "mlflow" in receiver and call.args:
            return "mlflow", step, list(call.args[:2])
        if name in ("log", "log_dict") and receiver == "self" and call.args:
            return "lightning", None, list(call.args[:2])
        if name in _CONSOLE_CALLS:
            return _CONSOLE, None, [*call.args, *(kw.value for kw in call.keywords)]
        return None

    def _log(self, call: ast.Call, state: _State) -> bool:
        target = self._log_target(call)
        if target is None:
            return False
        sink, step, values = target
        for value in values:
            found = self._logged_value(value, state)
            if found is None:
                continue
            read, scheduler, read_phase, key = found
            if sink in ("wandb", "mlflow", "lightning"):
                sink = f"{sink}:{key or _first_string(call) or '?'}"
            text_format = (
                _format_of(call, value, lambda node: self._read_of(node, state) is not None)
                if sink == _CONSOLE
                else None
            )
            axis = self._axis(step, sink, state)
            position = self._read_position(value, state)
            action = LoopAction(
                "log_lr",
                state.phase,
                state.cell.location(call.lineno),
                every=state.every,
                scheduler=scheduler,
                read=read,
                sink=sink,
                axis=axis,
                text_format=text_format,
                read_phase=read_phase if read_phase != state.phase else None,
            )
            self._add(action, position)
            return True
        return False

    def _logged_value(self, value: ast.expr, state: _State) -> tuple[str, str | None, str, str | None] | None:
        """(read, scheduler, phase read in, dict key) of an lr read inside a logged value."""
        if isinstance(value, ast.Dict):  # wandb.log({"lr": ...})
            for key, item in zip(value.keys, value.values, strict=True):
                found = self._logged_value(item, state)
                if found is not None:
                    key_text = key.value if isinstance(key, ast.Constant) else None
                    return found[0], found[1], found[2], key_text
            return None
        read = self._read_of(value, state)
        if read is None:
            return None
        phase = state.phase
        for sub in ast.walk(value):
            if isinstance(sub, ast.Name) and sub.id in self._bindings:
                phase = self._bindings[sub.id].phase
                break
        return read[0], read[1], phase, None

    def _read_position(self, value: ast.expr, state: _State) -> int | None:
        """Where a value read earlier in the same phase belongs when the lr changed in between."""
        for sub in ast.walk(value):
            if isinstance(sub, ast.Name) and sub.id in self._bindings:
                binding = self._bindings[sub.id]
                later = self._result.actions[binding.position :]
                changed = any(a.action in ("scheduler_step", "set_lr") for a in later)
                if binding.phase == state.phase and changed:
                    return binding.position
        return None

    def _axis(self, step: ast.expr | None, sink: str, state: _State) -> str:
        if step is None:
            if sink == _CONSOLE:
                return "global_step" if state.phase == "batch" else "epoch"
            return "none"
        names = set(_names(step))
        if self._epoch_var is not None and names and names <= {self._epoch_var}:
            return "epoch"
        return "global_step"

    def _add(self, action: LoopAction, position: int | None = None) -> None:
        if position is None:
            self._result.actions.append(action)
        else:
            self._result.actions.insert(position, action)


_OPERATORS = {ast.Mult: "*", ast.Div: "/", ast.Add: "+", ast.Sub: "-"}


def _blocks(stmt: ast.stmt) -> list[list[ast.stmt]]:
    """The statement lists nested in a compound statement (not function/class bodies)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return []
    blocks = [getattr(stmt, name) for name in ("body", "orelse", "finalbody") if getattr(stmt, name, None)]
    blocks += [handler.body for handler in getattr(stmt, "handlers", [])]
    return blocks


def _loop_head(loop: Loop) -> ast.expr:
    return loop.iter if isinstance(loop, (ast.For, ast.AsyncFor)) else loop.test


def _loop_var(loop: Loop) -> str | None:
    if isinstance(loop, (ast.For, ast.AsyncFor)):
        names = _target_names(loop)
        return names[0] if names else None
    test = loop.test
    if isinstance(test, ast.Compare) and isinstance(test.left, ast.Name):
        return test.left.id
    return None


def _target_names(loop: Loop) -> list[str]:
    if not isinstance(loop, (ast.For, ast.AsyncFor)):
        return []
    return [sub.id for sub in ast.walk(loop.target) if isinstance(sub, ast.Name)]


def _unwrap_progress(node: ast.expr) -> ast.expr:
    """``tqdm(range(E))`` / ``enumerate(x)`` -> the iterable inside."""
    while isinstance(node, ast.Call) and node.args:
        name = dotted_name(node.func) or ""
        if name.rsplit(".", 1)[-1] not in ("tqdm", "enumerate", "iter", "progress_bar", "track"):
            break
        node = node.args[0]
    return node


def _names(node: ast.AST) -> list[str]:
    return [sub.id for sub in ast.walk(node) if isinstance(sub, ast.Name)]


def _slice_is(node: ast.Subscript, key: str) -> bool:
    return isinstance(node.slice, ast.Constant) and node.slice.value == key


def _mentions_param_groups(node: ast.AST) -> bool:
    return any(isinstance(sub, ast.Attribute) and sub.attr == "param_groups" for sub in ast.walk(node))


def _over_param_groups(loop: ast.stmt) -> bool:
    return isinstance(loop, (ast.For, ast.AsyncFor)) and _mentions_param_groups(loop.iter)


def _writes_group_lr(target: ast.expr, group_vars: set[str]) -> bool:
    if not (isinstance(target, ast.Subscript) and _slice_is(target, "lr")):
        return False
    base = target.value
    return _mentions_param_groups(base) or (isinstance(base, ast.Name) and base.id in group_vars)


def _reads_group_lr(node: ast.expr, group_vars: set[str]) -> bool:
    return any(
        isinstance(sub, ast.Subscript)
        and _slice_is(sub, "lr")
        and isinstance(sub.value, ast.Name)
        and sub.value.id in group_vars
        for sub in ast.walk(node)
    )


def _comp_vars(node: ast.ListComp | ast.GeneratorExp) -> set[str]:
    return {name for gen in node.generators for name in _names(gen.target)}


def _function_writes_lr(function: ast.FunctionDef) -> bool:
    """A user function such as ``adjust_learning_rate(optimizer, epoch)`` that sets ``param_groups`` lr."""
    group_vars = {
        name
        for loop in ast.walk(function)
        if isinstance(loop, ast.For) and _over_param_groups(loop)
        for name in _target_names(loop)
    }
    for stmt in ast.walk(function):
        if isinstance(stmt, (ast.Assign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if any(_writes_group_lr(target, group_vars) for target in targets):
                return True
    return False


def _first_string(call: ast.Call) -> str | None:
    first = call.args[0] if call.args else None
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def _format_of(call: ast.Call, value: ast.expr, reads: Callable[[ast.expr], bool]) -> str | None:
    """The format spec the console line uses for the lr: ``.4f``, ``g``, ``repr`` (None: not known)."""
    for node in ast.walk(value):
        if isinstance(node, ast.JoinedStr):
            for part in node.values:
                if isinstance(part, ast.FormattedValue) and reads(part.value):
                    return _spec_of_formatted(part)
    if (
        isinstance(value, ast.BinOp)
        and isinstance(value.op, ast.Mod)
        and isinstance(value.left, ast.Constant)
    ):
        return _percent_spec(value.left.value, value.right, reads)
    template = _format_template(value)
    if template is not None:
        return _brace_spec(template, value.args, reads)  # type: ignore[attr-defined]
    first = call.args[0] if call.args else None
    if (
        isinstance(first, ast.Constant)
        and isinstance(first.value, str)
        and "%" in first.value
        and value in call.args[1:]
    ):  # logging: logger.info("lr %.4f", lr)
        return _percent_spec(first.value, ast.Tuple(elts=call.args[1:]), reads)
    return "repr"  # print(lr) / str(lr): Python's shortest repr of the float


def _format_template(value: ast.expr) -> str | None:
    """The template of ``"... {:.4f}".format(...)``, None for any other expression."""
    func = value.func if isinstance(value, ast.Call) else None
    is_format = isinstance(func, ast.Attribute) and func.attr == "format"
    if not is_format:
        return None
    template = value.func.value  # type: ignore[attr-defined]
    return template.value if isinstance(template, ast.Constant) and isinstance(template.value, str) else None


def _spec_of_formatted(part: ast.FormattedValue) -> str:
    if part.conversion == ord("s"):
        return "str"
    if part.conversion == ord("r") or part.format_spec is None:
        return "repr"
    text = "".join(
        str(item.value) if isinstance(item, ast.Constant) else "{}"
        for item in part.format_spec.values  # type: ignore[attr-defined]
    )
    return text or "repr"


def _percent_spec(text: object, right: ast.expr, reads: Callable[[ast.expr], bool]) -> str | None:
    if not isinstance(text, str):
        return None
    specs = [spec for spec in _PERCENT_SPEC.findall(text) if spec != "%"]
    items = right.elts if isinstance(right, ast.Tuple) else [right]
    for spec, item in zip(specs, items, strict=False):
        if reads(item):
            return "repr" if spec.endswith(("s", "r")) else spec
    return None


def _brace_spec(text: str, args: list[ast.expr], reads: Callable[[ast.expr], bool]) -> str | None:
    try:
        fields = [spec for _, name, spec, _ in string.Formatter().parse(text) if name is not None]
    except ValueError:
        return None
    for spec, arg in zip(fields, args, strict=False):
        if reads(arg):
            return spec or "repr"
    return None
