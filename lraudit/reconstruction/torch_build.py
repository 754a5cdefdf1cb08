"""The timeline of a PyTorch-ecosystem run: replay its loop, then join every logged lr to what it read.

:func:`build_torch_timeline` is :func:`~lraudit.reconstruction.build.build_timeline` for a run whose
:attr:`Run.torch <lraudit.run.Run.torch>` is set. It returns the same :class:`Timeline`: one frame
row per optimizer update (``lr_base`` = the float64 lr in ``param_groups``, ``lr_effective`` =
the float32 factor the update multiplied by) and one logged row per logged lr value, classified
against the update its step value names (``effective``, ``next_step``, ``shifted``, ``mismatch``).

When the files hold no loop to replay (no training script, no TrainingArguments), the logged
per-update lr is taken as applied (the Hugging Face Trainer's known one-update lead corrected), and
a note says so.
"""
from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lraudit.errors import InputError
from lraudit.numfmt import print_precision
from lraudit.reconstruction.contracts import LOGGED_COLUMNS, Timeline
from lraudit.reconstruction.torch_programs import (
    ProgramUnknown,
    epoch_metrics,
    hf_program,
    lightning_actions,
    monitored_metrics,
    optimizer_builder,
)
from lraudit.reconstruction.torch_replay import LoopProgram, Read, Replay, replay_loop
from lraudit.sources.registry import facts_for
from lraudit.torchfacts import Unevaluated

if TYPE_CHECKING:
    from lraudit.options import RunOptions
    from lraudit.run import Run
    from lraudit.torchfacts import LoopAction, TorchFacts

#: logged names that hold an lr: ``lr``, ``learning_rate``, ``train/learning_rate``, Lightning's
#: ``lr-SGD`` and ``lr-SGD/pg1`` (not ``lr-SGD-momentum``)
_LR_NAME = re.compile(r"^(?:.*/)?(?:lr|learning_rate)$|^lr-[A-Za-z0-9_]+(?:/pg\d+)?$")
#: extra columns of a torch timeline's logged table
TORCH_LOGGED_COLUMNS = ("read", "predicted", "reproduced", "read_location")


def is_lr_name(name: str) -> bool:
    """True for a logged name that holds an lr value (not a momentum, not a validation metric)."""
    return bool(_LR_NAME.match(name))


# --------------------------------------------------------------------------- the program

def _epochs_seen(run: Run) -> int | None:
    """Epochs the logs show: 1 + the last 0-based epoch a file numbers itself (a console line, a
    metrics file's epoch column); an event file's step axis is no epoch count."""
    scalars = run.scalars
    if scalars is None or len(scalars) == 0:
        return None
    numbered = scalars["source"].map(lambda kind: _numbers_epochs(str(kind))).astype(bool)
    epochs = scalars.loc[numbered, "epoch"].dropna()
    return int(epochs.max()) + 1 if len(epochs) else None


def _numbers_epochs(kind: str) -> bool:
    facts = facts_for(kind)
    return facts is not None and not facts.tags and facts.numbers_epochs


def _native_program(run: Run, facts: TorchFacts, notes: list[str]) -> LoopProgram:
    if not facts.loop:
        raise ProgramUnknown("no training loop was read (the script that ran is not among the files)")
    if not any(a.action == "optimizer_step" for a in facts.loop):
        raise ProgramUnknown("the training loop read has no optimizer.step()")
    writes = [a for a in facts.loop if a.action == "set_lr"]
    if writes:
        first = writes[0]
        raise ProgramUnknown(
            f"the loop writes the lr itself ({first.expression or 'param_groups'} at {first.location})"
        )
    batches = facts.batches_per_epoch
    if not batches:
        raise ProgramUnknown("the batches per epoch are not known (no DataLoader size in the code)")
    end = facts.epochs or _epochs_seen(run)
    if not end:
        raise ProgramUnknown("the number of epochs is not known")
    resume = facts.resume or {}
    return LoopProgram(
        build=optimizer_builder(facts, facts.schedulers),
        actions=list(facts.loop),
        first_epoch=0,
        end_epoch=int(end),
        batches_per_epoch=int(batches),
        metrics=epoch_metrics(run.scalars, monitored_metrics(facts.loop)),
        resume_epoch=resume.get("epoch"),
        resume_loads_scheduler=bool(resume.get("loads_scheduler", True)),
    )


