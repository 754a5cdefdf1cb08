"""What the static reading of training code yields: cells in, trainings with their optimizer out.

Every value carries where it was read (``notebook.ipynb:cell 12:line 3`` or ``train.py:3``)
and the definitions it was computed from, so a finding can cite the user's own line.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from lraudit.semantics.specs import CallbackSpec, OptimizerSpec


@dataclass(frozen=True)
class CodeCell:
    """One unit of code: a notebook code cell or a whole script.

    ``label`` names it in citations (``"notebook.ipynb:cell 12"`` or ``"train.py"``);
    ``execution_count`` is the notebook's (None, or 0 in Colab, when the cell has not run in
    the saved session; always None for a script).
    """

    text: str
    label: str
    execution_count: int | None = None

    @property
    def executed(self) -> bool:
        """True when the notebook recorded an execution of this cell."""
        return bool(self.execution_count)

    def location(self, line: int) -> str:
        """``label:line N`` inside a notebook cell, ``file:N`` for a script (as other sources cite)."""
        return f"{self.label}:line {line}" if ":cell " in self.label else f"{self.label}:{line}"


@dataclass
class ScheduleFunction:
    """A ``LearningRateScheduler`` schedule as defined in the code (a ``def`` or a ``lambda``).

    ``evaluable`` is True when the function is a pure function of ``(epoch[, lr])`` made of
    literals, arithmetic, whitelisted math functions and conditionals; its ``node`` is then
    kept for a safe evaluator, with the module constants it reads in ``constants`` (values
    at the time the callback was built). Otherwise ``reason`` says what stops it.
    """

    name: str
    location: str
    node: ast.FunctionDef | ast.Lambda
    params: list[str]
    evaluable: bool
    reason: str | None = None
    constants: dict[str, Any] = field(default_factory=dict)
    citations: list[str] = field(default_factory=list)
    #: True when it takes the current lr (``fn(epoch, lr)``, Keras 2.2+), False for ``fn(epoch)``
    takes_lr: bool = False


@dataclass
class OptimizerRecord:
    """One optimizer object constructed in the code (or a compile string shortcut)."""

    id: int
    expression: str
    location: str
    spec: OptimizerSpec | None
    reasons: list[str] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)
    #: ``compile(optimizer='adam')``: the class default lr of the era applies
    shortcut: bool = False


@dataclass
class CallbackRecord:
    """One callback object constructed in the code."""

    class_name: str
    expression: str
    location: str
    spec: CallbackSpec | None
    reasons: list[str] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)
    #: an instance of a class defined in the code (``CyclicLR()``), not a Keras callback
    custom: bool = False
    #: for a custom class: True when its code sets the lr (``K.set_value(...lr...)``)
    custom_sets_lr: bool = False
    schedule_function: ScheduleFunction | None = None
    used: bool = False


@dataclass
class LrChange:
    """The lr variable set between fits: ``K.set_value(model.optimizer.lr, X)``, ``.assign(X)``.

    Either an absolute ``value`` or a ``factor`` of the current value
    (``set_value(adam.lr, 0.1 * get_value(adam.lr))``); both None with a ``reason`` otherwise.
    """

    location: str
    target: str
    optimizer_id: int | None
    text: str
    value: float | None = None
    factor: float | None = None
    reason: str | None = None
    citations: list[str] = field(default_factory=list)


@dataclass
class CodeMarker:
    """Something in the code that shows in the output between fits: ``model.summary()``, a new model."""

    kind: str  # "summary" | "new_model"
    name: str
    location: str
    order: int


@dataclass
class FitArgument:
    """One argument of a ``fit`` call: its folded value, or the reason it has none."""

    name: str
    text: str
    location: str
    value: Any = None
    citations: list[str] = field(default_factory=list)
    reason: str | None = None


@dataclass
class CodeFit:
    """One ``fit``/``fit_generator`` call, in execution order, linked to its compile and optimizer."""

    index: int
    method: str  # "fit" | "fit_generator" | "train"
    model: str
    location: str
    cell: str
    execution_count: int | None
    #: identity of the model object (a name rebound to a new model gets a new id)
    model_id: int
    optimizer: OptimizerSpec | None
    optimizer_record: OptimizerRecord | None
    optimizer_reasons: list[str] = field(default_factory=list)
    compile_location: str | None = None
    callbacks: list[CallbackSpec] = field(default_factory=list)
    callback_records: list[CallbackRecord] = field(default_factory=list)
    callback_reasons: list[str] = field(default_factory=list)
    arguments: dict[str, FitArgument] = field(default_factory=dict)
    #: lr changes to this fit's optimizer since its previous fit (or its construction)
    lr_changes: list[LrChange] = field(default_factory=list)
    #: index of the earlier fit that used the same optimizer object (iterations continue)
    continues_fit: int | None = None
    notes: list[str] = field(default_factory=list)

    def argument(self, *names: str) -> Any:
        """The folded value of the first of ``names`` given a value (None when none is)."""
        for name in names:
            found = self.arguments.get(name)
            if found is not None and found.value is not None:
                return found.value
        return None

    @property
    def epochs(self) -> Any:
        """``epochs`` (Keras 1: ``nb_epoch``) as folded, else None."""
        return self.argument("epochs", "nb_epoch")

    @property
    def batch_size(self) -> Any:
        """``batch_size`` as folded, else None."""
        return self.argument("batch_size")

    @property
    def steps_per_epoch(self) -> Any:
        """``steps_per_epoch`` as folded, else None (Keras 1 ``samples_per_epoch`` is not steps)."""
        return self.argument("steps_per_epoch")

    @property
    def initial_epoch(self) -> Any:
        """``initial_epoch`` as folded, else None."""
        return self.argument("initial_epoch")


@dataclass
class CodeFacts:
    """Everything read from the code of one notebook or script."""

    trainings: list[CodeFit] = field(default_factory=list)
    markers: list[CodeMarker] = field(default_factory=list)
    lr_changes: list[LrChange] = field(default_factory=list)
    schedule_functions: list[ScheduleFunction] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: ``(backend, where)``: the ``KERAS_BACKEND`` the code set before importing Keras, if any
    keras_backend: tuple[str, str] | None = None
