"""Optimizer configs of every era → OptimizerSpec, and the legacy-decay arithmetic per generation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lraudit.errors import InputError
from lraudit.semantics.optimizers import (
    backend_from_config,
    decay_applies,
    default_executor,
    effective_lr,
    executors_agree,
    optimizer_spec_from_config,
)
from lraudit.semantics.specs import OptimizerSpec, ScheduleSpec

RUNS = Path(__file__).resolve().parent.parent / "fixtures" / "runs"
F32 = np.float32


def _serialized(run: str) -> dict:
    return json.loads((RUNS / run / "optimizer_serialized.json").read_text())


def test_tf_keras_legacy_config_with_decay() -> None:
    spec = optimizer_spec_from_config(_serialized("k2_sgd_decay_probe"), source="x.json")
    assert (spec.class_name, spec.generation, spec.decay, spec.source) == (
        "SGD",
        "k2-legacy",
        0.001,
        "x.json",
    )
    assert F32(spec.learning_rate) == F32(0.1)  # widened float32 after training, same bits


def test_keras3_torch_config_names_its_backend() -> None:
    cfg = _serialized("k3_polynomial_cycle_probe")
    spec = optimizer_spec_from_config(cfg)
    assert spec.generation == "k3" and spec.backend == "torch" and backend_from_config(cfg) == "torch"
    assert isinstance(spec.learning_rate, ScheduleSpec) and spec.learning_rate.class_name == "PolynomialDecay"
    assert default_executor(spec) == "eager"


def test_keras3_gradient_accumulation_and_weight_decay() -> None:
    spec = optimizer_spec_from_config(_serialized("k3_grad_accum_probe"))
    assert spec.generation == "k3" and spec.gradient_accumulation_steps == 2 and spec.backend is None
    assert default_executor(spec) == "tf-graph"
    adam = optimizer_spec_from_config(_serialized("k3_adam_weightdecay_plateau_minlr"))
    assert adam.weight_decay == pytest.approx(0.01) and adam.class_name == "Adam"


def test_old_serialized_schedule_form_and_flat_get_config() -> None:
    cfg = {
        "class_name": "SGD",
        "config": {
            "name": "SGD",
            "learning_rate": {
                "class_name": "ExponentialDecay",
                "config": {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5},
            },
            "decay": 0.0,
            "momentum": 0.0,
            "nesterov": False,
        },
    }
    spec = optimizer_spec_from_config(cfg)
    assert spec.generation == "k2-legacy" and spec.learning_rate.class_name == "ExponentialDecay"
    flat = optimizer_spec_from_config(
        {"name": "adam", "learning_rate": 0.001, "use_ema": False, "loss_scale_factor": None}
    )
    assert flat.class_name == "Adam" and flat.generation == "k3"


def test_standalone_keras_lr_key_and_generation_hints() -> None:
    standalone = optimizer_spec_from_config(
        {"class_name": "SGD", "config": {"lr": 0.1, "decay": 1e-3, "momentum": 0.0}}
    )
    assert standalone.generation == "k2-standalone" and standalone.learning_rate == 0.1
    new = optimizer_spec_from_config(
        {
            "class_name": "Adam",
            "config": {"name": "Adam", "learning_rate": 0.001, "is_legacy_optimizer": False},
        }
    )
    assert new.generation == "k2-new"
    assert (
        optimizer_spec_from_config(
            {"class_name": "Adam", "config": {"learning_rate": 1e-3}}, keras="3"
        ).generation
        == "k3"
    )


def test_nadam_decay_slot_is_schedule_decay_not_lr_decay() -> None:
    spec = optimizer_spec_from_config(
        {"class_name": "Nadam", "config": {"name": "Nadam", "learning_rate": 0.002, "decay": 0.004}}
    )
    assert spec.decay == 0.0 and not decay_applies(spec)


def test_bad_configs_are_input_errors() -> None:
    with pytest.raises(InputError):
        optimizer_spec_from_config({"class_name": "SGD", "config": {"learning_rate": "fast"}})
    with pytest.raises(InputError):
        optimizer_spec_from_config({"class_name": "SGD", "config": {"learning_rate": {"config": {}}}})
    with pytest.raises(InputError):
        optimizer_spec_from_config(["not", "a", "dict"])  # type: ignore[arg-type]


def _spec(generation: str | None, decay: float = 1e-2, lr: float = 1e-3) -> OptimizerSpec:
    return OptimizerSpec(class_name="Adam", generation=generation, learning_rate=lr, decay=decay)


def test_legacy_decay_per_generation() -> None:
    it = np.arange(0, 1000, dtype=np.int64)
    denom = (F32(1) + (F32(1e-2) * it.astype(F32)).astype(F32)).astype(F32)
    _, legacy = effective_lr(_spec("k2-legacy"), it)
    assert np.array_equal(legacy, (F32(1e-3) / denom).astype(F32))  # base / (1 + decay*it)
    _, standalone = effective_lr(_spec("k2-standalone"), it)
    assert np.array_equal(standalone, (F32(1e-3) * (F32(1) / denom).astype(F32)).astype(F32))
    assert not np.array_equal(legacy, standalone)  # reference §1.1: 1 ulp apart at ~25 % of steps
    assert legacy[8] != standalone[8]
    for generation in ("k2-new", "k3"):
        base, effective = effective_lr(_spec(generation), it)
        assert np.all(effective == F32(1e-3)) and np.array_equal(base, effective)
    np.testing.assert_allclose(legacy, 1e-3 / (1 + 1e-2 * it), rtol=1e-6)


def test_decay_composes_with_a_schedule_and_with_a_changing_variable() -> None:
    schedule = ScheduleSpec(
        "ExponentialDecay", {"initial_learning_rate": 0.08, "decay_steps": 25, "decay_rate": 0.7}
    )
    spec = OptimizerSpec("SGD", "k2-legacy", schedule, decay=1e-2)
    steps = np.arange(0, 75)
    base, effective = effective_lr(spec, steps)
    np.testing.assert_allclose(effective, 0.08 * 0.7 ** (steps / 25) / (1 + 0.01 * steps), rtol=1e-6)
    np.testing.assert_allclose(base, 0.08 * 0.7 ** (steps / 25), rtol=1e-6)
    variable = np.where(steps < 40, F32(0.05), F32(0.0375))
    base, effective = effective_lr(_spec("k2-legacy", 2e-2, 0.05), steps, variable)
    assert np.array_equal(base, variable)
    np.testing.assert_allclose(effective, variable / (1 + 0.02 * steps), rtol=1e-6)


def test_default_executor_per_backend_and_agreement() -> None:
    schedule = ScheduleSpec(
        "ExponentialDecay", {"initial_learning_rate": 0.05, "decay_steps": 40, "decay_rate": 0.8}
    )
    steps = np.arange(0, 200)
    assert default_executor(OptimizerSpec("SGD", "k2-legacy", 0.1)) == "tf-graph"
    for backend, executor in (
        ("tensorflow", "tf-graph"),
        (None, "tf-graph"),
        ("torch", "eager"),
        ("jax", "xla"),
    ):
        assert default_executor(OptimizerSpec("SGD", "k3", schedule, backend=backend)) == executor
    # pow of step/40: eager divides, graphs multiply by f32(1/40): the backend decides some bits
    assert not executors_agree(OptimizerSpec("SGD", "k3", schedule), steps)
    staircase = ScheduleSpec("PiecewiseConstantDecay", {"boundaries": [30, 75], "values": [0.1, 0.05, 0.01]})
    assert executors_agree(OptimizerSpec("SGD", "k3", staircase), steps)
    assert executors_agree(OptimizerSpec("SGD", "k3", 0.01, decay=0.1), steps)


def test_unknown_executor_is_an_input_error() -> None:
    with pytest.raises(InputError):
        effective_lr(_spec("k3"), np.arange(3), executor="tpu")