def _lightning_program(run: Run, facts: TorchFacts, notes: list[str]) -> LoopProgram:
    actions = lightning_actions(facts)
    batches = facts.batches_per_epoch
    accumulation = int(facts.trainer_args.get("accumulate_grad_batches") or 1)
    if not batches and facts.steps_per_epoch:
        batches = facts.steps_per_epoch * accumulation
    if not batches:
        batches = _lightning_batches_from_logs(run, accumulation)
    if not batches:
        raise ProgramUnknown("the batches per epoch are not known (no DataLoader size in the code)")
    end = facts.trainer_args.get("max_epochs") or facts.epochs or _epochs_seen(run)
    seen = _epochs_seen(run)
    if isinstance(end, (int, float)) and seen and seen < end:
        end = seen  # stopped early (EarlyStopping, an interrupt): replay what ran
    if not isinstance(end, (int, float)) or end <= 0:
        raise ProgramUnknown("the number of epochs is not known")
    max_steps = facts.trainer_args.get("max_steps")
    limited = isinstance(max_steps, int) and not isinstance(max_steps, bool) and max_steps > 0
    return LoopProgram(
        build=optimizer_builder(facts, facts.schedulers),
        actions=actions,
        first_epoch=0,
        end_epoch=int(end),
        batches_per_epoch=int(batches),
        metrics=epoch_metrics(run.scalars, monitored_metrics(actions)),
        flush_partial_window=True,
        max_updates=max_steps if limited else None,
    )


def _lightning_batches_from_logs(run: Run, accumulation: int) -> int | None:
    """Updates per epoch from a metrics file that has both ``epoch`` and ``step`` per row."""
    scalars = run.scalars
    if scalars is None or len(scalars) == 0:
        return None
    rows = scalars.dropna(subset=["epoch", "step"])
    if len(rows) == 0:
        return None
    first_steps = rows.groupby("epoch")["step"].min().sort_index()
    gaps = set(np.diff(first_steps.to_numpy(dtype=np.int64)).tolist())
    if len(gaps) == 1:
        return int(gaps.pop()) * accumulation
    # rows logged every n steps start each epoch at a varying step; the validation rows Lightning
    # writes at each epoch's last update (step = (e + 1) * N - 1) end them evenly. The last epoch
    # is left out: it may be partial, or hold only the test rows written after training.
    last_steps = rows.groupby("epoch")["step"].max().sort_index().to_numpy(dtype=np.int64)[:-1]
    ends = set(np.diff(last_steps).tolist())
    if len(last_steps) >= 2 and len(ends) == 1 and int(last_steps[0]) + 1 == next(iter(ends)):
        return int(ends.pop()) * accumulation
    return None


def _transformers_version(facts: TorchFacts) -> str | None:
    return facts.versions.get("transformers")


def _program(run: Run, facts: TorchFacts, notes: list[str]) -> tuple[LoopProgram, list[LoopProgram]]:
    """The program to replay, and alternatives to try when the version deciding the log is unknown."""
    if facts.framework == "transformers":
        from lraudit.semantics.torch.hf import hf_log_lead_candidates

        leads = hf_log_lead_candidates(_transformers_version(facts))
        args = facts.training_args
        if "learning_rate" not in args or any(isinstance(args.get(key), Unevaluated) for key in _INFERABLE):
            return _hf_inferring_lr(run, facts, notes, leads), []
        program, more = hf_program(facts, leads[0])
        notes.extend(more)
        return program, [hf_program(facts, lead)[0] for lead in leads[1:]]
    if facts.framework == "lightning":
        return _lightning_program(run, facts, notes), []
    return _native_program(run, facts, notes), []


#: TrainingArguments the logs can tell when the code passes a value the reader cannot evaluate
_INFERABLE = ("learning_rate", "lr_scheduler_type")
#: schedules tried for an unevaluated ``lr_scheduler_type``, the common ones first
_SCHEDULE_GUESSES = (
    "linear", "cosine", "constant_with_warmup", "constant", "cosine_with_restarts", "polynomial",
)


def _significant_digits(value: float) -> int:
    return len(f"{value:.6g}".split("e")[0].replace("-", "").replace(".", "").strip("0"))


