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
#: more runs than this in one picture make an overview grid of small panels
MAX_DETAILED_RUNS = 6
#: columns of the overview grid
OVERVIEW_COLUMNS = 4
#: resolution of the overview grid (a large picture already)
OVERVIEW_DPI = 80
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

    Up to :data:`MAX_DETAILED_RUNS` runs get full panels (legend, finding labels, two columns);
    more runs make an overview grid of :data:`OVERVIEW_COLUMNS` small panels with one shared
    legend, so a folder of 40 runs is one picture a screen can show (for full panels of every run,
    :func:`plot_each_run`). ``findings`` may be None, a list parallel to ``timelines`` (one list of
    findings per run), a mapping ``run path -> findings``, or a flat list of findings that carry
    their run path (attribute or key ``run``/``run_path``/``path``). A finding needs ``code`` and,
    to be placed, ``step`` or ``epoch``; ``severity`` picks its colour.
    """
    fmt = plot_format(path)
    if not timelines:
        raise UsageError("nothing to plot: no run was given")
    per_run = _findings_per_run(timelines, findings)
    n = len(timelines)
    compact = n > MAX_DETAILED_RUNS
    cols = OVERVIEW_COLUMNS if compact else (1 if n <= 3 else 2)
    rows = math.ceil(n / cols)
    width, height = (4.6, 3.3) if compact else (11.0, 4.9)
    fig, axes = _figure(width * cols, height * rows + (1.3 if compact else 0.5), rows, cols, fixed=compact)
    for i, timeline in enumerate(timelines):
        _draw_run(axes[i // cols][i % cols], i, timeline, per_run[i], compact=compact)
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    heading = title or "Learning rate: logged vs effective (applied by the optimizer)"
    if compact:
        heading += f" - {n} runs (lraudit plot --plot-dir DIR draws each in full)"
        _shared_legend(fig, axes)
        # title and shared legend share the free inch above the grid: title on top, legend below
        fig.suptitle(heading, fontsize=13, y=1 - 0.12 / fig.get_figheight(), va="top")
    else:
        fig.suptitle(heading, fontsize=13)
    return _save_atomically(fig, Path(path), fmt, tight=not compact)


def plot_each_run(
    timelines: Sequence[Timeline],
    findings: Any = None,
    folder: str | os.PathLike[str] = "lraudit-plots",
    *,
    fmt: str = "png",
    title: str | None = None,
) -> list[Path]:
    """One picture per run in ``folder`` (``<run name>.<fmt>``, names made unique), each a full
    panel as :func:`plot_runs` draws a single run. Returns the files written, in run order."""
    if fmt not in PLOT_FORMATS.values():
        raise UsageError(f"unknown plot format {fmt!r} (use {', '.join(PLOT_FORMATS.values())})")
    per_run = _findings_per_run(timelines, findings)
    written: list[Path] = []
    used: set[str] = set()
    for timeline, found in zip(timelines, per_run, strict=True):
        name = file_stem(str(timeline.run.path), used)
        written.append(plot_runs([timeline], [found], Path(folder) / f"{name}.{fmt}", title=title))
    return written


def file_stem(run_path: str, used: set[str]) -> str:
    """A file name for a run: its folder name (``exp[1]`` stays readable), characters a file
    system refuses replaced by ``_``, made unique with ``-2``, ``-3``... Adds the result to ``used``."""
    import re

    base = Path(run_path).name or "run"
    base = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", base).strip(". ") or "run"
    name, k = base, 1
    while name.lower() in used:
        k += 1
        name = f"{base}-{k}"
    used.add(name.lower())
    return name


def _figure(width: float, height: float, rows: int, cols: int, *, fixed: bool = False) -> tuple[Any, Any]:
    """A bare Agg figure (no pyplot state, no display). Constrained layout keeps the title, the
    panels, their axis labels and legends apart; the overview grid (``fixed``) uses fixed margins
    instead: measuring dozens of panels costs more than drawing them."""
    from matplotlib.figure import Figure

    if not fixed:
        fig = Figure(figsize=(width, height), layout="constrained")
        return fig, fig.subplots(rows, cols, squeeze=False)
    fig = Figure(figsize=(width, height))
    # inches kept free: 1.3 on top (title, shared legend), 1.15 under each panel (two x axes)
    fig.subplots_adjust(left=0.05, right=0.99, top=1 - 1.3 / height, bottom=1.0 / height,
                        hspace=1.15 / (height / rows - 1.15), wspace=0.28)
    return fig, fig.subplots(rows, cols, squeeze=False)


def _shared_legend(fig: Any, axes: Any) -> None:
    """One legend for the overview grid: every kind of mark any panel drew, once."""
    handles: dict[str, Any] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(_legend_kind(label), handle)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="upper center",
                   bbox_to_anchor=(0.5, 1 - 0.42 / fig.get_figheight()), ncol=min(6, len(handles)),
                   fontsize="small", frameon=False)


def _legend_kind(label: str) -> str:
    """What a legend entry of one panel stands for in every panel: without its counts and without
    the name of the log (``20 updates with NaN lr (...)`` -> ``updates with NaN lr``)."""
    import re

    if label.startswith("logged "):
        return "logged lr (one marker shape per log)"
    if label.startswith("finding"):
        return "finding (colour: severity)"
    kind = re.sub(r"^\d+ (update|updates) ", "updates ", label)
    return kind.split(";")[0].split(" (x on")[0]


def _save_atomically(fig: Any, path: Path, fmt: str, *, tight: bool = True) -> Path:
    from lraudit.outputs import atomic_target

    with atomic_target(path) as temporary:
        # no timestamps in the file: the same runs give the same bytes; SVG text stays text
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        import matplotlib

        with matplotlib.rc_context({"svg.fonttype": "none"}):
            # "tight" takes in the legends under the panels, which the layout engine leaves out
            fig.savefig(temporary, format=fmt, dpi=DPI if tight else OVERVIEW_DPI, metadata=metadata,
                        bbox_inches="tight" if tight else None, pad_inches=0.2)
    return path


# --------------------------------------------------------------------------- one panel


def _draw_run(ax: Axes, i: int, timeline: Timeline, findings: list[Any], *, compact: bool = False) -> None:
    frame = timeline.frame
    ax.set_xlabel(X_LABEL, fontsize=8 if compact else None)
    ax.set_ylabel(Y_LABEL, fontsize=8 if compact else None)
    ax.set_title(_panel_title(timeline, compact), fontsize=8 if compact else 10, loc="left")
    if compact:
        ax.tick_params(labelsize=7)
    if frame is None or len(frame) == 0:
        ax.text(0.5, 0.5, "no optimizer step reconstructed", transform=ax.transAxes, ha="center")
        return
    steps = frame["step"].to_numpy(dtype=np.int64)
    x, restarted = _x_positions(steps)
    if restarted:
        ax.set_xlabel(
            "update (the counter restarted)" if compact
            else f"{X_LABEL} (updates in order; the counter restarted, see fit boundaries)",
            fontsize=8 if compact else None,
        )
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
    # a PyTorch lr_base is the float64 lr, lr_effective its float32: the same curve, not a decay
    torch_run = bool(timeline.extra.get("framework"))
    base_differs = np.isfinite(base) & (base > 0) & (base != effective)
    if base_differs.any() and not torch_run:
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
    _draw_findings(ax, i, findings, x, steps, frame["epoch"].to_numpy(dtype=np.int64), epoch_first_x,
                   labelled=not compact)
    _format_axes(ax, log_axis, epoch_first_x, compact, "1-based" if torch_run else "as Keras prints it")
    if not compact:
        # long labels (a log's name and what sits on the bottom edge) in 2 columns, so the legend
        # is no wider than the plot
        labels = ax.get_legend_handles_labels()[1]
        columns = 3 if max((len(label) for label in labels), default=0) <= 45 else 2
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.34), ncol=columns, fontsize="small",
                  frameon=False)


def _format_axes(
    ax: Axes, log_axis: bool, epoch_first_x: dict[int, float], compact: bool, numbering: str
) -> None:
    """Plain tick labels (``0.001``, ``200,000``: quicker to read and to draw than ``10^{-3}``),
    and a second x axis under the steps numbering the epochs as Keras prints them (1-based)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, StrMethodFormatter

    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))  # 200,000 rather than an offset "1e6"
    ax.grid(True, which="major", axis="y", alpha=0.3)
    if log_axis:
        low, high = ax.get_ylim()
        if low > 0 and high / low < 10:
            # within one decade a log locator finds at most one 1-2-5 tick: space them evenly instead
            ax.yaxis.set_major_locator(MaxNLocator(5))
        else:
            ax.yaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0), numticks=8))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.3g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    if not epoch_first_x:
        return
    epochs = sorted(epoch_first_x)
    every = max(1, math.ceil(len(epochs) / (6 if compact else 12)))
    shown = [e for k, e in enumerate(epochs) if k % every == 0]
    epoch_axis = ax.secondary_xaxis("bottom")
    epoch_axis.spines["bottom"].set_position(("outward", 26 if compact else 34))
    epoch_axis.set_xticks([epoch_first_x[e] for e in shown], labels=[str(e + 1) for e in shown])
    epoch_axis.tick_params(labelsize=7 if compact else 9, colors="#555555")
    epoch_axis.set_xlabel(f"epoch ({numbering}; dotted lines: epoch starts)",
                          fontsize=7 if compact else 9, color="#555555")
    ax.xaxis.set_label_position("bottom")


