"""Console source: every fixture run against independent expectations, plus synthetic logs of each era."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lraudit.sources import console
from lraudit.sources.base import SNIFF_BYTES

ROOT = Path(__file__).resolve().parents[1] / "fixtures"
RUNS = sorted(p.name for p in (ROOT / "runs").iterdir() if (p / "console.log").exists())
#: runs whose one CSVLogger file (``history.csv``) logged every epoch the console shows
CSV_RUNS = [name for name in RUNS if (ROOT / "runs" / name / "history.csv").exists()]


def _run_json(name: str) -> dict:
    return json.loads((ROOT / "expected" / name / "run.json").read_text())


def _csv_rows(name: str) -> list[dict[str, str]]:
    with (ROOT / "runs" / name / "history.csv").open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if row.get("epoch") not in (None, "epoch")]


def _history_lr(name: str) -> list[float] | None:
    """History ``lr``/``learning_rate`` over all epochs (History always sees the callbacks' key)."""
    run_dir = ROOT / "runs" / name
    parts = sorted(run_dir.glob("history_fit*.json")) or [run_dir / "history.json"]
    values: list[float] = []
    for part in parts:
        history = json.loads(part.read_text())
        key = "lr" if "lr" in history else "learning_rate" if "learning_rate" in history else None
        if key is None:
            return None
        values += [float(v) for v in history[key]]
    return values


def _within_print_precision(printed: str, exact: float) -> bool:
    """Keras prints '%.4f' (or '%.4e' for small values): the printed number is exact within half a unit."""
    if "e" in printed.lower():
        mantissa, exponent = printed.lower().split("e")
        return abs(float(mantissa) - exact / 10 ** int(exponent)) <= 0.5e-4 + 1e-9
    return abs(float(printed) - exact) <= 0.5e-4 + 1e-9


def _f32(value: float) -> np.float32:
    return np.float32(value)


def _epochs_that_ran(name: str, run: dict) -> list[tuple[int, int]]:
    """(initial_epoch, end) per fit: ``epochs`` asked for, or fewer when the fit stopped early
    (EarlyStopping): the last epoch with an update in truth.csv ends it."""
    truth = pd.read_csv(ROOT / "expected" / name / "truth.csv")
    ran = []
    for fit in run["fits"]:
        epochs = truth.loc[truth["fit"] == fit["fit"], "epoch"]
        last = int(epochs.max()) + 1 if len(epochs) else fit["epochs"]
        ran.append((fit["initial_epoch"], min(fit["epochs"], last)))
    return ran


@pytest.fixture(scope="module")
def parsed() -> dict:
    return {name: console.read(ROOT / "runs" / name / "console.log") for name in RUNS}


@pytest.mark.parametrize("name", RUNS)
def test_fixture_fits_epochs_and_steps(name, parsed):
    data, run = parsed[name], _run_json(name)
    assert data.kind == "console" and not data.warnings
    expected = _epochs_that_ran(name, run)
    assert [(f.first_epoch, f.end_epoch) for f in data.fits] == expected
    for fit, (first, end) in zip(data.fits, expected, strict=True):
        assert fit.epochs_seen == list(range(first, end))
        assert fit.steps_per_epoch == run["steps_per_epoch"]
        assert fit.location.startswith(str(ROOT / "runs" / name / "console.log") + ":")
    assert data.steps_per_epoch == run["steps_per_epoch"]
    assert data.keras == run["keras_generation"]


@pytest.mark.parametrize("name", CSV_RUNS)
def test_fixture_metrics_match_csvlogger(name, parsed):
    scalars = parsed[name].scalars
    rows = _csv_rows(name)
    assert sorted(set(scalars["epoch"].astype(int))) == list(range(len(rows)))
    assert (scalars["source"] == "console").all()
    compared = 0
    for row in rows:
        epoch = int(row["epoch"])
        printed = scalars[scalars["epoch"] == epoch]
        keys = dict(zip(printed["name"], printed["text"], strict=True))
        logged = {k: v for k, v in row.items() if k != "epoch" and v not in ("", "NA")}
        assert set(logged) <= set(keys), (epoch, logged, keys)  # the bar shows every logged key
        for key, value in logged.items():
            assert _within_print_precision(keys[key], float(value)), (epoch, key, keys[key], value)
            compared += 1
        assert printed["line"].nunique() == 1  # all values of an epoch come from its final line
    assert compared >= len(rows)
    assert (scalars["value"] == scalars["text"].astype(str).map(float)).all()


@pytest.mark.parametrize("name", RUNS)
def test_fixture_lr_column_matches_history(name, parsed):
    scalars = parsed[name].scalars
    lr_rows = scalars[scalars["name"].isin(["lr", "learning_rate"])].sort_values("epoch")
    history = _history_lr(name)
    if history is None:
        assert lr_rows.empty
        return
    assert list(lr_rows["epoch"]) == list(range(len(history)))
    for printed, exact in zip(lr_rows["text"], history, strict=True):
        assert _within_print_precision(printed, exact)


def _callbacks(run: dict, cls: str) -> list[dict]:
    return [c for c in run["callbacks"] if c["class"] == cls]


def _history_after_reductions(run: dict) -> bool:
    """Whether History ``lr`` is the variable AFTER the epoch's reduction (from the callback order).

    Every lr-writing callback copies the variable into ``logs['lr']`` in its own
    ``on_epoch_end``; ReduceLROnPlateau does so before reducing. When another lr writer is listed
    after it, that writer's copy (taken after the reduction) is what History/CSV keep.
    """
    writers = [
        c["class"]
        for c in sorted(run["callbacks"], key=lambda c: c.get("position", 0))
        if c["class"] in ("ReduceLROnPlateau", "LearningRateScheduler")
    ]
    return "ReduceLROnPlateau" in writers and writers.index("ReduceLROnPlateau") < len(writers) - 1


@pytest.mark.parametrize("name", RUNS)
def test_fixture_plateau_messages_match_lr_history(name, parsed):
    data, run = parsed[name], _run_json(name)
    reductions = [e for e in data.events if e.kind == "plateau_reduction"]
    plateau = _callbacks(run, "ReduceLROnPlateau")
    if not plateau or plateau[0]["args"].get("verbose", 0) == 0:
        assert not reductions
        return
    history = _history_lr(name)
    assert history is not None
    after = _history_after_reductions(run)
    scheduled = {e.epoch: e.value for e in data.events if e.kind == "scheduler_set"}
    for event in reductions:
        assert event.callback == "ReduceLROnPlateau" and event.fit == 0
        assert event.value == float(event.text)
        assert event.location.startswith(str(ROOT / "runs" / name / "console.log") + ":")
        factor = plateau[0]["args"].get("factor", 0.1)
        min_lr = plateau[0]["args"].get("min_lr", 0.0)
        if after:
            # History holds the reduced variable itself; the epoch ran at the value set at its
            # begin (the scheduler's, else the previous epoch's end value)
            assert _f32(history[event.epoch]) == _f32(event.value)
            if event.epoch in scheduled:
                old = scheduled[event.epoch]
            elif event.epoch > 0:
                old = history[event.epoch - 1]
            else:
                continue
        else:
            old = history[event.epoch]  # the lr logged at that epoch is the one it ran at
        # the message prints max(old * factor, min_lr)
        assert _f32(event.value) == _f32(max(float(_f32(old)) * factor, min_lr))
        if not _callbacks(run, "LearningRateScheduler") and event.epoch + 1 < len(history):
            assert _f32(event.value) == _f32(history[event.epoch + 1])  # in effect from the next epoch
    if not _callbacks(run, "LearningRateScheduler"):
        dropped = [e for e in range(len(history) - 1) if history[e + 1] < history[e]]
        assert [e.epoch for e in reductions if e.epoch + 1 < len(history)] == dropped


@pytest.mark.parametrize("name", RUNS)
def test_fixture_scheduler_messages_match_lr_history(name, parsed):
    data, run = parsed[name], _run_json(name)
    scheduled = [e for e in data.events if e.kind == "scheduler_set"]
    if not _callbacks(run, "LearningRateScheduler"):
        assert not scheduled
        return
    history = _history_lr(name)
    ran = sum(end - first for first, end in _epochs_that_ran(name, run))
    assert [e.epoch for e in scheduled] == list(range(ran))
    # with a plateau callback listed before the scheduler, History shows the reduced variable at
    # the epochs whose end reduced it (the scheduler's value is then what the epoch ran at)
    reduced = {
        e.epoch: e.value for e in data.events if e.kind == "plateau_reduction"
    } if _history_after_reductions(run) else {}
    for event in scheduled:
        assert event.fit == 0 and event.callback == "LearningRateScheduler"
        shown = reduced.get(event.epoch, event.value)
        assert _f32(shown) == _f32(history[event.epoch])


@pytest.mark.parametrize("name", CSV_RUNS)
def test_fixture_warnings_become_events(name, parsed):
    data, run = parsed[name], _run_json(name)
    kinds = [e.kind for e in data.events]
    ctor = run["optimizer_ctor"]
    legacy_decay = re.search(r"[(,]\s*decay=", ctor) is not None  # not weight_decay
    assert ("decay_ignored" in kinds) == (run["keras_generation"] == "3" and legacy_decay)
    assert ("lr_deprecated" in kinds) == ("(lr=" in ctor or ", lr=" in ctor)
    columns = set(_csv_rows(name)[0]) | {"lr"}
    for callback in _callbacks(run, "ReduceLROnPlateau"):
        monitor = callback["args"].get("monitor", "val_loss")
        missing = [e for e in data.events if e.kind == "monitor_missing"]
        if monitor in columns:
            assert not missing
        else:
            assert [e.epoch for e in missing] == list(range(run["epochs"]))
            assert {e.detail["monitor"] for e in missing} == {monitor}
            assert all(e.detail["callback"] == "ReduceLROnPlateau" for e in missing)
            assert all("lr" in e.detail["available"] and "loss" in e.detail["available"] for e in missing)


def _other_files() -> list[Path]:
    files = []
    for name in RUNS:
        files += [p for p in (ROOT / "runs" / name).rglob("*") if p.is_file() and p.name != "console.log"]
    return files


@pytest.mark.parametrize("name", RUNS)
def test_sniff_accepts_console_logs(name):
    path = ROOT / "runs" / name / "console.log"
    assert console.sniff(path.read_bytes()[:SNIFF_BYTES], path)


def test_sniff_rejects_every_other_fixture_file():
    others = _other_files()
    assert any(p.suffix == ".h5" for p in others) and any("tfevents" in p.name for p in others)
    accepted = [p for p in others if console.sniff(p.read_bytes()[:SNIFF_BYTES], p)]
    assert accepted == []


def test_sniff_rejects_quoted_console_text_and_binary():
    assert not console.sniff(b'{"log": "Epoch 1/5\\n 1/10 [====]"}', Path("x"))
    assert not console.sniff(b"epoch,loss,lr\n0,1.0,0.001\n", Path("x"))
    assert not console.sniff(b"\x00\x01\x02" * 1000 + b"\nEpoch 1/5\n", Path("x"))
    assert console.sniff(b"\r\x1b[1m 1/12\x1b[0m \x1b[32m\xe2\x94\x81", Path("x"))


# ---------------------------------------------------------------------------------------------
# synthetic logs


def _write(tmp_path: Path, content: bytes | str, name: str = "train.log") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _k2_epoch(n: int, m: int, steps: int, metrics: str, *, newline: str = "\r\n", mid: str = "") -> str:
    """A Keras 2 pty epoch: header, redraws with \\b runs, optional message mid-bar, final line."""
    first = f" 1/{steps} [>.............................] - ETA: 3s - loss: 0.7000"
    final = f"{steps}/{steps} [==============================] - 1s 2ms/step - {metrics}"
    text = f"Epoch {n}/{m}{newline}\r{first}"
    if mid:
        text += f"{newline}{mid}{newline}"
    return text + "\b" * len(first) + f"\r{final}{newline}"


def _k3_epoch(n: int, m: int, steps: int, metrics: str, *, mid: str = "") -> str:
    bar = "\x1b[32m" + "━" * 20 + "\x1b[0m"
    first = (
        f"\x1b[1m 1/{steps}\x1b[0m \x1b[32m━\x1b[0m\x1b[37m{'━' * 19}\x1b[0m"
        " \x1b[1m1s\x1b[0m 90ms/step - loss: 2.7"
    )
    final = f"\x1b[1m{steps}/{steps}\x1b[0m {bar} \x1b[1m0s\x1b[0m 2ms/step - {metrics}  "
    text = f"Epoch {n}/{m}\r\n\r{first}"
    if mid:
        text += f"\r\n{mid}\r\n"
    return text + "\b" * 58 + f"\r{final}\r\n"


def _events(data, kind):
    return [e for e in data.events if e.kind == kind]


@pytest.mark.parametrize(
    ("message", "expected_epoch", "value"),
    [
        # M1 (Keras 2.0.0-2.0.8): 0-based, printed inside the epoch whose header is "Epoch 3/4"
        ("Epoch 00002: reducing learning rate to 0.00010000000474974513.", 2, 0.00010000000474974513),
        # M2 (2.0.9-2.1.2): same text, epoch + 1
        ("Epoch 00003: reducing learning rate to 0.00010000000474974513.", 2, 0.00010000000474974513),
        # M3 (2.1.3-2.3.1, TF 2.0-2.5, keras 2.6-2.7)
        ("Epoch 00003: ReduceLROnPlateau reducing learning rate to 1e-07.", 2, 1e-07),
        # M4/M5 (keras 2.8+, tf-keras, Keras 3)
        (
            "Epoch 3: ReduceLROnPlateau reducing learning rate to 0.0007500000356230885.",
            2,
            0.0007500000356230885,
        ),
        # Keras 3.15 multi-optimizer
        ("Epoch 3: ReduceLROnPlateau reducing adam learning rate to 0.0005.", 2, 0.0005),
    ],
)
def test_plateau_message_eras(tmp_path, message, expected_epoch, value):
    log = "".join(_k2_epoch(n, 4, 5, f"loss: 0.{n}000", mid=message if n == 3 else "") for n in range(1, 5))
    data = console.read(_write(tmp_path, log))
    (event,) = _events(data, "plateau_reduction")
    assert (event.epoch, event.value, event.fit) == (expected_epoch, value, 0)
    assert event.text == repr(value) if "e-" not in event.text else event.text == "1e-07"
    line = log[: log.index(message)].count("\n") + 1
    assert event.location == f"{tmp_path / 'train.log'}:{line}"
    assert sorted(set(data.scalars["epoch"])) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("message", "value", "word"),
    [
        ("Epoch 00002: LearningRateScheduler reducing learning rate to 0.0005.", 0.0005, "reducing"),
        ("Epoch 00002: LearningRateScheduler setting learning rate to 0.0005.", 0.0005, "setting"),
        ("Epoch 2: LearningRateScheduler setting learning rate to 0.0005.", 0.0005, "setting"),
        (
            "Epoch 2: LearningRateScheduler setting learning rate to "
            "tf.Tensor(0.0009048374, shape=(), dtype=float32).",
            0.0009048374,
            "setting",
        ),
        ("Epoch 2: LearningRateScheduler setting learning rate to np.float64(0.25).", 0.25, "setting"),
    ],
)
def test_scheduler_message_eras(tmp_path, message, value, word):
    log = _k2_epoch(1, 3, 4, "loss: 0.5000") + f"\r\n{message}\r\n" + _k2_epoch(2, 3, 4, "loss: 0.4000")
    data = console.read(_write(tmp_path, log))
    (event,) = _events(data, "scheduler_set")
    assert (event.epoch, event.value, event.fit, event.detail["word"]) == (1, value, 0, word)


