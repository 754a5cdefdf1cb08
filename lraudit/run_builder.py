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

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from lraudit.numfmt import epoch_text
from lraudit.run import Fit, Run, SavedCounter
from lraudit.saved_counters import read_counters
from lraudit.sources.base import (
    SCALAR_COLUMNS,
    CallbackEvent,
    FitInfo,
    InputFile,
    SourceData,
    SourceFacts,
    scalars_frame,
)
from lraudit.sources.registry import facts_for, kinds_ranked, kinds_where
from lraudit.torchfacts import TorchFacts, merge_torch_facts

# Which source is trusted for what is read from each kind's SourceFacts, never from its name:
# fit structure by ``fit_rank``, Keras/backend hints by ``hint_rank``; sources with epoch numbers
# of their own (``numbers_epochs``: History has none) are mapped onto the global fits directly;
# sources logging Keras' ``logs`` keys are cross-checked (TensorBoard tags may legitimately differ).
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
                last_epoch_steps=info.last_epoch_steps,
                last_epoch_evidence=info.last_epoch_evidence,
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


def _facts(data: SourceData) -> SourceFacts | None:
    return facts_for(data.kind)


def _reference(scalars: pd.DataFrame, global_epoch: pd.Series) -> dict[tuple[str, int], list[float]]:
    """Values of the sources that number their epochs, by (name, global epoch): where History
    fits are placed. Only Keras' ``logs`` keys, which History holds too."""
    numbered = kinds_where(lambda facts: facts.keras_keys and facts.numbers_epochs)
    rows = np.flatnonzero((scalars["source"].isin(numbered) & global_epoch.notna()).to_numpy(dtype=bool))
    # three columns at the rows, not a filtered copy of the whole table
    names = scalars["name"].take(rows).tolist()
    epochs = global_epoch.to_numpy(dtype=np.int64, na_value=0)[rows].tolist()
    values = scalars["value"].to_numpy()[rows].tolist()
    reference: dict[tuple[str, int], list[float]] = {}
    for name, epoch, value in zip(names, epochs, values, strict=True):
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


def _unwrapped(optimizer: dict[str, Any]) -> dict[str, Any]:
    """The optimizer a ``LossScaleOptimizer`` wraps (it holds the lr), else ``optimizer``."""
    inner = (optimizer.get("config") or {}).get("inner_optimizer")
    return inner if isinstance(inner, dict) and isinstance(inner.get("config"), dict) else optimizer


def same_optimizer(a: dict[str, Any], b: dict[str, Any], ignore_lr: bool = False) -> bool:
    if str(a.get("class_name", "")).lower() != str(b.get("class_name", "")).lower():
        return False
    if _unwrapped(a) is not a and _unwrapped(b) is not b:
        return same_optimizer(_unwrapped(a), _unwrapped(b), ignore_lr)
    return _configs_equal(a.get("config", {}), b.get("config", {}), LR_NAMES if ignore_lr else ())


def config_lr(optimizer: dict[str, Any]) -> float | None:
    config = _unwrapped(optimizer).get("config") or {}
    for key in LR_NAMES:
        value = config.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def _first_logged_lr(scalars: pd.DataFrame) -> float | None:
    exact = kinds_where(lambda facts: facts.keras_keys and facts.exact)
    global_epoch = scalars["global_epoch"]
    mask = scalars["source"].isin(exact) & scalars["name"].isin(LR_NAMES) & global_epoch.notna()
    rows = np.flatnonzero(mask.to_numpy(dtype=bool))
    if not len(rows):
        return None
    # the first row of the earliest epoch, found on NumPy rows (no filtered copies of the table)
    epochs = global_epoch.to_numpy(dtype=np.int64, na_value=0)[rows]
    first = rows[int(np.flatnonzero(epochs == epochs.min())[0])]
    return float(scalars["value"].to_numpy()[first])


def _taken_at(data: SourceData) -> tuple[float, str]:
    """When a config was taken, for ordering: the first wall time of its file's points, else
    the file name (TensorBoard names event files after their creation time)."""
    frame = data.scalars
    if frame is not None and "wall_time" in frame.columns and len(frame):
        first = float(frame["wall_time"].min())
        if math.isfinite(first) and first > 0:
            return first, data.path
    return math.inf, data.path


@dataclass
class OptimizerChoice:
    """Which optimizer configs the run holds (see the module docstring)."""

    configs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    optimizer: dict[str, Any] | None = None
    source: str | None = None
    initial: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)


def saved_last(data: SourceData) -> tuple:
    """Sort key: the config saved last first. A config taken when training began is the latest
    one only when there is no other; a saved model (with an iteration counter) beats a config
    file, the largest counter first; a config that names its module beats a bare one."""
    facts = _facts(data)
    saved = facts is not None and "iterations" in facts.tells
    return (
        data.optimizer_stage == "initial",
        not saved,
        -(data.iterations or 0) if saved else 0,
        data.optimizer.get("module") is None,
    )


