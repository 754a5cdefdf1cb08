"""Where every optimizer update stands: fits, epochs, batches and the raw iteration counter.

Per ``fit()``, epochs x steps per epoch micro-batches; the counter continues across fits unless
a saved counter, or else the logged lr variable back up at a fit's first epoch, shows a fresh
optimizer (reference §8.3, §8.4); with Keras 3 gradient
accumulation only every k-th micro-batch is an update (raw counter ``k*n - 1``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lraudit.errors import InputError
from lraudit.numfmt import f32
from lraudit.reconstruction.scalars import epoch_column
from lraudit.sources.registry import kinds_where

if TYPE_CHECKING:
    from lraudit.options import RunOptions
    from lraudit.run import Run
    from lraudit.semantics.specs import CallbackSpec


@dataclass
class FitPlan:
    index: int
    first_epoch: int
    end_epoch: int
    steps_per_epoch: int
    #: micro-batches the last epoch ran when it was cut (exception, interrupt); None: complete
    last_epoch_steps: int | None = None
    #: False when the logs did not tell the steps per epoch and the fit is laid out one row per epoch
    steps_known: bool = True

    @property
    def micro_steps(self) -> int:
        full = (self.end_epoch - self.first_epoch) * self.steps_per_epoch
        if self.last_epoch_steps is None:
            return full
        return full - self.steps_per_epoch + min(max(self.last_epoch_steps, 0), self.steps_per_epoch)

    def epoch_ends(self, counter: int) -> np.ndarray:
        """The raw counter after each of the fit's epochs, the fit starting at ``counter``."""
        ends = np.arange(1, self.end_epoch - self.first_epoch + 1, dtype=np.int64) * self.steps_per_epoch
        return counter + np.minimum(ends, self.micro_steps)


def fit_plan(
    run: Run, options: RunOptions, per_step: str | None = "the applied lr", notes: list[str] | None = None
) -> list[FitPlan]:
    """Each fit's global epochs and steps per epoch (``--steps-per-epoch`` wins).

    Without steps per epoch in the logs, a run in which nothing changes inside an epoch
    (``per_step`` is None: no legacy decay, no schedule, no accumulation) is laid out one row per
    epoch, said in ``notes``; otherwise ``per_step`` names what depends on them in the error.
    """
    fits = sorted(run.fits, key=lambda f: (f.first_epoch, f.index))
    if not fits:
        from lraudit.run import Fit

        epochs = run.epochs or _epochs_from_scalars(run)
        fits = [Fit(index=0, first_epoch=0, end_epoch=epochs)]
    plans = []
    for fit in fits:
        spe = options.steps_per_epoch or fit.steps_per_epoch or run.steps_per_epoch
        if spe is None:
            spe = _steps_per_epoch_from_batch_scalars(run, fit)
        known = spe is not None
        if spe is None and per_step is None:
            spe = 1
        if spe is None:
            raise InputError(
                f"{run.path}: the logs do not show the steps per epoch (no progress bar, no batch "
                f"scalars) and {per_step}; give it as steps_per_epoch=N",
                argument="steps_per_epoch",
            )
        if fit.end_epoch > fit.first_epoch:
            cut = _cut_epoch(fit, notes)
            plans.append(FitPlan(fit.index, fit.first_epoch, fit.end_epoch, int(spe), cut, steps_known=known))
    if notes is not None and not all(plan.steps_known for plan in plans):
        notes.append(
            f"{_PER_EPOCH_NOTE}: nothing in this run changes the lr inside an epoch, so it is "
            "audited per epoch (one row per epoch; give --steps-per-epoch for per-step rows)"
        )
    return plans


def _cut_epoch(fit, notes: list[str] | None) -> int | None:
    """The updates of a fit's last epoch when it was cut, said in ``notes`` with what told it."""
    steps = getattr(fit, "last_epoch_steps", None)
    if steps is None:
        return None
    if notes is not None:
        evidence = getattr(fit, "last_epoch_evidence", None) or "its progress bar never completed"
        notes.append(
            f"epoch {fit.end_epoch} (fit {fit.index + 1}) was cut after {steps} update(s): {evidence}; "
            "the timeline stops there"
        )
    return steps


_PER_EPOCH_NOTE = "steps per epoch unknown"


