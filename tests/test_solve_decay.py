"""``lraudit solve-decay``: numbers checked against the closed forms written here."""
from __future__ import annotations

import itertools
import json
import math

import pytest
from conftest import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from lraudit.errors import UsageError
from lraudit.solve_decay import solve_decay


def expected_epoch_factor(factor: float, n: int, epoch: int) -> float:
    decay = (1 / factor - 1) / n
    return (1 + decay * n * (epoch - 1)) / (1 + decay * n * epoch)


def test_stack_overflow_answer_for_075_at_100_steps():
    solution = solve_decay(0.75, 100)
    assert solution.decay == pytest.approx(1 / 300, rel=1e-12)
    assert solution.decay_fraction == "1/300"
    assert solution.rows[0].decay_factor == pytest.approx(0.75, rel=1e-12)
    # x0.75 only once: epoch 2 gives (1+1/3)/(1+2/3) = 0.8, epoch 10 gives 12/13
    assert solution.rows[1].decay_factor == pytest.approx(0.8, rel=1e-12)
    assert solution.rows[9].decay_factor == pytest.approx(12 / 13, rel=1e-12)
    assert [r.epoch for r in solution.rows] == list(range(1, 11))


@pytest.mark.parametrize(("factor", "n", "epochs"), [(0.5, 10, 6), (0.9, 391, 20), (0.1, 1, 3)])
def test_factor_table_matches_inverse_time_formula(factor, n, epochs):
    solution = solve_decay(factor, n, epochs=epochs, lr=0.02)
    d = (1 / factor - 1) / n
    for row in solution.rows:
        e = row.epoch
        assert row.decay_factor == pytest.approx((1 + d * n * (e - 1)) / (1 + d * n * e), rel=1e-12)
        assert row.decay_cumulative == pytest.approx(1 / (1 + d * n * e), rel=1e-12)
        assert row.intended_cumulative == pytest.approx(factor**e, rel=1e-12)
        assert row.decay_lr == pytest.approx(0.02 / (1 + d * n * e), rel=1e-12)
        assert row.schedule_lr == pytest.approx(0.02 * factor**e, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    factor=st.floats(min_value=1e-3, max_value=0.999),
    n=st.integers(min_value=1, max_value=5000),
    epochs=st.integers(min_value=2, max_value=40),
)
def test_inverse_time_factor_properties(factor, n, epochs):
    rows = solve_decay(factor, n, epochs=epochs).rows
    assert rows[0].decay_factor == pytest.approx(factor, rel=1e-9)
    factors = [r.decay_factor for r in rows]
    # the factor climbs towards 1: decay slows down, never reaches the intended xF again
    assert all(b > a for a, b in itertools.pairwise(factors))
    assert all(f < 1 for f in factors)
    # the product of the per-epoch factors is the cumulative factor
    assert math.prod(factors) == pytest.approx(rows[-1].decay_cumulative, rel=1e-9)
    assert rows[-1].decay_cumulative >= rows[-1].intended_cumulative


def test_schedule_code_per_keras_era():
    k2 = solve_decay(0.75, 100, keras="2")
    assert k2.schedule_code.startswith("tf.keras.optimizers.schedules.ExponentialDecay(")
    assert "decay_steps=100" in k2.schedule_code and "decay_rate=0.75" in k2.schedule_code
    assert "staircase=True" in k2.schedule_code and "staircase=False" in k2.smooth_schedule_code
    assert "legacy" in k2.decay_code and "decay=1/300" in k2.decay_code
    k3 = solve_decay(0.75, 100, keras="3", lr=1e-3)
    assert k3.schedule_code.startswith("keras.optimizers.schedules.ExponentialDecay(0.001,")
    assert "tf.keras" not in k3.schedule_code + k3.decay_code
    assert "InverseTimeDecay" in k3.decay_code
    assert any("ignores decay" in note for note in k3.notes)


def test_cli_text_piped_is_plain_and_has_the_numbers(monkeypatch, capsys):
    args = ["solve-decay", "--factor", "0.75", "--steps-per-epoch", "100"]
    code, out, err = run_cli(args, monkeypatch, capsys)
    assert code == 0, err
    assert "\x1b[" not in out
    assert "1/300" in out and "0.00333333" in out
    table = {}
    for line in out.splitlines():
        cells = line.split()
        if len(cells) == 4 and cells[0].isdigit():
            table[int(cells[0])] = float(cells[1])
    assert sorted(table) == list(range(1, 11))
    for epoch, printed in table.items():
        assert printed == pytest.approx(expected_epoch_factor(0.75, 100, epoch), abs=5e-5)
    assert "tf.keras.optimizers.schedules.ExponentialDecay(lr, decay_steps=100, decay_rate=0.75" in out


def test_cli_json_keras3(monkeypatch, capsys):
    args = ["solve-decay", "--factor", "0.5", "--steps-per-epoch", "8", "--epochs", "3", "--lr", "0.1",
            "--keras", "3", "--format", "json"]
    code, out, err = run_cli(args, monkeypatch, capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["decay"] == pytest.approx((1 / 0.5 - 1) / 8)
    assert [r["epoch"] for r in data["rows"]] == [1, 2, 3]
    assert data["rows"][2]["decay_factor"] == pytest.approx(expected_epoch_factor(0.5, 8, 3))
    assert data["rows"][2]["schedule_lr"] == pytest.approx(0.1 * 0.5**3)
    assert data["schedule_code"].startswith("keras.optimizers.schedules.")


@pytest.mark.parametrize(
    "args",
    [
        ["--factor", "0", "--steps-per-epoch", "100"],
        ["--factor", "1.5", "--steps-per-epoch", "100"],
        ["--factor", "1", "--steps-per-epoch", "100"],
        ["--factor", "-0.5", "--steps-per-epoch", "100"],
        ["--factor", "nan", "--steps-per-epoch", "100"],
        ["--factor", "0.75", "--steps-per-epoch", "0"],
        ["--factor", "0.75", "--steps-per-epoch", "100", "--epochs", "-2"],
        ["--factor", "0.75", "--steps-per-epoch", "100", "--lr", "-1"],
        ["--factor", "0.75", "--steps-per-epoch", "100", "--keras", "4"],
        ["--factor", "0.75", "--steps-per-epoch", "100", "--format", "xml"],
        ["--factor", "0.75"],
    ],
)
def test_bad_input_is_one_line_exit_2(args, monkeypatch, capsys):
    code, out, err = run_cli(["solve-decay", *args], monkeypatch, capsys)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("lraudit: error:")
    assert "Traceback" not in err


def test_library_rejects_bad_factor():
    with pytest.raises(UsageError, match="between 0 and 1"):
        solve_decay(1.5, 100)
