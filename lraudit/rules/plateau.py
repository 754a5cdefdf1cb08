"""ReduceLROnPlateau rules: LRA003, LRA004, LRA005, LRA006, LRA012, LRA015, LRA016."""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pandas as pd

from lraudit.numfmt import epoch_text, epochs_text, f32_float, lr_text
from lraudit.rules._facts import (
    callback_specs,
    epoch_metric,
    events,
    frame,
    logged,
    optimizer_location,
    schedule,
    total_epochs,
)
from lraudit.rules._plateau import (
    auto_minimizes,
    infer_factor,
    initial_variable,
    logged_lr_drops,
    logged_reductions,
    matches_printed,
    meaning_minimizes,
    plateau_rule,
    replay,
    replay_era,
)
from lraudit.rules.base import REGISTRY, Finding, Rule, Severity
from lraudit.sources.registry import kinds_where

if TYPE_CHECKING:
    from lraudit.reconstruction import Timeline
    from lraudit.run import Run
    from lraudit.semantics.specs import CallbackSpec

_LR_NAMES = ("lr", "learning_rate")


def _restarts(run: Run) -> tuple[int, ...]:
    return tuple(f.first_epoch for f in run.fits[1:])


def _minimizes(spec: CallbackSpec) -> bool | None:
    """True/False for an explicit ``mode``; None for ``auto`` (the replay's era decides)."""
    mode = str(spec.kwargs.get("mode", "auto"))
    if mode == "min":
        return True
    if mode == "max":
        return False
    return None


def _described_replay(run: Run, timeline: Timeline) -> tuple[CallbackSpec, list[tuple[int, float]]] | None:
    """The ReduceLROnPlateau the user described (the first ``--callback``) and its replay, if any.

    LRA003 and LRA004 compare the same replay with the logs from the two sides, so they must
    agree on which callback is replayed and when there is nothing to replay.
    """
    specs = callback_specs(timeline, "ReduceLROnPlateau")
    if not specs:
        return None
    replayed = _spec_replay(run, timeline, specs[0])
    return None if replayed is None else (specs[0], replayed)


def _spec_replay(run: Run, timeline: Timeline, spec: CallbackSpec) -> list[tuple[int, float]] | None:
    """The reductions the user's ReduceLROnPlateau produces on this run's monitor history."""
    kwargs = spec.kwargs
    monitor = epoch_metric(run, str(kwargs.get("monitor", "val_loss")))
    # a callback passed to some fits only sees those fits' epochs
    monitor = monitor[[spec.active(int(epoch)) for epoch in monitor.index]] if len(monitor) else monitor
    lr0 = initial_variable(timeline)
    if monitor.empty or lr0 is None:
        return None
    # the era the timeline replays with: Keras 3 ignores `epsilon` and decides mode='auto' by
    # the metric's declared direction, Keras 2 by 'acc' in the name
    return replay(
        monitor,
        minimize=_minimizes(spec),
        patience=int(kwargs.get("patience", 10)),
        factor=float(kwargs.get("factor", 0.1)),
        lr0=lr0,
        min_delta=_optional_float(kwargs.get("min_delta")),
        epsilon=_optional_float(kwargs.get("epsilon")),
        cooldown=int(kwargs.get("cooldown", 0)),
        min_lr=float(kwargs.get("min_lr", 0.0)),
        restarts=_restarts(run),
        era=replay_era(timeline),
        monitor_name=str(kwargs.get("monitor", "val_loss")),
    )


def _optional_float(value: object) -> float | None:
    return None if value is None else float(value)


def _epochs_text(epochs: list[int]) -> str:
    """0-based epochs as the console numbers them (1-based): ``epochs 3, 5 and 7``, ``epoch 9``."""
    return epochs_text(epochs) if epochs else "no epoch"