def _epochs_from_scalars(run: Run) -> int:
    frame = run.scalars
    if frame is None or len(frame) == 0:
        return 0
    column = epoch_column(frame)
    epochs = frame[column].dropna()
    return int(epochs.max()) + 1 if len(epochs) else 0


def _steps_per_epoch_from_batch_scalars(run: Run, fit) -> int | None:
    """Batch-level TensorBoard steps count train batches within one fit (1-based)."""
    frame = run.scalars
    if frame is None or len(frame) == 0:
        return None
    tagged = kinds_where(lambda facts: facts.tags)  # TensorBoard's ``batch_*`` tags
    batch = frame[frame["source"].isin(tagged) & frame["name"].str.contains("batch_", regex=False)]
    if "fit" in batch.columns and batch["fit"].notna().any():
        batch = batch[batch["fit"] == fit.index]
    steps = batch["step"].dropna()
    epochs = fit.end_epoch - fit.first_epoch
    if len(steps) == 0 or epochs <= 0:
        return None
    last = int(steps.max())
    return last // epochs if last % epochs == 0 else None


def _fit_ends(fits: list[FitPlan], resets: set[int], start: int = 0) -> list[int]:
    """The raw counter after each fit, when the counter restarts at the fits in ``resets``."""
    ends, counter = [], start
    for i, fit in enumerate(fits):
        if i in resets:
            counter = 0
        counter += fit.micro_steps
        ends.append(counter)
    return ends


def choose_counter_resets(
    run: Run,
    fits: list[FitPlan],
    accumulation: int,
    notes: list[str],
    callbacks: list[CallbackSpec] | None = None,
    variable_lr: bool = True,
) -> set[int]:
    """Fits (positions) where a fresh optimizer restarted the counter.

    The counter continues across ``fit()`` calls and reloads of a saved model (reference §8.3,
    §8.4); only a new optimizer restarts it. A saved model's counter tells which: it must equal
    the counter at the end of some fit (``stage`` "after fit k" pins which one). Without a saved
    counter, the per-epoch logged lr variable may show it (:func:`resets_from_logged_lr`; only
    when the lr is a variable, ``variable_lr``, not a schedule).
    """
    counters = list(run.saved_counters or [])
    if len(fits) < 2:
        return set()
    if not counters:
        return resets_from_logged_lr(run, fits, callbacks or [], notes) if variable_lr else set()
    hypotheses = _reset_hypotheses(len(fits))
    # a saved model of unknown stage is most likely the one saved when the script ended: the
    # largest such counter is taken as the final one first, then as any fit's end
    unpinned = [c for c in counters if _fit_number_from_stage(c.stage) is None]
    final = max(unpinned, key=lambda c: c.iterations) if unpinned else None
    for strict in (True, False):
        for resets in hypotheses:  # fewest resets first: continuing is the default
            ends = _fit_ends(fits, resets)
            if strict and final is not None and final.iterations != ends[-1]:
                continue
            if all(_counter_consistent(c, ends) for c in counters):
                _note_counter_layout(fits, resets, counters, notes)
                return set(resets)
    notes.append(
        "no counter layout explains the saved counter(s) "
        + ", ".join(f"{c.iterations} ({c.path})" for c in counters)
        + "; assumed the counter continues across fits"
    )
    return set()


def resets_from_logged_lr(
    run: Run, fits: list[FitPlan], callbacks: list[CallbackSpec], notes: list[str]
) -> set[int]:
    """Fits (positions) whose first epoch logs the initial lr again after the lr had been lowered.

    Only a new optimizer brings the lr variable back up: ReduceLROnPlateau only lowers it, and
    with no LearningRateScheduler (no message, no ``--callback``) nothing else writes it. A new
    optimizer starts its iteration counter at 0 too (reference §8.3). Judged only at fit
    boundaries, from the exact per-epoch lr (History/CSVLogger ``lr``/``learning_rate``).
    """
    from lraudit.reconstruction.contracts import SCHEDULER
    from lraudit.reconstruction.scalars import events_by_epoch, exact_epoch_lr

    if events_by_epoch(run, "scheduler_set") or any(cb.class_name == SCHEDULER for cb in callbacks):
        return set()
    logged = exact_epoch_lr(run)
    if not logged:
        return set()
    initial = _initial_lr_values(run, fits, logged, f32)
    resets: set[int] = set()
    for position in range(1, len(fits)):
        first = fits[position].first_epoch
        earlier = [epoch for epoch in logged if epoch < first]
        if first not in logged or not earlier:
            continue
        value, where = logged[first]
        before, before_where = logged[max(earlier)]
        if value in initial and value > before:
            resets.add(position)
            notes.append(
                f"the optimizer's iteration counter restarted at 0 at fit {fits[position].index + 1}: "
                f"the logged lr variable went back up to the initial {float(value)!r} ({where}) "
                f"from {float(before)!r} ({before_where}); ReduceLROnPlateau only lowers it and no "
                "LearningRateScheduler wrote it, so a new optimizer was built"
            )
    return resets


