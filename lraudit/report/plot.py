"""Plot logged vs effective learning rate per optimizer step, with callback actions and findings.

One panel per run (a grid when there are several), log y axis. What is drawn, and the SVG ``id``
(matplotlib ``gid``) of each artist so tests and readers can find it (``{i}`` = panel index):

* ``effective-lr-{i}``: the lr every update applied (step line);
* ``base-lr-{i}``: the lr variable/schedule before legacy decay, when it differs;
* ``logged-{i}-{k}``: each logged series (markers at the step each value really describes;
  ``logged-invalid-{i}-{k}``: its NaN/zero/negative values, on the bottom edge);
* ``plateau-reduction-{i}`` / ``scheduler-set-{i}``: callback changes at the first step using them
  (hollow when no update used them);
* ``fit-boundary-{i}-{k}``: the first update of each resumed ``fit``;
* ``invalid-lr-{i}``: updates whose lr is NaN, infinite, zero or negative, which a log axis cannot
  show: drawn as red markers on the bottom edge, counted in the legend;
* ``finding-{CODE}-{i}-{k}``: findings with a step (or epoch), as labelled markers on the top edge.

Matplotlib runs with the Agg backend (no display); the file is written atomically.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lraudit.errors import UsageError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from lraudit.reconstruction import Timeline

#: output formats by file suffix
PLOT_FORMATS = {".png": "png", ".svg": "svg"}
X_LABEL = "optimizer step"
Y_LABEL = "learning rate"
SEVERITY_COLORS = {"error": "#c0392b", "warning": "#d68910", "info": "#2e86c1"}
#: draw faint epoch boundaries only when there are at most this many epochs
MAX_EPOCH_LINES = 60
#: findings labelled per panel (more are counted in the legend)
MAX_FINDING_LABELS = 12
#: picture resolution
DPI = 100


def plot_format(path: str | os.PathLike[str]) -> str:
    """The format of ``path`` from its suffix (``png`` or ``svg``); anything else is a UsageError."""
    suffix = Path(path).suffix.lower()
    if suffix not in PLOT_FORMATS:
        known = ", ".join(PLOT_FORMATS)
        raise UsageError(f"cannot plot to {str(path)!r}: unknown suffix {suffix or '(none)'!r} (use {known})")
    return PLOT_FORMATS[suffix]


def plot_runs(
    timelines: Sequence[Timeline],
    findings: Any = None,
    path: str | os.PathLike[str] = "lraudit.png",
    *,
    title: str | None = None,
) -> Path:
    """Draw ``timelines`` (one panel each) with their ``findings`` and write ``path`` atomically.

    ``findings`` may be None, a list parallel to ``timelines`` (one list of findings per run), a
    mapping ``run path -> findings``, or a flat list of findings that carry their run path
    (attribute or key ``run``/``run_path``/``path``). A finding needs ``code`` and, to be
    placed, ``step`` or ``epoch``; ``severity`` picks its colour.
    """
    fmt = plot_format(path)
    if not timelines:
        raise UsageError("nothing to plot: no run was given")
    import matplotlib
    from matplotlib.figure import Figure

    n = len(timelines)
    cols = 1 if n <= 3 else 2
    rows = math.ceil(n / cols)
    # SVG text stays text (searchable, selectable) instead of glyph outlines
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        # a bare Figure renders with the Agg canvas: no pyplot state, no display needed
        fig = Figure(figsize=(11 * cols, 4.6 * rows))
        axes = fig.subplots(rows, cols, squeeze=False)
        return _draw_and_save(fig, axes, timelines, findings, Path(path), fmt, title)


def _draw_and_save(
    fig: Any, axes: Any, timelines: Sequence[Timeline], findings: Any, path: Path, fmt: str, title: str | None
) -> Path:
    n = len(timelines)
    rows, cols = axes.shape
    per_run = _findings_per_run(timelines, findings)
    for i, timeline in enumerate(timelines):
        _draw_run(axes[i // cols][i % cols], i, timeline, per_run[i])
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    fig.suptitle(title or "Learning rate: logged vs effective (applied by the optimizer)", fontsize=13)
    fig.tight_layout()
    return _save_atomically(fig, path, fmt)


def _save_atomically(fig: Any, path: Path, fmt: str) -> Path:
    from lraudit.outputs import atomic_target

    with atomic_target(path) as temporary:
        # no timestamps in the file: the same runs give the same bytes
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(temporary, format=fmt, dpi=DPI, metadata=metadata, bbox_inches="tight", pad_inches=0.2)
    return path


# --------------------------------------------------------------------------- one panel


def _draw_run(ax: Axes, i: int, timeline: Timeline, findings: list[Any]) -> None:
    frame = timeline.frame
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(Y_LABEL)
    ax.set_title(_panel_title(timeline), fontsize=10, loc="left")
    if frame is None or len(frame) == 0:
        ax.text(0.5, 0.5, "no optimizer step reconstructed", transform=ax.transAxes, ha="center")
        return
    steps = frame["step"].to_numpy(dtype=np.int64)
    x, restarted = _x_positions(steps)
    if restarted:
        ax.set_xlabel(f"{X_LABEL} (updates in order; the counter restarted, see fit boundaries)")
    effective = frame["lr_effective"].to_numpy(dtype=np.float64)
    base = frame["lr_base"].to_numpy(dtype=np.float64) if "lr_base" in frame else effective
    drawable = np.isfinite(effective) & (effective > 0)
    log_axis = bool(drawable.any())
    if log_axis:
        ax.set_yscale("log")

    shown = np.where(drawable, effective, np.nan)
    ax.step(
        x,
        shown,
        where="post",
        color="#1f4e79",
        lw=1.8,
        label="effective lr (applied)",
        gid=f"effective-lr-{i}",
        zorder=3,
    )
    base_differs = np.isfinite(base) & (base > 0) & (base != effective)
    if base_differs.any():
        ax.step(
            x,
            np.where(np.isfinite(base) & (base > 0), base, np.nan),
            where="post",
            color="#7f8c8d",
            lw=1.2,
            ls="--",
            label="lr before legacy decay (variable/schedule)",
            gid=f"base-lr-{i}",
            zorder=2,
        )

    epoch_first_x = _epoch_first_x(frame, x)
    _draw_epoch_lines(ax, epoch_first_x)
    _draw_fit_boundaries(ax, i, frame, x, steps)
    _draw_logged(ax, i, timeline, x, steps, epoch_first_x)
    _draw_changes(ax, i, timeline, x, steps, epoch_first_x)
    _draw_invalid(ax, i, effective, x, drawable, log_axis)
    _draw_findings(ax, i, findings, x, steps, frame["epoch"].to_numpy(dtype=np.int64), epoch_first_x)
    from matplotlib.ticker import StrMethodFormatter

    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))  # 200,000 rather than an offset "1e6"
    ax.grid(True, which="major", axis="y", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize="small", frameon=False)


def _panel_title(timeline: Timeline) -> str:
    spec = timeline.optimizer
    parts = [Path(str(timeline.run.path)).name or str(timeline.run.path)]
    if timeline.keras:
        parts.append(f"Keras {timeline.keras}")
    if spec is not None:
        text = spec.class_name
        lr = spec.learning_rate
        text += f"({getattr(lr, 'class_name', None) or f'lr={lr:g}'}"
        text += f", decay={spec.decay:g})" if spec.decay else ")"
        parts.append(text)
    if timeline.run.steps_per_epoch:
        parts.append(f"{timeline.run.steps_per_epoch} steps/epoch")
    return " | ".join(parts)


def _x_positions(steps: np.ndarray) -> tuple[np.ndarray, bool]:
    """The optimizer step as x; the update's position when the counter restarted (fresh optimizer)."""
    if steps.size < 2 or bool(np.all(np.diff(steps) > 0)):
        return steps.astype(np.float64), False
    return np.arange(steps.size, dtype=np.float64), True


