"""The legacy ``decay`` that gives an intended per-epoch factor, and what that answer misses.

The usual answer to "I want the lr multiplied by F after every epoch of N batches" is
``decay = (1/F - 1) / N``: Keras 2's legacy ``decay`` divides the lr by ``1 + decay * iterations``
on every *batch* (reference §1.1-§1.2, §8.1), so after the first epoch (counter ``N``) the lr is
``lr / (1 + (1/F - 1)) = F * lr``. What the answer misses: inverse-time decay slows down, so the
factor of epoch ``e`` is ``(1 + d*N*(e-1)) / (1 + d*N*e)``, which climbs towards 1. The schedule
that really keeps ``xF`` per epoch is ``ExponentialDecay(lr, decay_steps=N, decay_rate=F)``.

This module is a closed-form calculator (float64): it advises on a choice of hyperparameters,
it does not reconstruct what a run applied (that is :mod:`lraudit.semantics`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from lraudit.errors import UsageError

if TYPE_CHECKING:
    from lraudit.report.workflow_text import Block

#: how many epochs the factor table shows when the user does not say
DEFAULT_EPOCHS = 10


@dataclass
class EpochFactor:
    """One epoch (1-based, as Keras prints ``Epoch e/E``) under the two schedules."""

    epoch: int
    #: lr after epoch e / lr after epoch e-1 with legacy (inverse-time) decay
    decay_factor: float
    #: lr after epoch e / initial lr with legacy decay
    decay_cumulative: float
    #: the intended cumulative factor F**e (what ExponentialDecay gives)
    intended_cumulative: float
    #: lr after epoch e with legacy decay (only when --lr was given)
    decay_lr: float | None = None
    #: lr after epoch e with the ExponentialDecay schedule (only when --lr was given)
    schedule_lr: float | None = None


@dataclass
class DecaySolution:
    """The answer of ``lraudit solve-decay``."""

    factor: float
    steps_per_epoch: int
    epochs: int
    keras: str
    lr: float | None
    #: the legacy ``decay`` giving ``x factor`` after the first epoch: (1/F - 1)/N
    decay: float
    #: the same as a simple fraction when it is one (e.g. "1/300"), else None
    decay_fraction: str | None
    rows: list[EpochFactor]
    #: code lines in the syntax of the chosen Keras era
    decay_code: str
    schedule_code: str
    smooth_schedule_code: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def legacy_decay_for_factor(factor: float, steps_per_epoch: int) -> float:
    """The legacy ``decay`` giving ``x factor`` after the first epoch: ``(1/F - 1) / N``."""
    return (1.0 / factor - 1.0) / steps_per_epoch


def inverse_time_epoch_factors(decay: float, steps_per_epoch: int, epochs: int) -> list[float]:
    """Per-epoch factor of legacy decay, epoch e (1-based): ``(1 + d*N*(e-1)) / (1 + d*N*e)``."""
    per_epoch = decay * steps_per_epoch
    return [(1.0 + per_epoch * (e - 1)) / (1.0 + per_epoch * e) for e in range(1, epochs + 1)]


def solve_decay(
    factor: float,
    steps_per_epoch: int,
    *,
    epochs: int = DEFAULT_EPOCHS,
    lr: float | None = None,
    keras: str = "2",
) -> DecaySolution:
    """Solve for the legacy ``decay`` giving ``x factor`` per epoch and show why it only holds once.

    Raises :class:`~lraudit.errors.UsageError` unless ``0 < factor < 1``, ``steps_per_epoch >= 1``,
    ``epochs >= 1``, ``lr > 0`` (when given) and ``keras`` is ``"2"`` or ``"3"``.
    """
    _validate(factor, steps_per_epoch, epochs, lr, keras)
    decay = legacy_decay_for_factor(factor, steps_per_epoch)
    factors = inverse_time_epoch_factors(decay, steps_per_epoch, epochs)
    rows = []
    for epoch, epoch_factor in enumerate(factors, start=1):
        cumulative = 1.0 / (1.0 + decay * steps_per_epoch * epoch)
        intended = factor**epoch
        rows.append(
            EpochFactor(
                epoch=epoch,
                decay_factor=epoch_factor,
                decay_cumulative=cumulative,
                intended_cumulative=intended,
                decay_lr=None if lr is None else lr * cumulative,
                schedule_lr=None if lr is None else lr * intended,
            )
        )
    lr_text = "lr" if lr is None else _short(lr)
    solution = DecaySolution(
        factor=factor,
        steps_per_epoch=steps_per_epoch,
        epochs=epochs,
        keras=keras,
        lr=lr,
        decay=decay,
        decay_fraction=_as_fraction(decay),
        rows=rows,
        decay_code=_decay_code(keras, lr_text, _decay_text(decay)),
        schedule_code=_schedule_code(keras, lr_text, steps_per_epoch, factor, staircase=True),
        smooth_schedule_code=_schedule_code(keras, lr_text, steps_per_epoch, factor, staircase=False),
    )
    solution.notes = _notes(solution)
    return solution


def _validate(factor: float, steps_per_epoch: int, epochs: int, lr: float | None, keras: str) -> None:
    if not (math.isfinite(factor) and 0.0 < factor < 1.0):
        raise UsageError(f"factor must be between 0 and 1 (exclusive), not {factor!r}", argument="factor")
    if steps_per_epoch < 1:
        raise UsageError(
            f"steps_per_epoch must be a positive integer, not {steps_per_epoch}", argument="steps_per_epoch"
        )
    if epochs < 1:
        raise UsageError(f"epochs must be a positive integer, not {epochs}", argument="epochs")
    if lr is not None and not (math.isfinite(lr) and lr > 0.0):
        raise UsageError(f"lr must be a positive number, not {lr!r}", argument="lr")
    if keras not in ("2", "3"):
        raise UsageError(f"keras must be '2' or '3', not {keras!r}", argument="keras")


def _as_fraction(value: float) -> str | None:
    """``"1/300"`` when ``value`` is a simple fraction (up to float rounding), else None."""
    approx = Fraction(value).limit_denominator(1_000_000)
    if approx.numerator == 0 or abs(float(approx) - value) > 1e-12 * abs(value):
        return None
    return f"{approx.numerator}/{approx.denominator}"


def _short(value: float) -> str:
    """Shortest text that reads back as ``value`` (``0.001`` rather than ``0.0010000000``)."""
    return repr(float(value))


def _decay_text(decay: float) -> str:
    """``1/300`` when the decay is a simple fraction (exact to the user's eye), else 10 digits."""
    return _as_fraction(decay) or f"{decay:.10g}"


def _decay_code(keras: str, lr_text: str, decay: str) -> str:
    if keras == "2":
        return f"tf.keras.optimizers.legacy.Adam(learning_rate={lr_text}, decay={decay})"
    # Keras 3 ignores `decay`; the bit-identical replacement is InverseTimeDecay(decay_steps=1)
    return (
        "keras.optimizers.Adam(learning_rate=keras.optimizers.schedules.InverseTimeDecay("
        f"{lr_text}, decay_steps=1, decay_rate={decay}))"
    )


def _schedule_code(keras: str, lr_text: str, steps_per_epoch: int, factor: float, *, staircase: bool) -> str:
    prefix = "tf.keras" if keras == "2" else "keras"
    return (
        f"{prefix}.optimizers.schedules.ExponentialDecay({lr_text}, decay_steps={steps_per_epoch}, "
        f"decay_rate={factor!r}, staircase={staircase})"
    )


def _notes(solution: DecaySolution) -> list[str]:
    last = solution.rows[-1]
    first_factor = solution.rows[0].decay_factor
    notes = [
        f"decay={solution.decay:.6g} gives x{first_factor:.6g} after epoch 1 only: legacy decay divides "
        "the lr by 1 + decay*iterations on every batch (inverse-time decay), so each later epoch "
        f"shrinks the lr less (x{last.decay_factor:.4g} in epoch {last.epoch}).",
        f"After {last.epoch} epochs the lr is {100 * last.decay_cumulative:.3g}% of the start with decay, "
        f"{100 * last.intended_cumulative:.3g}% with x{solution.factor:g} every epoch.",
        f"ExponentialDecay(decay_steps={solution.steps_per_epoch}, decay_rate={solution.factor:g}) keeps "
        f"x{solution.factor:g} every epoch: staircase=True changes the lr once per epoch (at the first "
        "batch of the next epoch), staircase=False a little at every batch.",
        "decay_steps counts optimizer updates (batches), not epochs.",
    ]
    if solution.keras == "2":
        notes.append(
            "Keras 2: decay= works on tf.keras < 2.11 optimizers and tf.keras.optimizers.legacy.*; "
            "the 2.11+ default optimizers reject it (ValueError)."
        )
    else:
        notes.append(
            "Keras 3 ignores decay= (warning 'Argument `decay` is no longer supported and will be "
            "ignored'): the lr stays constant. Use a schedule instead; InverseTimeDecay(decay_steps=1) "
            "reproduces Keras 2's legacy decay exactly."
        )
    return notes


def solution_document(solution: DecaySolution) -> list[Block]:
    """The answer as a document for :func:`lraudit.report.workflow_text.print_document`."""
    from lraudit.report.workflow_text import Heading, Table

    fraction = f" (= {solution.decay_fraction})" if solution.decay_fraction else ""
    blocks: list[Block] = [
        Heading(f"decay for x{solution.factor:g} per epoch at {solution.steps_per_epoch} steps per epoch"),
        f"decay = (1/{solution.factor:g} - 1) / {solution.steps_per_epoch} = {solution.decay:.6g}{fraction}",
    ]
    if solution.keras == "2":
        blocks.append(f"  {solution.decay_code}")
    else:
        blocks.append(f"  Keras 3 ignores decay=; the same per-batch decay is: {solution.decay_code}")
    columns = ["epoch", "x per epoch (decay)", "of start (decay)", f"of start (x{solution.factor:g}/epoch)"]
    if solution.lr is not None:
        columns += ["lr after (decay)", "lr after (ExponentialDecay)"]
    rows = []
    for row in solution.rows:
        cells = [
            str(row.epoch),
            f"{row.decay_factor:.4f}",
            f"{row.decay_cumulative:.4g}",
            f"{row.intended_cumulative:.4g}",
        ]
        if solution.lr is not None:
            cells += [f"{row.decay_lr:.6g}", f"{row.schedule_lr:.6g}"]
        rows.append(cells)
    blocks += [
        Heading("what that answer misses"),
        Table(columns, rows, title="factor per epoch: inverse-time decay vs the intended one"),
        *solution.notes,
        Heading("the schedule that keeps the factor every epoch"),
        f"  {solution.schedule_code}",
        f"  smooth (every batch): {solution.smooth_schedule_code}",
    ]
    return blocks
