"""ReduceLROnPlateau / LearningRateScheduler state machines against real runs and per-era rules.

Expected values come from the fixtures' console output, CSVLogger files and measurement data
(``fixtures/expected/*/run.json`` for the callback arguments and versions, ``truth.csv`` for
the lr each step really applied), never from the code under test.
"""
from __future__ import annotations

import csv
import itertools
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lraudit.errors import LrauditError, UsageError
from lraudit.semantics.callbacks import (
    PLATEAU_ERAS,
    EarlyStoppingSpec,
    LearningRateScheduler,
    ReduceLROnPlateau,
    call_schedule,
    load_schedule_function,
    monitor_missing,
    plateau_era,
    plateau_from_spec,
    plateau_mode,
    replay_plateau,
    replay_scheduler,
    scheduler_values_from_log,
)
from lraudit.sources.base import CallbackEvent

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RLR_MESSAGE = re.compile(r"Epoch (\d+): ReduceLROnPlateau reducing learning rate to (\S+?)\.(?=\s|$)")
LRS_MESSAGE = re.compile(
    r"Epoch (\d+): LearningRateScheduler setting learning rate to (\S+?)\.(?=\s|$)"
)
WARNING_MESSAGE = re.compile(r"conditioned on metric `([^`]+)` which is not available")


def _run_json(name: str) -> dict:
    return json.loads((FIXTURES / "expected" / name / "run.json").read_text())