def _lr_guesses(run: Run, facts: TorchFacts, lead: bool) -> list[float]:
    """Values of ``learning_rate`` the first logged value suggests (6 significant digits): read at
    its own update, then, for an fp16 run whose first updates were skipped, a few updates earlier
    when that gives a value as people type it (``5e-05``, not ``5.00020e-05``)."""
    from lraudit.reconstruction.torch_amp import skip_cap

    unit, _ = hf_program(replace(facts, training_args={**facts.training_args, "learning_rate": 1.0}), lead)
    unit_replay = replay_loop(unit)
    logged = join_torch_logged(run, unit_replay)
    usable = logged[(logged["predicted"] > 0) & logged["value"].gt(0) & logged["step"].notna()]
    if usable.empty:
        return []
    value, update = float(usable["value"].iloc[0]), int(usable["step"].iloc[0])
    lrs = _group_lrs(unit_replay, 0)
    guesses = [float(f"{value / float(usable['predicted'].iloc[0]):.6g}")]
    for lag in range(1, skip_cap(len(lrs)) + 1):
        index = update + (1 if lead else 0) - lag
        if index < 0 or index >= len(lrs) or lrs[index] <= 0:
            continue
        guess = float(f"{value / float(lrs[index]):.6g}")
        if _significant_digits(guess) <= 3 and guess not in guesses:
            guesses.append(guess)
    return guesses[:4]


def _hf_inferring_lr(run: Run, facts: TorchFacts, notes: list[str], leads: tuple[bool, ...]) -> LoopProgram:
    """The Trainer's program when no file holds ``learning_rate`` (or the code passes a value the
    reader cannot evaluate): the value (to 6 significant digits, as people type it) that makes the
    replay reproduce *every* logged value (allowing for fp16-skipped updates), with the files'
    schedule settings or the Trainer's defaults; an unevaluated ``lr_scheduler_type`` is tried as
    each common schedule. None reproduces -> :class:`ProgramUnknown`."""
    args = facts.training_args
    unread = {key: args[key].text for key in _INFERABLE if isinstance(args.get(key), Unevaluated)}
    known = {key: value for key, value in args.items() if key not in unread}
    kinds = _SCHEDULE_GUESSES if "lr_scheduler_type" in unread else (None,)
    for kind in kinds:
        tried = replace(facts, training_args={**known, **({"lr_scheduler_type": kind} if kind else {})})
        for lead in leads:
            fitted, guess = _hf_fit_lr(run, tried, lead)
            if fitted is None:
                continue
            where = ", ".join(f"{key} is `{text}` in the code" for key, text in unread.items())
            notes.extend(fitted[1])
            if kind:
                notes.extend(_also_fitting(run, tried, kinds[kinds.index(kind) + 1:], lead, guess))
            notes.append(
                ("learning_rate is in no file" if not where else f"{where}, not evaluated")
                + f": {guess!r}" + (f" with lr_scheduler_type {kind!r}" if kind else "")
                + " reproduces every logged value with "
                f"{'the settings read' if known else 'the Trainer defaults'}"
                + ("" if len(leads) == 1 else "; the log " + (
                    "leads the applied lr by one update (transformers < 4.51)" if lead
                    else "is the applied lr (transformers >= 4.51)"))
            )
            return fitted[0]
    raise ProgramUnknown("TrainingArguments' learning_rate is in no file, and no value reproduces the logs")


def _also_fitting(run: Run, facts: TorchFacts, kinds: tuple, lead: bool, lr: float) -> list[str]:
    """A note naming the other schedules that reproduce the logged values too (a log that ends
    inside the warm-up cannot tell them apart)."""
    others = []
    for kind in kinds:
        args = {**facts.training_args, "lr_scheduler_type": kind, "learning_rate": lr}
        try:
            program, _ = hf_program(replace(facts, training_args=args), lead)
        except ProgramUnknown:
            continue
        if _hf_with_skips(run, replace(facts, training_args=args), program, replay_loop(program), lead):
            others.append(repr(kind))
    if not others:
        return []
    return [f"lr_scheduler_type {', '.join(others)} reproduce(s) the logged values too: the logs do not "
            "tell the schedules apart, the first one is replayed"]


def _hf_fit_lr(run: Run, facts: TorchFacts, lead: bool) -> tuple[tuple[LoopProgram, list[str]] | None, float]:
    """The first guessed ``learning_rate`` whose replay reproduces every logged value."""
    for guess in _lr_guesses(run, facts, lead):
        with_lr = replace(facts, training_args={**facts.training_args, "learning_rate": guess})
        program, more = hf_program(with_lr, lead)
        fitted = _hf_with_skips(run, with_lr, program, replay_loop(program), lead)
        if fitted is not None:
            return (fitted[0], more + ([fitted[3]] if fitted[3] else [])), guess
    return None, 0.0