def _initial_and_final(
    variants: list[SourceData], chosen: SourceData, first_lr: float | None
) -> tuple[SourceData | None, SourceData, str | None]:
    """Among configs differing only in the lr: the initial one, the final one and a warning."""
    before_training = sorted((data for data in variants if data.optimizer_stage == "initial"), key=_taken_at)
    if before_training:
        # the earliest config taken when fit() began (TensorBoard's model summary) holds the
        # lr variable before any update: no need to guess it from the logged values
        final = before_training[-1] if chosen.optimizer_stage == "initial" else chosen
        return before_training[0], final, None  # the last fit's start when nothing was saved later
    lr_values = {np.float32(lr) for lr in (config_lr(d.optimizer) for d in variants) if lr is not None}
    if len(lr_values) <= 1:
        return None, chosen, None
    if first_lr is None:
        return None, chosen, (
            "optimizer configs differ only in learning_rate and no lr was logged: "
            "which one was taken before training is unknown"
        )
    matching = [
        d for d in variants
        if config_lr(d.optimizer) is not None and _f32_equal(config_lr(d.optimizer), first_lr)
    ]
    others = [d for d in variants if d not in matching]
    if matching and others:
        return matching[0], others[0], None
    return None, chosen, None


def _first_module(optimizer: dict[str, Any], variants: list[SourceData]) -> str | None:
    """The optimizer's module, else the first one a variant of the same config names."""
    if optimizer.get("module") is not None:
        return optimizer["module"]
    return next((data.optimizer["module"] for data in variants if data.optimizer.get("module")), None)


def choose_optimizer(datas: list[SourceData], scalars: pd.DataFrame) -> OptimizerChoice:
    """The run's optimizer, its initial variant and every config found (module docstring)."""
    found = [data for data in datas if data.optimizer is not None]
    choice = OptimizerChoice(configs=[(data.path, data.optimizer) for data in found])
    if not found:
        return choice
    ranked = sorted(found, key=saved_last)
    variants = [
        data for data in ranked if same_optimizer(data.optimizer, ranked[0].optimizer, ignore_lr=True)
    ]
    initial, chosen, warning = _initial_and_final(variants, ranked[0], _first_logged_lr(scalars))
    if warning:
        choice.warnings.append(warning)
    optimizer = dict(chosen.optimizer)
    module = _first_module(optimizer, variants)
    if module is not None:
        optimizer["module"] = module
    choice.optimizer, choice.source = optimizer, chosen.path
    if initial is not None:
        module = initial.optimizer.get("module") or optimizer.get("module")
        choice.initial = dict(initial.optimizer, module=module)
    return choice


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


#: below this many cross-checked rows, :func:`_disagreements` works on Python lists: pandas'
#: fixed cost per sort/groupby/merge (~15 ms) was a fifth of a small run's audit
SMALL_CROSS_CHECK = 20_000


def _disagreements(scalars: pd.DataFrame) -> list[str]:
    cross_checked = kinds_where(lambda facts: facts.logs_values and facts.keras_keys)
    # only sources printing rounded text get a tolerance; exact sources hold the full value
    rounded = set(kinds_where(lambda facts: facts.rounded))
    mask = (scalars["source"].isin(cross_checked) & scalars["global_epoch"].notna()).to_numpy(dtype=bool)
    # one file alone cannot disagree: most runs stop here, before any sort or join
    if scalars["file"][mask].nunique() < 2:
        return []
    names = ["file", "line", "name", "global_epoch", "value", "text", "source"]
    if int(mask.sum()) > SMALL_CROSS_CHECK:
        return _disagreements_frame(scalars.loc[mask, names], rounded)
    rows = np.flatnonzero(mask)
    columns = {name: scalars[name].take(rows).to_numpy(dtype=object) for name in names}
    return _disagreements_small(columns, rounded)


def _is_missing(value: Any) -> bool:
    return value is pd.NA or value is None or (isinstance(value, float) and math.isnan(value))