@REGISTRY.register
class PlateauUnexpectedReduction(Rule):
    """A ReduceLROnPlateau reduction in the logs that its own rule does not produce.

    What it detects:
        With the callback described (``--callback "ReduceLROnPlateau(...)"``), the monitor
        history the run logged is replayed through Keras' rule (patience, min_delta, cooldown,
        mode, best/wait reset per ``fit``); a logged reduction at an epoch where the replay does
        not reduce is reported.
    Why it matters:
        The logs and the described configuration cannot both be right: another callback, a
        different monitor/mode or a different Keras version acted.
    Example:
        Logged "Epoch 3: ReduceLROnPlateau reducing learning rate to 0.0005" while val_loss
        improved at epochs 1–3 and patience=2.
    Fix:
        Check the callback's arguments (monitor, mode, patience, min_delta, cooldown) and the
        order of callbacks; audit again with the arguments really used.
    References:
        keras ``keras/src/callbacks/reduce_lr_on_plateau.py`` @ v3.10.0, tf-keras
        ``tf_keras/callbacks.py`` @ v2.21.0.
    """

    code = "LRA003"
    name = "plateau-unexpected-reduction"
    severity = Severity.ERROR

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        described = _described_replay(run, timeline)
        if described is None:
            return
        spec, replayed = described
        expected = {epoch for epoch, _ in replayed}
        for reduction in logged_reductions(run, timeline):
            if reduction.epoch not in expected:
                yield cls.finding(
                    run,
                    "the logs show a ReduceLROnPlateau reduction to "
                    f"{lr_text(reduction.printed)} at the end "
                    f"of {epoch_text(reduction.epoch, total_epochs(run, timeline))} ({reduction.location}), "
                    "but replaying "
                    f"monitor={spec.kwargs.get('monitor', 'val_loss')!r} with the given "
                    "arguments reduces "
                    f"only at {_epochs_text(sorted(expected))}",
                    epoch=reduction.epoch,
                    logged=reduction.printed,
                    source=reduction.location,
                )


@REGISTRY.register
class PlateauMissedReduction(Rule):
    """A reduction the callback's rule produces that the logs do not show.

    What it detects:
        With the callback described (``--callback``), the replay of its rule reduces at an epoch
        where the logs (a verbose message, or the logged lr of the next epoch) show no reduction.
    Why it matters:
        Either the callback did not run as described (wrong monitor, different patience, not in
        ``callbacks=[...]``), or the lr in the logs is not the lr the callback set.
    Example:
        ``ReduceLROnPlateau(monitor='val_loss', patience=1, verbose=1)``; val_loss rose at epoch
        4 but no "reducing learning rate" message follows and the logged lr stays 1e-3.
    Fix:
        Check that the callback is passed to ``fit`` and its arguments; re-run the audit with
        the arguments really used.
    References:
        keras ``keras/src/callbacks/reduce_lr_on_plateau.py`` @ v3.10.0.
    """

    code = "LRA004"
    name = "plateau-missed-reduction"
    severity = Severity.WARNING

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        described = _described_replay(run, timeline)
        if described is None:
            return
        spec, replayed = described
        # a silent reduction (verbose=0) is seen in a logged lr column as well as in a message
        seen = {r.epoch for r in logged_reductions(run, timeline)} | logged_lr_drops(timeline)
        logs = logged(timeline)
        logged_epochs = set(pd.to_numeric(logs["epoch"], errors="coerce").dropna().astype(int))
        # what the logs prove does not depend on the verbose the user typed: a missing message
        # counts only where the console shows the callback printing (its own verbose=1 messages)
        messages_possible = bool(events(run, "plateau_reduction"))
        last_epoch = int(frame(timeline)["epoch"].max()) if len(frame(timeline)) else -1
        # a LearningRateScheduler writing at the next epoch's start hides any reduction (LRA014's case)
        scheduler_writes = {c.epoch for c in timeline.changes if c.callback == "LearningRateScheduler"}
        for epoch, new_lr in replayed:
            if epoch in seen or epoch + 1 in scheduler_writes:
                continue
            # without a message or a logged lr after it, the logs could not show the reduction
            visible = messages_possible or (epoch + 1) in logged_epochs
            if not visible or epoch > last_epoch:
                continue
            yield cls.finding(
                run,
                f"replaying monitor={spec.kwargs.get('monitor', 'val_loss')!r} with the given arguments "
                f"reduces the lr to {lr_text(new_lr)} at the end of "
                f"{epoch_text(epoch, total_epochs(run, timeline))}, but the logs show no "
                "reduction there",
                epoch=epoch,
                effective=new_lr,
            )