def _amp_possible(facts: TorchFacts) -> bool:
    """fp16 on, or not known to be off (bf16 has no GradScaler, so nothing is skipped)."""
    fp16 = facts.training_args.get("fp16")
    return fp16 is True or (fp16 is None and facts.training_args.get("bf16") is not True)


def _hf_with_skips(run: Run, facts: TorchFacts, program: LoopProgram, replay: Replay,
                   lead: bool) -> tuple[LoopProgram, Replay, pd.DataFrame, str | None] | None:
    """The Trainer program that reproduces every logged value: as is, or with the updates an fp16
    ``GradScaler`` skipped (the Trainer then does not step its scheduler); None when neither does."""
    from lraudit.reconstruction.torch_amp import infer_skipped_updates, skip_cap

    logged = join_torch_logged(run, replay)
    if _reproduced_share(logged) == 1.0:
        return program, replay, logged, None
    rows = logged[logged["step"].notna() & ~logged["name"].astype(str).str.contains("/pg")]
    if rows.empty or not _amp_possible(facts):
        return None
    source = str(rows["source"].iloc[0])
    lrs = _group_lrs(replay, 0)
    skipped = infer_skipped_updates(
        rows["step"].astype(int).tolist(), rows["value"].astype(float).tolist(), lrs, lead,
        lambda value, expected: _same(value, expected, source, None, None), skip_cap(len(lrs)),
    )
    if not skipped:
        return None
    skipping, _ = hf_program(facts, lead, skipped)
    skipping_replay = replay_loop(skipping)
    skipping_logged = join_torch_logged(run, skipping_replay)
    if _reproduced_share(skipping_logged) != 1.0:
        return None
    note = (
        f"the logged learning_rate lags the Trainer's schedule by up to {len(skipped)} update(s): with fp16 "
        f"the GradScaler skipped {len(skipped)} optimizer step(s) on overflowing gradients (no update, and "
        "the Trainer does not step its scheduler then); each skip is placed at the start of the logging "
        f"window where the lag grew (updates {_ranges(skipped)}), its exact update is not in the logs"
    )
    return skipping, skipping_replay, skipping_logged, note


def _ranges(updates: tuple[int, ...]) -> str:
    """``(0, 1, 2, 500)`` -> ``"0-2, 500"`` (at most 6 ranges shown)."""
    spans: list[list[int]] = []
    for update in updates:
        if spans and update == spans[-1][1] + 1:
            spans[-1][1] = update
        else:
            spans.append([update, update])
    shown = [f"{a}-{b}" if b > a else f"{a}" for a, b in spans[:6]]
    return ", ".join(shown) + (f", ... ({len(spans)} in all)" if len(spans) > 6 else "")


# --------------------------------------------------------------------------- logged values

def _lr_rows(run: Run) -> pd.DataFrame:
    scalars = run.scalars
    if scalars is None or len(scalars) == 0:
        return pd.DataFrame(columns=["source", "file", "line", "name", "epoch", "step", "value", "text"])
    mask = scalars["name"].astype(str).map(is_lr_name).astype(bool)
    return scalars[mask]


def _sink_matches(action: LoopAction, source: str, name: str) -> bool:
    facts = facts_for(source)
    sink = action.sink or "any"
    if sink == "any":
        return True
    if sink.startswith("tensorboard:"):
        return facts is not None and facts.tags and name == sink.split(":", 1)[1]
    if sink == "print":
        return facts is not None and facts.rounded
    return name == sink.split(":", 1)[-1]


def _axis_key(action: LoopAction, row) -> int | None:
    """The step value a logged row was written at, on the log statement's axis."""
    from lraudit.reconstruction.scalars import is_missing

    value = row.step
    if action.axis == "epoch" and not is_missing(row.epoch):
        value = row.epoch
    return None if is_missing(value) else int(value)


def _same(logged: float, expected: float, source: str, text: Any, text_format: str | None) -> bool:
    """Equal in the logged value's own precision: float32 for event files, the printed digits for
    console text (its format when the code tells it), float64 otherwise."""
    if math.isnan(logged) or math.isnan(expected):
        return math.isnan(logged) and math.isnan(expected)
    facts = facts_for(source)
    if facts is not None and facts.rounded:
        if text_format and isinstance(text, str):
            try:
                shown = repr(expected) if text_format == "repr" else format(expected, text_format)
            except ValueError:
                shown = None
            if shown is not None:
                return shown.strip() == text.strip()
        tolerance = print_precision(text, default=abs(expected) * 5e-4) or 0.0
        return abs(logged - expected) <= tolerance * 1.000001
    if logged == expected:
        return True
    return bool(np.float32(logged) == np.float32(expected)) and float(np.float32(logged)) == logged


