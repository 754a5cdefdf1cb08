"""The Keras 3 backend told by the user's files, TensorBoard's pre-training optimizer config, and
schedule reads that differ from the compiled step by rounding only.

Expected values are written from the Keras formulas and the files' meaning (reference §1.8,
§5), never taken from the code under test.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from lraudit.api import build_run
from lraudit.options import RunOptions
from lraudit.reconstruction import SCHEDULE_READ_ULPS, build_timeline
from lraudit.run import Fit, Run
from lraudit.sources.base import SourceData, scalars_frame

f32 = np.float32


def k3_optimizer(lr, name="SGD", module="keras.optimizers"):
    return {"class_name": name, "module": module, "config": {"name": name.lower(), "learning_rate": lr}}


def tfevents_data(path, optimizer, wall_time, **compile_config):
    rows = [("tfevents", path, None, "train/epoch_loss", 0, 0, None, 1.0, None)]
    frame = scalars_frame(rows).assign(wall_time=[wall_time])
    return SourceData(path=path, kind="tfevents", scalars=frame, optimizer=optimizer,
                      optimizer_stage="initial", compile_config=dict(compile_config), keras="3")


def config_file(path, optimizer):
    return SourceData(path=path, kind="optimizer_config", optimizer=optimizer)


# --- run builder ---------------------------------------------------------------------------


def test_tensorboard_config_is_the_initial_one_without_any_logged_lr():
    final = config_file("optimizer.json", k3_optimizer(0.025))
    board = tfevents_data("tb/train/ev1", k3_optimizer(0.1), 100.0, jit_compile=True)
    run = build_run("r", [board, final])
    assert run.optimizer["config"]["learning_rate"] == 0.025 and run.optimizer_source == "optimizer.json"
    assert run.optimizer_initial["config"]["learning_rate"] == 0.1
    assert run.compile_config == {"jit_compile": True}
    assert not any("before training is unknown" in warning for warning in run.warnings)


def test_earliest_model_summary_is_the_initial_one_and_the_last_the_latest():
    second = tfevents_data("tb/train/ev2", k3_optimizer(0.05), 200.0)
    first = tfevents_data("tb/train/ev1", k3_optimizer(0.1), 100.0)
    run = build_run("r", [second, first])
    assert run.optimizer_initial["config"]["learning_rate"] == 0.1
    assert run.optimizer["config"]["learning_rate"] == 0.05


def test_a_model_summary_of_another_optimizer_is_not_the_initial_one():
    final = config_file("optimizer.json", k3_optimizer(0.025))
    board = tfevents_data("tb/train/ev1", k3_optimizer(0.1, name="Adam"), 100.0)
    run = build_run("r", [board, final])
    assert run.optimizer["class_name"] == "SGD" and run.optimizer_initial is None
    assert len(run.optimizer_configs) == 2


def test_conflicting_compile_settings_are_a_warning():
    board = tfevents_data("tb/train/ev1", None, 100.0, jit_compile=True, steps_per_execution=1)
    saved = SourceData(path="model.keras", kind="models", iterations=40,
                       compile_config={"jit_compile": False, "steps_per_execution": 1})
    run = build_run("r", [board, saved])
    assert run.compile_config == {"jit_compile": False, "steps_per_execution": 1}
    (warning,) = [w for w in run.warnings if "compile settings disagree" in w]
    assert "jit_compile" in warning and "tb/train/ev1" in warning and "model.keras" in warning


# --- timeline: which executor ------------------------------------------------------------------

#: Keras 3 CosineDecayRestarts: compiled TensorFlow, XLA and eager arithmetic differ on it
RESTARTS = {
    "module": "keras.optimizers.schedules",
    "class_name": "CosineDecayRestarts",
    "config": {"initial_learning_rate": 0.06, "first_decay_steps": 16, "t_mul": 2.5, "m_mul": 0.7,
               "alpha": 0.05},
}


def k3_run(compile_config, lr=RESTARTS, rows=(), epochs=8, spe=12):
    frame = scalars_frame(list(rows))
    return Run(
        path="synthetic",
        scalars=frame.assign(global_epoch=frame["epoch"]),
        fits=[Fit(index=0, first_epoch=0, end_epoch=epochs, steps_per_epoch=spe)],
        epochs=epochs,
        steps_per_epoch=spe,
        optimizer=k3_optimizer(lr),
        optimizer_initial=k3_optimizer(lr),
        compile_config=dict(compile_config),
        keras="3",
    )


def backend_notes(timeline):
    return [note for note in timeline.notes if "backend" in note]


def test_jit_compile_true_selects_xla_and_says_why():
    timeline = build_timeline(k3_run({"jit_compile": True}))
    assert timeline.optimizer.backend == "jax" and not timeline.extra["backend_assumed"]
    (note,) = backend_notes(timeline)
    assert "xla" in note and "jit_compile=True" in note


def test_jit_compile_false_selects_the_tensorflow_graph():
    timeline = build_timeline(k3_run({"jit_compile": False, "run_eagerly": False}))
    assert timeline.optimizer.backend == "tensorflow" and not timeline.extra["backend_assumed"]
    (note,) = backend_notes(timeline)
    assert "tf-graph" in note and "jit_compile=False" in note


def test_without_evidence_the_backend_is_assumed_and_the_note_asks_for_it():
    for compile_config in ({}, {"jit_compile": False, "run_eagerly": True}):
        timeline = build_timeline(k3_run(compile_config))
        assert timeline.optimizer.backend is None and timeline.extra["backend_assumed"]
        (note,) = backend_notes(timeline)
        assert "assumed TensorFlow" in note and "--backend" in note


def test_backend_option_wins_over_the_files():
    timeline = build_timeline(k3_run({"jit_compile": True}), RunOptions(backend="torch"))
    assert timeline.optimizer.backend == "torch"
    (note,) = backend_notes(timeline)
    assert "--backend torch" in note


def test_the_tf_and_xla_timelines_really_differ_here():
    """The evidence matters on this schedule (else the tests above would prove little)."""
    xla = build_timeline(k3_run({"jit_compile": True})).frame["lr_effective"].to_numpy()
    graph = build_timeline(k3_run({"jit_compile": False})).frame["lr_effective"].to_numpy()
    assert not np.array_equal(xla.view(np.uint32), graph.view(np.uint32))


# --- logged schedule reads within a few ulps -----------------------------------------------------

#: 0.01 * 0.5 ** floor(step / 3): exact in float32 at every step, whatever the executor
STAIRCASE = {
    "module": "keras.optimizers.schedules",
    "class_name": "ExponentialDecay",
    "config": {"initial_learning_rate": 0.01, "decay_steps": 3, "decay_rate": 0.5, "staircase": True},
}


def ulps_away(value, n):
    out = f32(value)
    for _ in range(abs(n)):
        out = np.nextafter(out, f32(np.inf) if n > 0 else f32(0))
    return float(out)


def board_row(epoch, value):
    return ("tfevents", "tb/train/ev", None, "train/epoch_learning_rate", epoch, epoch, None, value, None)


def test_schedule_read_a_few_ulps_off_is_the_next_step_with_its_ulps():
    # counter 4, 8, 12 after epochs 0, 1, 2: 0.01 * 0.5 ** (1, 2, 4) = 0.005, 0.0025, 0.000625
    rows = [board_row(0, ulps_away(0.005, 2)), board_row(1, ulps_away(0.0025, -1)), board_row(2, 0.000625)]
    run = k3_run({"jit_compile": False}, lr=STAIRCASE, rows=rows, epochs=3, spe=4)
    logged = build_timeline(run).logged
    assert logged["relation"].tolist() == ["next_step", "next_step", "next_step"]
    assert logged["step"].tolist() == [4, 8, 12]
    assert logged["ulps"].tolist() == [2, 1, 0]


def test_schedule_read_far_off_stays_a_mismatch():
    rows = [board_row(0, ulps_away(0.005, SCHEDULE_READ_ULPS + 1))]
    run = k3_run({"jit_compile": False}, lr=STAIRCASE, rows=rows, epochs=2, spe=4)
    (record,) = build_timeline(run).logged.itertuples(index=False)
    assert record.relation == "mismatch" and pd.isna(record.ulps)


def test_an_lr_variable_one_ulp_off_is_not_loosened():
    rows = [("csvlogger", "history.csv", 2, "learning_rate", 0, None, 0, ulps_away(0.01, 1), None)]
    run = k3_run({"jit_compile": False}, lr=0.01, rows=rows, epochs=2, spe=4)
    (record,) = build_timeline(run).logged.itertuples(index=False)
    assert record.relation == "mismatch"


def test_console_values_have_no_ulp_count():
    rows = [("console", "console.log", 5, "learning_rate", 0, None, 0, 0.005, "0.0050")]
    run = k3_run({"jit_compile": False}, lr=STAIRCASE, rows=rows, epochs=2, spe=4)
    (record,) = build_timeline(run).logged.itertuples(index=False)
    assert record.relation == "next_step" and pd.isna(record.ulps)


def test_audit_explains_rounding_instead_of_reporting_a_mismatch():
    from lraudit.rules.logged import LoggedEffectiveMismatch, LoggedLrShifted

    rows = [board_row(0, ulps_away(0.005, 3)), board_row(1, 0.0025)]
    run = k3_run({"jit_compile": False}, lr=STAIRCASE, rows=rows, epochs=3, spe=4)
    timeline = build_timeline(run)
    assert list(LoggedEffectiveMismatch.check(run, timeline)) == []
    (finding,) = LoggedLrShifted.check(run, timeline)
    assert "3 ulp" in finding.message and "eagerly" in finding.message