def _epoch_first_x(frame: Any, x: np.ndarray) -> dict[int, float]:
    epochs = frame["epoch"].to_numpy(dtype=np.int64)
    unique, first = np.unique(epochs, return_index=True)
    return {int(e): float(x[f]) for e, f in zip(unique, first, strict=True)}


def _draw_epoch_lines(ax: Axes, epoch_first_x: dict[int, float]) -> None:
    if len(epoch_first_x) > MAX_EPOCH_LINES:
        return
    for epoch, xe in sorted(epoch_first_x.items())[1:]:
        ax.axvline(xe, color="#bbbbbb", lw=0.6, ls=":", zorder=0, gid=f"epoch-start-{epoch}")


def _draw_fit_boundaries(ax: Axes, i: int, frame: Any, x: np.ndarray, steps: np.ndarray) -> None:
    if "fit" not in frame:
        return
    fits = frame["fit"].to_numpy()
    starts = np.flatnonzero(fits[1:] != fits[:-1]) + 1
    for k, start in enumerate(starts):
        restarted = steps[start] <= steps[start - 1]
        label = "fit boundary (counter restarts)" if restarted else "fit boundary (counter continues)"
        ax.axvline(
            x[start],
            color="#8e44ad",
            lw=1.4,
            ls="-.",
            label=label if k == 0 else None,
            gid=f"fit-boundary-{i}-{k}",
            zorder=1,
        )
        ax.annotate(
            f"fit {int(fits[start]) + 1}: step {int(steps[start])}",
            (x[start], 0.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, 4),
            textcoords="offset points",
            fontsize=7,
            color="#8e44ad",
        )


