"""``--optimizer`` / ``--callback`` expressions: every accepted form, every rejection, no evaluation."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lraudit.errors import InputError, UsageError
from lraudit.semantics.expressions import (
    load_optimizer_arg,
    parse_callback_expr,
    parse_optimizer_expr,
)
from lraudit.semantics.specs import ScheduleSpec


def test_adam_lr_alias_and_decay_keep_raw_and_leave_generation_open():
    spec = parse_optimizer_expr("Adam(lr=1e-3, decay=1e-2)")
    assert (spec.class_name, spec.generation) == ("Adam", None)
    assert (spec.learning_rate, spec.decay) == (1e-3, 1e-2)
    assert spec.raw == {"lr": 1e-3, "decay": 1e-2}
    assert spec.source == "--optimizer"


def test_schedule_positional_arguments_follow_the_constructor():
    spec = parse_optimizer_expr("SGD(learning_rate=ExponentialDecay(0.1, 1000, 0.96))")
    assert spec.learning_rate == ScheduleSpec(
        "ExponentialDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 1000, "decay_rate": 0.96, "staircase": False},
    )
    assert spec.decay == 0.0


def test_legacy_prefix_sets_generation():
    spec = parse_optimizer_expr("tf.keras.optimizers.legacy.RMSprop(learning_rate=1e-3, decay=1e-2)")
    assert (spec.class_name, spec.generation, spec.learning_rate, spec.decay) == (
        "RMSprop", "k2-legacy", 1e-3, 1e-2,
    )
    assert parse_optimizer_expr("optimizers.legacy.SGD(0.1)").generation == "k2-legacy"
    assert parse_optimizer_expr("tf_keras.optimizers.Adam()").generation == "k2-new"
    assert parse_optimizer_expr("keras.optimizers.Adam()").generation is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SGD(0.1, 0.9, True)", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
        ("Ftrl(0.1, -0.5)", {"learning_rate": 0.1, "learning_rate_power": -0.5}),
        ("Nadam(lr=0.002, schedule_decay=0.004)", {"lr": 0.002, "schedule_decay": 0.004}),
        ("AdamW(1e-3, 1e-2)", {"learning_rate": 1e-3, "weight_decay": 1e-2}),
        (
            "SGD(learning_rate=+0.5, name='opt', clipnorm=None)",
            {"learning_rate": 0.5, "name": "opt", "clipnorm": None},
        ),
    ],
)
def test_positional_and_keyword_arguments_are_named(text, expected):
    assert parse_optimizer_expr(text).raw == expected


def test_defaults_and_special_fields():
    assert parse_optimizer_expr("SGD()").learning_rate == 0.01
    adamw = parse_optimizer_expr("AdamW()")
    assert adamw.weight_decay == 0.004 and adamw.raw == {}
    accumulating = parse_optimizer_expr("SGD(0.1, gradient_accumulation_steps=2)")
    assert accumulating.gradient_accumulation_steps == 2
    both = parse_optimizer_expr("Adam(learning_rate=0.1, lr=0.2)")
    assert both.learning_rate == 0.2 and both.raw == {"learning_rate": 0.1, "lr": 0.2}


@pytest.mark.parametrize(
    ("text", "class_name", "config"),
    [
        (
            "keras.optimizers.schedules.PiecewiseConstantDecay([30, 75], [0.1, 0.05, 0.01])",
            "PiecewiseConstantDecay", {"boundaries": [30, 75], "values": [0.1, 0.05, 0.01]},
        ),
        (
            "schedules.PolynomialDecay(0.1, 40, end_learning_rate=0.01, power=2.0, cycle=True)",
            "PolynomialDecay",
            {"initial_learning_rate": 0.1, "decay_steps": 40, "end_learning_rate": 0.01, "power": 2.0,
             "cycle": True},
        ),
        (
            "CosineDecay(initial_learning_rate=0.0, decay_steps=100, alpha=0.1, warmup_target=0.02, "
            "warmup_steps=23)",
            "CosineDecay",
            {"initial_learning_rate": 0.0, "decay_steps": 100, "alpha": 0.1, "warmup_target": 0.02,
             "warmup_steps": 23},
        ),
        (
            "tf.keras.experimental.CosineDecayRestarts(0.08, first_decay_steps=18, m_mul=0.6)",
            "CosineDecayRestarts",
            {"initial_learning_rate": 0.08, "first_decay_steps": 18, "t_mul": 2.0, "m_mul": 0.6,
             "alpha": 0.0},
        ),
        (
            "InverseTimeDecay(0.1, 10, 0.5, True, 'inv')",
            "InverseTimeDecay",
            {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5, "staircase": True,
             "name": "inv"},
        ),
    ],
)
def test_every_schedule_class(text, class_name, config):
    spec = parse_optimizer_expr(f"tf.keras.optimizers.legacy.SGD(learning_rate={text}, decay=1e-2)")
    assert spec.learning_rate == ScheduleSpec(class_name, config)
    assert spec.raw["decay"] == 1e-2


def test_callbacks():
    plateau = parse_callback_expr("ReduceLROnPlateau(monitor='val_loss', factor=0.75, patience=3)")
    assert (plateau.class_name, plateau.kwargs) == (
        "ReduceLROnPlateau", {"monitor": "val_loss", "factor": 0.75, "patience": 3},
    )
    assert plateau.source == "--callback"
    positional = parse_callback_expr("keras.callbacks.ReduceLROnPlateau('val_acc', 0.5, 2, epsilon=1e-3)")
    assert positional.kwargs == {"monitor": "val_acc", "factor": 0.5, "patience": 2, "epsilon": 1e-3}
    stopping = parse_callback_expr("tf.keras.callbacks.EarlyStopping(monitor='val_accuracy', patience=5)")
    assert stopping.kwargs == {"monitor": "val_accuracy", "patience": 5}


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("LearningRateScheduler(path/to/file.py:fn)", "path/to/file.py:fn"),
        ("LearningRateScheduler(schedules/lr.py:step_decay, verbose=1)", "schedules/lr.py:step_decay"),
        ("LearningRateScheduler(my_pkg.schedules:halve)", "my_pkg.schedules:halve"),
        ("LearningRateScheduler('C:/runs/lr.py:fn', 1)", "C:/runs/lr.py:fn"),
        ("tf.keras.callbacks.LearningRateScheduler(schedule='mod:fn')", "mod:fn"),
    ],
)
def test_scheduler_function_reference_kept_as_string(text, reference):
    spec = parse_callback_expr(text)
    assert spec.class_name == "LearningRateScheduler"
    assert spec.kwargs["schedule"] == reference


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('x')", "only a call of a known class"),
        ("Adam(lr=x)", "must be a literal"),
        ("Adam(**d)", r"\*\*kwargs are not allowed"),
        ("Adam(*a)", r"\*args are not allowed"),
        ("lambda: 1", "expected a call"),
        ("Adam(learning_rate=1e-3, foo=1)", "unknown argument 'foo' for Adam"),
        ("Adam(", "not a valid expression"),
        ("Adamw(learning_rate=1e-3)", "unknown optimizer 'Adamw' in --optimizer .*did you mean 'AdamW'"),
        ("ExponentialDecay(0.1, 10, 0.9)", "a schedule must be the optimizer's learning_rate"),
        ("Adam(learning_rate=1e-3)(1)", "only a call of a known class"),
        ("os.path.Adam()", "unknown optimizer"),
        ("Adam(learning_rate=1e-3, learning_rate=2e-3)", "given twice"),
        ("Adam(0.1, 0.9, 0.9, 1e-7, False, 7)", "at most 5 positional"),
        ("SGD(learning_rate=ExponentialDecay(0.1, 1000))", "needs decay_rate"),
        ("SGD(learning_rate=ExpDecay(0.1, 1000, 0.9))", "unknown schedule 'ExpDecay'"),
        ("SGD(learning_rate='fast')", "learning_rate must be a number"),
        ("SGD(learning_rate=1e-3, momentum=1 + 1)", "must be a literal"),
        ("SGD(momentum=[x for x in y])", "must be a literal"),
        ("SGD(learning_rate=b'1')", "must be a number, string"),
        ("Adam(decay='x')", "decay must be a number"),
        ("", "empty expression"),
    ],
)
def test_rejected_optimizer_expressions(text, message):
    with pytest.raises(UsageError, match=message) as info:
        parse_optimizer_expr(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ReduceLROnPlateau(monitor=metric)", "must be a literal"),
        ("ReduceLROnPlateau(factor=1.5)", r"factor >= 1\.0"),
        ("ReduceLROnPlateau(montor='val_loss')", "unknown argument 'montor'"),
        ("ReduceLROnPLateau()", "did you mean 'ReduceLROnPlateau'"),
        ("ModelCheckpoint('x.h5')", "unknown callback 'ModelCheckpoint'"),
        ("LearningRateScheduler(step_decay)", "path/to/file.py:function"),
        ("LearningRateScheduler(lambda e: 0.1)", "path/to/file.py:function"),
        ("LearningRateScheduler()", "needs schedule"),
        ("LearningRateScheduler('mod:fn', verbose=1, schedule='x:y')", "given twice"),
    ],
)
def test_rejected_callback_expressions(text, message):
    with pytest.raises(UsageError, match=message) as info:
        parse_callback_expr(text)
    assert "\n" not in str(info.value)


def test_nothing_is_ever_evaluated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "evaluated"
    attempts = [
        f"__import__('pathlib').Path({str(marker)!r}).touch()",
        f"Adam(learning_rate=open({str(marker)!r}, 'w').write('1'))",
        f"SGD(learning_rate=ExponentialDecay(open({str(marker)!r}, 'w').write('1'), 1, 1))",
        f"Adam(name=print(open({str(marker)!r}, 'w')))",
    ]
    for text in attempts:
        with pytest.raises(UsageError):
            parse_optimizer_expr(text)
        with pytest.raises(UsageError):
            parse_callback_expr(text.replace("Adam", "EarlyStopping").replace("SGD", "EarlyStopping"))
    with pytest.raises(UsageError):
        parse_callback_expr(f"LearningRateScheduler(open({str(marker)!r}, 'w'))")
    assert not marker.exists()
    assert list(tmp_path.iterdir()) == []


def test_load_optimizer_arg(tmp_path):
    config = tmp_path / "optimizer.json"
    config.write_text(json.dumps({"name": "Adam", "learning_rate": 0.001}))
    assert load_optimizer_arg(str(config)) == ("file", config)
    kind, spec = load_optimizer_arg("Adam(lr=1e-3, decay=1e-2)")
    assert kind == "expr" and spec.raw == {"lr": 1e-3, "decay": 1e-2}
    with pytest.raises(InputError, match="does not exist"):
        load_optimizer_arg(str(tmp_path / "missing.json"))
    with pytest.raises(InputError, match="does not exist"):
        load_optimizer_arg("runs/model.h5")
    with pytest.raises(UsageError):
        load_optimizer_arg("Adam(lr=")


@settings(max_examples=100, deadline=None)
@given(
    lr=st.floats(min_value=1e-12, max_value=10.0, allow_nan=False, allow_infinity=False),
    decay=st.floats(min_value=0.0, max_value=1.0),
    negative=st.booleans(),
)
def test_numbers_round_trip_exactly(lr, decay, negative):
    sign = "-" if negative else ""
    spec = parse_optimizer_expr(
        f"legacy.SGD(learning_rate={lr!r}, decay={decay!r}, momentum={sign}{decay!r})"
    )
    assert spec.learning_rate == lr and spec.decay == decay
    assert spec.raw["momentum"] == (-decay if negative else decay)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text_never_crashes_with_anything_but_usage_error(text):
    try:
        spec = parse_optimizer_expr(text)
    except UsageError as exc:
        assert "\n" not in str(exc)
    else:
        assert spec.class_name
