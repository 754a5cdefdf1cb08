"""Updates an fp16 ``GradScaler`` skipped, read from a Trainer's logged lr.

With ``fp16=True`` the scaler skips ``optimizer.step()`` when the scaled gradients overflow (a few
times at the start, while the scale 2**16 comes down, then now and then). The Hugging Face Trainer
does not step its scheduler after a skipped update (``optimizer_was_run`` before 4.30,
``accelerator.optimizer_step_was_skipped`` since), while ``global_step`` counts it: from then on
each logged ``learning_rate`` is the schedule's value ``k`` updates earlier, ``k`` the updates
skipped so far. This module finds the smallest non-decreasing ``k`` per logged row that explains
every value exactly, and where the skips go; a value no lag explains means something else is wrong.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["infer_skipped_updates", "skip_cap"]


def skip_cap(total_updates: int) -> int:
    """The most skipped updates taken as overflow skips: a handful, or 1 % of a long run."""
    return max(8, total_updates // 100)


def _lag_at(value: float, update: int, lag: int, most: int, lrs: np.ndarray, lead: bool,
            same: Callable[[float, float], bool]) -> int | None:
    """The smallest lag in ``lag..most`` whose schedule value is the logged one."""
    for k in range(lag, most + 1):
        index = update + (1 if lead else 0) - k
        if index < 0:
            return None
        if index >= len(lrs):
            continue  # read after the last update: the schedule's end is not in ``lrs``
        if same(value, float(lrs[index])):
            return k
    if update + (1 if lead else 0) - lag >= len(lrs):
        return lag  # nothing to compare with: the lag stays
    return None


def infer_skipped_updates(
    updates: Sequence[int],
    values: Sequence[float],
    lrs: np.ndarray,
    lead: bool,
    same: Callable[[float, float], bool],
    cap: int,
) -> tuple[int, ...] | None:
    """The 0-based updates skipped (no scheduler step after them) that make every logged value exact.

    ``updates``/``values``: each logged row's update index (the one its step names) and value;
    ``lrs``: the applied lr per update with no skip; ``lead``: the log reads after
    ``scheduler.step()`` (transformers < 4.51), so a row at update ``u`` shows ``lrs[u + 1]``.
    A row whose lag grew by ``d`` puts ``d`` skips at the first updates after the previous row
    (overflows come early; where in the window they fell is not in the logs). None when no lag
    (or one above ``cap``) explains the rows, or when no update was skipped.
    """
    order = np.argsort(np.asarray(updates, dtype=np.int64), kind="stable")
    lag, previous, skipped = 0, -1, []
    for position in order:
        update, value = int(updates[position]), float(values[position])
        if update < 0 or update == previous:
            continue
        # a read before scheduler.step() sees only skips at earlier updates
        room = update - previous - (0 if lead else 1)
        found = _lag_at(value, update, lag, min(lag + max(room, 0), cap), lrs, lead, same)
        if found is None:
            return None
        skipped.extend(range(previous + 1, previous + 1 + found - lag))
        lag, previous = found, update
    return tuple(skipped) if skipped else None