def _panel_title(timeline: Timeline, compact: bool = False) -> str:
    spec = timeline.optimizer
    parts = [Path(str(timeline.run.path)).name or str(timeline.run.path)]
    if compact:
        return parts[0].replace("$", r"\$")  # a file name is text, not mathtext
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
    return " | ".join(parts).replace("$", r"\$")  # a file name is text, not mathtext


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


def invalid_lr_text(values: np.ndarray) -> str:
    """``20 updates with NaN lr``, ``1 update with lr 0``, ``3 updates with NaN lr, 1 with lr -inf``."""
    kinds = [
        ("NaN lr", int(np.isnan(values).sum())),
        ("lr 0", int((values == 0).sum())),
        ("infinite lr", int(np.isinf(values).sum())),
        ("negative lr", int((np.isfinite(values) & (values < 0)).sum())),
    ]
    parts = [(what, count) for what, count in kinds if count]
    texts = [
        f"{count} {'update' if count == 1 else 'updates'} with {what}" if k == 0 else f"{count} with {what}"
        for k, (what, count) in enumerate(parts)
    ]
    return ", ".join(texts)


def _draw_invalid(
    ax: Axes, i: int, effective: np.ndarray, x: np.ndarray, drawable: np.ndarray, log_axis: bool
) -> None:
    invalid = ~drawable
    if not invalid.any():
        return
    where = "x on the bottom edge" if log_axis else "x on the bottom edge; no positive lr at all"
    ax.plot(
        x[invalid],
        np.zeros(int(invalid.sum())),
        ls="none",
        marker="x",
        color="red",
        ms=6,
        transform=ax.get_xaxis_transform(),
        clip_on=False,
        label=f"{invalid_lr_text(effective[invalid])} ({where})",
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
    *,
    labelled: bool = True,
) -> None:
    """A star per finding on the top edge; one label per position, staggered so labels do not
    collide (``labelled=False``: stars only, for the small panels of an overview)."""
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
    for xv in sorted(labels)[:MAX_FINDING_LABELS] if labelled else []:
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
        label = f"finding ({placed} at {'its' if placed == 1 else 'their'} step)" + (
            f"; run-wide: {', '.join(codes)}" if codes else ""
        )
        ax.plot([], [], ls="none", marker="*", ms=11, color="#555555", label=label, gid=f"findings-{i}")
    if labels and labelled:
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