def test_pipe_and_pty_give_the_same_values(tmp_path):
    pty = "".join(_k2_epoch(n, 3, 7, f"loss: 0.{n}123 - lr: 0.0010") for n in (1, 2, 3))
    lines = [
        f"Epoch {n}/3\n"
        + "".join(
            f"{k}/7 [{'=' * (4 * k)}>{'.' * (29 - 4 * k)}] - ETA: 0s - loss: 0.9\n" for k in range(1, 7)
        )
        + f"7/7 [{'=' * 30}] - 1s 2ms/step - loss: 0.{n}123 - lr: 0.0010\n"
        for n in (1, 2, 3)
    ]
    a = console.read(_write(tmp_path, pty, "pty.log"))
    b = console.read(_write(tmp_path, "".join(lines), "pipe.log"))
    columns = ["name", "epoch", "fit", "value", "text"]
    assert a.scalars[columns].equals(b.scalars[columns])
    assert a.steps_per_epoch == b.steps_per_epoch == 7
    assert a.keras == b.keras == "2"


@pytest.mark.parametrize(
    ("line", "keras", "steps", "metrics"),
    [
        (" - 5s - loss: 0.6931 - acc: 0.5000", "2", None, {"loss": 0.6931, "acc": 0.5}),  # standalone
        ("10/10 - 1s - loss: 0.6931 - val_loss: 0.7000", None, 10, {"loss": 0.6931, "val_loss": 0.7}),
        (
            "10/10 - 1s - loss: 0.6931 - lr: 0.0010 - 666ms/epoch - 67ms/step",
            "2",
            10,
            {"loss": 0.6931, "lr": 0.001},
        ),
        (
            "4/4 - 0s - 84ms/step - loss: 1.5099 - learning_rate: 0.0010",
            "3",
            4,
            {"loss": 1.5099, "learning_rate": 0.001},
        ),
    ],
)
def test_verbose2_forms(tmp_path, line, keras, steps, metrics):
    log = "".join(f"Epoch {n}/2\n{line}\n" for n in (1, 2))
    data = console.read(_write(tmp_path, log))
    assert data.keras == keras and data.steps_per_epoch == steps
    assert [f.epochs_seen for f in data.fits] == [[0, 1]]
    epoch0 = data.scalars[data.scalars["epoch"] == 0]
    assert dict(zip(epoch0["name"], epoch0["value"], strict=True)) == metrics
    assert set(epoch0["line"]) == {2}