def _disagreements_small(columns: dict[str, np.ndarray], rounded: set[str]) -> list[str]:
    """:func:`_disagreements_frame` on Python lists (``columns``: the rows' values as objects),
    same pairs in the same order."""
    kept = [
        index for index in range(len(columns["file"]))
        if not _is_missing(columns["file"][index]) and not _is_missing(columns["name"][index])
    ]
    # rows by (file, line), a missing line first, stable: the order the frame version sorts in
    kept.sort(key=lambda index: (columns["file"][index], not _is_missing(line := columns["line"][index]),
                                 0 if _is_missing(line) else line))
    # the last non-missing value of each column per (file, metric, epoch), as groupby().last()
    last: dict[tuple[str, str, int], dict[str, Any]] = {}
    for index in kept:
        key = (columns["file"][index], columns["name"][index], int(columns["global_epoch"][index]))
        record = last.setdefault(key, dict.fromkeys(("line", "value", "text", "source"), pd.NA))
        for name in record:
            if not _is_missing(value := columns[name][index]):
                record[name] = value
    by_file: dict[str, list[tuple[str, int]]] = {}
    for file, name, epoch in sorted(last):
        by_file.setdefault(file, []).append((name, epoch))
    files = list(by_file)
    found: list[str] = []
    for position, file_a in enumerate(files):
        for file_b in files[position + 1:]:
            for name, epoch in by_file[file_a]:
                if (file_b, name, epoch) in last:
                    message = _disagreement(
                        (file_a, last[(file_a, name, epoch)]), (file_b, last[(file_b, name, epoch)]),
                        name, epoch, rounded,
                    )
                    if message:
                        found.append(message)
    return found


def _disagreement(
    a: tuple[str, dict[str, Any]], b: tuple[str, dict[str, Any]], name: str, epoch: int, rounded: set[str]
) -> str | None:
    """The line saying two files' last values of ``name`` at ``epoch`` differ, or None."""
    (file_a, row_a), (file_b, row_b) = a, b
    a_value = float("nan") if row_a["value"] is pd.NA else float(row_a["value"])
    b_value = float("nan") if row_b["value"] is pd.NA else float(row_b["value"])
    with np.errstate(over="ignore"):
        if _f32_equal(a_value, b_value):
            return None
    tolerance = max(
        print_tolerance(row_a["text"]) if row_a["source"] in rounded else 0.0,
        print_tolerance(row_b["text"]) if row_b["source"] in rounded else 0.0,
    ) * (1 + 1e-9)
    if abs(a_value - b_value) <= tolerance:
        return None
    where_a = f"{file_a}:{row_a['line']}" if not pd.isna(row_a["line"]) else file_a
    where_b = f"{file_b}:{row_b['line']}" if not pd.isna(row_b["line"]) else file_b
    return (
        f"{name} at {epoch_text(int(epoch))}: {where_a} logs {row_a['text']}, "
        f"{where_b} logs {row_b['text']}"
    )


def _disagreements_frame(rows: pd.DataFrame, rounded: set[str]) -> list[str]:
    """Where two files give different values of one metric at one epoch (whole columns)."""
    # the last value a file gives for a metric and epoch (the console redraws its bar)
    last = rows.sort_values(["file", "line"], na_position="first").groupby(
        ["file", "name", "global_epoch"], as_index=False
    ).last()
    files = list(dict.fromkeys(last["file"]))
    if len(files) < 2:
        return []
    # every pair of files at once: one self-join on (metric, epoch), pairs in first-seen file order
    last["file_order"] = last["file"].map({file: index for index, file in enumerate(files)}).astype(int)
    merged = last.merge(last, on=["name", "global_epoch"], suffixes=("_a", "_b"))
    merged = merged[merged["file_order_a"].to_numpy() < merged["file_order_b"].to_numpy()]
    merged = merged.sort_values(["file_order_a", "file_order_b"], kind="stable")
    a = merged["value_a"].to_numpy(dtype=np.float64, na_value=np.nan)
    b = merged["value_b"].to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore", over="ignore"):
        same = (a.astype(np.float32) == b.astype(np.float32)) | (np.isnan(a) & np.isnan(b))
    found: list[str] = []
    for row in merged[~same].itertuples(index=False):  # only the few rows that differ in float32
        a_value, b_value = float(row.value_a), float(row.value_b)
        tolerance = max(
            print_tolerance(row.text_a) if row.source_a in rounded else 0.0,
            print_tolerance(row.text_b) if row.source_b in rounded else 0.0,
        ) * (1 + 1e-9)
        if _f32_equal(a_value, b_value) or abs(a_value - b_value) <= tolerance:
            continue
        where_a = f"{row.file_a}:{row.line_a}" if not pd.isna(row.line_a) else row.file_a
        where_b = f"{row.file_b}:{row.line_b}" if not pd.isna(row.line_b) else row.file_b
        found.append(
            f"{row.name} at {epoch_text(int(row.global_epoch))}: {where_a} logs {row.text_a}, "
            f"{where_b} logs {row.text_b}"
        )
    return found


# ---------------------------------------------------------------- assembly


