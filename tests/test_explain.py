"""``lraudit explain``: numbers asserted against closed-form formulas written in this file."""
from __future__ import annotations

import itertools
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from _workflow_timelines import decay_plateau_timeline
from conftest import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from lraudit.cli import main
from lraudit.explain import explain_optimizer, explain_timeline, explanation_document
from lraudit.report.workflow_text import render_plain
from lraudit.semantics.specs import OptimizerSpec, ScheduleSpec

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SEED = "Adam(lr=1e-3, decay=1e-2)"


def explain_json(args, monkeypatch, capsys):
    code, out, err = run_cli(["explain", *args, "--format", "json"], monkeypatch, capsys)
    assert code == 0, err
    return json.loads(out)


def inverse_time(lr0: float, decay: float, counter: int) -> float:
    return lr0 / (1 + decay * counter)


# --------------------------------------------------------------------------- the seed case


def test_seed_adam_decay_after_first_and_tenth_epoch(monkeypatch, capsys):
    data = explain_json(["--optimizer", SEED, "--steps-per-epoch", "100"], monkeypatch, capsys)
    rows = data["rows"]
    assert [r["epoch"] for r in rows] == list(range(1, 11))
    # lr after epoch e = value of the next update, counter 100*e: 1e-3/(1+1e-2*100*e)
    assert rows[0]["lr_after"] == pytest.approx(5e-4, rel=1e-6)
    assert rows[9]["lr_after"] == pytest.approx(inverse_time(1e-3, 1e-2, 1000), rel=1e-6)
    assert rows[9]["lr_after"] == pytest.approx(9.09e-5, rel=1e-3)
    for row in rows:
        e = row["epoch"]
        assert row["lr_first"] == pytest.approx(inverse_time(1e-3, 1e-2, 100 * (e - 1)), rel=1e-6)
        assert row["lr_last"] == pytest.approx(inverse_time(1e-3, 1e-2, 100 * e - 1), rel=1e-6)
        assert row["factor"] == pytest.approx((1 + (e - 1)) / (1 + e), rel=1e-6)
    assert data["changes"] == "per-batch"
    assert data["generation"] == "k2-legacy"
    # 1/(1+0.01 c) < 0.1 from c = 901, < 0.01 from c = 9901 (float32 may tie at the boundary)
    tenth, hundredth = data["milestones"]
    assert tenth["fraction"] == 0.1 and 900 <= tenth["step"] <= 901 and tenth["epoch"] == 10
    assert hundredth["within_training"] is False and 9900 <= hundredth["step"] <= 9901


def test_seed_text_says_it_in_words(monkeypatch, capsys):
    args = ["explain", "--optimizer", SEED, "--steps-per-epoch", "100"]
    code, out, err = run_cli(args, monkeypatch, capsys)
    assert code == 0, err
    assert "\x1b[" not in out  # piped: plain text
    assert "every update (batch)" in out
    assert "After epoch 1 the lr is 0.0005 (50 % of 0.001, the start)" in out
    assert "after epoch 10: 9.09" in out
    assert "1 + 0.01*iterations" in out
    assert "Keras 3 ignores it" in out


@settings(max_examples=40, deadline=None)
@given(
    lr0=st.floats(min_value=1e-5, max_value=1.0),
    decay=st.floats(min_value=1e-5, max_value=0.5),
    n=st.integers(min_value=1, max_value=300),
    epochs=st.integers(min_value=2, max_value=12),
)
def test_legacy_decay_epoch_values_and_factors(lr0, decay, n, epochs):
    spec = OptimizerSpec("SGD", "k2-legacy", lr0, decay=decay)
    explanation = explain_optimizer(spec, steps_per_epoch=n, epochs=epochs)
    for row in explanation.rows:
        e = row.epoch
        assert row.lr_after == pytest.approx(lr0 / (1 + decay * n * e), rel=1e-5)
        assert row.factor == pytest.approx((1 + decay * n * (e - 1)) / (1 + decay * n * e), rel=1e-5)
        assert row.lr_last <= row.lr_first  # decay never raises the lr inside an epoch
    factors = [r.factor for r in explanation.rows]
    assert all(b >= a - 1e-6 for a, b in itertools.pairwise(factors))  # inverse time slows down