def test_keras3_ansi_bar_with_message_mid_bar(tmp_path):
    message = "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.0010000000474974513."
    log = (
        "<venv>/site-packages/keras/src/backend/jax/trainer.py:1: UserWarning: something\r\n"
        + _k3_epoch(1, 2, 12, "loss: 2.9274 - val_loss: 1.1756 - learning_rate: 0.0020")
        + _k3_epoch(2, 2, 12, "loss: 2.6642 - val_loss: 1.1441 - learning_rate: 0.0020", mid=message)
    )
    data = console.read(_write(tmp_path, log))
    assert (data.keras, data.backend, data.steps_per_epoch) == ("3", "jax", 12)
    lr = data.scalars[data.scalars["name"] == "learning_rate"]
    assert list(lr["text"]) == ["0.0020", "0.0020"]
    (event,) = _events(data, "plateau_reduction")
    assert event.epoch == 1 and event.value == 0.0010000000474974513
    # the final line of epoch 2 comes after the message, on the line after it
    assert lr["line"].iloc[1] == log.count("\n")


def test_keras3_pre_validation_redraw_is_replaced_by_final_line(tmp_path):
    bar = "\x1b[1m5/5\x1b[0m \x1b[32m" + "━" * 20 + "\x1b[0m \x1b[1m0s\x1b[0m 2ms/step - "
    log = (
        "Epoch 1/1\r\n\r"
        + bar
        + "loss: 0.5000\r\nEpoch 1: ReduceLROnPlateau reducing learning rate to 0.0005.\r\n"
        + "\b" * 40
        + "\r"
        + bar
        + "loss: 0.4000 - val_loss: 0.3000\r\n"
    )
    data = console.read(_write(tmp_path, log))
    assert dict(zip(data.scalars["name"], data.scalars["text"], strict=True)) == {
        "loss": "0.4000",
        "val_loss": "0.3000",
    }


