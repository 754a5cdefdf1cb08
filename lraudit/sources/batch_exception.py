"""How many batches an epoch cut by an exception ran, from the traceback a batch callback left.

A progress bar is a lower bound on the batches that ran: Keras redraws it at most every 50 ms,
so a fit stopped by an exception mid-epoch shows e.g. ``1/12`` while six batches ran. When the
exception was raised in a callback's batch hook, its traceback often tells the exact count:
the innermost frame names the hook (``on_train_batch_end``), the line shown is the ``raise``
statement, and the last line is the message, in which the hook's ``batch`` argument was
interpolated. The ``raise`` line is parsed with :mod:`ast` (never evaluated) into a pattern;
the message matched against it gives ``batch``. A batch that *ended* ran its update (``batch``
is 0-based: ``batch + 1`` updates in the epoch); one that raised when it *began* did not.

Tracebacks read: IPython's (``Cell In[4], line 12, in Cls.on_train_batch_end(self, batch, logs)``
with ``---> 12`` marking the line, or ``<ipython-input-4-...> in on_train_batch_end(...)``) and
Python's (``File "train.py", line 12, in on_train_batch_end`` followed by the line).
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass

#: a traceback frame header and the function it names (with its parameters when shown)
_FRAME = re.compile(
    r"^(?:File\s|Cell In\s*\[|<ipython-input-|\S+\.py\b).*?\bin\s+(?:[\w<>]+\.)*([\w<>]+)(?:\((.*)\))?\s*:?$"
)
#: hooks run around one training batch: does the batch's update happen before the hook?
_BATCH_HOOKS = {
    "on_train_batch_end": True,
    "on_batch_end": True,  # Keras 2 alias of on_train_batch_end
    "on_train_batch_begin": False,
    "on_batch_begin": False,
}
#: a source line shown in a frame: IPython's arrow and line number, then the code
_SHOWN_LINE = re.compile(r"^(?P<arrow>-*>)?\s*(?:\d+\s+)?(?P<code>raise\b.*)$")
#: the final line of a traceback: ``ExceptionClass: message``
_EXCEPTION_LINE = re.compile(r"^(?P<name>[A-Za-z_][\w.]*): (?P<message>.*)$")


@dataclass
class _Hook:
    name: str
    parameter: str
    raise_code: str | None = None
    pointed: bool = False  # the raise line is the one IPython's arrow points at


class BatchHookRaise:
    """Fed the lines of a log one by one; tells the batches an epoch ran when a batch hook raised."""

    def __init__(self) -> None:
        self._hook: _Hook | None = None

    def line(self, text: str) -> tuple[int, str] | None:
        """``(updates in the cut epoch, evidence)`` when ``text`` ends a traceback that tells it."""
        text = text.strip()
        frame = _FRAME.match(text)
        if frame is not None:
            self._hook = self._hook_of(frame.group(1), frame.group(2))
            return None
        hook = self._hook
        if hook is None:
            return None
        shown = _SHOWN_LINE.match(text)
        if shown is not None:
            if not hook.pointed:
                hook.raise_code, hook.pointed = shown.group("code"), bool(shown.group("arrow"))
            return None
        raised = _EXCEPTION_LINE.match(text)
        if raised is None or hook.raise_code is None:
            return None
        self._hook = None
        name, message = raised.group("name"), raised.group("message")
        batch = batch_from_message(hook.raise_code, hook.parameter, name, message)
        if batch is None:
            return None
        ran = batch + 1 if _BATCH_HOOKS[hook.name] else batch
        evidence = (
            f"{raised.group('name')} raised in {hook.name} at batch {batch} "
            f"('{raised.group('message')[:80]}'), so {ran} batch(es) of that epoch ran (exact)"
        )
        return ran, evidence

    @staticmethod
    def _hook_of(function: str, parameters: str | None) -> _Hook | None:
        if function not in _BATCH_HOOKS:
            return None
        names = [part.split("=")[0].strip().lstrip("*") for part in (parameters or "").split(",")]
        names = [name for name in names if name and name != "self"]
        return _Hook(function, names[0] if names else "batch")


def batch_from_message(raise_code: str, parameter: str, exception: str, message: str) -> int | None:
    """The value of ``parameter`` in ``message``, as the f-string of ``raise_code`` formats it.

    ``raise RuntimeError(f"budget used up (batch {batch})")`` and the message
    ``budget used up (batch 5)`` give 5; ``{batch + 1}`` gives the printed number minus one.
    None when the statement is not a ``raise`` of ``exception`` with an f-string whose text
    around the placeholders matches the message exactly.
    """
    try:
        tree = ast.parse(raise_code.strip())
    except (SyntaxError, ValueError):
        return None
    statement = tree.body[0] if len(tree.body) == 1 else None
    if not isinstance(statement, ast.Raise) or not isinstance(statement.exc, ast.Call):
        return None
    call = statement.exc
    called = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)
    if called != exception.rsplit(".", 1)[-1] or not call.args or not isinstance(call.args[0], ast.JoinedStr):
        return None
    pattern, offsets = _pattern(call.args[0], parameter)
    if not offsets:
        return None
    match = re.fullmatch(pattern, message, flags=re.DOTALL)
    if match is None:
        return None
    values = {int(match.group(f"b{index}")) - offset for index, offset in enumerate(offsets)}
    return values.pop() if len(values) == 1 else None


def _pattern(template: ast.JoinedStr, parameter: str) -> tuple[str, list[int]]:
    """A regex for the f-string: literal text escaped, ``{parameter (+|- k)}`` captured."""
    parts, offsets = [], []
    for value in template.values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            parts.append(re.escape(value.value))
            continue
        offset = _parameter_offset(value.value, parameter) if isinstance(value, ast.FormattedValue) else None
        if offset is not None and isinstance(value, ast.FormattedValue) and value.format_spec is None:
            parts.append(f"(?P<b{len(offsets)}>-?\\d+)")
            offsets.append(offset)
        else:
            parts.append(".*?")
    return "".join(parts), offsets


def _parameter_offset(node: ast.expr, parameter: str) -> int | None:
    """``k`` when ``node`` is ``parameter``, ``parameter + k`` or ``parameter - k`` (int ``k``)."""
    if isinstance(node, ast.Name) and node.id == parameter:
        return 0
    if (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, (ast.Add, ast.Sub))
        and isinstance(node.left, ast.Name)
        and node.left.id == parameter
        and isinstance(node.right, ast.Constant)
        and type(node.right.value) is int
    ):
        return node.right.value if isinstance(node.op, ast.Add) else -node.right.value
    return None


__all__ = ["BatchHookRaise", "batch_from_message"]