def _hint(datas: list[SourceData], attribute: str, run: Run, label: str) -> str | None:
    votes = [(data, getattr(data, attribute)) for data in datas if getattr(data, attribute)]
    if not votes:
        return None
    votes.sort(key=lambda item: facts.hint_rank if (facts := _facts(item[0])) is not None else 99)
    values = Counter(value for _, value in votes)
    if len(values) > 1:
        described = ", ".join(f"{value} ({data.path})" for data, value in votes)
        run.warnings.append(f"{label} hints disagree: {described}; using {votes[0][1]}")
    return votes[0][1]


def _keras_from_logged_keys(scalars: pd.DataFrame | None) -> str | None:
    """The Keras generation told by the per-epoch lr key the callbacks wrote into ``logs``.

    Keras 3 writes ``learning_rate``; every Keras 2 era (standalone, tf.keras, tf-keras) writes
    ``lr``. Event-file tags (``epoch_learning_rate`` in both) do not tell.
    """
    if scalars is None or scalars.empty:
        return None
    names = set(scalars["name"].dropna().astype(str).unique())
    if "learning_rate" in names and "lr" not in names:
        return "3"
    if "lr" in names and "learning_rate" not in names:
        return "2"
    return None


#: Keras' short aliases of losses and metrics (``keras.losses.get``/``keras.metrics.get``)
_SETTING_ALIASES = {
    "mse": "meansquarederror", "mae": "meanabsoluteerror", "mape": "meanabsolutepercentageerror",
    "msle": "meansquaredlogarithmicerror", "acc": "accuracy", "kld": "kldivergence",
    "kullbackleiblerdivergence": "kldivergence", "logcosh": "logcosh", "huberloss": "huber",
}
#: config values a setting given by name (``loss="categorical_crossentropy"``) also has
_DEFAULT_SETTING_VALUES = (None, False, 0, -1, "auto", "sum_over_batch_size", "float32")


def _setting_name(name: object) -> str:
    """A loss/metric name in one spelling: ``categorical_crossentropy`` == ``CategoricalCrossentropy``."""
    flat = str(name).lower().replace("_", "")
    return _SETTING_ALIASES.get(flat, flat)