def test_several_fits_restart_continue_and_early_stopping(tmp_path):
    log = (
        "".join(_k2_epoch(n, 2, 3, "loss: 0.5000") for n in (1, 2))  # fit 0: epochs 0-1
        + "".join(_k2_epoch(n, 4, 3, "loss: 0.4000") for n in (3, 4))  # fit 1: initial_epoch=2
        + "".join(_k2_epoch(n, 4, 3, "loss: 0.3000") for n in (1, 2))  # fit 2: restart at 1
        + "Epoch 2: early stopping\r\n"
        + "".join(_k2_epoch(n, 4, 3, "loss: 0.2000") for n in (3, 4))  # fit 3: after early stop
    )
    data = console.read(_write(tmp_path, log))
    assert [(f.index, f.first_epoch, f.end_epoch, f.epochs_seen) for f in data.fits] == [
        (0, 0, 2, [0, 1]),
        (1, 2, 4, [2, 3]),
        (2, 0, 2, [0, 1]),  # asked for 4 epochs, early-stopped after 2: only those ran
        (3, 2, 4, [2, 3]),
    ]
    (stop,) = _events(data, "early_stopping")
    assert (stop.epoch, stop.fit) == (1, 2)
    assert list(data.scalars["fit"]) == [0, 0, 1, 1, 2, 2, 3, 3]