def _step_to_x(step: float, x: np.ndarray, steps: np.ndarray) -> float | None:
    """x of the update with counter ``step`` (the first one, if the counter restarted)."""
    hits = np.flatnonzero(steps == int(step))
    return float(x[hits[0]]) if hits.size else None


def _draw_logged(
    ax: Axes, i: int, timeline: Timeline, x: np.ndarray, steps: np.ndarray, epoch_first_x: dict[int, float]
) -> None:
    """One marker series per logged (source, name), at the step each value describes.

    Values a log axis cannot show (NaN, zero, negative) go on the bottom edge, counted in the label.
    """
    import pandas as pd

    logged = timeline.logged
    if logged is None or len(logged) == 0:
        return
    markers = ["o", "s", "D", "P", "X", "h"]
    # values printed by callbacks are drawn from the timeline's changes instead
    logged = logged[logged["source"] != "callback"]
    for k, ((source, name), group) in enumerate(logged.groupby(["source", "name"], sort=True)):
        values = pd.to_numeric(group["value"], errors="coerce").to_numpy(dtype=np.float64)
        xs = _steps_to_x(pd.to_numeric(group["step"], errors="coerce").to_numpy(dtype=np.float64), x, steps)
        epochs = pd.to_numeric(group["epoch"], errors="coerce").to_numpy(dtype=np.float64)
        by_epoch = np.isnan(xs) & ~np.isnan(epochs)
        xs[by_epoch] = [epoch_first_x.get(int(e), np.nan) for e in epochs[by_epoch]]
        placed = ~np.isnan(xs)
        drawable = placed & np.isfinite(values) & (values > 0)
        odd = placed & ~drawable
        if not placed.any():
            continue
        marker = markers[k % len(markers)]
        size = 6.0 if placed.sum() <= 100 else max(2.0, 6.0 * math.sqrt(100 / placed.sum()))  # dense logs
        label = f"logged {name} ({source})"
        if odd.any():
            label += f"; {int(odd.sum())} NaN/zero/negative on the bottom edge"
            ax.plot(
                xs[odd],
                np.zeros(int(odd.sum())),
                ls="none",
                marker=marker,
                ms=size,
                mfc="none",
                mew=1.3,
                color="red",
                transform=ax.get_xaxis_transform(),
                clip_on=False,
                gid=f"logged-invalid-{i}-{k}",
                zorder=6,
            )
        ax.plot(
            xs[drawable],
            values[drawable],
            ls="none",
            marker=marker,
            ms=size,
            mfc="none",
            mew=1.3,
            label=label,
            gid=f"logged-{i}-{k}",
            zorder=4,
        )


