"""Rules about the writes of the lr variable: LRA014, LRA024, LRA026."""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from lraudit.numfmt import epoch_text, f32_float, lr_text
from lraudit.rules._facts import callback_specs, events, frame, total_epochs
from lraudit.rules._plateau import logged_reductions, replayed_reductions
from lraudit.rules.base import REGISTRY, Finding, Rule, Severity

if TYPE_CHECKING:
    from lraudit.reconstruction import Timeline
    from lraudit.run import Run


@REGISTRY.register
class LrWriterConflict(Rule):
    """Two callbacks set the lr in the same run; says which one wins, per epoch.

    What it detects:
        ReduceLROnPlateau lowers the lr variable at the end of an epoch, and LearningRateScheduler
        sets it again at the start of the next one (``on_epoch_begin``). Each reduction is
        listed with the value that really ran in the following epoch; a reduction at the end of
        the last epoch applies to no step.
    Why it matters:
        The logs print every reduction, yet the epochs run at the scheduler's value: the plateau
        logic has no effect (unless the schedule function builds on the current lr).
    Example:
        ``LearningRateScheduler(step_down)`` + ``ReduceLROnPlateau(factor=0.25, patience=1)``:
        "reducing learning rate to 0.01" after epoch 2, then "LearningRateScheduler setting
        learning rate to 0.04" at epoch 3.
    Fix:
        Use one writer; or write the schedule as ``schedule(epoch, lr)`` that scales the current
        lr instead of returning an absolute value.
    References:
        keras ``keras/src/callbacks/learning_rate_scheduler.py`` and
        ``keras/src/callbacks/reduce_lr_on_plateau.py`` @ v3.15.1.
    """

    code = "LRA014"
    name = "lr-writer-conflict"
    severity = Severity.WARNING

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        # a silent ReduceLROnPlateau (verbose=0) leaves no message: its replayed reductions count
        reductions = logged_reductions(run, timeline) or replayed_reductions(timeline)
        scheduler_sets = {int(e.epoch): e for e in events(run, "scheduler_set") if e.epoch is not None}
        scheduler_changes = [c for c in timeline.changes if c.callback == "LearningRateScheduler"]
        for change in scheduler_changes:
            scheduler_sets.setdefault(change.epoch, None)  # type: ignore[arg-type]
        has_scheduler = bool(scheduler_sets) or bool(callback_specs(timeline, "LearningRateScheduler"))
        if not reductions or not has_scheduler:
            return
        table = frame(timeline)
        last_epoch = int(table["epoch"].max()) if len(table) else (run.epochs - 1)
        # the timeline's own verdict per reduction: a write replaced before any update used it
        replaced = {
            c.epoch: c.overwritten_by == "LearningRateScheduler"
            for c in timeline.changes
            if c.callback == "ReduceLROnPlateau"
        }
        parts: list[str] = []
        overwritten: list[int] = []
        total = total_epochs(run, timeline)
        for reduction in reductions:
            nxt = reduction.epoch + 1
            if nxt > last_epoch:
                parts.append(
                    f"the reduction at the end of the last epoch ({epoch_text(reduction.epoch, total)}) "
                    "applies to no step"
                )
                continue
            ran = _variable_during(table, nxt)
            event = scheduler_sets.get(nxt)
            set_to = event.value if event is not None else ran
            printed = reduction.printed
            differs = set_to is not None and printed is not None and f32_float(set_to) != f32_float(printed)
            if differs:
                overwritten.append(reduction.epoch)
                parts.append(
                    f"{epoch_text(nxt, total)} runs at LearningRateScheduler's {lr_text(set_to)}, not "
                    f"ReduceLROnPlateau's {lr_text(reduction.printed)} "
                    f"(end of {epoch_text(reduction.epoch, total)})"
                )
            elif replaced.get(reduction.epoch) and set_to is not None:
                overwritten.append(reduction.epoch)
                parts.append(
                    f"{epoch_text(nxt, total)} runs at LearningRateScheduler's {lr_text(set_to)}, the value "
                    f"ReduceLROnPlateau set at the end of {epoch_text(reduction.epoch, total)} "
                    "(rewritten, not reduced)"
                )
            else:
                parts.append(
                    f"{epoch_text(nxt, total)} runs at ReduceLROnPlateau's {lr_text(reduction.printed)}"
                )
        if not overwritten and not any("no step" in p for p in parts):
            return
        first = reductions[0]
        yield cls.finding(
            run,
            "LearningRateScheduler and ReduceLROnPlateau both set the lr; LearningRateScheduler "
            "sets it at the "
            "start of every epoch, so it wins: " + "; ".join(parts),
            epoch=first.epoch,
            logged=first.printed,
            effective=_variable_during(table, first.epoch + 1),
            source=first.location,
        )