def _location(row) -> str:
    from lraudit.reconstruction.scalars import row_location

    return row_location(row)


def _named_update(read: Read | None, epoch_first: dict[int, int]) -> int | None:
    """The update a logged value names by its step value (an epoch: the epoch's first update)."""
    if read is None:
        return None
    if read.names_update is not None:
        return read.names_update
    return epoch_first.get(read.epoch) if read.action.axis == "epoch" else None


def _relation(same, read: Read, update: int, replay_lr: np.ndarray, epoch_first: dict[int, int],
              reproduced: bool) -> str:
    """effective / shifted (the next epoch's lr) / next_step (the next update's) / mismatch."""
    if same(float(replay_lr[update])):
        return "effective"
    if read.action.axis == "epoch":
        following = epoch_first.get(read.epoch + 1)
        if following is not None and same(float(replay_lr[following])):
            return "shifted"
        if following is None and reproduced and _reads_after_updates(read.action):
            return "shifted"  # after the last epoch: the lr it would have run at
        return "mismatch"
    if update + 1 < len(replay_lr) and same(float(replay_lr[update + 1])):
        return "next_step"
    if update + 1 == len(replay_lr) and reproduced and read.action.read != "get_lr":
        return "next_step"  # read after the last update: the lr the schedule moved on to
    return "mismatch"


def _classify(row, read: Read | None, replay_lr: np.ndarray, epoch_first: dict[int, int]) -> dict[str, Any]:
    """How one logged value relates to the updates, and whether the replay reproduces it."""
    value = float(row.value)
    text_format = read.action.text_format if read else None
    reproduced = None if read is None else _same(value, read.value, row.source, row.text, text_format)
    update = _named_update(read, epoch_first)
    record: dict[str, Any] = {
        "read": None if read is None else read.action.read or "param_groups",
        "predicted": np.nan if read is None else read.value,
        "reproduced": reproduced,
        "read_location": None if read is None else read.action.location,
        "epoch": None if read is None else read.epoch,
        "step": update,
        "lr_base": np.nan,
        "lr_effective": np.nan,
        "relation": "invalid" if update is None else "mismatch",
        "ulps": None,
    }
    if read is None or update is None or update >= len(replay_lr):
        return record
    applied = float(replay_lr[update])
    record.update(lr_base=applied, lr_effective=float(np.float32(applied)))

    def same(expected: float) -> bool:
        return _same(value, expected, row.source, row.text, text_format)

    record["relation"] = _relation(same, read, update, replay_lr, epoch_first, bool(reproduced))
    if record["relation"] == "effective" and value == applied:
        record["ulps"] = 0
    return record


def _reads_after_updates(action: LoopAction) -> bool:
    """True for a log statement that reads the lr after the epoch's updates (at the epoch end)."""
    return action.phase == "epoch_end" and action.read_phase != "epoch_start"


#: Lightning's ``LearningRateMonitor`` names group k of a multi-group optimizer ``.../pg<k+1>``
_GROUP_SUFFIX = re.compile(r"/pg(\d+)$")


def _group_of(name: str) -> int:
    """The 0-based param group a logged name stands for (0 unless it ends in ``/pg<N>``)."""
    match = _GROUP_SUFFIX.search(name)
    return max(0, int(match.group(1)) - 1) if match else 0


def _for_group(read: Read | None, group: int) -> Read | None:
    """``read`` as the value it gives for param group ``group`` (None when the replay has no such group)."""
    if read is None or group == 0:
        return read
    if group >= len(read.group_values):
        return None
    return replace(read, value=read.group_values[group])


def _group_lrs(replay: Replay, group: int) -> np.ndarray:
    if group == 0:
        return np.array([u.lr for u in replay.updates], dtype=np.float64)
    return np.array(
        [u.group_lrs[group] if group < len(u.group_lrs) else np.nan for u in replay.updates], dtype=np.float64
    )


