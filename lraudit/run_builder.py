"""Merging what every source read into one :class:`~lraudit.run.Run`.

Fits and global epochs. The fits come from the source that knows them best: the console
(``Epoch N/M`` headers), else CSVLogger (repeated header / restarted numbering), else TensorBoard,
else History. A fit whose epoch numbering restarted below the end of the previous fit gets an
``epoch_offset`` so that global epochs keep increasing; a fit resumed with ``initial_epoch``
continues the numbering (offset 0). Sources that number epochs (console, CSVLogger, TensorBoard)
are mapped fit by fit onto the global fits; a History file numbers nothing, so each of its fits is
placed where its values match the epoch-numbered sources (float32 compare), else by structure
(as many fits as the run -> in order; as long as the whole run -> from epoch 0; else the last fit
of that length, which is what ``fit().history`` of the last call holds).

Optimizer. Every config found is kept in :attr:`Run.optimizer_configs`. :attr:`Run.optimizer` is
the config saved last: a saved model's (the one with the largest iteration counter), else a
``serialize()`` file, else a bare ``get_config()``. When another config differs from it only in
the learning-rate variable, the one whose lr equals the first logged lr (CSVLogger/History epoch
0, float32 compare) is :attr:`Run.optimizer_initial` and the other is the final one; nothing is
guessed from the size of the values. A config a source took when ``fit()`` began
(``optimizer_stage="initial"``: TensorBoard's Keras model summary) is the initial one outright
when it matches apart from the lr (the earliest, when several fits wrote one); it is
:attr:`Run.optimizer` only when no other config was found.

Compile settings (``jit_compile``, ``steps_per_execution``, ...) of every source are merged into
:attr:`Run.compile_config`; the latest saved model's win, and a conflict is a warning.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from lraudit.run import Fit, Run, SavedCounter
from lraudit.sources.base import SCALAR_COLUMNS, FitInfo, InputFile, SourceData, scalars_frame

#: the source whose fit structure is trusted first
FIT_AUTHORITY = ("console", "notebook", "csvlogger", "tfevents", "history")
#: sources with epoch numbers of their own (History has none)
EPOCH_NUMBERED = ("console", "notebook", "csvlogger", "tfevents")
#: sources compared with each other for disagreements (TensorBoard may legitimately differ)
CROSS_CHECKED = ("console", "csvlogger", "history")
#: which source's Keras/backend hint wins on a conflict
HINT_PRIORITY = ("models", "optimizer_config", "console", "notebook", "tfevents", "csvlogger", "history")
LR_NAMES = ("lr", "learning_rate")

_NUMBER_TEXT = re.compile(r"\s*[-+]?(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?\s*")


def _f32_equal(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return bool(np.float32(a) == np.float32(b))


# ---------------------------------------------------------------- fits and epochs


def _global_fits(authority: list[FitInfo]) -> list[Fit]:
    fits: list[Fit] = []
    previous_end = 0
    for index, info in enumerate(sorted(authority, key=lambda item: item.index)):
        offset = 0 if info.first_epoch >= previous_end else previous_end - info.first_epoch
        fits.append(
            Fit(
                index=index,
                first_epoch=info.first_epoch + offset,
                end_epoch=max(info.end_epoch, info.first_epoch + 1) + offset,
                epoch_offset=offset,
                initial_epoch=info.first_epoch,
                steps_per_epoch=info.steps_per_epoch,
            )
        )
        previous_end = fits[-1].end_epoch
    return fits


def _numbered_offsets(source_fits: list[FitInfo], fits: list[Fit]) -> dict[int, int]:
    """Epoch offset of each fit of an epoch-numbered source (matched in order, by logged epochs).

    A source fit continuing the numbering may span several global fits (CSVLogger in append
    mode); one whose numbering restarted moves on to the next global fit.
    """
    ordered = sorted(source_fits, key=lambda item: item.index)
    if len(ordered) == len(fits):
        return {info.index: fit.epoch_offset for info, fit in zip(ordered, fits, strict=False)}
    offsets: dict[int, int] = {}
    last_used = -1
    previous_end: int | None = None
    for info in ordered:
        restarted = previous_end is not None and info.first_epoch < previous_end
        start = last_used + 1 if restarted else max(last_used, 0)
        offsets[info.index] = 0
        for candidate in range(start, len(fits)):
            fit = fits[candidate]
            length = fit.end_epoch - fit.first_epoch
            if fit.initial_epoch <= info.first_epoch < fit.initial_epoch + length:
                offsets[info.index] = fit.epoch_offset
                last_used = candidate
                break
        previous_end = info.end_epoch
    return offsets


def _reference(scalars: pd.DataFrame) -> dict[tuple[str, int], list[float]]:
    rows = scalars[scalars["source"].isin(["console", "csvlogger"]) & scalars["global_epoch"].notna()]
    reference: dict[tuple[str, int], list[float]] = {}
    for name, epoch, value in zip(rows["name"], rows["global_epoch"], rows["value"], strict=False):
        reference.setdefault((str(name), int(epoch)), []).append(float(value))
    return reference


def _history_offsets(
    data: SourceData, fits: list[Fit], total: int, reference: dict[tuple[str, int], list[float]]
) -> dict[int, int]:
    """Place each History fit on the global epochs (values first, structure second)."""
    offsets: dict[int, int] = {}
    frame = data.scalars if data.scalars is not None else scalars_frame([])
    for info in data.fits:
        length = info.end_epoch
        if len(data.fits) == len(fits) and len(fits) > 1:
            default = fits[info.index].first_epoch
        elif length == total or not fits:
            default = 0
        else:
            same_length = [fit for fit in fits if fit.end_epoch - fit.first_epoch == length]
            default = same_length[-1].first_epoch if same_length else 0
        # every placement inside the run is tried; the structural default wins ties
        candidates = dict.fromkeys([default, *(fit.first_epoch for fit in fits), *range(total - length + 1)])
        rows = frame[frame["fit"] == info.index]
        best, best_score = default, 0
        for offset in candidates:
            if offset + length > max(total, length):
                continue
            score = 0
            for name, epoch, value in zip(rows["name"], rows["epoch"], rows["value"], strict=False):
                known = reference.get((str(name), int(epoch) + offset))
                if known:
                    score += 1 if any(_f32_equal(value, other) for other in known) else -1
            if score > best_score:
                best, best_score = offset, score
        offsets[info.index] = best
    return offsets


def _fit_of_epoch(fits: list[Fit], epoch: int | None) -> int | None:
    if epoch is None:
        return None
    for fit in fits:
        if fit.first_epoch <= epoch < fit.end_epoch:
            return fit.index
    return None


def _fits_of_epochs(fits: list[Fit], epochs: pd.Series) -> pd.arrays.IntegerArray:
    """:func:`_fit_of_epoch` of every value of ``epochs`` (Int64), vectorised: first fit wins."""
    known = epochs.notna().to_numpy()
    values = epochs.fillna(0).to_numpy(dtype=np.int64)
    out = np.zeros(len(values), dtype=np.int64)
    found = np.zeros(len(values), dtype=bool)
    for fit in fits:
        hit = known & ~found & (values >= fit.first_epoch) & (values < fit.end_epoch)
        out[hit] = fit.index
        found |= hit
    return pd.arrays.IntegerArray(out, ~found)


# ---------------------------------------------------------------- optimizer


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _configs_equal(a: Any, b: Any, ignore: tuple[str, ...] = ()) -> bool:
    """Equal as Keras would hold them: floats compared in float32, dicts key by key."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = (set(a) | set(b)) - set(ignore)
        return all(_configs_equal(a.get(key), b.get(key)) for key in keys)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_configs_equal(x, y) for x, y in zip(a, b, strict=False))
    if _is_number(a) and _is_number(b):
        return _f32_equal(float(a), float(b))
    return a == b


