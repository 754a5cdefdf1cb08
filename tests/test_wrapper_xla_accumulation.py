"""LossScaleOptimizer read through, XLA on TensorFlow, and accumulation windows across epochs.

Expected values come from the Keras formulas and the files' meaning (reference §1.5, §1.6, §1.8),
never from the code under test.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from lraudit.api import build_run
from lraudit.options import RunOptions
from lraudit.reconstruction import build_timeline
from lraudit.semantics.optimizers import default_executor, effective_lr, optimizer_spec_from_config
from lraudit.sources import console, optimizer_config
from lraudit.sources.base import SourceData

f32 = np.float32

LEGACY_SGD = {
    "module": "keras.optimizers.legacy",
    "class_name": "SGD",
    "config": {"name": "SGD", "learning_rate": 0.04, "decay": 0.01, "momentum": 0.0, "nesterov": False},
}
K3_SGD = {
    "module": "keras.optimizers",
    "class_name": "SGD",
    "config": {"name": "sgd", "learning_rate": 0.02, "weight_decay": None, "use_ema": False,
               "loss_scale_factor": None, "gradient_accumulation_steps": None, "momentum": 0.0},
}


# --- LossScaleOptimizer ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrapper", "generation"),
    [
        # tf_keras serialize(): the wrapper's module, the legacy optimizer inside
        ({"module": "tf_keras.src.mixed_precision.loss_scale_optimizer", "class_name": "LossScaleOptimizer",
          "config": {"inner_optimizer": LEGACY_SGD, "dynamic": True, "initial_scale": 32768.0}}, "k2-legacy"),
        # tf.keras 2.4+ get_config(): no class name, no "name"
        ({"inner_optimizer": LEGACY_SGD, "dynamic": True, "initial_scale": 32768.0,
          "dynamic_growth_steps": 2000}, "k2-legacy"),
        # TF 2.1-2.3 mixed_precision.experimental: the optimizer under "optimizer"
        ({"class_name": "LossScaleOptimizer", "config": {"optimizer": LEGACY_SGD, "loss_scale": "dynamic"}},
         "k2-legacy"),
        # Keras 3 get_config()
        ({"name": "loss_scale_optimizer", "inner_optimizer": K3_SGD, "initial_scale": 32768.0}, "k3"),
    ],
)
def test_loss_scale_optimizer_gives_the_wrapped_optimizer(wrapper, generation):
    spec = optimizer_spec_from_config(wrapper)
    inner = wrapper.get("config", wrapper).get("inner_optimizer") or wrapper["config"]["optimizer"]
    assert spec.class_name == "SGD" and spec.wrapper == "LossScaleOptimizer"
    assert spec.generation == generation
    assert spec.learning_rate == inner["config"]["learning_rate"]


def test_a_bare_loss_scale_get_config_file_is_an_optimizer_config(tmp_path):
    path = tmp_path / "opt.json"
    path.write_text(json.dumps({"inner_optimizer": LEGACY_SGD, "dynamic": True}))
    assert optimizer_config.sniff(path.read_bytes(), path)
    data = optimizer_config.read(path)
    assert data.optimizer["class_name"] == "LossScaleOptimizer" and not data.warnings
    assert data.keras == "2"  # the wrapped legacy optimizer tells the generation


def test_wrapped_configs_differing_in_lr_recover_the_initial_one(tmp_path):
    """A float lr changed by a callback: the wrapped configs before/after differ only there."""
    def wrapped(lr):
        inner = dict(K3_SGD, config=dict(K3_SGD["config"], learning_rate=lr))
        return {"class_name": "LossScaleOptimizer", "module": "keras.optimizers",
                "config": {"name": "loss_scale_optimizer", "inner_optimizer": inner}}

    from lraudit.sources import csvlogger

    (tmp_path / "history.csv").write_text("epoch,learning_rate,loss\n0,0.02,1.0\n1,0.005,0.9\n")
    history = csvlogger.read(tmp_path / "history.csv")
    run = build_run("r", [SourceData(path="a.json", kind="optimizer_config", optimizer=wrapped(0.005)),
                          SourceData(path="b.json", kind="optimizer_config", optimizer=wrapped(0.02)),
                          history])
    assert run.optimizer_initial is not None
    assert run.optimizer_initial["config"]["inner_optimizer"]["config"]["learning_rate"] == 0.02


# --- XLA on TensorFlow ------------------------------------------------------------------------


def test_legacy_decay_under_xla_is_one_fused_multiply_add():
    """optimizer_v2 ``lr / (1 + decay*it)``: XLA rounds ``1 + decay*it`` once (reference §1.8)."""
    spec = optimizer_spec_from_config(LEGACY_SGD)
    it = np.arange(0, 40)
    exact = (np.float64(f32(0.01)) * it + 1.0).astype(f32)  # decay*it exact in float64, one rounding
    expected = (f32(0.04) / exact).astype(f32)
    _, applied = effective_lr(spec, it, executor="xla")
    assert applied.view(np.uint32).tolist() == expected.view(np.uint32).tolist()
    _, graph = effective_lr(spec, it, executor="tf-graph")
    two_roundings = (f32(0.04) / (f32(1) + (f32(0.01) * it.astype(f32)).astype(f32))).astype(f32)
    assert graph.view(np.uint32).tolist() == two_roundings.view(np.uint32).tolist()


def test_jit_compile_picks_xla_except_on_torch():
    import dataclasses

    spec = optimizer_spec_from_config(LEGACY_SGD)
    assert default_executor(spec) == "tf-graph"
    assert default_executor(dataclasses.replace(spec, jit_compile=True)) == "xla"
    k3 = optimizer_spec_from_config(K3_SGD)
    assert default_executor(dataclasses.replace(k3, backend="tensorflow", jit_compile=True)) == "xla"
    assert default_executor(dataclasses.replace(k3, backend="torch", jit_compile=True)) == "eager"


XLA_LINE = (
    b"I0000 00:00:1796609407.622410   29635 device_compiler.h:186] Compiled cluster using XLA!  "
    b"This line is logged at most once for the lifetime of the process.\n"
)


def console_run(tmp_path, text: bytes, optimizer):
    log = tmp_path / "console.log"
    bar = b"2/2 [==============================] - 0s 5ms/step - loss: 0.1\n"
    log.write_bytes(b"Epoch 1/1\n" + text + bar)
    config = SourceData(path="opt.json", kind="optimizer_config", optimizer=optimizer)
    return build_run(tmp_path, [console.read(log), config])


def test_tensorflow_xla_line_makes_keras2_legacy_decay_xla(tmp_path):
    run = console_run(tmp_path, XLA_LINE, LEGACY_SGD)
    assert run.compile_config.get("xla_compiled") is True and run.backend == "tensorflow"
    timeline = build_timeline(run)
    assert timeline.optimizer.jit_compile is True
    assert any("Compiled cluster using XLA" in note for note in timeline.notes)


def test_xla_line_of_the_new_keras2_optimizer_says_nothing_about_the_train_step(tmp_path):
    """The 2.11+ optimizer XLA-compiles its own update (jit_compile=True in its config) but
    evaluates the schedule outside it: the line does not make the lr XLA's."""
    new = {"module": "keras.optimizers", "class_name": "SGD",
           "config": {"name": "SGD", "learning_rate": 0.04, "is_legacy_optimizer": False,
                      "jit_compile": True}}
    timeline = build_timeline(console_run(tmp_path, XLA_LINE, new))
    assert not timeline.optimizer.jit_compile
    assert default_executor(timeline.optimizer) == "tf-graph"


