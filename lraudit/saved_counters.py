"""What the iteration counters of saved models say about the logged run.

A saved model (``.h5`` ``optimizer_weights``, ``.keras`` ``optimizer/vars/0``) stores the
optimizer's ``iterations``: the number of updates done when it was saved. A model saved by
``ModelCheckpoint`` at the end of an epoch, or by ``model.save`` after ``fit()``, holds the
counter at an epoch end, so its counters

* tell the steps per epoch when the logs do not (a CSVLogger/History file alone, or a
  Keras 1/2.0-2.2 console paste whose sample-count bars, ``10000/10000``, count samples and
  whose ``Train on N samples`` header was not pasted): several counters that are all
  multiples of one number, the largest one epoch-count times it, decide it;
* show a file that cannot come from the logged run: a counter that no epoch end of the
  logged epochs explains (a warning naming both numbers).

Only the content decides: file names (``saved-model-08-0.96.hdf5``) are never read for the
epoch a file was saved at; that epoch is the counter divided by the steps per epoch.
Pure arithmetic on integers: no file is read here.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from lraudit.run import Fit, SavedCounter


@dataclass
class CounterReading:
    """The verdict of the saved counters on the logged run.

    ``steps_per_epoch`` is set only when the counters decide it against (or in the absence
    of) the logged value; ``notes`` say which counters decided it, ``warnings`` name every
    counter the logged run cannot have produced.
    """

    steps_per_epoch: int | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _described(counters: Sequence[SavedCounter]) -> str:
    return ", ".join(f"{counter.iterations} ({counter.path})" for counter in counters)


def steps_from_counters(values: Sequence[int], epochs: int) -> tuple[int, list[int]] | None:
    """The steps per epoch that makes the counters in ``values`` epoch ends of ``epochs`` epochs,
    with the counters that decided it; None when no number, or more than one, fits.

    The largest counter is first taken as saved after the last epoch (``model.save`` after
    ``fit()``, the last ``ModelCheckpoint``): steps = largest / epochs, when every counter is a
    multiple of it. Otherwise, with two or more counters, the one divisor of their greatest
    common divisor that keeps the largest within ``epochs`` epochs. A file saved by a longer run
    than the one logged holds a larger counter: when all counters together decide nothing, the
    largest ones are left out one by one (two counters at least must still agree).
    """
    positive = sorted({int(value) for value in values if value > 0})
    if epochs <= 0:
        return None
    for keep in range(len(positive), 0, -1):
        kept = positive[:keep]
        if keep < len(positive) and keep < 2:
            break
        steps = _steps_of_all(kept, epochs)
        if steps is not None:
            return steps, kept
    return None


def _steps_of_all(positive: list[int], epochs: int) -> int | None:
    """:func:`steps_from_counters` for exactly these (sorted, positive) counters."""
    largest = positive[-1]
    if largest % epochs == 0 and all(value % (largest // epochs) == 0 for value in positive):
        return largest // epochs
    if len(positive) < 2:
        return None
    common = math.gcd(*positive)
    smallest_steps = -(-largest // epochs)  # the largest counter must fit in the logged epochs
    candidates = [d for d in _divisors(common) if d >= smallest_steps]
    return candidates[0] if len(candidates) == 1 else None


def _divisors(number: int) -> list[int]:
    small = [d for d in range(1, math.isqrt(number) + 1) if number % d == 0]
    return sorted(set(small) | {number // d for d in small})


def epoch_end_counters(fits: Sequence[Fit], steps: Sequence[int], accumulation: int = 1) -> set[int]:
    """Every counter value an epoch end of ``fits`` can hold (``steps`` per epoch of each fit).

    The counter continues across ``fit()`` calls unless a new optimizer restarted it at some
    fit, and a run resumed at ``initial_epoch`` > 0 may carry the counter of the epochs before
    it (at the first fit's steps per epoch): all those layouts are allowed. With Keras 3
    gradient accumulation the counter counts updates, one every ``accumulation`` batches.
    """
    ends: set[int] = {0}
    first = fits[0].first_epoch if fits else 0
    for start in range(len(fits)):
        bases = {0, steps[0] * first} if start == 0 else {0}
        for base in bases:
            counter = base
            for fit, fit_steps in zip(fits[start:], steps[start:], strict=False):
                length = max(fit.end_epoch - fit.first_epoch, 0)
                ends.update(counter + fit_steps * k for k in range(1, length + 1))
                counter += fit_steps * length
    if accumulation > 1:
        ends = {end // accumulation for end in ends}
    return ends


def sample_batch_sizes(bar_count: int, steps: int) -> tuple[int, int] | None:
    """The batch sizes ``b`` with ceil(bar_count / b) = steps, as (lowest, highest); None if none.

    A sample-count bar (``10000/10000``) divided into batches of ``b`` gives ceil(N/b) steps:
    when the counters' steps per epoch is one of those, the bar counted samples.
    """
    if steps <= 0 or bar_count <= steps:
        return None
    lowest = -(-bar_count // steps)
    if -(-bar_count // lowest) != steps:
        return None
    highest = (bar_count - 1) // (steps - 1) if steps > 1 else bar_count
    return lowest, highest


def read_counters(
    counters: Sequence[SavedCounter],
    fits: Sequence[Fit],
    epochs: int,
    logged_steps: int | None,
    bars_may_count_samples: bool,
    accumulation: int = 1,
) -> CounterReading:
    """What ``counters`` say about a run of ``fits`` (``epochs`` in all; see the module docstring).

    ``logged_steps`` is the steps per epoch the logs show for the run (a fit's own count comes
    first; None when the logs do not show it); ``bars_may_count_samples`` is True when that
    number was read off a progress bar that may count samples (no ``Train on N samples``
    header, not Keras 3).
    """
    reading = CounterReading()
    if not counters or epochs <= 0 or not fits:
        return reading
    per_fit = [fit.steps_per_epoch or logged_steps for fit in fits]
    found = steps_from_counters([c.iterations for c in counters], epochs) if accumulation <= 1 else None
    decided, deciding = found if found is not None else (None, [])
    if all(per_fit):
        steps = [int(value) for value in per_fit if value]
        unexplained = _unexplained(counters, fits, steps, accumulation)
        if not unexplained:
            return reading
        batches = sample_batch_sizes(steps[0], decided) if decided is not None else None
        if len(set(steps)) > 1 or not bars_may_count_samples or batches is None:
            fitting = f"; the counters fit {decided} steps per epoch" if decided is not None else ""
            _warn(reading, unexplained, fits, steps, epochs, fitting)
            return reading
        why = _samples_reason(steps[0], batches)
    elif decided is not None:
        why = "the logs do not show the steps per epoch"
    else:
        return reading
    reading.steps_per_epoch = decided
    used = [c for c in counters if c.iterations in deciding]
    reading.notes.append(_decided_note(used, decided, epochs, why))
    steps = [decided] * len(fits)
    _warn(reading, _unexplained(counters, fits, steps, accumulation), fits, steps, epochs, "")
    return reading


def _unexplained(
    counters: Sequence[SavedCounter], fits: Sequence[Fit], steps: list[int], accumulation: int
) -> list[SavedCounter]:
    ends = epoch_end_counters(fits, steps, accumulation)
    return [counter for counter in counters if counter.iterations not in ends]


def _warn(
    reading: CounterReading,
    unexplained: list[SavedCounter],
    fits: Sequence[Fit],
    steps: list[int],
    epochs: int,
    fitting: str,
) -> None:
    """One warning per counter no epoch end of the logged run explains, naming both numbers."""
    described = f"{steps[0]} steps" if len(set(steps)) == 1 else f"{'/'.join(map(str, steps))} steps (by fit)"
    updates = sum(max(fit.end_epoch - fit.first_epoch, 0) * n for fit, n in zip(fits, steps, strict=False))
    for counter in unexplained:
        reading.warnings.append(
            f"{counter.path}: saved iteration counter {counter.iterations} is no epoch end of the logged "
            f"run ({epochs} epoch(s) of {described} per epoch, {updates} updates){fitting}: the file was "
            "saved by another run, inside an epoch, or the logs hold only part of its training"
        )


def _samples_reason(bar_count: int, batches: tuple[int, int]) -> str:
    low, high = batches
    sizes = str(low) if low == high else f"{low} to {high}"
    return (
        f"the progress bars' {bar_count}/{bar_count} counts samples (a Keras 1/2.0-2.2 sample-count bar "
        f"whose 'Train on N samples' header is not in the logs), not steps: batches of {sizes} give "
        "that many steps"
    )


def _decided_note(counters: Sequence[SavedCounter], steps: int, epochs: int, why: str) -> str:
    ordered = sorted(counters, key=lambda counter: counter.iterations)
    counts = ", ".join(str(counter.iterations // steps) for counter in ordered)
    last = " (the largest one after the last)" if ordered[-1].iterations == steps * epochs else ""
    return (
        f"steps per epoch {steps} from the saved iteration counters {_described(ordered)}: each is "
        f"{steps} x an epoch count ({counts}) within the {epochs} logged epochs{last}, so that is the "
        f"epoch each file was saved at; {why}"
    )
