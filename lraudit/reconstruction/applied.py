"""The lr each update applied, and the one the update after each epoch would apply.

Both come from :func:`lraudit.semantics.optimizers.effective_lr` in float32 with the spec's
executor; the after-epoch values are what epoch-end logs (TensorBoard's schedule read, Keras 3's
post-callback read) describe, so the join of logged values needs them too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from lraudit.reconstruction.changes import VariableWalk
    from lraudit.reconstruction.layout import Layout
    from lraudit.semantics.specs import OptimizerSpec


def applied_lr(spec: OptimizerSpec, counter: np.ndarray, variable: np.ndarray | None):
    """(base, effective) float32 lr at raw ``counter`` with the spec's own executor's arithmetic."""
    from lraudit.semantics.optimizers import default_executor, effective_lr

    base, effective = effective_lr(
        spec, counter.astype(np.int64, copy=False), variable, executor=default_executor(spec)
    )
    return np.asarray(base, dtype=np.float32), np.asarray(effective, dtype=np.float32)


@dataclass
class AfterEpoch:
    """Per global epoch: base and effective lr the update after the epoch would use."""

    base: np.ndarray
    effective: np.ndarray
    changed_at_end: np.ndarray  # bool: a callback wrote the variable at this epoch end
    #: the schedule evaluated eagerly (what a callback reading the lr logs); None for a variable
    eager_base: np.ndarray | None = None


def after_epoch_values(spec: OptimizerSpec, layout: Layout, variable: VariableWalk | None) -> AfterEpoch:
    """Per epoch, the lr of the update after it (what epoch-end logs describe)."""
    n = layout.n_epochs
    counters = np.where(layout.next_counter >= 0, layout.next_counter, 0)
    after = variable.after_epoch if variable is not None else None
    base, effective = applied_lr(spec, counters, after)
    changed = (
        variable.after_epoch != variable.per_epoch if variable is not None else np.zeros(n, dtype=bool)
    )
    eager = None
    if variable is None:
        # TensorBoard and Keras 3 logs call the schedule outside the compiled step
        from lraudit.semantics.optimizers import effective_lr

        # ... at the raw counter after the epoch (with gradient accumulation maybe no update's)
        reads = layout.read_counter if layout.read_counter is not None else layout.next_counter
        reads = np.where(reads >= 0, reads, 0)
        eager = np.asarray(effective_lr(spec, reads, None, executor="eager")[0], dtype=np.float32)
    return AfterEpoch(base=base, effective=effective, changed_at_end=changed, eager_base=eager)
