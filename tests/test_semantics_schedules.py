"""Schedules against closed forms written here (float64, with a tolerance) and their invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lraudit.errors import InputError
from lraudit.semantics.schedules import (
    EXECUTORS,
    CosineDecay,
    CosineDecayRestarts,
    ExponentialDecay,
    InverseTimeDecay,
    LinearCosineDecay,
    PiecewiseConstantDecay,
    PolynomialDecay,
    Schedule,
    schedule_from_spec,
)
from lraudit.semantics.specs import ScheduleSpec

STEPS = np.arange(0, 400, dtype=np.int64)
REL = 3e-6  # a few float32 ulps


@pytest.mark.parametrize("executor", EXECUTORS)
def test_exponential_decay_closed_form(executor: str) -> None:
    got = ExponentialDecay(0.05, 10, 0.96)(STEPS, executor=executor)
    np.testing.assert_allclose(got, 0.05 * 0.96 ** (STEPS / 10), rtol=REL)
    stair = ExponentialDecay(0.1, 30, 0.9, staircase=True)(STEPS, executor=executor)
    np.testing.assert_allclose(stair, 0.1 * 0.9 ** np.floor(STEPS / 30), rtol=REL)


def test_staircase_changes_exactly_at_multiples_of_decay_steps() -> None:
    values = ExponentialDecay(0.01, 30, 0.9, staircase=True)(np.array([29, 30, 59, 60]), executor="tf-graph")
    assert values[0] == np.float32(0.01) and values[1] < values[0]
    assert values[1] == values[2] and values[3] < values[2]


def test_piecewise_boundaries_are_inclusive_on_the_right() -> None:
    schedule = PiecewiseConstantDecay(boundaries=[30, 75], values=[0.1, 0.05, 0.01])
    got = schedule(np.array([0, 30, 31, 75, 76, 10_000]))
    assert got.tolist() == [np.float32(v) for v in (0.1, 0.1, 0.05, 0.05, 0.01, 0.01)]


def test_piecewise_float_boundary_truncated_for_int_steps_not_for_float_steps() -> None:
    schedule = PiecewiseConstantDecay(boundaries=[2.5], values=[1.0, 0.5])
    assert schedule(np.array([2, 3]), step_dtype="int").tolist() == [1.0, 0.5]  # boundary int(2.5) = 2
    assert schedule(np.array([2, 3]), step_dtype="int")[0] == 1.0
    assert schedule(np.array([2, 3]), step_dtype="float32").tolist() == [1.0, 0.5]
    assert (
        PiecewiseConstantDecay(boundaries=[2.5], values=[1.0, 0.5])(np.array([2]), step_dtype="float32")[0]
        == 1
    )


def test_piecewise_length_mismatch_is_an_input_error() -> None:
    with pytest.raises(InputError):
        PiecewiseConstantDecay(boundaries=[1, 2], values=[1.0, 0.5])


@pytest.mark.parametrize("executor", ["eager", "tf-graph"])
def test_polynomial_decay_closed_form(executor: str) -> None:
    got = PolynomialDecay(0.1, 100, 0.01, power=2.0)(STEPS, executor=executor)
    s = np.minimum(STEPS, 100)
    np.testing.assert_allclose(got, 0.09 * (1 - s / 100) ** 2 + 0.01, rtol=REL)


def test_polynomial_cycle_closed_form() -> None:
    got = PolynomialDecay(0.1, 40, 0.01, power=2.0, cycle=True)(STEPS)
    d = 40 * np.maximum(1, np.ceil(STEPS / 40))
    np.testing.assert_allclose(got, 0.09 * (1 - STEPS / d) ** 2 + 0.01, rtol=REL)


def test_polynomial_under_xla_applies_nan_past_decay_steps_for_fractional_power() -> None:
    """reference §1.8: 1 - 30*f32(1/30) fused is -5.2e-8, and (-5.2e-8)**1.5 is NaN."""
    schedule = PolynomialDecay(0.05, 30, 0.002, power=1.5)
    assert np.isnan(schedule(np.array([30, 31, 100]), executor="xla")).all()
    assert schedule(np.array([30, 100]), executor="eager").tolist() == [np.float32(0.002)] * 2


@pytest.mark.parametrize("executor", EXECUTORS)
def test_inverse_time_closed_form(executor: str) -> None:
    got = InverseTimeDecay(0.1, 10, 0.5)(STEPS, executor=executor)
    np.testing.assert_allclose(got, 0.1 / (1 + 0.5 * STEPS / 10), rtol=REL)
    stair = InverseTimeDecay(0.1, 10, 0.5, staircase=True)(STEPS, executor=executor)
    np.testing.assert_allclose(stair, 0.1 / (1 + 0.5 * np.floor(STEPS / 10)), rtol=REL)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_cosine_decay_closed_form(executor: str) -> None:
    got = CosineDecay(0.06, 70, alpha=0.05)(STEPS, executor=executor)
    s = np.minimum(STEPS, 70)
    expected = 0.06 * ((1 - 0.05) * 0.5 * (1 + np.cos(np.pi * s / 70)) + 0.05)
    np.testing.assert_allclose(got, expected, rtol=REL)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_cosine_decay_with_warmup_closed_form(executor: str) -> None:
    got = CosineDecay(0.0, 100, alpha=0.1, warmup_target=0.02, warmup_steps=23)(STEPS, executor=executor)
    s = np.minimum(STEPS, 123)
    warm = 0.02 * s / 23
    decay = 0.02 * (0.9 * 0.5 * (1 + np.cos(np.pi * (s - 23) / 100)) + 0.1)
    np.testing.assert_allclose(got, np.where(s < 23, warm, decay), rtol=REL, atol=1e-12)
    assert got[0] == 0.0  # warm-up from 0: the first update trains nothing


def _restarts_reference(step, first, t_mul, m_mul, alpha):
    """SGDR written out: walk the periods (float64)."""
    out = []
    for s in step:
        start, period, i = 0.0, float(first), 0
        while s >= start + period:
            start += period
            period *= t_mul
            i += 1
        f = (s - start) / period
        out.append((1 - alpha) * 0.5 * m_mul**i * (1 + math.cos(math.pi * f)) + alpha)
    return np.array(out)


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("t_mul", [1.0, 2.0, 2.5])
def test_cosine_decay_restarts_closed_form(executor: str, t_mul: float) -> None:
    got = CosineDecayRestarts(0.08, 18, t_mul=t_mul, m_mul=0.6, alpha=0.02)(STEPS, executor=executor)
    expected = 0.08 * _restarts_reference(STEPS, 18, t_mul, 0.6, 0.02)
    np.testing.assert_allclose(got, expected, rtol=2e-5)


def test_linear_cosine_decay_closed_form() -> None:
    got = LinearCosineDecay(0.1, 200, num_periods=2.0, alpha=0.0, beta=0.001)(STEPS)
    s = np.minimum(STEPS, 200)
    linear = (200 - s) / 200
    cosine = 0.5 * (1 + np.cos(np.pi * 2 * 2.0 * s / 200))
    np.testing.assert_allclose(got, 0.1 * (linear * cosine + 0.001), rtol=1e-5, atol=1e-9)


def test_from_spec_accepts_keras_config_and_rejects_unknown() -> None:
    spec = ScheduleSpec(
        "ExponentialDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5, "staircase": True, "name": None},
    )
    schedule = Schedule.from_spec(spec)
    assert isinstance(schedule, ExponentialDecay) and schedule.staircase
    assert isinstance(ExponentialDecay.from_spec(spec), ExponentialDecay)
    with pytest.raises(InputError):
        schedule_from_spec(ScheduleSpec("MyCustomSchedule", {}))
    with pytest.raises(InputError):
        schedule_from_spec(ScheduleSpec("ExponentialDecay", {"initial_learning_rate": 0.1, "oops": 1}))
    with pytest.raises(InputError):
        schedule_from_spec(ScheduleSpec("ExponentialDecay", {"initial_learning_rate": 0.1}))


def test_unknown_executor_is_rejected() -> None:
    with pytest.raises(ValueError):
        ExponentialDecay(0.1, 10, 0.5)(STEPS, executor="gpu")


# ----------------------------------------------------------------------------- properties

lrs = st.floats(1e-5, 1.0)
periods = st.integers(1, 500)
executors = st.sampled_from(EXECUTORS)
step_arrays = st.lists(st.integers(0, 100_000), min_size=2, max_size=50).map(lambda v: np.sort(np.array(v)))


@settings(max_examples=60, deadline=None)
@given(lr=lrs, ds=periods, rate=st.floats(0.05, 0.99), ex=executors, steps=step_arrays)
def test_exponential_decay_is_monotone_non_increasing(lr, ds, rate, ex, steps) -> None:
    values = ExponentialDecay(lr, ds, rate)(steps, executor=ex)
    assert np.all(np.diff(values) <= 0)


@settings(max_examples=60, deadline=None)
@given(lr=lrs, ds=periods, rate=st.floats(0.05, 0.99), ex=executors, k=st.integers(0, 200))
def test_staircase_is_constant_between_boundaries(lr, ds, rate, ex, k) -> None:
    """Eager: constant on [k*ds, (k+1)*ds). Graph executors floor ``step * f32(1/ds)``, which can
    fall just below an integer at a multiple of ds (107 * f32(1/107) < 1), so only the open interior
    is guaranteed there: the step moves one update late, never inside the period."""
    first = k * ds if ex == "eager" else k * ds + 1
    steps = np.arange(first, (k + 1) * ds, dtype=np.int64)
    if steps.size == 0:  # ds == 1 under a graph executor: no interior
        return
    for schedule in (
        ExponentialDecay(lr, ds, rate, staircase=True),
        InverseTimeDecay(lr, ds, rate, staircase=True),
    ):
        values = schedule(steps, executor=ex)
        assert np.all(values == values[0])


def test_graph_staircase_can_change_one_step_late() -> None:
    """A consequence of the reciprocal rewrite (reference §1.8 rule 1) worth knowing."""
    assert np.float32(107) * (np.float32(1) / np.float32(107)) < 1
    schedule = ExponentialDecay(1.0, 107, 0.5, staircase=True)
    assert schedule(np.array([106, 107, 108]), executor="eager").tolist() == [1.0, 0.5, 0.5]
    assert schedule(np.array([106, 107, 108]), executor="tf-graph").tolist() == [1.0, 1.0, 0.5]


@settings(max_examples=60, deadline=None)
@given(lr=lrs, ds=periods, rate=st.floats(0.0, 10.0), ex=executors, steps=step_arrays)
def test_inverse_time_is_monotone_non_increasing(lr, ds, rate, ex, steps) -> None:
    assert np.all(np.diff(InverseTimeDecay(lr, ds, rate)(steps, executor=ex)) <= 0)


@settings(max_examples=60, deadline=None)
@given(
    lr=lrs,
    ds=periods,
    end_frac=st.floats(0.0, 0.9),
    power=st.sampled_from([0.5, 1.0, 2.0, 3.0]),
    ex=st.sampled_from(["eager", "tf-graph"]),
    steps=step_arrays,
)
def test_polynomial_without_cycle_is_monotone_and_never_below_end(lr, ds, end_frac, power, ex, steps) -> None:
    end = lr * end_frac
    values = PolynomialDecay(lr, ds, end, power=power)(steps, executor=ex)
    assert np.all(np.diff(values) <= 0)
    assert np.all(values >= np.float32(end))


@settings(max_examples=60, deadline=None)
@given(lr=st.floats(1e-3, 1.0), ds=st.integers(2, 200), ex=executors)
def test_polynomial_cycle_never_returns_to_initial_after_step_zero(lr, ds, ex) -> None:
    schedule = PolynomialDecay(lr, ds, lr / 10, power=2.0, cycle=True)
    values = schedule(np.arange(0, 5 * ds, dtype=np.int64), executor=ex)
    np.testing.assert_allclose(values[0], lr, rtol=REL)
    assert np.all(values[1:] < values[0])


@settings(max_examples=60, deadline=None)
@given(
    lr=lrs, ds=periods, alpha=st.floats(0.0, 0.5), warm=st.integers(0, 50), ex=executors, steps=step_arrays
)
def test_cosine_after_warmup_is_monotone(lr, ds, alpha, warm, ex, steps) -> None:
    target = lr if warm else None
    schedule = CosineDecay(lr / 2 if warm else lr, ds, alpha=alpha, warmup_target=target, warmup_steps=warm)
    after = steps[steps >= warm]
    assert np.all(np.diff(schedule(after, executor=ex)) <= 0)


@settings(max_examples=40, deadline=None)
@given(
    first=st.integers(2, 40), t_mul=st.sampled_from([1.0, 2.0, 3.0]), m_mul=st.floats(0.3, 1.0), ex=executors
)
def test_cosine_restarts_periodic_peaks_scale_by_m_mul(first, t_mul, m_mul, ex) -> None:
    schedule = CosineDecayRestarts(1.0, first, t_mul=t_mul, m_mul=m_mul, alpha=0.0)
    starts = [0]
    period = float(first)
    for _ in range(3):
        starts.append(round(starts[-1] + period))
        period *= t_mul
    peaks = schedule(np.array(starts), executor=ex)
    np.testing.assert_allclose(peaks, [m_mul**i for i in range(4)], rtol=1e-4)
    if t_mul == 1.0:  # plain periodicity (up to the m_mul scale)
        inside = np.arange(0, first)
        np.testing.assert_allclose(
            schedule(inside + first, executor=ex), m_mul * schedule(inside, executor=ex), rtol=1e-4, atol=1e-7
        )


# float32 bit patterns computed by jax.jit(keras.optimizers.schedules.CosineDecay(...)) with
# keras 3.15.1 / jax 0.10.2 on CPU (the arithmetic the JAX backend's compiled train step applies;
# the warm-up case was confirmed by the weight probe of fixtures/runs/n6_k3jax_*): steps where
# XLA's constant folding and fused multiply-add give other bits than the op-by-op expression.
XLA_COSINE_BITS = {
    "no warm-up": (
        dict(initial_learning_rate=0.06, decay_steps=70, alpha=0.05),
        {11: 1030214202, 18: 1028764198, 20: 1028247238, 22: 1027691872, 23: 1027401176,
         24: 1027102574, 25: 1026796673, 29: 1025512575, 30: 1025179661, 31: 1024843318},
    ),
    "warm-up from a non-zero start": (
        dict(initial_learning_rate=0.01, decay_steps=33, alpha=0.2, warmup_target=0.07, warmup_steps=7),
        {4: 1026909424, 18: 1030053953, 21: 1028067866, 24: 1025938221, 27: 1023837550,
         28: 1022936857, 29: 1021665342, 32: 1018302087, 35: 1015820219},
    ),
}


@pytest.mark.parametrize("case", sorted(XLA_COSINE_BITS))
def test_cosine_decay_under_xla_matches_the_jax_compiled_bits(case: str) -> None:
    kwargs, expected = XLA_COSINE_BITS[case]
    steps = np.array(sorted(expected), dtype=np.int64)
    ours = CosineDecay(**kwargs)(steps, executor="xla").view(np.uint32)
    assert ours.tolist() == [expected[int(step)] for step in steps]
