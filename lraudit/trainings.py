"""Which of the files read together belong to which training: one input may hold several.

A notebook, a sweep log or a pasted README can hold many independent trainings, and a run
folder can hold files of different executions (a History JSON from another run than the
notebook beside it, two CSVLogger files from two commits). Runs are told apart by evidence,
never by file names:

1. a text log whose parser marked a *new training* at a ``fit()`` (a model summary, a compile
   between fits, ``Epoch 1/N`` restarting without ``initial_epoch``, a new ``Train on`` header)
   is cut there: each training becomes its own segment, named after where it starts;
2. every file with per-epoch metrics is compared with the segments: it joins the one whose
   ``loss``/``val_loss`` sequence it repeats (within the printed precision, anywhere in the
   segment: a CSVLogger may hold only the last ``fit``), and forms a run of its own when it
   contradicts every segment it overlaps;
3. files without per-epoch metrics (optimizer configs, saved models, event files) join the
   last training: they are written after training ends. When they hold *different optimizers*
   (another class or other hyperparameters; the lr variable aside, which callbacks change),
   they cannot all be the last training's: a log whose epoch numbering restarts at
   ``Epoch 1/M`` (weak alone: a second ``fit()`` of the same model prints that too) is cut there
   when that gives one training per optimizer, and each optimizer's files join one training
   (the one whose first logged lr is the config's, else the config saved last to the last
   training and the other to the one before).

Everything here is pure: SourceData in, groups of SourceData out.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from lraudit.sources.base import SourceData

#: metrics compared to tell whether two files logged the same epochs
_FINGERPRINT_METRICS = ("loss", "val_loss")
#: relative tolerance for values logged with full precision (float32 widened or not)
_EXACT_REL = 1e-6
#: epochs two files must both have logged before their disagreement separates them
_MIN_EVIDENCE = 2


@dataclass
class Training:
    """The files of one training, and where it starts (for its name)."""

    datas: list[SourceData] = field(default_factory=list)
    start: str | None = None  # "file:line" (or "notebook.ipynb:cell N:line M") of its first fit
    reason: str | None = None  # why a new training was told apart (None for the first)


def new_training_reason(fit) -> str | None:
    """The reason a source gave for a fit starting a new training, if it did."""
    return getattr(fit, "new_training", None)


def fresh_optimizers(data: SourceData, script=None) -> dict[int, str]:
    """Fits (by index) whose code compiled a fresh optimizer rather than continuing the last one.

    The notebook's own code tells it even when the output does not (a compile in a cell saved
    without an execution count, a second model trained with the same printed epoch count); a
    training script beside a log (``script``: its CodeFacts) tells it for the log's fits in order.
    """
    facts = data.code_facts or script
    if facts is None or not facts.trainings or not data.fits:
        return {}
    from lraudit.code.link import link_fits

    ordered = sorted(data.fits, key=lambda f: f.index)
    linked, _ = link_fits([fit.location for fit in ordered], facts, by_cell=data.code_facts is not None)
    fresh: dict[int, str] = {}
    for previous, (fit, code) in zip([None, *linked[:-1]], zip(ordered, linked, strict=True), strict=True):
        if code is None or previous is None or code is previous or code.continues_fit is not None:
            continue
        if code.optimizer_record is None:
            continue
        where = code.compile_location or code.optimizer_record.location
        fresh[fit.index] = f"a fresh optimizer compiled at {where}"
    return fresh


#: the weak fit-start marker a console log gives when ``Epoch 1/M`` follows a finished fit
_NUMBERING_RESTART = "epoch numbering restarts"


def _numbering_restarts(data: SourceData) -> list[int]:
    """Fits (by index) whose epoch numbering restarted, not already marked as a new training."""
    return [
        fit.index
        for fit in data.fits
        if fit.index > 0
        and not new_training_reason(fit)
        and any(marker.startswith(_NUMBERING_RESTART) for marker in fit.start_markers)
    ]


def split_source(
    data: SourceData, optimizers: list[list[SourceData]] | None = None, script=None
) -> list[SourceData]:
    """Cut one source at the fits it marked as starting a new training (else ``[data]``).

    ``optimizers`` (the different optimizers the files beside it hold, as groups of files) also
    cuts it where the epoch numbering restarts, when that gives one training per optimizer.
    """
    fits = sorted(data.fits, key=lambda f: f.index)
    fresh = fresh_optimizers(data, script)
    cuts_now = sum(1 for fit in fits[1:] if new_training_reason(fit) or fit.index in fresh)
    restarts = _numbering_restarts(data)
    if optimizers and len(optimizers) > 1 and restarts and cuts_now + len(restarts) == len(optimizers) - 1:
        named = ", ".join(group[0].path for group in optimizers)
        for index in restarts:
            fresh.setdefault(
                index,
                f"{len(optimizers)} different optimizers are saved beside the log ({named}) and its "
                "epoch numbering restarts here",
            )
    if fresh:
        data = replace(
            data,
            fits=[
                replace(f, new_training=f.new_training or fresh[f.index]) if f.index in fresh else f
                for f in data.fits
            ],
        )
        fits = sorted(data.fits, key=lambda f: f.index)
    cuts = [fit.index for fit in fits[1:] if new_training_reason(fit)]
    if not cuts:
        return [data]
    bounds = [fits[0].index, *cuts, math.inf]
    parts = []
    for low, high in itertools.pairwise(bounds):
        parts.append(_fit_slice(data, low, high))
    return parts


def _fit_slice(data: SourceData, low: int, high: float) -> SourceData:
    """The part of ``data`` made by fits ``low <= index < high``, fits renumbered from 0."""
    fits = [replace(f, index=f.index - low) for f in data.fits if low <= f.index < high]
    scalars = data.scalars
    if scalars is not None and len(scalars):
        fit = scalars["fit"]
        keep = fit.notna() & (fit >= low) & (fit < high)
        if low == 0:
            keep = keep | fit.isna()
        scalars = scalars[keep].copy()
        scalars["fit"] = scalars["fit"] - low
    events = [
        replace(e, fit=None if e.fit is None else e.fit - low)
        for e in data.events
        if (e.fit is None and low == 0) or (e.fit is not None and low <= e.fit < high)
    ]
    part = replace(
        data, scalars=scalars, events=events, fits=fits, warnings=list(data.warnings),
        first_fit=data.first_fit + int(low),
    )
    if low > 0:
        # what a file says once (optimizer, saved counter, era) belongs to its first training
        part.warnings = []
        part.optimizer = None
        part.iterations = None
    return part


def _tolerance(value: float, text) -> float:
    """Half a unit of the last printed digit (console text), else a float32-width margin."""
    if isinstance(text, str) and text and "e" not in text.lower() and "." in text:
        decimals = len(text.split(".", 1)[1])
        return 0.5 * 10.0 ** (-decimals) + abs(value) * _EXACT_REL
    return abs(value) * _EXACT_REL + 1e-12


def _fingerprint(data: SourceData) -> dict[str, list[tuple[float, float]]]:
    """The fingerprint metrics of ``data`` in log order (one filtering pass over its table).

    Names are decided once per distinct name (factorised codes), rows selected with NumPy: a few
    pandas calls per file whatever its length (files are fingerprinted by the thousand)."""
    scalars = data.scalars
    if scalars is None or len(scalars) == 0:
        return {}
    codes, uniques = pd.factorize(scalars["name"])  # a missing name is code -1: the last slot
    distinct = [str(name) for name in uniques.tolist()]
    keyed = np.array([name in _FINGERPRINT_METRICS for name in distinct] + [False])
    tagged = np.array([_epoch_tag_metric(name) is not None for name in distinct] + [False])
    mask = (keyed[codes] & scalars["step"].isna().to_numpy()) | tagged[codes]
    rows = np.flatnonzero(mask & scalars["epoch"].notna().to_numpy())
    if not len(rows):
        return {}
    names = [distinct[code] for code in codes[rows].tolist()]
    values = scalars["value"].to_numpy()[rows].tolist()
    texts = scalars["text"].take(rows).tolist()
    found: dict[str, list[tuple[float, float]]] = {}
    for name, value, text in zip(names, values, texts, strict=True):
        key = name if name in _FINGERPRINT_METRICS else _epoch_tag_metric(name)
        found.setdefault(key, []).append((float(value), _tolerance(float(value), text)))
    return {name: found[name] for name in _FINGERPRINT_METRICS if name in found}


def _epoch_tag_metric(tag: str) -> str | None:
    """The Keras ``logs`` key an event-file epoch tag holds: ``train/epoch_loss`` -> ``loss``,
    ``validation/epoch_loss`` -> ``val_loss`` (the TensorBoard callback writes each mode in its own
    folder), ``epoch_val_loss`` -> ``val_loss``; None for anything else."""
    mode, _, leaf = str(tag).rpartition("/")
    leaf = leaf.removeprefix("epoch_")
    if leaf not in ("loss", "val_loss") or str(tag) in _FINGERPRINT_METRICS:
        return None
    return "val_loss" if leaf == "val_loss" or mode.rsplit("/", 1)[-1] in ("validation", "val") else "loss"


def _epoch_tags(names) -> set[str]:
    return {str(name) for name in names if _epoch_tag_metric(name) is not None}


def _agree(a: tuple[float, float], b: tuple[float, float]) -> bool:
    if not (np.isfinite(a[0]) and np.isfinite(b[0])):
        return np.isnan(a[0]) == np.isnan(b[0])
    return abs(a[0] - b[0]) <= max(a[1], b[1])


def _contains(longer: list, shorter: list) -> bool:
    """True when ``shorter`` appears as a contiguous run of ``longer`` (values agreeing)."""
    if not shorter or len(shorter) > len(longer):
        return False
    for offset in range(len(longer) - len(shorter) + 1):
        if all(_agree(longer[offset + i], item) for i, item in enumerate(shorter)):
            return True
    return False


def relation(a: dict, b: dict) -> str:
    """``same`` (one repeats the other), ``different`` (they overlap and disagree) or ``unknown``."""
    # one epoch's value is too little evidence to separate two files
    common = [name for name in a if name in b and min(len(a[name]), len(b[name])) >= _MIN_EVIDENCE]
    if not common:
        return "unknown"
    if "val_loss" in common:
        # evaluated once per epoch and handed to every logger alike; a bar's training loss may be
        # a running mean that a logger's own value does not repeat
        common = ["val_loss"]
    for name in common:
        first, second = a[name], b[name]
        if not (_contains(first, second) or _contains(second, first)):
            return "different"
    return "same"


def group_trainings(datas: list[SourceData], splittable) -> list[Training]:
    """Group the files read for one path into trainings (see the module docstring).

    ``splittable(kind)`` tells whether a source kind can hold several trainings (text logs).
    Returns at least one training while ``datas`` is not empty; the order follows the logs.
    """
    if _one_torch_training(datas):
        return [Training(list(datas), start=None)]
    fingerprints: dict[int, dict[str, list[tuple[float, float]]]] = {}

    def fingerprint(data: SourceData) -> dict[str, list[tuple[float, float]]]:
        # computed once per file: a file is asked several times while trainings are formed
        if id(data) not in fingerprints:
            fingerprints[id(data)] = _fingerprint(data)
        return fingerprints[id(data)]

    trainings: list[Training] = []
    loose: list[SourceData] = []
    optimizers = optimizer_groups(
        [d for d in datas if not splittable(d.kind) and not fingerprint(d) and d.optimizer is not None]
    )
    # a training script describes every training of the logs beside it
    scripts = [d for d in datas if not splittable(d.kind) and d.code_facts is not None and not d.fits]
    script = scripts[0].code_facts if len(scripts) == 1 else None
    for data in datas:
        if data in scripts:
            continue
        if splittable(data.kind) and (data.fits or fingerprint(data)):
            trainings.extend(_trainings_of(data, optimizers, script))
        else:
            # a file without fits, or text that trained nothing (a README quoting a log line)
            loose.append(data)
    for training in trainings:
        training.datas.extend(scripts)
    with_metrics = [d for d in loose if fingerprint(d)]
    without = [d for d in loose if not fingerprint(d)]
    for group in _logger_groups(with_metrics):
        _place(group, trainings, fingerprint)
    if not trainings:
        trainings.append(Training([], start=None))
    _place_optimizers(without, trainings)
    return trainings


def _one_torch_training(datas: list[SourceData]) -> bool:
    """True for the files of a PyTorch-ecosystem run: its logs (a first and a resumed process'
    console, event files, checkpoints' states) are parts of one training, not trainings to tell
    apart by their metrics; a Keras log among them keeps the usual grouping."""
    torch = [d for d in datas if d.torch is not None]
    keras = [d for d in datas if d.torch is None and (d.fits or d.code_facts is not None)]
    return bool(torch) and not keras


def _trainings_of(data: SourceData, optimizers, script) -> list[Training]:
    """The trainings one log holds, each named after where it starts."""
    found = []
    for index, part in enumerate(split_source(data, optimizers, script)):
        first = part.fits[0] if part.fits else None
        found.append(
            Training(
                [part],
                start=getattr(first, "location", None) or part.path,
                reason=new_training_reason(first) if index else None,
            )
        )
    return found


def _logger_groups(datas: list[SourceData]) -> list[list[SourceData]]:
    """Files written by one logger together: TensorBoard's per-mode files of one run folder
    (``train/`` holds ``loss``, ``validation/`` holds ``val_loss``) are placed as one."""
    from pathlib import Path

    from lraudit.sources.discovery import TENSORBOARD_MODE_DIRS
    from lraudit.sources.registry import facts_for

    groups: dict[str, list[SourceData]] = {}
    for data in datas:
        facts = facts_for(data.kind)
        path = Path(data.path)
        in_mode_folder = facts is not None and facts.in_mode_folders
        in_mode_folder = in_mode_folder and path.parent.name.lower() in TENSORBOARD_MODE_DIRS
        key = str(path.parent.parent) if in_mode_folder else data.path
        groups.setdefault(key, []).append(data)
    return list(groups.values())


def _place(group: list[SourceData], trainings: list[Training], fingerprint=None) -> None:
    """Put files with per-epoch metrics (one logger's) into the training they repeat, or a new one."""
    fingerprint = fingerprint or _fingerprint
    mine: dict[str, list[tuple[float, float]]] = {}
    for data in group:
        for name, values in fingerprint(data).items():
            mine.setdefault(name, values)
    first = group[0]
    verdicts = [relation(_training_fingerprint(t, fingerprint), mine) for t in trainings]
    for training, verdict in zip(trainings, verdicts, strict=True):
        if verdict == "same":
            training.datas.extend(group)
            return
    if trainings and all(v == "different" for v in verdicts):
        trainings.append(
            Training(list(group), start=first.path, reason="its per-epoch metrics match no other log")
        )
        return
    if not trainings:
        trainings.append(Training(list(group), start=first.path))
        return
    # no overlap to compare: it cannot be told apart, so it stays with the last such training
    candidates = [t for t, v in zip(trainings, verdicts, strict=True) if v != "different"]
    candidates[-1].datas.extend(group)


def _training_fingerprint(training: Training, fingerprint=None) -> dict[str, list[tuple[float, float]]]:
    """The fingerprint of a training's first file with metrics."""
    for data in training.datas:
        found = (fingerprint or _fingerprint)(data)
        if found:
            return found
    return {}


def optimizer_groups(datas: list[SourceData]) -> list[list[SourceData]]:
    """Files holding an optimizer config, grouped by optimizer (the lr variable aside), in order."""
    from lraudit.run_builder import same_optimizer

    groups: list[list[SourceData]] = []
    for data in datas:
        group = next(
            (g for g in groups if same_optimizer(g[0].optimizer, data.optimizer, ignore_lr=True)), None
        )
        if group is None:
            groups.append([data])
        else:
            group.append(data)
    return groups


def _first_logged_lr(training: Training) -> float | None:
    """The first per-epoch lr a file of the training logged (float32), if any."""
    for data in training.datas:
        scalars = data.scalars
        if scalars is None or len(scalars) == 0:
            continue
        rows = scalars[scalars["name"].isin(("lr", "learning_rate")) & scalars["epoch"].notna()]
        if len(rows):
            return float(np.float32(rows.sort_values("epoch")["value"].iloc[0]))
    return None


def _config_lr(data: SourceData) -> float | None:
    from lraudit.run_builder import config_lr

    value = config_lr(data.optimizer)
    return None if value is None else float(np.float32(value))


def _place_optimizers(without: list[SourceData], trainings: list[Training]) -> None:
    """Files without per-epoch metrics join the last training, unless they hold one optimizer
    per training: then each optimizer joins the training that logged its lr first, or (what
    is left, in order) the config saved last joins the last training (module docstring)."""
    groups = optimizer_groups([d for d in without if d.optimizer is not None])
    if len(trainings) < 2 or len(groups) != len(trainings):
        trainings[-1].datas.extend(without)
        return
    owner: dict[int, int] = {}  # group -> training
    for position, training in enumerate(trainings):
        logged = _first_logged_lr(training)
        matches = [g for g, group in enumerate(groups) if logged is not None and any(
            _config_lr(d) == logged for d in group)]
        if len(matches) == 1 and matches[0] not in owner:
            owner[matches[0]] = position
    free_groups = [g for g in range(len(groups)) if g not in owner]
    free_trainings = [t for t in range(len(trainings)) if t not in owner.values()]
    # saved last (a model with the largest counter, then a serialize() file) to the latest training
    from lraudit.run_builder import saved_last

    free_groups.sort(key=lambda g: min(saved_last(d) for d in groups[g]), reverse=True)
    owner.update(zip(free_groups, free_trainings, strict=True))
    grouped = {id(d) for group in groups for d in group}
    for g, position in owner.items():
        trainings[position].datas.extend(groups[g])
    trainings[-1].datas.extend(d for d in without if id(d) not in grouped)