@REGISTRY.register
class PlateauValueMismatch(Rule):
    """A printed new lr that is not `max(old * factor, min_lr)` in float32.

    What it detects:
        Each "ReduceLROnPlateau reducing learning rate to X" is compared, in float32, with
        ``max(old * factor, min_lr)`` where ``old`` is the lr variable during that epoch and
        ``factor``/``min_lr`` come from ``--callback`` or, when not given, from the reductions
        themselves (the factor most of them agree on; a value above ``old*factor`` is a floor).
    Why it matters:
        A printed value that the rule cannot produce means another writer changed the lr between
        reductions (LearningRateScheduler, user code) or the config does not describe the run.
    Example:
        lr 1e-3, factor 0.5, message "reducing learning rate to 0.0004".
    Fix:
        Look for another writer of the lr (callbacks, ``K.set_value`` in user code); compare
        values as float32 (``np.float32(x)``): 0.0007500000356230885 and 0.00075 are equal.
    References:
        keras ``keras/src/callbacks/reduce_lr_on_plateau.py`` @ v3.15.1; tensorflow/tensorflow#39462.
    """

    code = "LRA005"
    name = "plateau-value-mismatch"
    severity = Severity.ERROR

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        rule = plateau_rule(run, timeline)
        if rule is None or rule.factor is None:
            return
        for reduction in logged_reductions(run, timeline):
            if reduction.old is None or reduction.printed is None:
                continue
            expected = max(reduction.old * rule.factor, rule.min_lr or 0.0)
            # a hand-typed or rounded print matches within its printed digits
            if matches_printed(reduction.printed, f32_float(expected)):
                continue
            if rule.origin == "inferred" and matches_printed(reduction.printed, rule.min_lr):
                continue
            observed = infer_factor(reduction.old, reduction.printed)
            yield cls.finding(
                run,
                f"ReduceLROnPlateau set the lr to {reduction.printed!r} at the end of "
                f"{epoch_text(reduction.epoch, total_epochs(run, timeline))} "
                f"({reduction.location}), but max(old*factor, min_lr) = max({lr_text(reduction.old)}*"
                f"{rule.factor:g}, {rule.min_lr or 0:g}) = {lr_text(f32_float(expected))} in float32 "
                f"(factor {'given' if rule.origin != 'inferred' else 'inferred from the other reductions'})"
                + (f"; the logged value is old*{observed:g}" if observed is not None else ""),
                epoch=reduction.epoch,
                logged=reduction.printed,
                effective=f32_float(expected),
                source=reduction.location,
            )


@REGISTRY.register
class MonitorNotFound(Rule):
    """ReduceLROnPlateau/EarlyStopping monitors a metric the run never logged, so it never acts.

    What it detects:
        The "conditioned on metric `X` which is not available" warning of ReduceLROnPlateau or
        EarlyStopping in the console, or a described callback (``--callback``) whose monitor is
        not among the metrics the run logged.
    Why it matters:
        The callback silently does nothing: no reduction, no early stop, every epoch.
    Example:
        ``ReduceLROnPlateau(monitor='val_accuracy')`` on a regression model that logs only
        loss/mae/val_loss/val_mae.
    Fix:
        Use one of the logged names (``val_loss``, ``val_mae``, ...); compile the metric whose
        name you monitor; in Keras 3 the accuracy key is ``val_accuracy`` (``val_acc`` in old Keras).
    References:
        keras ``keras/src/callbacks/reduce_lr_on_plateau.py`` @ v3.15.1 (warning text);
        tf-keras ``tf_keras/callbacks.py`` @ v2.21.0.
    """

    code = "LRA006"
    needs_lr_values = False
    name = "monitor-not-found"
    severity = Severity.ERROR

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        reported: set[tuple[str, str]] = set()
        grouped: dict[tuple[str, str], list] = {}
        for event in events(run, "monitor_missing"):
            monitor = str(event.detail.get("monitor", "?"))
            callback = str(event.detail.get("callback") or event.callback or "a callback")
            grouped.setdefault((callback, monitor), []).append(event)
        for (callback, monitor), found in grouped.items():
            first = found[0]
            available = first.detail.get("available")
            if isinstance(available, (list, tuple)):
                available = ", ".join(str(a) for a in available)
            reported.add((callback, monitor))
            yield cls.finding(
                run,
                f"{callback} monitors {monitor!r}, which this run never logged"
                f"{f' (available: {available})' if available else ''}; the warning appears at "
                f"{len(found)} epoch end(s), first at {first.location}: the callback never acted",
                epoch=first.epoch,
                source=first.location,
            )
        names = _epoch_metric_names(run)
        if not names:
            return
        for class_name in ("ReduceLROnPlateau", "EarlyStopping"):
            for spec in callback_specs(timeline, class_name):
                monitor = str(spec.kwargs.get("monitor", "val_loss"))
                if monitor in names or (class_name, monitor) in reported:
                    continue
                yield cls.finding(
                    run,
                    f"{class_name}(monitor={monitor!r}) ({spec.source}) monitors a metric this run "
                    "never logged "
                    f"(logged: {', '.join(sorted(names))}): the callback never acts",
                    source=spec.source,
                )