def _initial_lr_values(run: Run, fits: list[FitPlan], logged, f32) -> set:
    """The lr the first optimizer started with: its config before training, the first logged lr."""
    values = set()
    configured = (run.optimizer_initial or {}).get("learning_rate")
    if isinstance(configured, (int, float)) and not isinstance(configured, bool):
        values.add(f32(configured))
    first = fits[0].first_epoch
    if first in logged:
        values.add(logged[first][0])
    return values


def _note_counter_layout(fits: list[FitPlan], resets: set[int], counters, notes: list[str]) -> None:
    saved = ", ".join(f"{c.iterations} ({c.path})" for c in counters)
    if resets:
        restarted = ", ".join(str(fits[i].index + 1) for i in sorted(resets))
        notes.append(
            f"the optimizer's iteration counter restarted at 0 at fit {restarted}: saved counter(s) "
            f"{saved} match that, not a continuing counter (fit ends {_fit_ends(fits, set())})"
        )
    else:
        notes.append(f"the iteration counter continues across fits: saved counter(s) {saved}")


def _reset_hypotheses(n_fits: int) -> list[set[int]]:
    if n_fits > 12:  # 2**11 layouts is plenty; beyond that only single resets are tried
        return [set()] + [{i} for i in range(1, n_fits)]
    from itertools import combinations

    hypotheses: list[set[int]] = []
    for size in range(n_fits):
        hypotheses.extend(set(c) for c in combinations(range(1, n_fits), size))
    return hypotheses


def _counter_consistent(counter, ends: list[int]) -> bool:
    fit_number = _fit_number_from_stage(counter.stage)
    if fit_number is not None and 1 <= fit_number <= len(ends):
        return counter.iterations == ends[fit_number - 1]
    return counter.iterations in ends


def _fit_number_from_stage(stage: str | None) -> int | None:
    if not stage:
        return None
    match = re.search(r"fit\D*(\d+)", stage)
    return int(match.group(1)) if match else None