def join_torch_logged(run: Run, replay: Replay) -> pd.DataFrame:
    """Every logged lr value with the log statement that wrote it (by sink and step value); a
    group's own column (``lr-SGD/pg2``) is compared with that group's lr."""
    rows = _lr_rows(run)
    lrs_by_group: dict[int, np.ndarray] = {}
    epoch_first: dict[int, int] = {}
    for update in replay.updates:
        epoch_first.setdefault(update.epoch, update.step)
    reads_by_key: dict[tuple[int, int | None], Read] = {}
    log_actions = list(dict.fromkeys(read.action for read in replay.reads))
    for read in replay.reads:
        reads_by_key.setdefault((log_actions.index(read.action), read.axis_value), read)
    records = []
    for row in rows.itertuples(index=False):
        source, name = str(row.source), str(row.name)
        read = None
        for index, action in enumerate(log_actions):
            if _sink_matches(action, source, name):
                read = reads_by_key.get((index, _axis_key(action, row)))
                if read is not None:
                    break
        group = _group_of(name)
        if group not in lrs_by_group:
            lrs_by_group[group] = _group_lrs(replay, group)
        record = _classify(row, _for_group(read, group), lrs_by_group[group], epoch_first)
        record.update(source=source, name=name, location=_location(row), value=float(row.value))
        records.append(record)
    columns = [*LOGGED_COLUMNS, *TORCH_LOGGED_COLUMNS]
    return pd.DataFrame.from_records(records, columns=columns) if records else pd.DataFrame(columns=columns)


def _reproduced_share(logged: pd.DataFrame) -> float:
    judged = logged["reproduced"].dropna()
    return float(judged.astype(bool).mean()) if len(judged) else 0.0


# --------------------------------------------------------------------------- the timeline

def _frame(replay: Replay) -> pd.DataFrame:
    lr = np.array([u.lr for u in replay.updates], dtype=np.float64)
    return pd.DataFrame(
        {
            "step": np.array([u.step for u in replay.updates], dtype=np.int64),
            "epoch": np.array([u.epoch for u in replay.updates], dtype=np.int64),
            "batch": np.array([u.batch for u in replay.updates], dtype=np.int64),
            "lr_base": lr,
            "lr_effective": lr.astype(np.float32),
            "logged_lr": np.full(len(lr), np.nan),
            "logged_source": pd.Series([None] * len(lr), dtype=object),
            "fit": np.zeros(len(lr), dtype=np.int64),
            "lr_variable": np.full(len(lr), np.nan),
            "decay_factor": np.ones(len(lr), dtype=np.float32),
        }
    )


def _fill_logged(frame: pd.DataFrame, logged: pd.DataFrame) -> None:
    """Per update, the most precise logged value that describes it (same relation order as Keras)."""
    from lraudit.reconstruction.logged import fill_frame_logged

    if len(logged):
        fill_frame_logged(frame, logged[list(LOGGED_COLUMNS)].assign(location=logged["location"]))


def build_torch_timeline(run: Run, options: RunOptions | None = None) -> Timeline:
    """Replay a PyTorch / Transformers / Lightning run and classify every logged lr value.

    Raises :class:`~lraudit.errors.InputError` when nothing can be audited (no logged lr and no
    loop to replay).
    """

    if run.torch is None:
        raise InputError(f"{run.path}: not a PyTorch-ecosystem run")
    notes: list[str] = []
    facts = _with_options(run.torch, options, notes)
    try:
        program, alternatives = _program(run, facts, notes)
    except ProgramUnknown as unknown:
        return _logged_as_applied(run, facts, str(unknown), notes)
    replay = replay_loop(program)
    logged = join_torch_logged(run, replay)
    for alternative in alternatives:
        other = replay_loop(alternative)
        other_logged = join_torch_logged(run, other)
        if _reproduced_share(other_logged) > _reproduced_share(logged):
            program, replay, logged = alternative, other, other_logged
    lead = any(a.read == "get_last_lr" for a in {r.action for r in replay.reads})
    if facts.framework == "transformers" and _reproduced_share(logged) < 1.0:
        fitted = _hf_with_skips(run, facts, program, replay, lead)
        if fitted is not None:
            program, replay, logged, skip_note = fitted
            notes.extend([skip_note] if skip_note else [])
    if facts.framework == "transformers" and alternatives:
        notes.append(
            "the transformers version is in no file: its logs "
            + ("lead the applied lr by one update (as before 4.51)" if lead
               else "match the applied lr (4.51 and later)")
        )
    if replay.stopped:
        notes.append(replay.stopped)
    notes.extend(replay.notes)
    if not replay.updates:
        raise InputError(f"{run.path}: the replayed loop made no optimizer update")
    frame = _frame(replay)
    _fill_logged(frame, logged)
    return Timeline(
        run=run,
        frame=frame,
        logged=logged,
        optimizer=None,
        notes=notes + list(facts.evidence),
        extra=_extra(facts, program, replay, logged, reconstructed=True),
    )


