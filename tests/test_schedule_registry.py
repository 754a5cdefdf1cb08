"""Every registered schedule, end to end: parsed from ``--optimizer``, described by ``explain``,
evaluated in float32 by every executor and checked at a point computed by hand (as Keras' own
``learning_rate_schedule_test.py`` does); plus the invariants the formulas promise."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lraudit.errors import UsageError
from lraudit.explain import explain_optimizer
from lraudit.semantics.expressions import parse_optimizer_expr
from lraudit.semantics.optimizers import optimizer_spec_from_config
from lraudit.semantics.schedules import (
    EXECUTORS,
    SCHEDULES,
    CosineDecay,
    CosineDecayRestarts,
    LinearCosineDecay,
    PiecewiseConstantDecay,
    schedule_from_spec,
)
from lraudit.semantics.specs import ScheduleSpec

REL = 3e-6  # a few float32 ulps (graph/XLA rewrites move the last bits)


@dataclass
class Example:
    """One schedule as written, the numbers its description must show and hand-computed values."""

    arguments: str
    key_numbers: tuple[str, ...]
    #: optimizer step -> value, each computed by hand in the comment next to it
    points: dict[int, float]


EXAMPLES = {
    "ExponentialDecay": Example(
        "0.1, 100, 0.5",
        ("0.1", "0.5", "100"),
        {200: 0.1 * 0.5**2},  # 0.1 * 0.5^(200/100) = 0.025
    ),
    "InverseTimeDecay": Example(
        "0.1, decay_steps=10, decay_rate=0.5",
        ("0.1", "0.5", "10"),
        {20: 0.1 / (1 + 0.5 * 2)},  # 0.1 / (1 + 0.5 * 20/10) = 0.05
    ),
    "PiecewiseConstantDecay": Example(
        "[30, 75], [0.1, 0.05, 0.01]",
        ("0.1", "30", "0.05", "75", "0.01"),
        {30: 0.1, 31: 0.05, 76: 0.01},  # a boundary belongs to the value before it
    ),
    "PolynomialDecay": Example(
        "0.1, 100, end_learning_rate=0.01, power=2.0",
        ("0.1", "0.01", "100", "2"),
        {50: (0.1 - 0.01) * 0.5**2 + 0.01, 150: 0.01},  # 0.09 * (1 - 50/100)^2 + 0.01 = 0.0325
    ),
    "CosineDecay": Example(
        "0.0, 100, alpha=0.1, warmup_target=0.2, warmup_steps=10",
        ("0.2", "100", "0.1", "0.02"),  # peak, decay steps, alpha, alpha*peak
        {
            5: 0.2 * 5 / 10,  # warm-up: 0 + (0.2 - 0) * 5/10 = 0.1
            60: 0.2 * (0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)) + 0.1),  # (60-10)/100: 0.2*0.55 = 0.11
            110: 0.2 * 0.1,  # the floor alpha * peak
        },
    ),
    "CosineDecayRestarts": Example(
        "0.1, 20, t_mul=2.0, m_mul=0.5, alpha=0.0",
        ("20", "2", "0.1", "0.5"),
        {
            20: 0.1 * 0.5,  # restart 1 at 20: peak 0.1 * m_mul^1
            30: 0.1 * 0.5 * 0.5 * (1 + math.cos(math.pi * 0.25)),  # 10 into the 40-step period 1
        },
    ),
    "LinearCosineDecay": Example(
        "0.1, 200, num_periods=0.5, alpha=0.0, beta=0.001",
        ("0.1", "200", "0.5", "0.001"),
        {
            100: 0.1 * (0.5 * 0.5 + 0.001),  # linear 1/2, cosine 0.5*(1+cos(pi/2)) = 1/2: 0.0251
            200: 0.1 * 0.001,  # the end: beta * init = 1e-4
        },
    ),
}


def test_every_registered_schedule_has_an_example() -> None:
    assert set(EXAMPLES) == set(SCHEDULES)


@pytest.mark.parametrize("class_name", sorted(SCHEDULES))
def test_parse_describe_evaluate(class_name: str) -> None:
    example = EXAMPLES[class_name]
    spec = parse_optimizer_expr(f"SGD(learning_rate={class_name}({example.arguments}))")
    assert isinstance(spec.learning_rate, ScheduleSpec)
    assert spec.learning_rate.class_name == class_name

    explanation = explain_optimizer(spec, steps_per_epoch=10, epochs=3, keras="3")
    words = explanation.schedule[0]
    assert words.startswith(class_name)
    for number in example.key_numbers:
        assert number in words, (number, words)

    schedule = schedule_from_spec(spec.learning_rate)
    steps = np.array(sorted(example.points), dtype=np.int64)
    expected = np.array([example.points[int(s)] for s in steps])
    for executor in EXECUTORS:
        values = schedule(np.arange(0, 400, dtype=np.int64), executor=executor)
        assert values.dtype == np.float32 and np.all(np.isfinite(values)), executor
        np.testing.assert_allclose(schedule(steps, executor=executor), expected, rtol=REL, err_msg=executor)


def test_signature_is_the_keras_constructor() -> None:
    # Keras' CosineDecay takes `name` fourth: positional arguments follow the real signature
    spec = parse_optimizer_expr("SGD(CosineDecay(0.0, 100, 0.1, 'cos', 0.2, 10))").learning_rate
    assert spec.config == {
        "initial_learning_rate": 0.0, "decay_steps": 100, "alpha": 0.1, "name": "cos",
        "warmup_target": 0.2, "warmup_steps": 10,
    }  # fmt: skip
    params = {p.name: p for p in CosineDecay.signature()}
    assert params["initial_learning_rate"].required and not params["alpha"].required
    assert params["warmup_steps"].default == 0


@pytest.mark.parametrize(
    "text, message",
    [
        ("SGD(ExponentialDecay(0.1, 0, 0.5))", "`decay_steps` must be > 0"),
        ("SGD(CosineDecayRestarts(0.1, -5))", "`first_decay_steps` must be > 0"),
        ("SGD(PiecewiseConstantDecay([10, 20], [0.1, 0.01]))", "1 less than the length of values"),
        ("SGD(PolynomialDecay(0.1, 'ten'))", "`decay_steps` must be a number"),
        ("SGD(tf.keras.experimental.LinearCosineDecay(0.1, 100, beta=None))", "`beta` must be a number"),
    ],
)
def test_invalid_arguments_are_usage_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_optimizer_expr(text)


def test_legacy_alias_in_a_config_becomes_the_class() -> None:
    cfg = {
        "class_name": "SGD",
        "config": {
            "learning_rate": {
                "class_name": "PiecewiseConstant",
                "config": {"boundaries": [5], "values": [0.1, 0.01], "name": None},
            }
        },
    }
    spec = optimizer_spec_from_config(cfg)
    assert spec.learning_rate.class_name == "PiecewiseConstantDecay"
    assert isinstance(schedule_from_spec(spec.learning_rate), PiecewiseConstantDecay)


def test_explain_shows_the_floor_of_linear_cosine_decay() -> None:
    spec = parse_optimizer_expr("SGD(LinearCosineDecay(0.1, 20))")
    explanation = explain_optimizer(spec, steps_per_epoch=10, epochs=3, keras="2")
    assert explanation.floor is not None
    # init * (0 * c + beta) in float32: f32(0.1) * f32(0.001), one ulp above f32(1e-4)
    floor = str(np.float32(0.1) * np.float32(0.001))
    assert explanation.floor.startswith(f"Floor: {floor} = beta*0.1 (beta=0.001)")
    assert "reached at update 20" in explanation.floor
    keras3 = explain_optimizer(spec, steps_per_epoch=10, epochs=3, keras="3")
    assert any("does not exist in Keras 3" in note for note in keras3.notes)


# ----------------------------------------------------------------------------- invariants

lrs = st.floats(1e-5, 1.0)
executors = st.sampled_from(EXECUTORS)
step_arrays = st.lists(st.integers(0, 5_000), min_size=2, max_size=50).map(lambda v: np.sort(np.array(v)))


@settings(max_examples=60, deadline=None)
@given(
    lr=lrs, ds=st.integers(1, 500), alpha=st.floats(0.0, 1.0), beta=st.floats(0.0, 0.1), ex=executors,
    steps=step_arrays,
)  # fmt: skip
def test_linear_cosine_decay_half_period_is_monotone(lr, ds, alpha, beta, ex, steps) -> None:
    """num_periods=0.5: a non-increasing linear factor times a non-increasing cosine."""
    values = LinearCosineDecay(lr, ds, num_periods=0.5, alpha=alpha, beta=beta)(steps, executor=ex)
    assert np.all(np.diff(values) <= 0)
    assert np.all(values[steps >= ds] == values[-1])  # constant once the decay is over


@settings(max_examples=60, deadline=None)
@given(
    bounds=st.lists(st.integers(1, 400), min_size=1, max_size=5, unique=True).map(sorted),
    data=st.data(),
    step_dtype=st.sampled_from(["int", "float32"]),
)
def test_piecewise_is_constant_between_boundaries(bounds, data, step_dtype) -> None:
    values = data.draw(st.lists(lrs, min_size=len(bounds) + 1, max_size=len(bounds) + 1))
    schedule = PiecewiseConstantDecay(bounds, values)
    edges = [0, *[b + 1 for b in bounds]]  # value i holds on (b[i-1], b[i]]
    for i, (low, high) in enumerate(zip(edges, [*edges[1:], edges[-1] + 50], strict=True)):
        got = schedule(np.arange(low, high, dtype=np.int64), step_dtype=step_dtype)
        assert np.all(got == np.float32(values[i]))


@settings(max_examples=40, deadline=None)
@given(
    lr=lrs, first=st.integers(2, 60), alpha=st.floats(0.0, 0.5), m_mul=st.floats(0.3, 1.0),
    ex=executors, period=st.integers(0, 3),
)  # fmt: skip
def test_cosine_restarts_non_increasing_within_a_period(lr, first, alpha, m_mul, ex, period) -> None:
    schedule = CosineDecayRestarts(lr, first, t_mul=1.0, m_mul=m_mul, alpha=alpha)
    # compiled executors multiply by f32(1/first): at a restart step the fraction may round to just
    # below the period's end (the old period's last value, as TensorFlow computes it): skip that step
    start = period * first + (0 if ex == "eager" else 1)
    inside = np.arange(start, (period + 1) * first, dtype=np.int64)
    values = schedule(inside, executor=ex)
    assert np.all(np.diff(values) <= 0)
    assert np.all(values >= np.float32(alpha * lr) * (1 - 1e-6))


def test_facts_the_rules_read() -> None:
    warm = CosineDecay(0.05, 40, alpha=0.2, warmup_target=0.01, warmup_steps=10)
    assert warm.warmup() is not None and warm.warmup().target < warm.warmup().start  # LRA019
    assert warm.floor().step == 50 and warm.lengths() == {"decay_steps": 40.0}  # explain, LRA018
    assert CosineDecay(0.0, 10, warmup_target=0.1, warmup_steps=3).zero_lr_cause() == (
        "the warm-up starts at initial_learning_rate=0"
    )  # LRA020
    assert PiecewiseConstantDecay([5, 9], [0.1, 0.01, 0.0]).lengths() == {"boundaries": 9.0}
    assert CosineDecayRestarts(0.1, 20).floor() is None  # it keeps restarting
