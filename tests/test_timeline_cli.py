"""``lraudit timeline`` end to end: console-only runs plus what the user tells, written tables."""
from __future__ import annotations

import csv
import json
import math
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_lraudit

from lraudit.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SEED = "k2_adam_decay_plateau"
SEED_OPTIMIZER = "Adam(lr=1e-3, decay=1e-2)"
SEED_PLATEAU = "ReduceLROnPlateau(monitor='val_loss', factor=0.75, patience=1)"


def invoke(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["lraudit", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def truth(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "expected" / name / "truth.csv", dtype={"lr_effective": str})


def f32_bits(texts) -> np.ndarray:
    return np.array([np.float32(float(t)) for t in texts], dtype=np.float32).view(np.uint32)


def console_only(tmp_path: Path, name: str, drop: str | None = None) -> Path:
    """A copy of the run's console.log alone; ``drop``: remove the lines matching this regex."""
    target = tmp_path / "console.log"
    shutil.copy(FIXTURES / "runs" / name / "console.log", target)
    if drop:
        text = target.read_bytes().decode("utf-8")
        parts = re.split(r"(\r\n|\n|\r)", text)
        kept = []
        for index in range(0, len(parts), 2):
            piece = parts[index]
            ending = parts[index + 1] if index + 1 < len(parts) else ""
            if not re.search(drop, piece):
                kept.append(piece + ending)
        target.write_bytes("".join(kept).encode("utf-8"))
    return target


def assert_matches_truth(table: pd.DataFrame, name: str) -> None:
    expected = truth(name)
    assert table["step"].tolist() == expected["step"].tolist()
    assert table["epoch"].tolist() == expected["epoch"].tolist()
    assert table["batch"].tolist() == expected["batch"].tolist()
    ours = f32_bits(table["lr_effective"].astype(str))
    assert (ours == f32_bits(expected["lr_effective"])).all()


def read_csv_exact(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"lr_effective": str, "lr_base": str})


def test_seed_console_only_with_optimizer_gives_every_step(tmp_path, monkeypatch, capsys):
    log = console_only(tmp_path, SEED)
    out = tmp_path / "timeline.csv"
    code, _, err = invoke(
        monkeypatch, capsys, "timeline", str(log), "-o", str(out), "--optimizer", SEED_OPTIMIZER
    )
    assert code == 0, err
    table = read_csv_exact(out)
    assert list(table.columns)[:7] == [
        "step", "epoch", "batch", "lr_base", "lr_effective", "logged_lr", "logged_source",
    ]
    assert_matches_truth(table, SEED)
    # the printed reductions are the base variable of the next epoch's first step
    logged = table.dropna(subset=["logged_lr"])
    assert logged["logged_source"].str.startswith(str(log)).all()


def test_plateau_without_messages_is_replayed_from_the_metric(tmp_path, monkeypatch, capsys):
    log = console_only(tmp_path, SEED, drop=r"reducing learning rate")
    assert "reducing learning rate" not in log.read_text(encoding="utf-8")
    out = tmp_path / "timeline.csv"
    code, _, err = invoke(
        monkeypatch, capsys,
        "timeline", str(log), "-o", str(out),
        "--optimizer", SEED_OPTIMIZER, "--callback", SEED_PLATEAU,
    )
    assert code == 0, err
    assert_matches_truth(read_csv_exact(out), SEED)


def test_json_and_parquet_round_trip_float32_exactly(tmp_path, monkeypatch, capsys):
    log = console_only(tmp_path, SEED)
    csv_out, json_out, parquet_out = tmp_path / "t.csv", tmp_path / "t.json", tmp_path / "t.parquet"
    for target in (csv_out, json_out, parquet_out):
        code, _, err = invoke(
            monkeypatch, capsys, "timeline", str(log), "-o", str(target), "--optimizer", SEED_OPTIMIZER
        )
        assert code == 0, err
    from_csv = read_csv_exact(csv_out)
    records = json.loads(json_out.read_text())
    from_parquet = pd.read_parquet(parquet_out)
    expected = f32_bits(from_csv["lr_effective"])
    assert (f32_bits([repr(r["lr_effective"]) for r in records]) == expected).all()
    assert (from_parquet["lr_effective"].to_numpy(dtype=np.float32).view(np.uint32) == expected).all()
    assert len(records) == len(from_parquet) == len(from_csv) == 160


def test_format_option_overrides_the_suffix(tmp_path, monkeypatch, capsys):
    log = console_only(tmp_path, SEED)
    out = tmp_path / "timeline.out"
    code, _, err = invoke(
        monkeypatch, capsys,
        "timeline", str(log), "-o", str(out), "--format", "json", "--optimizer", SEED_OPTIMIZER,
    )
    assert code == 0, err
    assert json.loads(out.read_text())[0]["step"] == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--format", "xlsx"], "format"),
        (["--backend", "cuda"], "--backend"),
        (["--keras", "4"], "--keras"),
        (["--optimizer", "Adamm(lr=1e-3)"], "Adamm"),
    ],
)
def test_bad_options_are_one_line_usage_errors(tmp_path, monkeypatch, capsys, extra, message):
    log = console_only(tmp_path, SEED)
    out = tmp_path / "t.csv"
    args = ["timeline", str(log), "-o", str(out), *extra]
    if "--optimizer" not in extra:
        args += ["--optimizer", SEED_OPTIMIZER]
    code, _, err = invoke(monkeypatch, capsys, *args)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1
    assert not out.exists()