def test_evaluate_after_fit_is_not_taken_for_the_epoch(tmp_path):
    log = _k2_epoch(1, 1, 6, "loss: 0.5000 - val_loss: 0.6000") + (
        "\r1/2 [==============>...............] - ETA: 0s - loss: 0.1000"
        + "\b" * 40
        + f"\r2/2 [{'=' * 30}] - 0s 1ms/step - loss: 0.9000\r\n"
    )
    data = console.read(_write(tmp_path, log))
    assert dict(zip(data.scalars["name"], data.scalars["text"], strict=True)) == {
        "loss": "0.5000",
        "val_loss": "0.6000",
    }


def test_fit_without_header_epochs_1(tmp_path):
    log = "\r 1/3 [=========>....................] - ETA: 0s - loss: 0.9" + "\b" * 60
    log += f"\r3/3 [{'=' * 30}] - 0s 2ms/step - loss: 0.5000 - lr: 0.0010\n"
    data = console.read(_write(tmp_path, log))
    assert [(f.first_epoch, f.end_epoch, f.epochs_seen, f.steps_per_epoch) for f in data.fits] == [
        (0, 1, [0], 3)
    ]
    assert set(data.scalars["name"]) == {"loss", "lr"}


def test_warnings_of_every_era(tmp_path):
    lines = [
        "opt.py:1: UserWarning: The `lr` argument is deprecated, use `learning_rate` instead.",
        "WARNING:absl:`lr` is deprecated in Keras optimizer, please use `learning_rate` or use the legacy "
        "optimizer, e.g.,tf.keras.optimizers.legacy.Adam.",
        "WARNING:absl:`lr` is deprecated, please use `learning_rate` instead, or use the legacy optimizer, "
        "e.g.,tf.keras.optimizers.legacy.Adam.",
        "ValueError: Argument(s) not recognized: {'lr': 0.001}",
        "base_optimizer.py:86: UserWarning: Argument `decay` is no longer supported and will be ignored.",
        "ValueError: decay is deprecated in the new Keras optimizer, pleasecheck the docstring for valid "
        "arguments, or use the legacy optimizer, e.g., tf.keras.optimizers.legacy.SGD.",
        "Epoch 1/2",
        "cb.py:1: RuntimeWarning: Reduce LR on plateau conditioned on metric `val_acc` which is not "
        "available. Available metrics are: loss,lr",
        "Epoch 2/2",
        "cb.py:2: UserWarning: Early stopping conditioned on metric `val_auc` which is not available. "
        "Available metrics are: loss,val_loss,learning_rate.",
        "cb.py:3: RuntimeWarning: Learning Rate Plateau Reducing requires val_acc available!",
    ]
    data = console.read(_write(tmp_path, "\n".join(lines) + "\n"))
    lr = _events(data, "lr_deprecated")
    assert [e.detail["effect"] for e in lr] == ["alias", "ignored", "ignored", "rejected"]
    assert lr[3].value == 0.001
    assert len(_events(data, "decay_ignored")) == 1
    (rejected,) = _events(data, "decay_rejected")
    assert rejected.detail["optimizer"] == "SGD" and rejected.location.endswith(":6")
    missing = _events(data, "monitor_missing")
    assert [(e.epoch, e.detail["callback"], e.detail["monitor"]) for e in missing] == [
        (0, "ReduceLROnPlateau", "val_acc"),
        (1, "EarlyStopping", "val_auc"),
        (1, "ReduceLROnPlateau", "val_acc"),
    ]
    assert missing[1].detail["available"] == ["loss", "val_loss", "learning_rate"]