def _same_optimizer(a: dict[str, Any], b: dict[str, Any], ignore_lr: bool = False) -> bool:
    if str(a.get("class_name", "")).lower() != str(b.get("class_name", "")).lower():
        return False
    return _configs_equal(a.get("config", {}), b.get("config", {}), LR_NAMES if ignore_lr else ())


def _config_lr(optimizer: dict[str, Any]) -> float | None:
    config = optimizer.get("config") or {}
    for key in LR_NAMES:
        value = config.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def _first_logged_lr(scalars: pd.DataFrame) -> float | None:
    rows = scalars[
        scalars["source"].isin(["csvlogger", "history"])
        & scalars["name"].isin(LR_NAMES)
        & scalars["global_epoch"].notna()
    ]
    if rows.empty:
        return None
    first = rows[rows["global_epoch"] == rows["global_epoch"].min()]
    return float(first["value"].iloc[0])


def _taken_at(data: SourceData) -> tuple[float, str]:
    """When a config was taken, for ordering: the first wall time of its file's points, else
    the file name (TensorBoard names event files after their creation time)."""
    frame = data.scalars
    if frame is not None and "wall_time" in frame.columns and len(frame):
        first = float(frame["wall_time"].min())
        if math.isfinite(first) and first > 0:
            return first, data.path
    return math.inf, data.path