def test_keras3_ignores_decay(monkeypatch, capsys):
    data = explain_json(["--optimizer", "Adam(learning_rate=1e-3, decay=1e-2)", "--steps-per-epoch", "100",
                         "--keras", "3"], monkeypatch, capsys)
    assert data["generation"] == "k3"
    assert data["changes"] == "constant"
    assert all(r["lr_after"] == pytest.approx(1e-3, rel=1e-7) for r in data["rows"])
    assert any("IGNORED by Keras 3" in line for line in data["decay"])


def test_new_keras2_optimizer_rejects_decay():
    spec = OptimizerSpec("Adam", "k2-new", 1e-3, decay=1e-2, raw={"learning_rate": 1e-3, "decay": 1e-2})
    explanation = explain_optimizer(spec, steps_per_epoch=10, epochs=2)
    assert any("ValueError" in line for line in explanation.decay)
    assert explanation.changes == "constant"


# --------------------------------------------------------------------------- schedules


def test_cosine_decay_ends_at_alpha_times_initial(monkeypatch, capsys):
    init, steps, alpha, n = 0.06, 70, 0.05, 11
    data = explain_json(["--optimizer", f"SGD(learning_rate=CosineDecay({init}, {steps}, alpha={alpha}))",
                         "--steps-per-epoch", str(n), "--epochs", "8"], monkeypatch, capsys)

    def cosine(step):
        s = min(step, steps)
        return init * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * s / steps)) + alpha)

    assert "0.003" in data["floor"] and "alpha*0.06" in data["floor"]
    last = data["rows"][-1]
    assert last["lr_last"] == pytest.approx(alpha * init, rel=1e-6)
    for row in data["rows"]:
        assert row["lr_first"] == pytest.approx(cosine(n * (row["epoch"] - 1)), rel=1e-5)
    assert "not a lr" in " ".join(data["schedule"])


def test_cosine_warmup_floor_is_alpha_times_target():
    schedule = ScheduleSpec("CosineDecay", {"initial_learning_rate": 0.0, "decay_steps": 100, "alpha": 0.1,
                                            "warmup_target": 0.02, "warmup_steps": 23})
    spec = OptimizerSpec("SGD", "k3", schedule, backend="tensorflow")
    explanation = explain_optimizer(spec, steps_per_epoch=19, epochs=7)
    assert "0.002" in explanation.floor and "update 123" in explanation.floor
    assert explanation.lr_start == 0.0 and explanation.lr_reference == pytest.approx(0.02, rel=1e-6)
    assert "rises linearly from 0 to 0.02 over 23 updates" in explanation.warmup
    assert "lr = 0" in explanation.warmup


def test_staircase_exponential_decay_changes_per_epoch():
    schedule = ScheduleSpec("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 50,
                                                 "decay_rate": 0.5, "staircase": True})
    explanation = explain_optimizer(OptimizerSpec("SGD", "k3", schedule), steps_per_epoch=50, epochs=5)
    assert explanation.changes == "per-epoch"
    assert [r.factor for r in explanation.rows] == pytest.approx([0.5] * 5)
    assert explanation.rows[4].lr_after == pytest.approx(0.1 * 0.5**5)


def test_smooth_exponential_decay_changes_every_batch_with_constant_factor():
    schedule = ScheduleSpec("ExponentialDecay", {"initial_learning_rate": 0.05, "decay_steps": 40,
                                                 "decay_rate": 0.8, "staircase": False})
    explanation = explain_optimizer(OptimizerSpec("SGD", "k3", schedule), steps_per_epoch=20, epochs=4)
    assert explanation.changes == "per-batch"
    assert [r.factor for r in explanation.rows] == pytest.approx([0.8**0.5] * 4, rel=1e-5)


def test_piecewise_inside_epochs_is_steps():
    schedule = ScheduleSpec("PiecewiseConstantDecay", {"boundaries": [30, 75], "values": [0.1, 0.05, 0.01]})
    explanation = explain_optimizer(OptimizerSpec("SGD", "k3", schedule), steps_per_epoch=17, epochs=6)
    assert explanation.changes == "steps"
    # step <= boundary keeps the earlier value: first 0.05 at update 31, first 0.01 at 76
    assert "31, 76" in explanation.change_text


# --------------------------------------------------------------------------- a reconstructed run