def test_truncated_file_keeps_complete_epochs(tmp_path):
    log = (
        "".join(_k2_epoch(n, 3, 5, "loss: 0.5000") for n in (1, 2))
        + "Epoch 3/3\r\n\r 1/5 [>....] - ETA: 0s - lo"
    )
    data = console.read(_write(tmp_path, log))
    assert sorted(set(data.scalars["epoch"])) == [0, 1]
    assert data.fits[0].epochs_seen == [0, 1, 2]
    assert any("middle of a line" in w for w in data.warnings)
    assert any("epoch 3 has no final progress line" in w for w in data.warnings)


def test_invalid_utf8_binary_junk_and_nul_bytes(tmp_path):
    good = _k2_epoch(1, 2, 4, "loss: 0.5000").encode()
    junk = b"\xff\xfe\x00\x00garbage\x80\x00\n"
    log = good + junk + _k2_epoch(2, 2, 4, "loss: 0.4000").encode()
    data = console.read(_write(tmp_path, log))
    assert list(data.scalars["text"]) == ["0.5000", "0.4000"]
    assert f"file is not valid UTF-8 at byte {len(good)}" in data.warnings[0]
    assert any("3 NUL bytes" in w for w in data.warnings)


def test_utf8_split_across_chunks_is_valid(tmp_path, monkeypatch):
    monkeypatch.setattr(console, "CHUNK_BYTES", 7)
    data = console.read(_write(tmp_path, _k3_epoch(1, 1, 3, "loss: 0.5000")))
    assert not any("UTF-8" in w for w in data.warnings)
    assert list(data.scalars["text"]) == ["0.5000"]