def _epoch_metric_names(run: Run) -> set[str]:
    """Metric keys as Keras names them in ``logs`` (console, CSV, History; not event tags)."""
    scalars = run.scalars
    if scalars is None or scalars.empty:
        return set()
    names = scalars["name"][scalars["source"].isin(kinds_where(lambda facts: facts.keras_keys))]
    return {str(n) for n in names.dropna().unique()}


@REGISTRY.register
class MinLrFloor(Rule):
    """The lr sits at `min_lr` from some epoch on.

    What it detects:
        ReduceLROnPlateau reached its ``min_lr`` (given with ``--callback``, or seen as a printed
        value above ``old*factor`` after which no reduction follows); reports from which epoch
        the lr stays at the floor.
    Why it matters:
        From then on the callback cannot lower the lr any more: epochs spent "on plateau" at the
        floor train at ``min_lr`` and the printed reduction is not ``old*factor``.
    Example:
        ``ReduceLROnPlateau(factor=0.5, min_lr=3e-4)``: 1e-3 → 5e-4 → 3e-4 (not 2.5e-4), then no
        more reductions.
    Fix:
        Lower ``min_lr`` if training should continue to anneal, or stop earlier (EarlyStopping).
    References:
        keras ``keras/src/callbacks/reduce_lr_on_plateau.py`` @ v3.15.1 (``max(old*factor, min_lr)``);
        tensorflow/tensorflow#39462.
    """

    code = "LRA012"
    name = "min-lr-floor"
    severity = Severity.INFO

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        rule = plateau_rule(run, timeline)
        if rule is None or not rule.min_lr:
            return
        floor = f32_float(rule.min_lr)
        table = frame(timeline)
        reductions = logged_reductions(run, timeline)
        at_floor = [r for r in reductions if matches_printed(r.printed, floor)]
        from_epoch: int | None = None
        location = at_floor[0].location if at_floor else None
        if at_floor:
            from_epoch = at_floor[0].epoch + 1
        elif len(table) and "lr_variable" in table:
            values = table["lr_variable"].astype(float)
            off = table.loc[values != floor, "epoch"]
            if (values == floor).any():
                from_epoch = int(off.max()) + 1 if len(off) else int(table["epoch"].min())
        if from_epoch is None:
            return
        epochs = int(table["epoch"].max()) + 1 if len(table) else run.epochs
        source = (
            f"given min_lr={rule.min_lr:g}"
            if rule.origin != "inferred"
            else "inferred from the printed value"
        )
        yield cls.finding(
            run,
            f"ReduceLROnPlateau reached min_lr={lr_text(floor)} ({source}): the lr sits at the floor from "
            f"{epoch_text(from_epoch, epochs)} on ({max(epochs - from_epoch, 0)} of {epochs} epochs); "
            f"x{rule.factor:g} would "
            "have gone lower",
            epoch=from_epoch,
            effective=floor,
            source=location,
        )


@REGISTRY.register
class PlateauOnSchedule(Rule):
    """ReduceLROnPlateau together with an optimizer driven by a `LearningRateSchedule`.

    What it detects:
        A ReduceLROnPlateau (described, or seen in the logs) in a run whose lr is a
        ``LearningRateSchedule``.
    Why it matters:
        Depending on the era the first due reduction crashes (OptimizerV2: ``float(schedule)``),
        is silently overwritten at the next step (2.11+ new optimizer), or raises "learning rate
        is not settable" (Keras 3). In no era does it lower the lr.
    Example:
        ``Adam(ExponentialDecay(1e-3, 1000, 0.9))`` + ``ReduceLROnPlateau(patience=3)``.
    Fix:
        Use one mechanism: either a float lr with ReduceLROnPlateau, or a schedule alone (a
        custom schedule can read a variable you lower yourself).
    References:
        tensorflow/tensorflow#36612, #51399; keras ``keras/src/optimizers/base_optimizer.py``
        @ v3.15.1 (setter TypeError).
    """

    code = "LRA015"
    name = "plateau-on-schedule"
    severity = Severity.ERROR

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        spec = schedule(timeline)
        if spec is None:
            return
        plateau = callback_specs(timeline, "ReduceLROnPlateau")
        seen = events(run, "plateau_reduction") or [
            e
            for e in events(run, "monitor_missing")
            if (e.detail.get("callback") or e.callback) == "ReduceLROnPlateau"
        ]
        if not plateau and not seen:
            return
        generation = timeline.optimizer.generation if timeline.optimizer else None
        effect = {
            "k2-legacy": "crashes with a TypeError (float() of the schedule) when the first reduction is due",
            "k2-new": "is silently overwritten by the schedule at the next update",
            "k3": "raises TypeError 'learning rate is not settable' when the first reduction is due",
        }.get(generation or "", "cannot lower a schedule-driven lr (crash, TypeError or no effect by era)")
        where = seen[0].location if seen else plateau[0].source
        yield cls.finding(
            run,
            f"ReduceLROnPlateau is used with {spec.class_name} ({optimizer_location(timeline)}); "
            "its reduction "
            f"{effect}",
            epoch=seen[0].epoch if seen else None,
            source=where,
        )