def _with_options(facts: TorchFacts, options: RunOptions | None, notes: list[str]) -> TorchFacts:
    """The run's facts with what the user gave: ``--optimizer``/``--scheduler`` in PyTorch syntax
    replace the code's constructions, ``--steps-per-epoch`` fills an unknown epoch length."""
    from dataclasses import replace

    from lraudit.code.torch_expressions import parse_torch_construction

    if options is None:
        return facts
    changed: dict[str, Any] = {}
    text = getattr(options.optimizer, "text", options.optimizer)
    if isinstance(text, str) and text:
        changed["optimizer"] = parse_torch_construction(text, "optimizer")
        notes.append(f"optimizer given: {text}")
    if options.schedulers:
        changed["schedulers"] = [parse_torch_construction(t, "scheduler") for t in options.schedulers]
        notes.append(f"scheduler(s) given: {'; '.join(options.schedulers)}")
    if options.steps_per_epoch and not facts.steps_per_epoch:
        changed["steps_per_epoch"] = options.steps_per_epoch
        if not facts.batches_per_epoch:
            changed["batches_per_epoch"] = options.steps_per_epoch * (facts.gradient_accumulation_steps or 1)
    return replace(facts, **changed) if changed else facts


def _extra(
    facts: TorchFacts, program: LoopProgram | None, replay: Replay | None, logged, reconstructed: bool
) -> dict[str, Any]:
    updates = replay.updates if replay else []
    per_epoch: dict[int, int] = {}
    for update in updates:
        per_epoch[update.epoch] = per_epoch.get(update.epoch, 0) + 1
    return {
        "framework": facts.framework,
        "versions": dict(facts.versions),
        "reconstructed": reconstructed,
        "program": program,
        "replay": replay,
        "steps_per_epoch": sorted(set(per_epoch.values())) or [facts.steps_per_epoch],
        "steps_per_epoch_known": bool(per_epoch) or bool(facts.steps_per_epoch),
        "gradient_accumulation_steps": facts.gradient_accumulation_steps or 1,
        "lr_known": True,
        "counter_resets": [],
        "fit_counter_starts": [0],
        "optimizer_origin": facts.optimizer.location if facts.optimizer else None,
        "keras_release": None,
        "backend_assumed": False,
    }


def _logged_as_applied(run: Run, facts: TorchFacts, why: str, given: list[str]) -> Timeline:
    """No loop to replay: the most precise logged lr series stands for the applied lr.

    A per-update series gives one row per update (a value logged every ``g`` updates holds for
    the ``g`` updates from it: Lightning's epoch-start monitor); a per-epoch series (a console
    line per epoch, or an event file whose steps are the epochs the console numbers) gives one
    row per epoch, the steps per epoch being unknown.
    """
    rows = _lr_rows(run)
    if len(rows) == 0:
        raise InputError(f"{run.path}: no lr is logged and {why}: nothing can be audited")
    lead = facts.framework == "transformers" and _hf_lead(facts)
    series, per_epoch = _best_series(rows, _epochs_seen(run))
    updates, how = (_epoch_rows(series) if per_epoch else _update_rows(run, series, lead))
    if facts.framework == "transformers" and not per_epoch:
        how += _hold_to_header_length(updates, facts)
    notes = [f"not replayed: {why}; the logged lr ({series.iloc[0]['name']}, {len(series)} values) is "
             f"taken as the lr applied{how}"
             + (", one update later (the Trainer logged the next update's lr)" if lead else "")]
    replay = Replay(updates=updates)
    frame = _frame(replay)
    logged = pd.DataFrame(columns=[*LOGGED_COLUMNS, *TORCH_LOGGED_COLUMNS])
    extra = _extra(facts, None, replay, logged, reconstructed=False)
    if per_epoch:
        extra.update(steps_per_epoch_known=False, steps_per_epoch=[None])
    return Timeline(run=run, frame=frame, logged=logged, optimizer=None,
                    notes=given + notes + list(facts.evidence), extra=extra)