def _choose_optimizer(run: Run, datas: list[SourceData], scalars: pd.DataFrame) -> None:
    found = [data for data in datas if data.optimizer is not None]
    run.optimizer_configs = [(data.path, data.optimizer) for data in found]
    if not found:
        return

    def priority(data: SourceData) -> tuple:
        saved = data.kind == "models"
        # a config taken when training began is the latest one only when there is no other
        return (
            data.optimizer_stage == "initial",
            not saved,
            -(data.iterations or 0) if saved else 0,
            data.optimizer.get("module") is None,
        )

    ranked = sorted(found, key=priority)
    chosen = ranked[0]
    variants = [data for data in ranked if _same_optimizer(data.optimizer, chosen.optimizer, ignore_lr=True)]
    lr_values = {np.float32(lr) for lr in (_config_lr(d.optimizer) for d in variants) if lr is not None}
    first_lr = _first_logged_lr(scalars)
    initial = None
    before_training = sorted(
        (data for data in variants if data.optimizer_stage == "initial"), key=_taken_at
    )
    if before_training:
        # the earliest config taken when fit() began (TensorBoard's model summary) holds the
        # lr variable before any update: no need to guess it from the logged values
        initial = before_training[0]
        if chosen.optimizer_stage == "initial":  # nothing saved later: the last fit's start
            chosen = before_training[-1]
    elif len(lr_values) > 1:
        if first_lr is None:
            run.warnings.append(
                "optimizer configs differ only in learning_rate and no lr was logged: "
                "which one was taken before training is unknown"
            )
        else:
            matching = [d for d in variants if _config_lr(d.optimizer) is not None
                        and _f32_equal(_config_lr(d.optimizer), first_lr)]
            others = [d for d in variants if d not in matching]
            if matching and others:
                initial, chosen = matching[0], others[0]
    optimizer = dict(chosen.optimizer)
    if optimizer.get("module") is None:
        for data in variants:
            if data.optimizer.get("module"):
                optimizer["module"] = data.optimizer["module"]
                break
    run.optimizer = optimizer
    run.optimizer_source = chosen.path
    if initial is not None:
        module = initial.optimizer.get("module") or optimizer.get("module")
        run.optimizer_initial = dict(initial.optimizer, module=module)


# ---------------------------------------------------------------- disagreements


def print_tolerance(text: str | None) -> float:
    """Half a unit in the last printed digit of ``text`` (0.0 when it is not a plain number)."""
    if not isinstance(text, str):
        return 0.0
    match = _NUMBER_TEXT.fullmatch(text)
    if match is None or not (match.group(1) or match.group(2)):
        return 0.0
    decimals = len(match.group(2) or "")
    exponent = int(match.group(3) or 0)
    return 0.5 * 10.0 ** (exponent - decimals)