def test_explain_timeline_epoch_by_epoch_with_callback_actions():
    timeline = decay_plateau_timeline(steps_per_epoch=20, epochs=8, reductions=(4, 5))
    explanation = explain_timeline(timeline)
    rows = explanation.rows
    assert [r.epoch for r in rows] == list(range(1, 9))
    variable = [1e-3] * 5 + [1e-3 * 0.75, 1e-3 * 0.75**2, 1e-3 * 0.75**2]
    for row, var in zip(rows, variable, strict=True):
        assert row.lr_first == pytest.approx(inverse_time(var, 1e-2, 20 * (row.epoch - 1)), rel=1e-6)
        assert row.logged == pytest.approx(var, rel=1e-6)
    assert rows[-1].lr_after is None and rows[-1].factor is None
    assert len(rows[4].actions) == 1 and "ReduceLROnPlateau at its end" in rows[4].actions[0]
    assert "0.0007500000356230885" in rows[4].actions[0] and "used from step 100" in rows[4].actions[0]
    assert explanation.changes == "per-batch"
    assert any("BEFORE legacy decay" in note for note in explanation.notes)
    text = render_plain(explanation_document(explanation))
    assert "ReduceLROnPlateau at its end: 0.001 -> 0.00075" in text


def test_explain_timeline_reports_invalid_lr():
    explanation = explain_timeline(decay_plateau_timeline(invalid_from=30, reductions=()))
    assert any("invalid lr" in note and "first at step 30" in note for note in explanation.notes)
    # a constant lr that turns NaN at update 30 changes once, not at every batch
    constant = explain_timeline(decay_plateau_timeline(invalid_from=30, reductions=(), decay=0.0))
    assert constant.changes == "steps" and "update index 30" in constant.change_text


def test_explain_json_is_valid_with_nan():
    data = json.loads(json.dumps(explain_timeline(decay_plateau_timeline(invalid_from=5)).to_dict(),
                                 allow_nan=False))
    assert data["rows"][1]["lr_first"] is None


# --------------------------------------------------------------------------- real runs, end to end


def _truth(name):
    import pandas as pd

    return pd.read_csv(FIXTURES / "expected" / name / "truth.csv")


def test_explain_seed_run_matches_truth(monkeypatch, capsys):
    data = explain_json([str(FIXTURES / "runs" / "k2_adam_decay_plateau")], monkeypatch, capsys)
    truth = _truth("k2_adam_decay_plateau")
    first = truth.groupby("epoch")["lr_effective"].first().to_numpy()
    assert [r["epoch"] for r in data["rows"]] == list(range(1, len(first) + 1))
    got = np.array([r["lr_first"] for r in data["rows"]], dtype=np.float32)
    assert np.array_equal(got, first.astype(np.float32))
    actions = {r["epoch"]: " ".join(r["actions"]) for r in data["rows"] if r["actions"]}
    # console: "Epoch 5: ReduceLROnPlateau reducing learning rate to 0.0007500000356230885."
    assert "0.00075" in actions[5] and "ReduceLROnPlateau" in actions[5]
    assert data["changes"] == "per-batch"


def test_explain_console_only_with_optimizer_option(tmp_path, monkeypatch, capsys):
    shutil.copy(FIXTURES / "runs" / "k2_adam_decay_plateau" / "console.log", tmp_path / "console.log")
    code, out, err = run_cli(["explain", str(tmp_path), "--optimizer", SEED], monkeypatch, capsys)
    assert code == 0, err
    assert "ReduceLROnPlateau at its end" in out and "every update (batch)" in out


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--optimizer", SEED],
        ["--optimizer", "Adam(lr=x)", "--steps-per-epoch", "10"],
        ["--optimizer", SEED, "--steps-per-epoch", "0"],
        ["--optimizer", SEED, "--steps-per-epoch", "10", "--epochs", "-1"],
        ["--optimizer", SEED, "--steps-per-epoch", "10", "--format", "yaml"],
        ["--optimizer", SEED, "--steps-per-epoch", "10", "--keras", "4"],
        ["/no/such/run"],
        [str(FIXTURES / "runs" / "k3jax_adam_plateau"), "--epochs", "3"],
    ],
)
def test_bad_input_is_one_line_exit_2(args, monkeypatch, capsys):
    code, out, err = run_cli(["explain", *args], monkeypatch, capsys)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("lraudit: error:")