def _hold_to_header_length(updates: list, facts: TorchFacts) -> str:
    """Extend a Trainer's logged series to the updates its header says ran (``global_step``, or
    the step of the final ``train_runtime`` row): the last logged value holds to the end."""
    from lraudit.reconstruction.torch_replay import Update

    state = facts.trainer_state
    ran = next((value for value in (state.get("trained_until"), state.get("global_step"))
                if isinstance(value, int) and not isinstance(value, bool) and value > 0), None)
    if not updates or ran is None or ran <= len(updates):
        return ""
    last = updates[-1]
    per_epoch = facts.steps_per_epoch
    for index in range(last.step + 1, last.step + 1 + ran - len(updates)):
        epoch = index // per_epoch if per_epoch else last.epoch
        updates.append(Update(index, epoch, 0, last.lr))
    return f", the last to update {ran} (trainer_state.json's global_step)"


def _epoch_rows(series: pd.DataFrame) -> tuple[list, str]:
    from lraudit.reconstruction.torch_replay import Update

    keys = series["epoch"].where(series["epoch"].notna(), series["step"]).astype(int)
    updates = [Update(int(k), int(k), 0, float(v)) for k, v in zip(keys, series["value"], strict=True)]
    return updates, ", one row per epoch (the updates per epoch are not known)"


def _step_epochs(run: Run) -> dict[int, int]:
    """Update -> epoch where a file gives both per row (Lightning's metrics.csv)."""
    scalars = run.scalars
    if scalars is None or len(scalars) == 0:
        return {}
    numbered = scalars["source"].map(lambda kind: _numbers_epochs(str(kind))).astype(bool)
    both = scalars[numbered].dropna(subset=["epoch", "step"])
    return {int(s): int(e) for s, e in zip(both["step"], both["epoch"], strict=True)}


def _update_rows(run: Run, series: pd.DataFrame, lead: bool) -> tuple[list, str]:
    from lraudit.reconstruction.torch_replay import Update

    steps = series["step"].astype(int).to_numpy()
    values = series["value"].astype(float).to_numpy()
    gaps = set(np.diff(steps).tolist())
    every = gaps.pop() if len(gaps) == 1 and next(iter(gaps), 1) > 1 else 1
    epochs = _step_epochs(run)
    numbered = _numbers_epochs(str(series["source"].iloc[0]))
    updates, epoch = [], 0
    offset = int(steps[0]) if len(steps) else 0
    for position, (step, value) in enumerate(zip(steps, values, strict=True)):
        logged_epoch = series["epoch"].iloc[position] if numbered else None
        for index in range(int(step), int(step) + every):
            known = logged_epoch is not None and not pd.isna(logged_epoch)
            epoch = epochs.get(index, int(logged_epoch) if known else epoch)
            updates.append(Update(index - offset + (1 if lead else 0), epoch, 0, float(value)))
    how = f", each value held for the {every} updates until the next one" if every > 1 else ""
    return updates, how


def _hf_lead(facts: TorchFacts) -> bool:
    from lraudit.semantics.torch.hf import hf_logs_next_step_lr

    version = _transformers_version(facts)
    return bool(version) and hf_logs_next_step_lr(version)


def _best_series(rows: pd.DataFrame, epochs: int | None) -> tuple[pd.DataFrame, bool]:
    """The lr series to stand for the applied lr, and whether it is per epoch: exact sources and
    per-update series first; a series whose steps are exactly the epochs the logs number
    (``0..E-1``) is per epoch."""
    ranked = []
    for (source, name), series in rows.groupby(["source", "name"], sort=False):
        facts = facts_for(str(source))
        exact = 0 if facts is None or facts.exact else 1
        by_step = series.dropna(subset=["step"]).drop_duplicates("step").sort_values("step")
        if len(by_step):
            steps = by_step["step"].astype(int).tolist()
            per_epoch = bool(epochs) and steps == list(range(int(epochs or 0)))
            ranked.append((int(per_epoch), exact, -len(by_step), str(name), by_step, per_epoch))
            continue
        by_epoch = series.dropna(subset=["epoch"]).drop_duplicates("epoch").sort_values("epoch")
        if len(by_epoch):
            ranked.append((1, exact, -len(by_epoch), str(name), by_epoch, True))
    if not ranked:
        raise InputError("no logged lr value has a step or an epoch: nothing can be audited")
    ranked.sort(key=lambda item: item[:4])
    return ranked[0][4], ranked[0][5]
