"""float32 values and their text: the one place every stage, rule and report takes them from.

Keras holds the lr in a float32 variable, so every comparison rounds to float32 first, and
every lr shown to a user is the shortest text that reads back as the same float32 (``0.00075``,
not ``0.000750000035623``). Console progress bars round values to a few digits: a printed
value is compared within half a unit of its last digit (:func:`print_precision`).
"""
from __future__ import annotations

import math
import re

import numpy as np

#: half a unit of Keras' default 4-decimal progress-bar text, when the text itself is unknown
DEFAULT_PRINT_PRECISION = 0.5e-4

_PRINTED_NUMBER = re.compile(r"^\s*[-+]?\d*\.(\d+)(?:[eE]([-+]?\d+))?\s*$")


def f32(value: float) -> np.float32:
    """``value`` as the float32 Keras stores (the unit every comparison of lr values uses)."""
    return np.float32(value)


def f32_float(value: float) -> float:
    """``value`` rounded to float32 and widened back to a Python float (exact)."""
    return float(np.float32(value))


def lr_text(value: float | None, missing: str = "n/a") -> str:
    """An lr as its shortest float32 text (``0.00075``); ``NaN``/``inf``/``-inf`` as such.

    ``missing`` is what ``None`` (no value) reads as: ``"n/a"`` in messages, ``"-"`` or ``""``
    in table cells.
    """
    if value is None:
        return missing
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return str(np.float32(number))


def print_precision(text: object, default: float | None = DEFAULT_PRINT_PRECISION) -> float | None:
    """Half a unit of the last printed digit of ``text`` (``"0.0010"`` -> 5e-5, ``"7.5000e-04"``
    -> 5e-9); ``default`` when the text is missing or not a plain decimal number."""
    # None, NaN and pd.NA print as "None"/"nan"/"<NA>": no match, the default
    match = _PRINTED_NUMBER.match(str(text))
    if not match:
        return default
    exponent = int(match.group(2) or 0)
    return 0.5 * 10.0 ** (exponent - len(match.group(1)))


def epoch_text(epoch: int | None, total: int | None = None) -> str:
    """A 0-based epoch as Keras's console prints it: ``epoch 8/8`` (1-based, of ``total``).

    Every human-readable message names epochs this way, so that a finding reads like the line
    ``Epoch 8/8`` (or ``Epoch 8: ReduceLROnPlateau ...``) it points to. Machine fields (the JSON
    ``epoch``, the timeline's ``epoch`` column) stay 0-based. ``total`` is left out when unknown.
    """
    if epoch is None:
        return "epoch ?"
    number = int(epoch) + 1
    return f"epoch {number}/{int(total)}" if total else f"epoch {number}"


def epochs_text(epochs: list[int] | tuple[int, ...], total: int | None = None) -> str:
    """Several 0-based epochs as Keras numbers them: ``epochs 3, 6 and 8 (of 8)``; ranges of
    consecutive epochs are joined (``epochs 2-5 (of 8)``)."""
    numbers = sorted({int(e) + 1 for e in epochs})
    if not numbers:
        return "no epoch"
    if len(numbers) == 1:
        return epoch_text(numbers[0] - 1, total)
    return f"epochs {epoch_numbers(epochs)}{f' (of {int(total)})' if total else ''}"


def epoch_numbers(epochs: list[int] | tuple[int, ...]) -> str:
    """0-based epochs as the 1-based numbers Keras prints, runs joined: ``3-5 and 8``; ``none``."""
    numbers = sorted({int(e) + 1 for e in epochs})
    if not numbers:
        return "none"
    runs: list[str] = []
    start = previous = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        runs.append(f"{start}" if start == previous else f"{start}-{previous}")
        if number is not None:
            start = previous = number
    return runs[0] if len(runs) == 1 else ", ".join(runs[:-1]) + " and " + runs[-1]


def logged_epoch_text(epoch: int, where: str) -> str:
    """How a file that counts epochs from 0 (CSVLogger, History, TensorBoard's step) names one:
    ``epoch=7 in history.csv`` — said explicitly, since the console calls the same epoch 8."""
    return f"epoch={int(epoch)} in {where}"