def _same_setting(a: Any, b: Any) -> bool:
    """Two serialisations of one compile setting: equal values, or a name and the config it gets.

    ``loss="categorical_crossentropy"`` (a string in one file) and
    ``{"class_name": "CategoricalCrossentropy", "config": {"name": ..., "from_logits": false}}``
    (another file's serialisation) are the same loss; a config with a non-default argument
    (``from_logits=True``) is not what the bare name gives, and stays a disagreement.
    """
    if _configs_equal(a, b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_setting(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, str) and isinstance(b, str):
        return _setting_name(a) == _setting_name(b)
    if isinstance(a, dict) and isinstance(b, str):
        a, b = b, a
    if not (isinstance(a, str) and isinstance(b, dict)):
        return False
    config = b.get("config") if isinstance(b.get("config"), dict) else {}
    names = {_setting_name(b.get("class_name", "")), _setting_name(config.get("name", ""))}
    if _setting_name(a) not in names:
        return False
    extra = [v for k, v in config.items() if k not in ("name", "fn", "dtype", "reduction")]
    return all(_is_default_setting(v) for v in extra)


def _is_default_setting(value: Any) -> bool:
    if value is None or value is False:
        return True
    return not isinstance(value, (bool, dict, list)) and value in _DEFAULT_SETTING_VALUES


@dataclass(frozen=True)
class _EraVote:
    """One file's word on the Keras generation; ``by_key`` when only its lr key name tells."""

    generation: str
    path: str
    rank: int
    by_key: bool


def _era_votes(datas: list[SourceData]) -> list[_EraVote]:
    """Every file's Keras-generation hint, the most specific first.

    A file's own evidence (a saved model's ``keras_version``, config keys, bar glyphs and
    console warnings) comes before the name of the lr key a CSVLogger/History file logged: any
    callback can write ``lr`` or ``learning_rate`` into ``logs``, so the key is the weakest word.
    """
    votes = []
    for data in datas:
        facts = _facts(data)
        rank = facts.hint_rank if facts is not None else 99
        if data.keras:
            votes.append(_EraVote(data.keras, data.path, rank, by_key=False))
        elif facts is not None and facts.keras_keys:
            told = _keras_from_logged_keys(data.scalars)
            if told:
                votes.append(_EraVote(told, data.path, rank, by_key=True))
    return sorted(votes, key=lambda vote: (vote.by_key, vote.rank))


def _keras_generation(run: Run, datas: list[SourceData]) -> str | None:
    """The Keras generation told by every file of the run (:func:`_era_votes`), the most
    specific winning. Outvoted lr key names are a note (a callback chose the name); a
    disagreement between the files' own evidence is a warning."""
    votes = _era_votes(datas)
    if not votes:
        return _keras_from_logged_keys(run.scalars)
    chosen = votes[0]
    against = [vote for vote in votes if vote.generation != chosen.generation]
    if not against:
        return chosen.generation
    if not chosen.by_key and all(vote.by_key for vote in against):
        keys = ", ".join(
            f"{vote.path} logs {'learning_rate' if vote.generation == '3' else 'lr'}" for vote in against
        )
        run.notes.append(
            f"Keras {chosen.generation} (told by {chosen.path}); {keys}, the key Keras "
            f"{against[0].generation}'s callbacks write: a callback of its own logged it under that name"
        )
        return chosen.generation
    described = ", ".join(
        f"{vote.generation} ({vote.path}{', its lr key' if vote.by_key else ''})" for vote in votes
    )
    run.warnings.append(f"Keras generation hints disagree: {described}; using {chosen.generation}")
    return chosen.generation


def _merge_compile_config(run: Run, datas: list[SourceData]) -> None:
    """Compile settings of every source; the latest saved model's win, a conflict is a warning.

    Only a real conflict is one: the same setting serialised two ways (a name and its config)
    is not.
    """
    told: dict[str, tuple[Any, str]] = {}
    for data in sorted(datas, key=lambda data: data.iterations or 0):
        for key, value in data.compile_config.items():
            if key in told and not _same_setting(told[key][0], value):
                run.warnings.append(
                    f"compile settings disagree: {key} is {told[key][0]!r} ({told[key][1]}) and "
                    f"{value!r} ({data.path}); using {value!r}"
                )
            told[key] = (value, data.path)
            run.compile_config[key] = value


def _steps_per_epoch(datas: list[SourceData]) -> int | None:
    """Steps per epoch as the sources that tell it state it, the fit authority first."""
    for kind in kinds_ranked(lambda facts: facts.fit_rank, lambda facts: "steps_per_epoch" in facts.tells):
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


def _fit_authority(datas: list[SourceData]) -> list[FitInfo]:
    """The fits of the source trusted first for fit structure (the file with the most fits)."""
    for kind in kinds_ranked(lambda facts: facts.fit_rank):
        candidates = [data for data in datas if data.kind == kind and data.fits]
        if candidates:
            return max(candidates, key=lambda data: len(data.fits)).fits
    return []


def _numbered_offsets_by_file(datas: list[SourceData], fits: list[Fit]) -> dict[str, dict[int, int]]:
    """Per file of a source that numbers its epochs: the epoch offset of each of its fits."""
    return {
        data.path: _numbered_offsets(data.fits, fits)
        for data in datas
        if (facts := _facts(data)) is not None and facts.numbers_epochs
    }


#: a working column of the merged scalars: the path of the input each row was read from
_INPUT = "_input"


def _concat_scalars(datas: list[SourceData]) -> pd.DataFrame:
    """Every source's scalars in one table (:data:`SCALAR_COLUMNS` dtypes)."""
    parts = [data for data in datas if data.scalars is not None and not data.scalars.empty]
    if not parts:
        return scalars_frame([]).assign(**{_INPUT: pd.Categorical([])})
    scalars = pd.concat([data.scalars for data in parts], ignore_index=True) if len(parts) > 1 else (
        parts[0].scalars.reset_index(drop=True)
    )
    # only columns of another dtype converted (event files add ``wall_time``: the table's dtypes
    # then never equal the expected ones, yet astype of every column would copy them all)
    actual = scalars.dtypes
    differ = {
        name: dtype
        for name, dtype in _scalar_dtypes().items()
        if name not in actual.index or actual[name] != dtype
    }
    if differ:
        scalars = scalars.astype(differ)
    # which input each row came from: a notebook labels its rows "nb.ipynb:cell N", not its path;
    # categories sorted as ``astype("category")`` sorts them, codes repeated per input (no object
    # column of paths built and factorised for every row)
    paths = sorted({data.path for data in parts})
    position = {path: index for index, path in enumerate(paths)}
    codes = np.repeat(
        np.array([position[data.path] for data in parts], dtype=np.int8 if len(paths) < 128 else np.int32),
        [len(data.scalars) for data in parts],
    )
    scalars[_INPUT] = pd.Categorical.from_codes(codes, categories=paths)
    return scalars


@functools.lru_cache(maxsize=1)
def _scalar_dtypes() -> pd.Series:
    """The dtypes of an empty scalars table, as ``DataFrame.dtypes`` gives them (built once)."""
    return scalars_frame([]).dtypes


def _shifted_epochs(
    epochs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    mask: np.ndarray,
    offsets: dict[int, int],
    global_epoch: tuple[np.ndarray, np.ndarray],
) -> None:
    """Set ``global_epoch`` (values, missing) of the rows in ``mask`` to their ``epoch`` plus the
    offset of their fit (0 when unknown); NumPy on the whole column, no pandas indexing per file."""
    epoch, epoch_missing, fit, fit_missing = epochs
    shift = np.zeros(len(epoch), dtype=np.int64)
    for fit_index, offset in offsets.items():
        shift[~fit_missing & (fit == int(fit_index))] = offset
    values, missing = global_epoch
    values[mask] = epoch[mask] + shift[mask]
    missing[mask] = epoch_missing[mask]


def _int_column(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """An Int64 column as (int64 values with 0 for NA, NA mask)."""
    return column.to_numpy(dtype=np.int64, na_value=0), column.isna().to_numpy()


def _global_epochs(
    scalars: pd.DataFrame,
    datas: list[SourceData],
    fits: list[Fit],
    offsets_by_file: dict[str, dict[int, int]],
) -> pd.Series:
    """The global epoch of every row: epoch-numbered files by their fit offsets, then each
    History fit placed where its values match those (see :func:`_history_offsets`)."""
    inputs = scalars[_INPUT].to_numpy(dtype=object)
    epochs = (*_int_column(scalars["epoch"]), *_int_column(scalars["fit"]))
    values = np.zeros(len(scalars), dtype=np.int64)
    missing = np.ones(len(scalars), dtype=bool)

    def as_series() -> pd.Series:
        return pd.Series(pd.arrays.IntegerArray(values.copy(), missing.copy()), index=scalars.index)

    for file, offsets in offsets_by_file.items():
        _shifted_epochs(epochs, inputs == file, offsets, (values, missing))
    total = max((fit.end_epoch for fit in fits), default=0)
    listed = [
        data for data in datas if (facts := _facts(data)) is not None and facts.epoch_numbering == "position"
    ]
    if not any(data.fits for data in listed):
        return as_series()
    reference = _reference(scalars, as_series())
    for data in listed:
        if data.fits:
            offsets = _history_offsets(data, fits, total, reference)
            _shifted_epochs(epochs, inputs == data.path, offsets, (values, missing))
    return as_series()


def _global_events(
    datas: list[SourceData], fits: list[Fit], offsets_by_file: dict[str, dict[int, int]]
) -> list[CallbackEvent]:
    """Every source's callback events with global epochs and the fit holding them."""
    events: list[CallbackEvent] = []
    for data in datas:
        offsets = offsets_by_file.get(data.path, {})
        for event in data.events:
            shift = offsets.get(event.fit, 0) if event.fit is not None else 0
            epoch = event.epoch + shift if event.epoch is not None else None
            fit = _fit_of_epoch(fits, epoch)
            events.append(replace(event, epoch=epoch, fit=fit if fit is not None else event.fit))
    return events


def _epoch_count(fits: list[Fit], global_epoch: pd.Series) -> int:
    """Epochs in the run: the end of the last fit, or one past the last logged epoch."""
    logged = [int(global_epoch.max()) + 1] if global_epoch.notna().any() else []
    return max([fit.end_epoch for fit in fits] + logged + [0])


def _bars_may_count_samples(datas: list[SourceData], keras: str | None) -> bool:
    """True when the logged steps per epoch may be a sample count: Keras 1/2.0-2.2 (and tf.keras
    with NumPy inputs before TF 2.2) drew sample-count bars, announced by ``Train on N samples``;
    a fit that printed that header had its steps computed, and Keras 3 never counts samples."""
    if keras == "3":
        return False
    return not any(info.samples is not None for data in datas for info in data.fits)


def _accumulation(optimizer: dict[str, Any] | None) -> int:
    """Keras 3 ``gradient_accumulation_steps`` of the optimizer config (1 without)."""
    config = (_unwrapped(optimizer).get("config") or {}) if optimizer else {}
    value = config.get("gradient_accumulation_steps")
    return int(value) if _is_number(value) and value > 1 else 1


def _apply_saved_counters(run: Run, datas: list[SourceData]) -> None:
    """Steps per epoch from the saved counters when the logs do not show it (or show a sample
    count), and a warning for each saved counter the logged run cannot have produced."""
    reading = read_counters(
        run.saved_counters,
        run.fits,
        run.epochs,
        run.steps_per_epoch,
        _bars_may_count_samples(datas, run.keras),
        _accumulation(run.optimizer),
    )
    run.notes.extend(reading.notes)
    run.warnings.extend(reading.warnings)
    if reading.steps_per_epoch is not None:
        run.steps_per_epoch = reading.steps_per_epoch
        run.fits = [replace(fit, steps_per_epoch=reading.steps_per_epoch) for fit in run.fits]


def _saved_counters(datas: list[SourceData]) -> list[SavedCounter]:
    return [
        SavedCounter(path=data.path, iterations=data.iterations)
        for data in sorted(datas, key=lambda data: data.iterations or 0)
        if data.iterations is not None
    ]


def assemble(path: str, datas: list[SourceData], inputs: list[InputFile]) -> Run:
    """Build the :class:`Run` of ``path`` from the sources' data (see the module docstring)."""
    run = Run(path=path, inputs=_inputs(datas, inputs))
    for data in datas:
        for warning in data.warnings:
            run.warnings.append(warning if data.path in warning else f"{data.path}: {warning}")

    authority = _fit_authority(datas)
    fits = _global_fits(authority)
    offsets_by_file = _numbered_offsets_by_file(datas, fits)
    scalars = _concat_scalars(datas)
    scalars["global_epoch"] = _global_epochs(scalars, datas, fits, offsets_by_file)
    if not fits and scalars["global_epoch"].notna().any():
        fits = [Fit(index=0, first_epoch=0, end_epoch=int(scalars["global_epoch"].max()) + 1)]
    scalars["global_fit"] = _fits_of_epochs(fits, scalars["global_epoch"])
    run.fits = fits
    run.scalars = scalars[[*SCALAR_COLUMNS, "global_epoch", "global_fit"]]
    run.epochs = _epoch_count(fits, scalars["global_epoch"])
    run.events = _global_events(datas, fits, offsets_by_file)

    run.steps_per_epoch = _steps_per_epoch(datas)
    if run.steps_per_epoch is not None:  # a fit without its own count has the run's
        run.fits = [replace(fit, steps_per_epoch=fit.steps_per_epoch or run.steps_per_epoch) for fit in fits]
    choice = choose_optimizer(datas, run.scalars)
    run.optimizer_configs, run.optimizer = choice.configs, choice.optimizer
    run.optimizer_source, run.optimizer_initial = choice.source, choice.initial
    run.warnings.extend(choice.warnings)
    run.saved_counters = _saved_counters(datas)
    _merge_compile_config(run, datas)
    run.keras = _keras_generation(run, datas)
    run.backend = _hint(datas, "backend", run, "backend")
    _apply_saved_counters(run, datas)
    run.disagreements = _disagreements(run.scalars)
    run.code_facts, run.code_fits, code_notes = _link_code(datas, authority)
    run.notes.extend(code_notes)
    _backend_from_code(run, datas)
    run.fits = _steps_from_code(run, authority)
    run.torch = _torch_facts(datas)
    if run.torch is not None:
        run.scalars = _trainer_dict_steps(run.torch, _without_checkpoint_copies(run.scalars))
        # Keras' epoch count reads every file's epoch column; an event file's step axis is none
        run.epochs = run.torch.epochs or 0
    return run


def _trainer_dict_steps(facts: TorchFacts, scalars: pd.DataFrame) -> pd.DataFrame:
    """The Trainer's printed log dicts carry no step: the k-th was logged at ``k * logging_steps``."""
    from lraudit.sources.torch_console import hf_dict_steps

    if facts.framework != "transformers" or scalars is None or len(scalars) == 0:
        return scalars
    every = facts.training_args.get("logging_steps") or facts.trainer_state.get("logging_steps")
    if isinstance(every, bool) or not isinstance(every, int) or every <= 0:
        return scalars
    first = facts.training_args.get("logging_first_step") is True
    return hf_dict_steps(scalars, every, first_step=first)


def _torch_facts(datas: list[SourceData]) -> TorchFacts | None:
    """What the run's PyTorch-ecosystem files tell, joined: files that construct the optimizer or
    schedulers (the script) first, then saved state (torch.save files, configs), then the logs; an
    earlier checkpoint's ``trainer_state.json`` after the latest one (its header is older)."""

    def trust(data: SourceData) -> tuple[bool, bool, bool]:
        facts = facts_for(data.kind)
        part = data.torch
        constructs = part is not None and bool(part.optimizer or part.schedulers or part.loop)
        superseded = part is not None and "superseded_by" in part.trainer_state
        return (not constructs, facts is not None and facts.logs_values, superseded)

    parts = [data.torch for data in sorted(datas, key=trust) if data.torch is not None]
    merged = merge_torch_facts(parts)
    if merged is None or not merged.framework:
        return None
    segments = _trainer_schedule_segments(parts)
    if segments:
        merged.resume = {**merged.resume, "trainer_schedule_segments": segments}
    return merged


def _trainer_schedule_segments(parts: list[TorchFacts]) -> list[tuple[int, int]]:
    """(last global step, max_steps) of each Trainer process, when checkpoints disagree on max_steps:
    a run resumed (``resume_from_checkpoint``) with other epochs rebuilds its schedule for the new
    length and continues it at the checkpoint's step. Empty when every header tells one length."""
    last_step: dict[int, int] = {}
    for part in parts:
        total, step = part.trainer_state.get("max_steps"), part.trainer_state.get("global_step")
        if isinstance(total, int) and isinstance(step, int) and total > 0 and step > 0:
            last_step[total] = max(last_step.get(total, 0), step)
    if len(last_step) < 2:
        return []
    return sorted((step, total) for total, step in last_step.items())


def _without_checkpoint_copies(scalars: pd.DataFrame) -> pd.DataFrame:
    """One row per logged value: each checkpoint's ``trainer_state.json`` repeats the log of the
    ones before it, so a value another file of the same kind holds at the same step is one value
    (the last file's row is kept)."""
    if scalars is None or len(scalars) == 0:
        return scalars
    stepped = scalars["step"].notna()
    duplicate = scalars.duplicated(subset=["source", "name", "step", "value", "epoch"], keep="last") & stepped
    other_file = scalars.groupby(["source", "name", "step"], dropna=False)["file"].transform("nunique") > 1
    return scalars[~(duplicate & other_file)]


def _backend_from_code(run: Run, datas: list[SourceData]) -> None:
    """The Keras 3 backend the training code chose (``KERAS_BACKEND``), when no log names one."""
    if run.backend:
        return
    for data in datas:
        chosen = data.code_facts.keras_backend if data.code_facts is not None else None
        if chosen is not None:
            run.backend = chosen[0]
            run.backend_evidence = (
                f"the code sets KERAS_BACKEND={chosen[0]!r} before importing Keras ({chosen[1]})"
            )
            return


#: ``fit(batch_size=None)`` on arrays batches by 32 in every Keras era
KERAS_DEFAULT_BATCH_SIZE = 32


def _steps_from_code(run: Run, authority: list[FitInfo]) -> list[Fit]:
    """Steps per epoch the logs do not show, from the code's ``fit`` arguments (cited in a note).

    ``steps_per_epoch=N`` as written, or ``ceil(samples / batch_size)`` when the bars counted
    samples (``Train on N samples``) and the code gives the batch size.
    """
    fits = list(run.fits)
    for position, (fit, info) in enumerate(zip(fits, authority, strict=False)):
        code = run.code_fits[position] if position < len(run.code_fits) else None
        if fit.steps_per_epoch is not None or code is None:
            continue
        steps, why = None, None
        if isinstance(code.steps_per_epoch, int) and code.steps_per_epoch > 0:
            steps = code.steps_per_epoch
            why = f"steps_per_epoch={steps} ({code.arguments['steps_per_epoch'].location})"
        elif info.samples and isinstance(code.batch_size, int) and code.batch_size > 0:
            steps = -(-info.samples // code.batch_size)
            why = (
                f"ceil({info.samples} samples / batch_size={code.batch_size}) = {steps} "
                f"(batch_size at {code.arguments['batch_size'].location})"
            )
        elif info.samples and code.method == "fit" and "batch_size" not in code.arguments:
            # "Train on N samples" means arrays were passed: fit() batches them by its default
            steps = -(-info.samples // KERAS_DEFAULT_BATCH_SIZE)
            why = (
                f"ceil({info.samples} samples / {KERAS_DEFAULT_BATCH_SIZE}) = {steps}: the fit call at "
                f"{code.location} gives no batch_size, so Keras' default {KERAS_DEFAULT_BATCH_SIZE} applies"
            )
        if steps is None:
            continue
        fits[position] = replace(fit, steps_per_epoch=steps)
        run.notes.append(f"fit {position + 1}: steps per epoch from the code: {why}")
    if run.steps_per_epoch is None and fits and all(f.steps_per_epoch for f in fits):
        run.steps_per_epoch = fits[0].steps_per_epoch
    return fits


def _link_code(datas: list[SourceData], authority: list[FitInfo]):
    """The training code read with the logs, and its ``fit`` call for each of the run's fits.

    A notebook's code produced its own outputs: fits are matched by cell. A script beside the
    logs is matched in execution order. Returns ``(facts, per-fit CodeFit or None, notes)``.
    """
    from lraudit.code.link import link_fits

    with_code = [data for data in datas if data.code_facts is not None and data.code_facts.trainings]
    if not with_code:
        return None, [None] * len(authority), []
    owner = next((data for data in with_code if data.fits is authority), None)
    chosen = owner or with_code[0]
    locations = [fit.location for fit in authority]
    logs = next((data for data in datas if data.fits is authority), None)
    first = logs.first_fit if logs is not None and owner is None else 0
    linked, notes = link_fits(locations, chosen.code_facts, by_cell=owner is not None, first=first)
    if len(with_code) > 1:
        notes.append(
            f"training code was found in {len(with_code)} files; {chosen.path} was read for this run"
        )
    return chosen.code_facts, linked, notes