def _steps_to_x(wanted: np.ndarray, x: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """x of the first update with each counter value (NaN where none has it), vectorised."""
    unique, first = np.unique(steps, return_index=True)
    out = np.full(wanted.shape, np.nan)
    known = ~np.isnan(wanted)
    if not known.any() or unique.size == 0:
        return out
    target = wanted[known].astype(np.int64)
    index = np.clip(np.searchsorted(unique, target), 0, unique.size - 1)
    found = unique[index] == target
    result = np.full(target.shape, np.nan)
    result[found] = x[first[index[found]]]
    # a value read after the last update (e.g. the schedule at the next step) goes just past it
    beyond = target > unique[-1]
    result[beyond] = x[first[-1]] + (target[beyond] - unique[-1])
    out[known] = result
    return out


def _draw_changes(
    ax: Axes, i: int, timeline: Timeline, x: np.ndarray, steps: np.ndarray, epoch_first_x: dict[int, float]
) -> None:
    styles = {
        "ReduceLROnPlateau": ("v", "#c0392b", "ReduceLROnPlateau reduction", "plateau-reduction"),
        "LearningRateScheduler": ("^", "#27ae60", "LearningRateScheduler set", "scheduler-set"),
    }
    points: dict[str, tuple[list[float], list[float], list[bool]]] = {}
    last_x = float(x[-1]) + 1  # a change after the last update: drawn just past it
    for change in timeline.changes:
        if change.callback not in styles:
            continue
        used = change.effective_from_step is not None and not change.overwritten_by
        xv = _step_to_x(change.effective_from_step, x, steps) if used else None
        if xv is None:
            # a change no update used: place it where it would have started
            start_epoch = change.epoch + 1 if change.callback == "ReduceLROnPlateau" else change.epoch
            xv = epoch_first_x.get(start_epoch, last_x)
        xs, ys, filled = points.setdefault(change.callback, ([], [], []))
        xs.append(xv)
        ys.append(float(change.new_lr))
        filled.append(used)
    for callback, (xs, ys, filled) in points.items():
        marker, color, label, gid = styles[callback]
        xs_a, ys_a, used_a = np.array(xs), np.array(ys), np.array(filled)
        if used_a.any():
            ax.plot(
                xs_a[used_a],
                ys_a[used_a],
                ls="none",
                marker=marker,
                ms=9,
                color=color,
                label=label,
                gid=f"{gid}-{i}",
                zorder=5,
            )
        if (~used_a).any():
            ax.plot(
                xs_a[~used_a],
                ys_a[~used_a],
                ls="none",
                marker=marker,
                ms=9,
                mfc="none",
                color=color,
                label=f"{label} (never applied)",
                gid=f"{gid}-unused-{i}",
                zorder=5,
            )


def _draw_invalid(
    ax: Axes, i: int, effective: np.ndarray, x: np.ndarray, drawable: np.ndarray, log_axis: bool
) -> None:
    invalid = ~drawable
    if not invalid.any():
        return
    nan = int(np.isnan(effective).sum())
    zero = int((effective == 0).sum())
    other = int(invalid.sum()) - nan - zero
    parts = [
        f"{nan} NaN" if nan else "",
        f"{zero} zero" if zero else "",
        f"{other} inf/negative" if other else "",
    ]
    what = ", ".join(p for p in parts if p)
    where = "not drawable on a log axis" if log_axis else "no positive lr at all"
    ax.plot(
        x[invalid],
        np.zeros(int(invalid.sum())),
        ls="none",
        marker="x",
        color="red",
        ms=6,
        transform=ax.get_xaxis_transform(),
        clip_on=False,
        label=f"{int(invalid.sum())} updates with lr {what} ({where}): x on the bottom edge",
        gid=f"invalid-lr-{i}",
        zorder=6,
    )
    if not log_axis:
        ax.set_yticks([])


def _draw_findings(
    ax: Axes,
    i: int,
    findings: list[Any],
    x: np.ndarray,
    steps: np.ndarray,
    epochs: np.ndarray,
    epoch_first_x: dict[int, float],
) -> None:
    """A star per finding on the top edge; one label per position, staggered so labels do not collide."""
    labels: dict[float, list[tuple[str, str]]] = {}
    unplaced: list[str] = []
    for k, finding in enumerate(findings):
        code = str(_get(finding, "code") or "?")
        xv = _locate(
            _float(_get(finding, "step")), _float(_get(finding, "epoch")), x, steps, epochs, epoch_first_x
        )
        if xv is None:
            unplaced.append(code)
            continue
        severity = _get(finding, "severity")
        color = SEVERITY_COLORS.get(str(getattr(severity, "value", severity)), "#555555")
        ax.plot(
            [xv],
            [1.0],
            ls="none",
            marker="*",
            ms=11,
            color=color,
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            gid=f"finding-{code}-{i}-{k}",
            zorder=7,
        )
        name = _get(finding, "name")
        labels.setdefault(xv, []).append((f"{code} {name}" if name else code, color))
    span = (float(x[-1]) - float(x[0])) or 1.0
    previous: list[float] = []
    top = 0.0  # highest label edge above the panel, in points
    for xv in sorted(labels)[:MAX_FINDING_LABELS]:
        # a label close to one of the last two moves up a level
        level = sum(1 for p in previous[-2:] if abs(xv - p) < 0.22 * span)
        previous.append(xv)
        texts = labels[xv]
        offset = 8 + 10 * len(texts) * level
        top = max(top, offset + 10 * len(texts))
        ax.annotate(
            "\n".join(t for t, _ in texts),
            (xv, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(0, offset),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7,
            color=texts[0][1],
        )
    placed = sum(len(v) for v in labels.values())
    if placed or unplaced:
        codes = sorted(set(unplaced))
        label = f"finding ({placed} at their step)" + (f"; run-wide: {', '.join(codes)}" if codes else "")
        ax.plot([], [], ls="none", marker="*", ms=11, color="#555555", label=label, gid=f"findings-{i}")
    if labels:
        # room above the panel for the staggered labels
        ax.set_title(ax.get_title(loc="left"), fontsize=10, loc="left", pad=top + 6)


def _locate(
    step: float | None,
    epoch: float | None,
    x: np.ndarray,
    steps: np.ndarray,
    epochs: np.ndarray,
    epoch_first_x: dict[int, float],
) -> float | None:
    """x of a finding: its step within its epoch (a restarted counter repeats steps), else its epoch start."""
    if step is not None:
        hits = np.flatnonzero(steps == int(step))
        if epoch is not None and hits.size:
            in_epoch = hits[epochs[hits] == int(epoch)]
            hits = in_epoch if in_epoch.size else hits
        if hits.size:
            return float(x[hits[0]])
    if epoch is not None:
        return epoch_first_x.get(int(epoch))
    return None


# --------------------------------------------------------------------------- findings plumbing


def _findings_per_run(timelines: Sequence[Timeline], findings: Any) -> list[list[Any]]:
    n = len(timelines)
    if findings is None:
        return [[] for _ in range(n)]
    if isinstance(findings, Mapping):
        return [list(findings.get(str(t.run.path), [])) for t in timelines]
    items = list(findings)
    if len(items) == n and all(isinstance(f, (list, tuple)) for f in items):
        return [list(f) for f in items]
    if n == 1:
        return [items]
    out: list[list[Any]] = [[] for _ in range(n)]
    paths = [str(t.run.path) for t in timelines]
    for finding in items:
        run = _get(finding, "run") or _get(finding, "run_path") or _get(finding, "path")
        if run is not None and str(run) in paths:
            out[paths.index(str(run))].append(finding)
    return out


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _float(value: Any) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(result) else result