def _disagreements(scalars: pd.DataFrame) -> list[str]:
    rows = scalars[scalars["source"].isin(CROSS_CHECKED) & scalars["global_epoch"].notna()]
    if rows.empty:
        return []
    # the last value a file gives for a metric and epoch (the console redraws its bar)
    last = rows.sort_values(["file", "line"], na_position="first").groupby(
        ["file", "name", "global_epoch"], as_index=False
    ).last()
    found: list[str] = []
    files = list(dict.fromkeys(last["file"]))
    for i, first_file in enumerate(files):
        for second_file in files[i + 1 :]:
            merged = last[last["file"] == first_file].merge(
                last[last["file"] == second_file], on=["name", "global_epoch"], suffixes=("_a", "_b")
            )
            for row in merged.itertuples(index=False):
                a, b = float(row.value_a), float(row.value_b)
                # only the console rounds what it prints; CSV and History hold the full value
                tolerance = max(
                    print_tolerance(row.text_a) if row.source_a == "console" else 0.0,
                    print_tolerance(row.text_b) if row.source_b == "console" else 0.0,
                ) * (1 + 1e-9)
                if _f32_equal(a, b) or abs(a - b) <= tolerance:
                    continue
                where_a = f"{row.file_a}:{row.line_a}" if not pd.isna(row.line_a) else row.file_a
                where_b = f"{row.file_b}:{row.line_b}" if not pd.isna(row.line_b) else row.file_b
                found.append(
                    f"{row.name} at epoch {int(row.global_epoch)}: {where_a} logs {row.text_a}, "
                    f"{where_b} logs {row.text_b}"
                )
    return found


# ---------------------------------------------------------------- assembly


def _hint(datas: list[SourceData], attribute: str, run: Run, label: str) -> str | None:
    votes = [(data, getattr(data, attribute)) for data in datas if getattr(data, attribute)]
    if not votes:
        return None
    votes.sort(key=lambda item: HINT_PRIORITY.index(item[0].kind) if item[0].kind in HINT_PRIORITY else 99)
    values = Counter(value for _, value in votes)
    if len(values) > 1:
        described = ", ".join(f"{value} ({data.path})" for data, value in votes)
        run.warnings.append(f"{label} hints disagree: {described}; using {votes[0][1]}")
    return votes[0][1]


def _merge_compile_config(run: Run, datas: list[SourceData]) -> None:
    """Compile settings of every source; the latest saved model's win, a conflict is a warning."""
    told: dict[str, tuple[Any, str]] = {}
    for data in sorted(datas, key=lambda data: data.iterations or 0):
        for key, value in data.compile_config.items():
            if key in told and not _configs_equal(told[key][0], value):
                run.warnings.append(
                    f"compile settings disagree: {key} is {told[key][0]!r} ({told[key][1]}) and "
                    f"{value!r} ({data.path}); using {value!r}"
                )
            told[key] = (value, data.path)
            run.compile_config[key] = value


def _steps_per_epoch(datas: list[SourceData]) -> int | None:
    for kind in ("console", "tfevents"):
        for data in datas:
            if data.kind != kind:
                continue
            if data.steps_per_epoch:
                return data.steps_per_epoch
            for info in data.fits:
                if info.steps_per_epoch:
                    return info.steps_per_epoch
    return None


def _inputs(datas: list[SourceData], inputs: list[InputFile]) -> list[InputFile]:
    listed = {entry.path for entry in inputs}
    merged = list(inputs)
    for data in datas:
        if data.path in listed:
            continue
        status = "partial" if data.warnings else "read"
        reason = data.warnings[0] if data.warnings else None
        merged.append(InputFile(path=data.path, kind=data.kind, status=status, reason=reason))
    return merged


