"""What the rules need to judge ReduceLROnPlateau: its logged reductions, and a replay of its rule.

The replay runs the callback's state machine (:mod:`lraudit.semantics.callbacks`) in the run's
Keras era, the one the timeline replays with (:func:`replay_era`), so the rules and the timeline
never disagree on what the callback does (``min_delta``/``epsilon``, ``mode='auto'`` differ
between eras). The rules use it to check the logs; the helpers here are deliberately small.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lraudit.numfmt import f32_float
from lraudit.rules._facts import callback_specs, events, logged

if TYPE_CHECKING:
    from lraudit.reconstruction import Timeline
    from lraudit.run import Run

#: metrics where a larger value is better although the name lacks "acc" (Keras' auto-mode test)
HIGHER_IS_BETTER = (
    "cosine_similarity", "auc", "prc", "precision", "recall", "f1", "fbeta", "iou",
    "r2", "true_positives", "true_negatives", "sensitivity", "specificity", "map", "dice",
)


@dataclass(frozen=True)
class Reduction:
    """A ReduceLROnPlateau reduction at the end of a global 0-based ``epoch``."""

    epoch: int
    old: float | None  # lr variable before (float32 widened), None when unknown
    printed: float | None  # value printed in the message
    location: str | None = None


def logged_reductions(run: Run, timeline: Timeline) -> list[Reduction]:
    """Reductions the logs show, with the lr before each (chained from the start lr)."""
    changes = [c for c in timeline.changes if c.callback == "ReduceLROnPlateau" and c.origin == "logged"]
    if changes:
        return [
            Reduction(c.epoch, c.old_lr, c.printed if c.printed is not None else c.new_lr, c.location)
            for c in sorted(changes, key=lambda c: c.epoch)
        ]
    found = []
    previous = initial_variable(timeline)
    for event in events(run, "plateau_reduction"):
        if event.epoch is None:
            continue
        old = variable_at_epoch_end(timeline, int(event.epoch))
        old = old if old is not None else previous
        found.append(Reduction(int(event.epoch), old, event.value, event.location))
        previous = f32_float(event.value) if event.value is not None else None
    return found


def replayed_reductions(timeline: Timeline) -> list[Reduction]:
    """The reductions the timeline replayed from a described ReduceLROnPlateau (none logged)."""
    changes = [c for c in timeline.changes if c.callback == "ReduceLROnPlateau" and c.origin == "replayed"]
    return [
        Reduction(c.epoch, c.old_lr, c.new_lr, "replayed from the described callback")
        for c in sorted(changes, key=lambda c: c.epoch)
    ]


def logged_lr_drops(timeline: Timeline) -> set[int]:
    """Epochs at whose end some logged per-epoch lr series falls (a silent reduction's trace).

    A ReduceLROnPlateau with ``verbose=0`` leaves its reductions only in an lr column (console
    ``lr:``, CSVLogger, History, TensorBoard ``epoch_learning_rate``). Keras writes the value
    used in epoch ``e`` (Keras 3, and 2.x unless another lr writer runs after the callback) or
    the value after the reduction: a fall between epochs ``e`` and ``e + 1`` is therefore the
    trace of a reduction at the end of ``e`` or, in the second case, of ``e - 1``; both are
    returned so that neither reading raises a false alarm.
    """
    table = logged(timeline)
    if table.empty:
        return set()
    epochs = pd.to_numeric(table["epoch"], errors="coerce")
    values = pd.to_numeric(table["value"], errors="coerce")
    rows = pd.DataFrame(
        {"series": table["source"].astype(str) + "|" + table["name"].astype(str),
         "epoch": epochs, "value": values}
    ).dropna()
    drops: set[int] = set()
    for _, part in rows.groupby("series"):
        per_epoch = part.groupby(part["epoch"].astype(int))["value"].first().sort_index()
        if len(per_epoch) < 2:
            continue
        index = per_epoch.index.to_numpy()
        vals = per_epoch.to_numpy(dtype=np.float64)
        consecutive = index[1:] == index[:-1] + 1
        fell = consecutive & (vals[1:] < vals[:-1])
        for epoch in index[:-1][fell]:
            drops.update((int(epoch), int(epoch) - 1))
    return drops


def variable_at_epoch_end(timeline: Timeline, epoch: int) -> float | None:
    """The lr variable during the last step of a global epoch (what a callback reads at its end)."""
    table = timeline.frame
    if table is None or not len(table) or "lr_variable" not in table:
        return None
    values = table.loc[table["epoch"] == epoch, "lr_variable"].dropna()
    return float(values.iloc[-1]) if len(values) else None


def initial_variable(timeline: Timeline) -> float | None:
    """The lr variable at the first step, from the frame (or the optimizer spec)."""
    table = timeline.frame
    if table is not None and len(table) and "lr_variable" in table:
        values = table["lr_variable"].dropna()
        if len(values):
            return float(values.iloc[0])
    spec = timeline.optimizer
    if spec is not None and isinstance(spec.learning_rate, float) and not spec.lr_is_final:
        return f32_float(spec.learning_rate)
    return None


#: the fewest significant digits a printed lr is taken to carry (Keras' ``%.4e`` prints 5)
MIN_PRINTED_DIGITS = 4


def printed_tolerance(printed: float) -> float:
    """Half a unit in the last digit of ``printed`` as written (its shortest ``repr``).

    A value typed by hand or printed rounded (``0.000421875``, ``lr: 4.2188e-04``) carries only
    its printed digits; a float32 widened to float64 (``0.0007500000356230885``) carries all of
    them, and its tolerance is below one float32 ulp, so it must match exactly. Trailing zeros
    are lost by the time a value is a float (Keras prints ``1.0000e-03``), so at least
    ``MIN_PRINTED_DIGITS`` are assumed: ``0.001`` never stands for 0.0009.
    """
    if printed is None or not np.isfinite(printed) or printed == 0:
        return 0.0
    exponent = int(np.floor(np.log10(abs(float(printed)))))
    written = repr(abs(float(printed))).split("e")[0]
    significant = len(written.replace(".", "").lstrip("0").rstrip("0")) or 1
    # a hair above half a unit: the decimal boundary itself is not representable in binary
    return 0.5000001 * 10.0 ** (exponent - max(significant, MIN_PRINTED_DIGITS) + 1)


def matches_printed(printed: float | None, exact: float | None) -> bool:
    """True when ``printed`` is ``exact`` in float32, or ``exact`` rounded to the printed digits.

    The digits may round the float32 value or the decimal product it stands for (``0.000421875``
    typed for the float32 ``0.00042187498``), which differ by up to one float32 spacing.
    """
    if printed is None or exact is None:
        return False
    if f32_float(printed) == f32_float(exact):
        return True
    spacing = float(np.spacing(np.float32(abs(exact))))
    return abs(float(printed) - float(exact)) <= printed_tolerance(printed) + spacing


def infer_factor(old: float, printed: float) -> float | None:
    """The shortest decimal factor ``f`` with ``old*f`` matching ``printed`` (float32 or its printed
    digits), if one has ≤6 digits."""
    if not old or printed is None or not np.isfinite(printed) or old <= 0:
        return None
    ratio = printed / old
    if not 0 < ratio < 1:
        return None
    for digits in range(1, 7):
        candidate = float(f"{ratio:.{digits}g}")
        if matches_printed(printed, f32_float(old * candidate)):
            return candidate
    return None


@dataclass(frozen=True)
class PlateauRule:
    """The arguments of one ReduceLROnPlateau, given by the user or inferred from its messages."""

    factor: float | None
    min_lr: float | None
    origin: str  # "--callback" | "inferred"


def plateau_rule(run: Run, timeline: Timeline) -> PlateauRule | None:
    """Factor and floor of the run's ReduceLROnPlateau (user spec first, else inferred)."""
    specs = callback_specs(timeline, "ReduceLROnPlateau")
    if specs:
        kwargs = specs[0].kwargs
        return PlateauRule(float(kwargs.get("factor", 0.1)), float(kwargs.get("min_lr", 0.0)), "--callback")
    reductions = [r for r in logged_reductions(run, timeline) if r.old is not None and r.printed is not None]
    factors = [f for f in (infer_factor(r.old, r.printed) for r in reductions) if f is not None]
    if not factors:
        return None
    factor = max(set(factors), key=factors.count)
    # a floor is a printed value above old*factor beyond its printed digits; Keras stops reducing
    # at min_lr, so a later reduction printed below it means it was no floor at all
    floors = [
        (index, r.printed)
        for index, r in enumerate(reductions)
        if r.printed < r.old
        and f32_float(r.printed) > f32_float(r.old * factor)
        and not matches_printed(r.printed, f32_float(r.old * factor))
    ]
    floors = [
        (index, value) for index, value in floors
        if not any(f32_float(later.printed) < f32_float(value) and not matches_printed(later.printed, value)
                   for later in reductions[index + 1:])
    ]
    return PlateauRule(factor, floors[0][1] if floors else None, "inferred")


def replay_era(timeline: Timeline) -> str:
    """The ReduceLROnPlateau era the run's Keras generation runs (the timeline's own choice)."""
    from lraudit.semantics.callbacks import plateau_era

    return plateau_era(timeline.extra.get("keras_release") or timeline.keras)


def replay(
    monitor: pd.Series,
    *,
    minimize: bool | None,
    patience: int,
    factor: float,
    lr0: float,
    min_delta: float | None = None,
    cooldown: int = 0,
    min_lr: float = 0.0,
    restarts: tuple[int, ...] = (),
    era: str = "2.8",
    epsilon: float | None = None,
    monitor_name: str = "monitor",
) -> list[tuple[int, float]]:
    """Epochs (global, 0-based) at whose end the callback reduces, and the new float32 lr.

    The callback's own state machine (:func:`lraudit.semantics.callbacks.replay_plateau`) runs
    over the monitor history in Keras era ``era``; ``minimize=None`` leaves ``mode='auto'`` to
    the era's rule for ``monitor_name``; ``min_delta``/``epsilon`` are passed as given (which
    one counts depends on the era). ``restarts`` are the first epochs of later ``fit()`` calls,
    where ``on_train_begin`` resets ``best``, ``wait`` and the cooldown (the lr carries over).
    """
    from lraudit.semantics.callbacks import replay_plateau

    if monitor.empty:
        return []
    n_epochs = int(max(monitor.index)) + 1
    history: list[float | None] = [None] * n_epochs
    for epoch, value in monitor.items():
        if value is not None and np.isfinite(value):
            history[int(epoch)] = float(value)
    starts = sorted({0, *(int(e) for e in restarts if 0 < int(e) < n_epochs)})
    fits = list(zip(starts, [*starts[1:], n_epochs], strict=True))
    kwargs: dict[str, object] = {
        "monitor": monitor_name,
        "mode": "auto" if minimize is None else ("min" if minimize else "max"),
        "patience": patience,
        "factor": factor,
        "cooldown": cooldown,
        "min_lr": min_lr,
    }
    if min_delta is not None:
        kwargs["min_delta"] = min_delta
    if epsilon is not None:
        kwargs["epsilon"] = epsilon
    decisions = replay_plateau(kwargs, history, f32_float(lr0), fits=fits, era=era)
    return [(int(d.epoch), f32_float(d.new_lr)) for d in decisions if d.reduced]


def auto_minimizes(monitor: str) -> bool:
    """Keras 2.x – 3.10 ``mode='auto'``: maximise only when ``'acc'`` is in the monitor's name."""
    from lraudit.semantics.callbacks import plateau_mode

    return plateau_mode(monitor, "auto", era="2.8")[0] == "min"


def meaning_minimizes(monitor: str) -> bool | None:
    """What the metric means: True lower-is-better, False higher-is-better, None unknown.

    A Keras metric's declared direction first (the table Keras 3.11+ uses), then the name:
    losses and errors are minimised, accuracies and the :data:`HIGHER_IS_BETTER` families
    (custom metrics named after them) maximised.
    """
    from lraudit.semantics.callbacks import declared_direction

    direction = declared_direction(monitor)
    if direction is not None:
        return direction == "down"
    name = monitor.removeprefix("val_")
    if "loss" in name or "error" in name or name in ("mse", "mae", "mape", "msle", "logcosh", "hinge"):
        return True
    if "acc" in name or any(key in name for key in HIGHER_IS_BETTER):
        return False
    return None