@REGISTRY.register
class PlateauModeInferred(Rule):
    """`mode="auto"` chose a direction that disagrees with the metric's meaning.

    What it detects:
        ReduceLROnPlateau in ``mode='auto'`` treats every monitor without ``'acc'`` in its name
        as "lower is better" (Keras 2 – 3.10). For a higher-is-better monitor (``val_auc``,
        ``val_cosine_similarity``, ``val_f1``, ...) it counts improvements as plateaus. Found
        from ``--callback``, or by replaying the logged reductions: when min-mode on such a
        logged metric reproduces every reduction epoch while the metric was rising.
    Why it matters:
        The lr is cut while the model improves, and never when it stalls.
    Example:
        ``ReduceLROnPlateau(monitor='val_cosine_similarity', factor=0.6, patience=2)``: the lr is
        cut at epochs 2, 4, 6, 8 while val_cosine_similarity rises from 0.125 to 0.5.
    Fix:
        Pass ``mode='max'`` explicitly for metrics where higher is better.
    References:
        keras ``keras/src/callbacks/reduce_lr_on_plateau.py`` @ v3.10.0 (``'acc' not in monitor``),
        ``keras/src/callbacks/monitor_callback.py`` @ v3.15.1.
    """

    code = "LRA016"
    needs_lr_values = False
    name = "plateau-mode-inferred"
    severity = Severity.INFO

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        specs = callback_specs(timeline, "ReduceLROnPlateau")
        if specs:
            spec = specs[0]
            monitor = str(spec.kwargs.get("monitor", "val_loss"))
            mode = str(spec.kwargs.get("mode", "auto"))
            if mode == "auto" and auto_minimizes(monitor) and meaning_minimizes(monitor) is False:
                yield cls.finding(
                    run,
                    f"ReduceLROnPlateau(monitor={monitor!r}, mode='auto') ({spec.source}) "
                    f"minimises {monitor} "
                    f"because 'acc' is not in its name, but a larger {monitor} is better: improvements count "
                    "as plateaus",
                    source=spec.source,
                )
            return
        yield from cls._inferred(run, timeline)

    @classmethod
    def _inferred(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        reductions = logged_reductions(run, timeline)
        rule = plateau_rule(run, timeline)
        lr0 = initial_variable(timeline)
        if not reductions or rule is None or lr0 is None:
            return
        wanted = [r.epoch for r in reductions]
        for monitor in sorted(_epoch_metric_names(run)):
            if monitor in _LR_NAMES or not auto_minimizes(monitor) or meaning_minimizes(monitor) is not False:
                continue
            history = epoch_metric(run, monitor)
            if history.empty:
                continue
            covered = [e for e in wanted if e in history.index]
            if covered != wanted:
                continue
            for patience in range(1, 11):
                kwargs = {"patience": patience, "factor": rule.factor or 0.1, "lr0": lr0,
                          "min_lr": rule.min_lr or 0.0, "restarts": _restarts(run)}
                as_min = [e for e, _ in replay(history, minimize=True, **kwargs)]
                if as_min != wanted:
                    continue
                as_max = [e for e, _ in replay(history, minimize=False, **kwargs)]
                if as_max == wanted:
                    break
                yield cls.finding(
                    run,
                    f"ReduceLROnPlateau cut the lr at the end of {_epochs_text(wanted)}; replaying "
                    f"monitor={monitor!r} in min mode (mode='auto' minimises it: no 'acc' in the name) with "
                    f"patience={patience} reproduces exactly these reductions, although {monitor} went from "
                    f"{history.iloc[0]:.4g} to {history.iloc[-1]:.4g} (higher is better); in max mode it "
                    f"would have cut at {_epochs_text(as_max)}",
                    epoch=wanted[0],
                    logged=reductions[0].printed,
                    source=reductions[0].location,
                    fix=f"ReduceLROnPlateau(monitor={monitor!r}, mode='max', ...)",
                )
                return