def assemble(path: str, datas: list[SourceData], inputs: list[InputFile]) -> Run:
    """Build the :class:`Run` of ``path`` from the sources' data (see the module docstring)."""
    run = Run(path=path, inputs=_inputs(datas, inputs))
    for data in datas:
        for warning in data.warnings:
            run.warnings.append(warning if data.path in warning else f"{data.path}: {warning}")

    authority: list[FitInfo] = []
    for kind in FIT_AUTHORITY:
        candidates = [data for data in datas if data.kind == kind and data.fits]
        if candidates:
            authority = max(candidates, key=lambda data: len(data.fits)).fits
            break
    run.fits = _global_fits(authority)

    frames = []
    offsets_by_file: dict[str, dict[int, int]] = {}
    # which input each row came from: a notebook labels its rows "nb.ipynb:cell N", not its path
    origins: list[np.ndarray] = []
    codes: dict[str, int] = {}
    for data in datas:
        if data.kind in EPOCH_NUMBERED:
            offsets_by_file[data.path] = _numbered_offsets(data.fits, run.fits)
        if data.scalars is not None and not data.scalars.empty:
            frames.append(data.scalars)
            code = codes.setdefault(data.path, len(codes))
            origins.append(np.full(len(data.scalars), code, dtype=np.int32))
    scalars = pd.concat(frames, ignore_index=True) if frames else scalars_frame([])
    origin = np.concatenate(origins) if origins else np.array([], dtype=np.int32)

    def rows_of(path: str) -> pd.Series:
        return pd.Series(origin == codes.get(path, -1), index=scalars.index)

    scalars = scalars.astype(scalars_frame([]).dtypes.to_dict())
    scalars["global_epoch"] = pd.array([pd.NA] * len(scalars), dtype="Int64")

    def apply_offsets(mask: pd.Series, offsets: dict[int, int]) -> None:
        part = scalars.loc[mask, ["fit", "epoch"]]  # only these: copying string columns is slow
        fits = part["fit"].astype("Int64")
        known = fits.notna().to_numpy()
        codes = fits.fillna(0).to_numpy(dtype=np.int64)
        shift = np.zeros(len(part), dtype=np.int64)
        for fit, offset in offsets.items():
            shift[known & (codes == int(fit))] = offset
        scalars.loc[mask, "global_epoch"] = part["epoch"] + pd.array(shift, dtype="Int64")

    for file, offsets in offsets_by_file.items():
        apply_offsets(rows_of(file), offsets)
    total = max((fit.end_epoch for fit in run.fits), default=0)
    reference = _reference(scalars)
    for data in datas:
        if data.kind == "history" and data.fits:
            apply_offsets(rows_of(data.path), _history_offsets(data, run.fits, total, reference))

    if not run.fits and scalars["global_epoch"].notna().any():
        last = int(scalars["global_epoch"].max())
        run.fits = [Fit(index=0, first_epoch=0, end_epoch=last + 1)]
    scalars["global_fit"] = _fits_of_epochs(run.fits, scalars["global_epoch"])
    run.scalars = scalars[[*SCALAR_COLUMNS, "global_epoch", "global_fit"]]
    run.epochs = max(
        [fit.end_epoch for fit in run.fits]
        + ([int(scalars["global_epoch"].max()) + 1] if scalars["global_epoch"].notna().any() else [])
        + [0]
    )

    for data in datas:
        offsets = offsets_by_file.get(data.path, {})
        for event in data.events:
            shift = offsets.get(event.fit, 0) if event.fit is not None else 0
            epoch = event.epoch + shift if event.epoch is not None else None
            fit = _fit_of_epoch(run.fits, epoch)
            run.events.append(replace(event, epoch=epoch, fit=fit if fit is not None else event.fit))

    run.steps_per_epoch = _steps_per_epoch(datas)
    if run.steps_per_epoch is not None:
        for fit in run.fits:
            fit.steps_per_epoch = fit.steps_per_epoch or run.steps_per_epoch
    _choose_optimizer(run, datas, run.scalars)
    run.saved_counters = [
        SavedCounter(path=data.path, iterations=data.iterations)
        for data in sorted(datas, key=lambda data: data.iterations or 0)
        if data.iterations is not None
    ]
    _merge_compile_config(run, datas)
    run.keras = _hint(datas, "keras", run, "Keras generation")
    run.backend = _hint(datas, "backend", run, "backend")
    run.disagreements = _disagreements(run.scalars)
    return run