@dataclass
class Layout:
    """Row arrays of the timeline plus per-epoch indexes into them."""

    step: np.ndarray  # raw counter used by the update (int64)
    epoch: np.ndarray
    batch: np.ndarray
    fit: np.ndarray  # 0-based fit index (Run.fits numbering)
    fit_position: np.ndarray  # position in the fit plan
    n_epochs: int  # global epochs 0..n_epochs-1 (some may have no row)
    first_row: np.ndarray  # per global epoch: first row index, -1 when no row
    last_row: np.ndarray  # per global epoch: last row index, -1 when no row
    next_counter: np.ndarray  # per global epoch: the counter the next update would use
    fit_starts: list[int]
    accumulation: int
    epoch_fit_position: np.ndarray  # per global epoch: fit plan position, -1 if none
    #: per global epoch: the raw counter after it (what a read of the schedule then sees; with
    #: gradient accumulation not an update's counter when the epoch ends inside a window)
    read_counter: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return int(self.step.shape[0])


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """The parts end to end; a single part as it is (no copy of a 1 M-row column)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def lay_out_steps(fits: list[FitPlan], accumulation: int, resets: set[int]) -> Layout:
    """One row per optimizer update over ``fits``, the counter restarting at the fits in ``resets``."""
    steps, epochs, batches, fit_ids, positions, starts = [], [], [], [], [], []
    counter = 0
    n_epochs = max(f.end_epoch for f in fits)
    next_counter = np.full(n_epochs, -1, dtype=np.int64)
    read_counter = np.full(n_epochs, -1, dtype=np.int64)
    epoch_fit_position = np.full(n_epochs, -1, dtype=np.int64)
    for position, fit in enumerate(fits):
        if position in resets:
            counter = 0
        starts.append(counter)
        local = np.arange(fit.micro_steps, dtype=np.int64)
        raw = counter + local
        # Keras 3 gradient accumulation: an update on every k-th micro-step of the raw counter
        keep = ((raw + 1) % accumulation == 0) if accumulation > 1 else slice(None)
        steps.append(raw[keep])
        epochs.append((fit.first_epoch + local // fit.steps_per_epoch)[keep])
        batches.append((local % fit.steps_per_epoch)[keep])
        count = steps[-1].shape[0]
        fit_ids.append(np.full(count, fit.index, dtype=np.int64))
        positions.append(np.full(count, position, dtype=np.int64))
        epoch_ends = fit.epoch_ends(counter)
        # the counter the next real update uses: with accumulation the next multiple of k, minus 1
        next_counter[fit.first_epoch : fit.end_epoch] = _next_update_counter(epoch_ends, accumulation)
        read_counter[fit.first_epoch : fit.end_epoch] = epoch_ends
        epoch_fit_position[fit.first_epoch : fit.end_epoch] = position
        counter += fit.micro_steps
    step = _joined(steps)
    epoch = _joined(epochs)
    first_row = np.full(n_epochs, -1, dtype=np.int64)
    last_row = np.full(n_epochs, -1, dtype=np.int64)
    if step.shape[0]:
        boundaries = np.flatnonzero(np.diff(epoch)) + 1
        firsts = np.concatenate(([0], boundaries))
        lasts = np.concatenate((boundaries - 1, [step.shape[0] - 1]))
        first_row[epoch[firsts]] = firsts
        last_row[epoch[lasts]] = lasts
    return Layout(
        step=step,
        epoch=epoch,
        batch=_joined(batches),
        fit=_joined(fit_ids),
        fit_position=_joined(positions),
        n_epochs=n_epochs,
        first_row=first_row,
        last_row=last_row,
        next_counter=next_counter,
        fit_starts=starts,
        accumulation=accumulation,
        epoch_fit_position=epoch_fit_position,
        read_counter=read_counter,
    )


def _next_update_counter(micro_counter: np.ndarray, accumulation: int) -> np.ndarray:
    if accumulation <= 1:
        return micro_counter
    return micro_counter + (accumulation - 1 - micro_counter % accumulation)


def accumulation_note(layout: Layout, fits: list[FitPlan]) -> str | None:
    """Explain Keras 3 gradient accumulation when its windows straddle epochs (reference §1.6).

    Which batches update, which counter the schedule reads, what ``optimizer.iterations``
    shows and what a per-epoch lr log reads: all differ from a run without accumulation, and
    with steps per epoch not a multiple of k the updating batches move from epoch to epoch.
    None without accumulation or when every epoch holds whole windows.
    """
    k = layout.accumulation
    if k <= 1 or all(fit.steps_per_epoch % k == 0 for fit in fits):
        return None
    micro = sum(fit.micro_steps for fit in fits)
    epochs = [int(e) for e in np.unique(layout.epoch)[:2]]
    batches = " and ".join(
        f"{', '.join(str(int(b)) for b in layout.batch[layout.epoch == e][:6])} of epoch {e + 1}"
        for e in epochs
    )
    straddle = next(
        (
            int(layout.read_counter[e])
            for e in range(layout.n_epochs)
            if layout.read_counter is not None and 0 <= layout.read_counter[e] < layout.next_counter[e]
        ),
        None,
    )
    read = (
        f" (e.g. {straddle}, while the next update uses {straddle + (k - 1 - straddle % k)})"
        if straddle is not None
        else ""
    )
    leftover = micro - layout.rows * k if layout.rows else micro
    tail = (
        f"; the last {leftover} batch(es) only accumulated gradients that were never applied"
        if leftover > 0 and len(fits) == 1
        else ""
    )
    return (
        f"gradient_accumulation_steps={k}: an update happens once every {k} batches, when the raw "
        f"micro-batch counter reaches {k}n-1 ({layout.rows} updates in {micro} batches); the schedule "
        f"reads that raw counter (update n uses schedule({k}n-1)) and optimizer.iterations counts "
        f"updates (raw//{k}); steps per epoch are not a multiple of {k}, so the windows straddle epoch "
        f"boundaries and the updating batches move (batches {batches}, counted from 0); a per-epoch "
        "lr log (TensorBoard's epoch_learning_rate) "
        f"reads the schedule at the raw counter after the epoch{read}{tail}. This is how Keras "
        "accumulates, not a mismatch"
    )