def test_keras3_jit_compile_with_a_tensorflow_log_is_xla_on_tensorflow(tmp_path):
    run = console_run(tmp_path, XLA_LINE, K3_SGD)
    run.compile_config["jit_compile"] = True  # TensorBoard's Keras 3 model summary
    timeline = build_timeline(run, RunOptions(keras="3"))
    assert timeline.optimizer.backend == "tensorflow" and default_executor(timeline.optimizer) == "xla"


# --- gradient accumulation across epoch ends ---------------------------------------------------


def test_accumulation_windows_straddling_epochs_are_noted(tmp_path):
    """k=2, 9 batches/epoch, 2 epochs: updates at raw 1, 3, ..., 17; epoch 1 updates batches
    0, 2, 4, 6, 8; the read after epoch 0 is at raw 9 (an update), after epoch 1 at 18 (none)."""
    k3 = dict(K3_SGD, config=dict(K3_SGD["config"], gradient_accumulation_steps=2))
    log = tmp_path / "console.log"
    log.write_bytes(b"".join(
        f"Epoch {e}/2\n9/9 - 0s 5ms/step - loss: 0.1\n".encode() for e in (1, 2)
    ))
    run = build_run(tmp_path, [console.read(log), SourceData(path="o.json", kind="optimizer_config",
                                                             optimizer=k3)])
    timeline = build_timeline(run, RunOptions(keras="3", steps_per_epoch=9))
    assert timeline.frame["step"].tolist() == list(range(1, 18, 2))
    assert timeline.frame["batch"].tolist() == [1, 3, 5, 7, 0, 2, 4, 6, 8]
    note = next(n for n in timeline.notes if n.startswith("gradient_accumulation_steps=2"))
    assert "9 updates in 18 batches" in note and "e.g. 18, while the next update uses 19" in note