def test_empty_and_missing_files(tmp_path):
    data = console.read(_write(tmp_path, b""))
    assert data.scalars.empty and data.fits == [] and any("empty" in w for w in data.warnings)
    missing = console.read(tmp_path / "nope.log")
    assert missing.scalars.empty and missing.warnings


def test_huge_single_line_of_redraws(tmp_path, monkeypatch):
    monkeypatch.setattr(console, "CHUNK_BYTES", 1 << 20)
    redraw = "\r 7/500 [>.............................] - ETA: 9s - loss: 0.7000" + "\b" * 66
    final = f"\r500/500 [{'=' * 30}] - 9s 2ms/step - loss: 0.1234 - lr: 0.0010\r\n"
    log = "Epoch 1/2\r\n" + redraw * 40000 + final + "Epoch 2/2\r\n" + redraw * 10 + final
    assert len(log) > 5_000_000
    data = console.read(_write(tmp_path, log))
    assert list(data.scalars["line"]) == [2, 2, 4, 4]
    assert list(data.scalars["text"]) == ["0.1234", "0.0010"] * 2
    assert data.steps_per_epoch == 500


@settings(max_examples=40, deadline=None)
@given(
    chunk=st.integers(min_value=1, max_value=300),
    values=st.lists(
        st.floats(min_value=-5, max_value=50).filter(lambda v: v == 0 or abs(v) > 1e-30),
        min_size=2,
        max_size=5,
    ),
)
def test_result_does_not_depend_on_chunk_size(tmp_path_factory, chunk, values):
    """Property: chunk boundaries anywhere (inside \\r\\n, '━', numbers) never change the result."""
    fmt = [f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}" for v in values]
    log = (
        "".join(_k3_epoch(n, len(values), 3, f"loss: {text}") for n, text in enumerate(fmt, 1))
        + "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.05.\r\n"
    )
    path = tmp_path_factory.mktemp("chunks") / "c.log"
    path.write_text(log, encoding="utf-8")
    whole = console.read(path)
    console_chunk = console.CHUNK_BYTES
    try:
        console.CHUNK_BYTES = chunk
        pieces = console.read(path)
    finally:
        console.CHUNK_BYTES = console_chunk
    assert whole.scalars.equals(pieces.scalars)
    assert [(e.kind, e.epoch, e.value, e.location) for e in whole.events] == [
        (e.kind, e.epoch, e.value, e.location) for e in pieces.events
    ]
    assert list(whole.scalars["text"]) == fmt
    assert all(_within_print_precision(t, v) for t, v in zip(fmt, values, strict=True))
    assert not math.isnan(whole.scalars["value"].sum())


def test_sweep_pipe_log_two_models_fit_by_fit(parsed):
    """k3_sweep_two_models_pipe: two models trained one after the other, each with its own
    CSVLogger file (run.json: sweep_sgd.csv for fit 1, sweep_adam.csv for fit 2); the console's
    fits repeat them fit by fit, and the second fit's numbering restarts at Epoch 1/5."""
    name = "k3_sweep_two_models_pipe"
    data = parsed[name]
    assert [(fit.first_epoch, fit.end_epoch) for fit in data.fits] == [(0, 3), (0, 5)]
    assert data.fits[1].start_markers and data.fits[1].start_markers[0].startswith("epoch numbering restarts")
    scalars = data.scalars
    for fit, csv_name in enumerate(("sweep_sgd.csv", "sweep_adam.csv")):
        with (ROOT / "runs" / name / csv_name).open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        printed = scalars[scalars["fit"] == fit]
        for row in rows:
            epoch = printed[printed["epoch"] == int(row["epoch"])]
            shown = dict(zip(epoch["name"], epoch["text"], strict=True))
            for key in ("loss", "val_loss"):
                assert _within_print_precision(shown[key], float(row[key])), (fit, row, shown)