@REGISTRY.register
class UnusedLrChange(Rule):
    """A callback changed the lr after the last update that could use it.

    What it detects:
        A write of the lr variable that no optimizer step applied and no other callback
        replaced: typically ReduceLROnPlateau reducing at the end of the last epoch (its
        ``on_epoch_end`` runs after the epoch's last update), so training ends before the new
        value is used.
    Why it matters:
        The console prints the reduction and the optimizer config or model saved after training
        holds the new value, yet no weight was trained with it; resuming from that file starts
        at an lr the run never used.
    Example:
        ``ReduceLROnPlateau(factor=0.5, patience=1)`` over 3 epochs: "Epoch 3: ReduceLROnPlateau
        reducing learning rate to 0.0125" - the last update of epoch 2 (0-based) already ran at
        0.025.
    Fix:
        Nothing to do if intended; when resuming, decide whether to start from the saved
        (unused) lr or from the lr the last epoch ran at.
    References:
        keras ``keras/src/callbacks/reduce_lr_on_plateau.py`` @ v3.15.1 (``on_epoch_end``).
    """

    code = "LRA024"
    name = "unused-lr-change"
    severity = Severity.INFO

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        unused = [
            c for c in timeline.changes
            if c.effective_from_step is None and c.overwritten_by is None and c.new_lr != c.old_lr
        ]
        if not unused:
            return
        table = frame(timeline)
        last_epoch = int(table["epoch"].max()) if len(table) else None
        parts = []
        total = total_epochs(run, timeline)
        for change in unused:
            when = "at the end of" if change.callback == "ReduceLROnPlateau" else "at the start of"
            last = " (the last epoch)" if change.epoch == last_epoch else ""
            parts.append(
                f"{change.callback} set the lr from {lr_text(change.old_lr)} to {lr_text(change.new_lr)} "
                f"{when} {epoch_text(change.epoch, total)}{last}"
            )
        first = unused[0]
        ending = ""
        if unused[-1].epoch == last_epoch:
            ending = (
                " (training ended first), so an optimizer config or model saved after training holds "
                f"{lr_text(unused[-1].new_lr)}, an lr the run never trained with"
            )
        yield cls.finding(
            run,
            "; ".join(parts) + ": no update used " + ("it" if len(unused) == 1 else "them") + ending,
            epoch=first.epoch,
            logged=first.printed,
            source=first.location,
        )


def _variable_during(table, epoch: int) -> float | None:
    if not len(table) or "lr_variable" not in table:
        return None
    values = table.loc[table["epoch"] == epoch, "lr_variable"].dropna()
    return float(values.iloc[0]) if len(values) else None


@REGISTRY.register
class CustomLrWriter(Rule):
    """A callback defined in the training code writes the lr: its values cannot be replayed.

    What it detects:
        The code passes ``fit`` a callback of a class it defines itself (a cyclic or warm-up
        schedule, say) whose methods set the lr (``K.set_value(model.optimizer.lr, ...)``,
        ``optimizer.learning_rate.assign(...)``, ``optimizer.lr = ...``). lraudit reads code, never
        runs it, so the lr that callback applied is not reconstructed.
    Why it matters:
        The optimizer's own lr (and every number derived from it) is not what the updates used,
        unless a logged lr series shows the callback's values; an audit that stayed silent would
        pass a run whose lr it does not know.
    Example:
        ``SGD(lr=0.0011)`` with a per-batch ``CyclicLR(base_lr=1e-8, max_lr=...)`` callback that
        calls ``K.set_value(self.model.optimizer.lr, lr)`` in ``on_batch_begin``.
    Fix:
        Log the lr the callback sets (per batch, e.g. into ``logs`` or TensorBoard) and audit
        those logs, or express the schedule as a ``LearningRateSchedule`` that lraudit evaluates.
    References:
        keras ``keras/src/callbacks/callback.py`` @ v3.15.1 (callback hooks).
    """

    code = "LRA026"
    name = "custom-lr-writer"
    severity = Severity.WARNING
    needs_lr_values = False

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        seen: set[str] = set()
        for code in run.code_fits:
            if code is None:
                continue
            for record in code.callback_records:
                if not (record.custom and record.custom_sets_lr) or record.location in seen:
                    continue
                seen.add(record.location)
                yield cls.finding(
                    run,
                    f"{record.class_name} ({record.location}) is a callback defined in the code that sets "
                    f"the lr, passed to fit at {code.location}: the lr it applied is not reconstructed "
                    "(the code is read, never run), so the applied lr of this run is unknown beyond what "
                    "the logs show",
                    source=record.location,
                )