def test_explain_timeline_marks_fit_starts_and_counter_restart():
    timeline = decay_plateau_timeline(epochs=4, reductions=(), fits=(0, 2), counter_restarts=True)
    rows = explain_timeline(timeline).rows
    assert rows[2].actions == ["fit 2 starts at step 0 (the counter restarted: decay/schedule start over)"]
    # the fresh optimizer applies lr0/(1+decay*0) again at the first update of epoch 3
    assert rows[2].lr_first == pytest.approx(1e-3, rel=1e-7)
    assert rows[1].factor == pytest.approx((1 + 1e-2 * 20) / (1 + 0), rel=1e-6)  # x1.2: back up
    continued = explain_timeline(decay_plateau_timeline(epochs=4, reductions=(), fits=(0, 2))).rows
    assert "step 40 (the counter continues" in continued[2].actions[0]


def test_rich_output_on_a_terminal(monkeypatch, capsys):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setattr(sys, "argv", ["lraudit", "explain", "--optimizer", SEED, "--steps-per-epoch", "100"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "\x1b[" in out and "0.0005" in out


def _readme_console_blocks():
    """(command, expected lines) for every ``$ lraudit ...`` block of the README workflow section."""
    text = (FIXTURES.parent / "README.md").read_text()
    section = text[text.index("<!-- workflow:start -->"):text.index("<!-- workflow:end -->")]
    blocks = []
    for block in section.split("```console")[1:]:
        lines = block.split("```")[0].strip().splitlines()
        blocks.append((lines[0].removeprefix("$ "), lines[1:]))
    return blocks


@pytest.mark.parametrize("command,expected", [b for b in _readme_console_blocks() if " plot " not in b[0]])
def test_readme_workflow_output_is_real(command, expected, monkeypatch, capsys):
    import shlex

    monkeypatch.chdir(FIXTURES.parent)
    code, out, err = run_cli(shlex.split(command)[1:], monkeypatch, capsys)
    assert code == 0, err
    printed = [" ".join(line.split()) for line in out.splitlines()]
    for line in expected:
        wanted = " ".join(line.split())
        if wanted == "...":
            continue
        if "..." in wanted:  # an elided line: its beginning must be printed
            prefix = wanted.split("...")[0].rstrip()
            assert any(p.startswith(prefix) for p in printed), prefix
        else:
            assert wanted in printed, wanted


def test_scheduler_function_composes_with_legacy_decay(monkeypatch, capsys):
    """e2_rmsprop_decay_lrscheduler's setup: halve_every_two sets the variable, decay divides it per batch."""
    schedule = FIXTURES / "runs" / "e2_rmsprop_decay_lrscheduler" / "lr_schedule.py"
    args = ["--optimizer", "RMSprop(learning_rate=1e-3, decay=1e-2)", "--keras", "2", "--steps-per-epoch",
            "12", "--epochs", "5", "--callback", f"LearningRateScheduler({schedule}:halve_every_two)"]
    data = explain_json(args, monkeypatch, capsys)
    for row in data["rows"]:
        e = row["epoch"]
        variable = 1e-3 * 0.5 ** ((e - 1) // 2)
        assert row["lr_first"] == pytest.approx(variable / (1 + 1e-2 * 12 * (e - 1)), rel=1e-6)
        after_variable = 1e-3 * 0.5 ** (e // 2)
        assert row["lr_after"] == pytest.approx(after_variable / (1 + 1e-2 * 12 * e), rel=1e-6)
    labels = [r["action_labels"] for r in data["rows"]][:3]
    assert labels == [["scheduler -> 0.001"], [], ["scheduler -> 0.0005"]]
    assert "per-batch legacy decay still applies" in data["callbacks"][0]


def test_plateau_callback_is_described_not_invented(monkeypatch, capsys):
    data = explain_json(["--optimizer", SEED, "--steps-per-epoch", "20",
                         "--callback", "ReduceLROnPlateau(monitor='val_loss', factor=0.75, patience=3)"],
                        monkeypatch, capsys)
    (text,) = data["callbacks"]
    assert "multiplied by 0.75" in text and "'val_loss'" in text and "3 epochs" in text
    assert "legacy decay still divides" in text
    assert not any(r["actions"] for r in data["rows"])  # no metric history: no reduction is made up