def test_console_only_without_optimizer_states_the_assumption(tmp_path):
    log = console_only(tmp_path, SEED)
    proc = run_lraudit("timeline", str(log), "-o", str(tmp_path / "t.csv"))
    assert proc.returncode == 0
    assert "optimizer unknown: the logged lr is taken as applied" in proc.stderr
    assert "--optimizer" in proc.stderr
    assert (tmp_path / "t.csv").read_text().count("\n") == 161
    assert "Traceback" not in proc.stderr


def test_library_api_returns_the_frame():
    from lraudit import timeline

    frame = timeline(FIXTURES / "runs" / "k2_sgd_decay_probe")
    expected = truth("k2_sgd_decay_probe")
    ours = frame["lr_effective"].to_numpy(dtype=np.float32).view(np.uint32)
    assert (ours == f32_bits(expected["lr_effective"])).all()


NAN_RUN = "k3jax_polynomial_power15_probe"  # XLA applied NaN from the end of the decay on


def test_a_nan_lr_is_written_as_a_value_and_nothing_logged_as_missing(tmp_path, monkeypatch, capsys):
    """CSV ``nan`` / JSON ``"NaN"`` for an applied NaN; empty / ``null`` only where nothing is there."""
    expected = truth(NAN_RUN)
    bits = [int(h, 16) for h in expected["lr_effective_f32_hex"]]
    measured = np.array(bits, dtype=np.uint32).view(np.float32)
    nan_steps = set(expected.loc[np.isnan(measured), "step"])
    assert nan_steps == set(range(30, 50))  # the measured run: NaN at every update from step 30
    csv_out, json_out = tmp_path / "t.csv", tmp_path / "t.json"
    for target in (csv_out, json_out):
        code, _, err = invoke(
            monkeypatch, capsys, "timeline", str(FIXTURES / "runs" / NAN_RUN), "-o", str(target)
        )
        assert code == 0, err
    with open(csv_out, newline="") as handle:
        csv_rows = list(csv.DictReader(handle))
    json_rows = json.loads(json_out.read_text())
    assert [int(r["step"]) for r in csv_rows] == [r["step"] for r in json_rows] == expected["step"].tolist()

    for csv_row, json_row in zip(csv_rows, json_rows, strict=True):
        applied_nan = json_row["step"] in nan_steps
        assert (csv_row["lr_effective"] == "nan") is applied_nan, csv_row
        assert (json_row["lr_effective"] == "NaN") is applied_nan, json_row
        for column in ("lr_base", "lr_effective", "decay_factor"):
            # a NaN is a value in every lr column: never an empty cell, and it reads back as NaN
            assert csv_row[column] != "" and json_row[column] is not None
            assert (csv_row[column] == "nan") is (json_row[column] == "NaN")
            assert math.isnan(float(csv_row[column])) is math.isnan(float(json_row[column]))
        # a schedule drives the lr: there is no lr variable, which is missing, not NaN
        assert csv_row["lr_variable"] == "" and json_row["lr_variable"] is None
        # a logged value and its source come together; nothing logged is missing, never "nan"
        logged = csv_row["logged_lr"] != ""
        assert (csv_row["logged_source"] != "") is logged
        assert (json_row["logged_lr"] is not None) is logged
        assert (json_row["logged_source"] is not None) is logged
        if logged:
            assert math.isfinite(float(csv_row["logged_lr"]))
            assert float(csv_row["logged_lr"]) == json_row["logged_lr"]

    logged_steps = {r["step"] for r in json_rows if r["logged_lr"] is not None}
    # the logs are per epoch (History, TensorBoard epoch scalars): 5 epochs, 50 updates
    assert 0 < len(logged_steps) <= 5 and len(json_rows) - len(logged_steps) >= 45
    finite = [r for r in json_rows if r["step"] not in nan_steps]
    assert (f32_bits([repr(r["lr_effective"]) for r in finite])
            == f32_bits(expected.loc[~expected["step"].isin(nan_steps), "lr_effective"])).all()


def test_table_writer_keeps_non_finite_values_apart_from_missing_ones(tmp_path):
    from lraudit.report.tables import write_table

    frame = pd.DataFrame(
        {
            "value": [np.nan, np.inf, -np.inf, 0.1, 0.5],
            "gap": pd.Series([0.25, None, None, 2.0, None], dtype=object),
            "count": pd.array([1, None, 3, 4, 5], dtype="Int64"),
            "label": pd.array(["a", None, "c", "d", "e"], dtype="string"),
        }
    )
    write_table([frame], tmp_path / "t.csv", "csv", list(frame.columns))
    write_table([frame], tmp_path / "t.json", "json", list(frame.columns))
    lines = (tmp_path / "t.csv").read_text().splitlines()
    assert lines == [
        "value,gap,count,label", "nan,0.25,1,a", "inf,,,", "-inf,,3,c", "0.1,2.0,4,d", "0.5,,5,e"
    ]
    records = json.loads((tmp_path / "t.json").read_text())
    assert [r["value"] for r in records] == ["NaN", "Infinity", "-Infinity", 0.1, 0.5]
    assert [float(r["value"]) for r in records][1:3] == [math.inf, -math.inf]
    assert [r["gap"] for r in records] == [0.25, None, None, 2.0, None]
    assert [r["count"] for r in records] == [1, None, 3, 4, 5]
    assert [r["label"] for r in records] == ["a", None, "c", "d", "e"]