def _history(name: str) -> list[dict[str, str]]:
    with (FIXTURES / "runs" / name / "history.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _truth(name: str) -> list[dict[str, str]]:
    with (FIXTURES / "expected" / name / "truth.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _console(name: str) -> str:
    return (FIXTURES / "runs" / name / "console.log").read_text(errors="replace")


def _callback_args(meta: dict, class_name: str) -> dict:
    return next(c["args"] for c in meta["callbacks"] if c["class"] == class_name)


def _era_and_numpy(meta: dict) -> tuple[str, int]:
    versions = meta["versions"]
    keras = versions.get("tf-keras") if meta["name"].startswith("e2_") else versions["keras"]
    return plateau_era(keras), int(versions["numpy"].split(".")[0])


def _lr_variable_per_epoch(truth: list[dict[str, str]]) -> dict[int, np.float32]:
    """The lr variable during each epoch (it only changes at epoch boundaries in these runs)."""
    per_epoch: dict[int, np.float32] = {}
    for row in truth:
        per_epoch.setdefault(int(row["epoch"]), np.float32(float(row["lr_variable"])))
    return per_epoch


PLATEAU_RUNS = [
    "k2_adam_decay_plateau",
    "k2_cosine_similarity_plateau_mode",
    "k2_sgd_decay_plateau_probe",
    "k3_adam_weightdecay_plateau_minlr",
    "k3jax_adam_plateau",
    "e2_scheduler_then_plateau_conflict",
]


@pytest.mark.parametrize("name", PLATEAU_RUNS)
def test_replay_reproduces_printed_reductions(name):
    meta = _run_json(name)
    args = _callback_args(meta, "ReduceLROnPlateau")
    metrics = [float(row[args["monitor"]]) for row in _history(name)]
    lr_during = _lr_variable_per_epoch(_truth(name))
    era, numpy_major = _era_and_numpy(meta)
    has_scheduler = any(c["class"] == "LearningRateScheduler" for c in meta["callbacks"])
    # with a scheduler the variable at an epoch end is the value it set at that epoch's start
    lr_source = (lambda epoch, _tracked: lr_during[epoch]) if has_scheduler else float(lr_during[0])

    decisions = replay_plateau(args, metrics, lr_source, era=era, numpy_major=numpy_major)

    printed = [(int(e), text) for e, text in RLR_MESSAGE.findall(_console(name))]
    assert printed, "fixture must show reductions"
    assert [(d.epoch + 1, d.printed_text) for d in decisions if d.reduced] == printed
    for decision in decisions:
        if decision.reduced:
            assert decision.message.endswith(f"to {decision.printed_text}.")
            assert decision.printed == float(decision.printed_text)
            # the value stored is what the next epoch's steps used (unless a scheduler overwrote it)
            if not has_scheduler and decision.epoch + 1 in lr_during:
                assert decision.new_lr == lr_during[decision.epoch + 1]
        assert decision.old_lr == lr_during[decision.epoch]


def test_min_lr_floor_prints_min_lr_as_given():
    name = "k3_adam_weightdecay_plateau_minlr"
    args = _callback_args(_run_json(name), "ReduceLROnPlateau")
    metrics = [float(row["val_loss"]) for row in _history(name)]
    decisions = replay_plateau(args, metrics, 1e-3, era="3.11")
    floors = [d for d in decisions if d.reduced and d.printed_text == repr(args["min_lr"])]
    assert len(floors) == 1
    assert floors[0].new_lr == np.float32(args["min_lr"])
    # at the floor the guard (old_lr > f32(min_lr)) stops further reductions and messages
    assert not any(d.reduced for d in decisions if d.epoch > floors[0].epoch)
    assert all(d.state.wait > 0 for d in decisions if d.epoch > floors[0].epoch)


def test_cosine_similarity_is_minimised_by_auto_mode_until_keras_3_10():
    name = "k2_cosine_similarity_plateau_mode"
    args = _callback_args(_run_json(name), "ReduceLROnPlateau")
    mode, reason = plateau_mode(args["monitor"], "auto", "2.8")
    assert mode == "min"
    assert "'acc' is not in" in reason
    metrics = [float(row[args["monitor"]]) for row in _history(name)]
    rising = all(b >= a for a, b in itertools.pairwise(metrics))
    assert rising  # the metric only improves, yet reductions are printed
    assert plateau_mode(args["monitor"], "auto", "3.0")[0] == "min"
    assert plateau_mode(args["monitor"], "auto", "3.11") == (
        "max",
        "mode 'auto' chose max from the direction of the Keras metric 'cosine_similarity'",
    )
    # with the Keras 3.11 rule only the final flat stretch (0.5, 0.5, 0.5) is a plateau
    decisions = replay_plateau(args, metrics, 3e-3, era="3.11")
    assert [d.epoch for d in decisions if d.reduced] == [len(metrics) - 1]


def test_missing_monitor_warns_every_epoch_and_never_acts():
    name = "k2_plateau_missing_monitor"
    args = _callback_args(_run_json(name), "ReduceLROnPlateau")
    rows = _history(name)
    assert args["monitor"] not in rows[0]
    assert monitor_missing(args["monitor"], rows[0].keys())
    metrics = [None] * len(rows)
    decisions = replay_plateau(args, metrics, 1e-3, era="2.8")
    warned = WARNING_MESSAGE.findall(_console(name))
    assert len(decisions) == len(warned) == len(rows)
    assert all(args["monitor"] in d.warning and not d.reduced for d in decisions)
    assert all(d.state.wait == 0 for d in decisions)


# ---------------------------------------------------------------------------- per-era rules


def _reduction_epochs(metrics, era="2.8", lr=1e-3, **kwargs):
    return [d.epoch for d in replay_plateau(kwargs, metrics, lr, era=era) if d.reduced]


FLAT = [1.0] + [2.0] * 7  # one improvement, then never again


@pytest.mark.parametrize(
    ("era", "expected"),
    [("2.0", [2, 3, 4, 5, 6, 7]), ("2.1.3", [2, 3, 4, 5, 6, 7]), ("2.1.6", [1, 2, 3, 4, 5, 6, 7]),
     ("2.8", [1, 2, 3, 4, 5, 6, 7]), ("3.0", [1, 2, 3, 4, 5, 6, 7]), ("3.11", [1, 2, 3, 4, 5, 6, 7])],
)
def test_patience_tested_before_wait_increment_until_2_1_5(era, expected):
    assert _reduction_epochs(FLAT, era=era, patience=1, factor=0.5) == expected


def test_patience_two_needs_three_bad_epochs_in_old_keras():
    assert _reduction_epochs(FLAT, era="2.1.3", patience=2, factor=0.5) == [3, 5, 7]
    assert _reduction_epochs(FLAT, era="2.8", patience=2, factor=0.5) == [2, 4, 6]


def test_float32_min_lr_trap_repeats_message_until_tf_2_4_only():
    metrics = [1.0] + [2.0] * 6
    old = replay_plateau({"factor": 0.1, "patience": 1, "min_lr": 1e-7}, metrics, 1e-6, era="2.1.6")
    new = replay_plateau({"factor": 0.1, "patience": 1, "min_lr": 1e-7}, metrics, 1e-6, era="tf2.5")
    old_texts = [d.printed_text for d in old if d.reduced]
    new_texts = [d.printed_text for d in new if d.reduced]
    # f32(1e-7) = 1.0000000116860974e-07 > 1e-7 in float64: the floor "reduces" again and again
    assert old_texts[0] == new_texts[0] == "1e-07"
    assert old_texts == ["1e-07"] * 6
    assert new_texts == ["1e-07"]
    assert {d.new_lr for d in old if d.reduced} == {np.float32(1e-7)}


def test_cooldown_skips_counting():
    kwargs = {"factor": 0.5, "patience": 1}
    assert _reduction_epochs(FLAT, cooldown=0, **kwargs) == [1, 2, 3, 4, 5, 6, 7]
    # the counter is decremented before the test, so cooldown=2 skips one epoch, 3 skip two
    assert _reduction_epochs(FLAT, cooldown=2, **kwargs) == [1, 3, 5, 7]
    assert _reduction_epochs(FLAT, cooldown=3, **kwargs) == [1, 4, 7]
    decisions = replay_plateau({**kwargs, "cooldown": 3}, FLAT, 1e-3)
    assert [d.state.cooldown_counter for d in decisions] == [0, 3, 2, 1, 3, 2, 1, 3]


def test_min_delta_decides_what_counts_as_improvement():
    slowly_falling = [1.0, 0.99996, 0.99992, 0.99988, 0.99984, 0.9998]
    assert _reduction_epochs(slowly_falling, patience=2, factor=0.5, min_delta=1e-4) == [2, 5]
    assert _reduction_epochs(slowly_falling, patience=2, factor=0.5, min_delta=0.0) == []
    # Keras 3.11+ takes abs(min_delta); older eras use the sign as given
    assert _reduction_epochs(slowly_falling, era="3.11", patience=2, factor=0.5, min_delta=-1e-4) == [2, 5]
    assert _reduction_epochs(slowly_falling, era="3.0", patience=2, factor=0.5, min_delta=-1e-4) == []


@pytest.mark.parametrize(
    ("monitor", "mode", "era", "expected"),
    [
        ("val_accuracy", "auto", "2.8", "max"),
        ("val_acc", "auto", "2.1.6", "max"),
        ("val_auc", "auto", "2.8", "min"),
        ("val_auc", "auto", "3.11", "max"),
        ("val_auc_1", "auto", "3.11", "max"),
        ("val_mae", "auto", "3.11", "min"),
        ("val_loss", "auto", "3.11", "min"),
        ("val_loss", "max", "3.11", "max"),
        ("val_f1_score", "auto", "3.0", "min"),
        ("val_accuracy", "min", "2.8", "min"),
        ("val_accuracy", "sideways", "2.8", "max"),
    ],
)
def test_plateau_mode_per_era(monitor, mode, era, expected):
    chosen, reason = plateau_mode(monitor, mode, era)
    assert chosen == expected
    assert reason
    if mode == "sideways":
        assert "falls back to 'auto'" in reason


def test_mode_max_and_min_on_rising_accuracy():
    rising = [0.5, 0.6, 0.7, 0.8, 0.9]
    assert _reduction_epochs(rising, monitor="val_accuracy", patience=1) == []
    assert _reduction_epochs(rising, monitor="val_accuracy", mode="min", patience=1) == [1, 2, 3, 4]


def test_keras_3_11_unknown_direction_stops_training():
    decisions = replay_plateau({"monitor": "val_custom", "patience": 1}, [1.0, 2.0, 3.0], 1e-3, era="3.11")
    assert len(decisions) == 1
    assert "isn't able to automatically determine" in decisions[0].error
    assert plateau_mode("val_custom", "auto", "3.11")[0] is None
    # earlier eras simply minimise it
    assert len(replay_plateau({"monitor": "val_custom"}, [1.0, 2.0, 3.0], 1e-3, era="3.0")) == 3


def test_best_starts_none_in_keras_3_11_from_the_second_fit():
    # 3.11 sets best = inf on the first epoch end (_set_monitor_op) but on_train_begin of a
    # later fit leaves it None, so that fit's first value always counts as an improvement
    metrics = [1.0, math.nan, 1.0]
    fits = [(0, 1), (1, 3)]
    old = replay_plateau({"patience": 1}, metrics, 1e-3, fits=fits, era="3.0")
    new = replay_plateau({"patience": 1}, metrics, 1e-3, fits=fits, era="3.11")
    assert old[1].reduced and not old[1].improved  # nan < inf is False: a bad epoch
    assert new[1].improved and not new[1].reduced
    assert new[1].state.best is not None and math.isnan(new[1].state.best)
    assert new[2].reduced  # nothing compares better than nan afterwards
    first_fit_nan = replay_plateau({"patience": 1}, [math.nan], 1e-3, era="3.11")
    assert first_fit_nan[0].reduced  # in the first fit best is already inf


def test_on_train_begin_resets_per_fit_but_keeps_lr():
    metrics = [1.0, 0.5, 0.4, 0.9, 0.9, 0.9]
    one_fit = replay_plateau({"patience": 1, "factor": 0.5}, metrics, 1e-3)
    two_fits = replay_plateau({"patience": 1, "factor": 0.5}, metrics, 1e-3, fits=[(0, 3), (3, 6)])
    assert [d.epoch for d in one_fit if d.reduced] == [3, 4, 5]
    assert [d.epoch for d in two_fits if d.reduced] == [4, 5]
    assert two_fits[3].improved and two_fits[3].state.best == 0.9
    assert two_fits[4].old_lr == np.float32(1e-3)  # the lr itself is not reset


@pytest.mark.parametrize(
    ("era", "numpy_major", "text"),
    [
        ("2.8", 1, "0.0007500000356230885"),
        ("3.11", 2, "0.0007500000356230885"),
        ("2.8", 2, "0.000750000006519258"),  # f"{np.float32}" widens (NEP 50 product)
        ("tf2.5", 2, "0.00075"),  # "%s" % np.float32 prints the short float32 repr
    ],
)
def test_printed_value_per_era_and_numpy(era, numpy_major, text):
    rlr = ReduceLROnPlateau(factor=0.75, patience=1, era=era, numpy_major=numpy_major)
    rlr.on_epoch_end(0, 1e-3, 1.0)
    decision = rlr.on_epoch_end(1, 1e-3, 2.0)
    assert decision.printed_text == text
    assert decision.printed == float(text)


def test_numpy2_product_is_float32_of_float32_factor():
    rlr = ReduceLROnPlateau(factor=0.1, patience=1, era="2.8", numpy_major=2)
    rlr.on_epoch_end(0, 0.05, 1.0)
    decision = rlr.on_epoch_end(1, 0.05, 2.0)
    assert decision.new_lr == np.float32(0.05) * np.float32(0.1)
    double = ReduceLROnPlateau(factor=0.1, patience=1, era="2.8", numpy_major=1)
    double.on_epoch_end(0, 0.05, 1.0)
    assert double.on_epoch_end(1, 0.05, 2.0).new_lr == np.float32(float(np.float32(0.05)) * 0.1)
    assert decision.new_lr != np.float32(float(np.float32(0.05)) * 0.1)  # the two really differ


@pytest.mark.parametrize(
    ("era", "message"),
    [
        ("2.0", "Epoch 00001: reducing learning rate to 0.0005000000237487257."),
        ("2.0.9", "Epoch 00002: reducing learning rate to 0.0005000000237487257."),
        ("2.1.6", "Epoch 00002: ReduceLROnPlateau reducing learning rate to 0.0005000000237487257."),
        ("3.0", "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.0005000000237487257."),
    ],
)
def test_message_format_per_era(era, message):
    rlr = ReduceLROnPlateau(factor=0.5, patience=0 if era in ("2.0", "2.0.9") else 1, era=era)
    rlr.on_epoch_end(0, 1e-3, 1.0)
    assert rlr.on_epoch_end(1, 1e-3, 2.0).message == message


def test_epsilon_alias_per_era():
    kwargs = {"epsilon": 0.5, "patience": 1}
    assert plateau_from_spec(kwargs, era="2.1.3").min_delta == 0.5
    assert plateau_from_spec(kwargs, era="2.8").min_delta == 0.5
    assert plateau_from_spec(kwargs, era="3.11").min_delta == 1e-4  # silently ignored


def test_invalid_construction_is_usage_error():
    with pytest.raises(UsageError, match=r"factor >= 1\.0"):
        ReduceLROnPlateau(factor=1.5)
    with pytest.raises(UsageError, match="unknown Keras callback era"):
        ReduceLROnPlateau(era="9.9")


@pytest.mark.parametrize(
    ("keras", "tensorflow", "era"),
    [
        ("2.0.5", None, "2.0"), ("2.1.0", None, "2.0.9"), ("2.1.4", None, "2.1.3"),
        ("2.2.4", None, "2.1.6"), ("2.4.3", "2.3.0", "2.1.6"), ("2.4.3", "2.5.0", "tf2.5"),
        ("2.7.0", None, "tf2.5"), ("2.15.0", None, "2.8"), ("3.10.0", None, "3.0"),
        ("3.15.1", None, "3.11"), (None, "2.4.1", "2.1.6"), ("2", None, "2.8"), ("3", None, "3.11"),
    ],
)
def test_plateau_era_from_versions(keras, tensorflow, era):
    assert plateau_era(keras, tensorflow) == era
    assert era in PLATEAU_ERAS


# ---------------------------------------------------------------------------- properties

metric_lists = st.lists(
    st.one_of(st.floats(-10, 10, allow_nan=False), st.none()), min_size=1, max_size=30
)


@settings(max_examples=150, deadline=None)
@given(
    metrics=metric_lists,
    era=st.sampled_from(list(PLATEAU_ERAS)),
    factor=st.floats(0.01, 0.99),
    patience=st.integers(1, 4),
    min_lr=st.sampled_from([0, 0.0, 1e-7, 1e-5, 3e-4]),
    lr=st.floats(1e-6, 1.0),
    numpy_major=st.sampled_from([1, 2]),
)
def test_reduction_invariants(metrics, era, factor, patience, min_lr, lr, numpy_major):
    kwargs = {"factor": factor, "patience": patience, "min_lr": min_lr, "mode": "min"}
    decisions = replay_plateau(kwargs, metrics, lr, era=era, numpy_major=numpy_major)
    reductions = [d for d in decisions if d.reduced]
    floor = np.float32(min_lr)
    for d in reductions:
        # never below the float32 floor, and never a raise of a value above the floor
        assert d.new_lr >= floor
        if floor < d.old_lr:
            assert d.new_lr <= d.old_lr
        double_product = np.float32(float(d.old_lr) * factor)
        float32_product = np.float32(d.old_lr) * np.float32(factor)
        assert d.new_lr in (double_product, float32_product, floor)
    epochs = [d.epoch for d in reductions]
    assert all(b - a >= patience for a, b in itertools.pairwise(epochs))
    # the lr seen at each epoch end is the previous stored value (no other writer here)
    current = np.float32(lr)
    for d in decisions:
        assert d.old_lr == current
        current = d.new_lr if d.reduced else current


# ---------------------------------------------------------------------------- scheduler

SCHEDULER_RUNS = [
    "e2_rmsprop_decay_lrscheduler",
    "k2_lrscheduler_halving",
    "e2_scheduler_then_plateau_conflict",
]


@pytest.mark.parametrize("name", SCHEDULER_RUNS)
def test_scheduler_replay_from_the_users_file(name):
    meta = _run_json(name)
    function_name = _callback_args(meta, "LearningRateScheduler")["arg0"]
    schedule = load_schedule_function(f"{FIXTURES / 'runs' / name / 'lr_schedule.py'}:{function_name}")
    lr_during = _lr_variable_per_epoch(_truth(name))
    decisions = replay_scheduler(schedule, range(meta["epochs"]), float(lr_during[0]))
    printed = [(int(e), text) for e, text in LRS_MESSAGE.findall(_console(name))]
    assert [(d.epoch + 1, d.printed_text) for d in decisions] == printed
    assert {d.epoch: d.new_lr for d in decisions} == lr_during


def test_scheduler_values_from_printed_events():
    events = [
        CallbackEvent("scheduler_set", 0, 0.04, "0.04", "console.log:10"),
        CallbackEvent("plateau_reduction", 1, 0.01, "0.01", "console.log:11"),
        CallbackEvent("scheduler_set", 1, 0.01, "0.01", "console.log:12"),
        CallbackEvent("scheduler_set", None, 0.5, "0.5", "console.log:13"),
    ]
    assert scheduler_values_from_log(events) == {0: np.float32(0.04), 1: np.float32(0.01)}


def test_schedule_called_with_epoch_and_lr_then_epoch_only():
    seen = []

    def two_args(epoch, lr):
        seen.append((epoch, lr))
        return lr * 0.5

    def one_arg(epoch):
        return 0.1 / (epoch + 1)

    decisions = replay_scheduler(two_args, range(2, 4), 0.2)  # initial_epoch=2
    assert seen == [(2, float(np.float32(0.2))), (3, float(np.float32(float(np.float32(0.2)) * 0.5)))]
    expected = f"Epoch 3: LearningRateScheduler setting learning rate to {decisions[0].returned}."
    assert decisions[0].message == expected
    assert call_schedule(one_arg, 3, 0.5) == 0.025


def test_type_error_inside_the_schedule_falls_back_like_keras():
    calls = []

    def picky(epoch, lr=None):
        calls.append(lr)
        if lr is not None:
            raise TypeError("not this way")
        return 0.01

    assert call_schedule(picky, 0, 0.1) == 0.01
    assert calls == [0.1, None]


def test_scheduler_message_formats():
    scheduler = LearningRateScheduler(lambda epoch: 0.5, message_format="reducing")
    assert scheduler.on_epoch_begin(0, 1.0).message == (
        "Epoch 00001: LearningRateScheduler reducing learning rate to 0.5."
    )
    returned = np.float32(0.1)
    tensorish = LearningRateScheduler(lambda epoch, lr: returned, message_format="fstring")
    decision = tensorish.on_epoch_begin(4, 1.0)
    assert decision.printed_text == f"{returned}" and decision.new_lr == returned
    with pytest.raises(UsageError):
        LearningRateScheduler(lambda e: 0.1, message_format="loud")


def test_schedule_function_from_module(tmp_path, monkeypatch):
    (tmp_path / "my_schedules.py").write_text("def cosine(epoch, lr):\n    return 0.25\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    function = load_schedule_function("my_schedules:cosine")
    assert call_schedule(function, 0, 1.0) == 0.25


@pytest.mark.parametrize(
    ("reference", "content", "message"),
    [
        ("missing_dir/none.py:fn", None, "does not exist"),
        ("{tmp}/sched.py:other", "def fn(epoch, lr):\n    return 0.1\n", "no function 'other'"),
        ("{tmp}/sched.py:fn", "raise RuntimeError('boom')\n", "RuntimeError: boom"),
        ("no_such_module_lraudit_test:fn", None, "not found"),
        ("nocolon", None, "must be given as"),
    ],
)
def test_schedule_loading_errors_are_one_line(tmp_path, reference, content, message):
    if content is not None:
        (tmp_path / "sched.py").write_text(content)
    with pytest.raises(LrauditError, match=message) as info:
        load_schedule_function(reference.format(tmp=tmp_path))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (lambda epoch, lr: 1 / 0, "ZeroDivisionError"),
        (lambda epoch, lr: 1, "returned 1"),
        (lambda epoch, lr: "0.1", "Keras requires a float"),
    ],
)
def test_schedule_failures_are_usage_errors(function, message):
    with pytest.raises(UsageError, match=message) as info:
        call_schedule(function, 2, 0.1)
    assert "\n" not in str(info.value)


def test_early_stopping_spec():
    spec = EarlyStoppingSpec.from_kwargs({"monitor": "val_acc", "patience": 3, "verbose": 1})
    assert (spec.monitor, spec.patience, spec.extra) == ("val_acc", 3, {"verbose": 1})
    assert monitor_missing(spec.monitor, ["loss", "val_loss", "lr"])
    assert not monitor_missing("val_loss", ["loss", "val_loss", "lr"])
