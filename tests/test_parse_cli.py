"""``lraudit parse`` end to end on all the real runs, bad input, corrupt files, untouched inputs.

Expected values are read here from the raw files (csv, json, tensorboard's event_file_loader,
regular expressions on the console log) or from run.json, never from lraudit.
"""
from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _expected import run_meta
from conftest import LazyRuns, corpus_params, run_lraudit
from typer.testing import CliRunner

from lraudit.cli import app

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RUNS = sorted(path.name for path in (FIXTURES / "runs").iterdir() if path.is_dir())
LR_KEYS = ("lr", "learning_rate")


def _parse_csv(tmp_path: Path, *paths: Path) -> list[dict[str, str]]:
    output = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["parse", *map(str, paths), "-o", str(output)])
    assert result.exit_code == 0, result.output
    with open(output, newline="") as handle:
        return list(csv.DictReader(handle))


def _tensorboard_lr(path: Path) -> list[float]:
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util import tensor_util

    values = []
    for event in EventFileLoader(str(path)).Load():
        for value in event.summary.value:
            if value.tag in ("epoch_learning_rate", "epoch_lr", "lr", "learning_rate"):
                if value.HasField("simple_value"):
                    values.append(float(value.simple_value))
                else:
                    values.append(float(tensor_util.make_ndarray(value.tensor).item()))
    return values


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    """Each run parsed once through the CLI (``parse RUN -o out.csv``), when a test first needs it."""

    def parse(name: str) -> list[dict[str, str]]:
        rows = _parse_csv(tmp_path_factory.mktemp("parse"), FIXTURES / "runs" / name)
        # a folder holding several trainings names each after where it starts, inside the folder
        assert {Path(row["run"]).relative_to(FIXTURES / "runs").parts[0] for row in rows} == {name}
        return rows

    return LazyRuns(parse)


@pytest.mark.parametrize("run", corpus_params(RUNS))
def test_parse_recovers_csv_and_history_values(parsed, run):
    rows = parsed[run]
    folder = FIXTURES / "runs" / run
    scalars = {
        (Path(r["file"]).name, r["name"], r["location"]): r for r in rows if r["kind"] == "scalar"
    }
    for csv_file in sorted(folder.glob("*.csv")):  # every CSVLogger file (a sweep writes one per model)
        with open(csv_file, newline="") as handle:
            for line_no, record in enumerate(csv.DictReader(handle), start=2):
                for name, cell in record.items():
                    if name == "epoch" or cell in ("", "NA"):
                        continue
                    row = scalars[(csv_file.name, name, f"{csv_file}:{line_no}")]
                    assert float(row["value"]) == float(cell) and row["text"] == cell
                    assert int(row["epoch"]) == int(record["epoch"])
    by_epoch = {(file, name, r["epoch"]): r for (file, name, _), r in scalars.items()}
    for path in folder.glob("history*.json"):
        for name, values in json.loads(path.read_text()).items():
            for index, value in enumerate(values):
                assert float(by_epoch[(path.name, name, str(index))]["value"]) == float(value)


def _printed_text(folder: Path) -> str:
    """What the run printed: its console log, or its notebook's cell outputs."""
    if (folder / "console.log").exists():
        return (folder / "console.log").read_text(errors="replace")
    from lraudit.sources.notebook import cell_output_text

    document = json.loads(next(folder.glob("*.ipynb")).read_text())
    return "".join(cell_output_text(cell.get("outputs", [])) for cell in document["cells"])


@pytest.mark.parametrize("run", corpus_params(RUNS))
def test_parse_recovers_tensorboard_lr_and_console_messages(parsed, run):
    rows = parsed[run]
    folder = FIXTURES / "runs" / run
    for events_file in sorted(folder.glob("tb/**/events.out.tfevents.*")):
        expected = _tensorboard_lr(events_file)
        got = [float(r["value"]) for r in rows if r["kind"] == "scalar" and r["file"].endswith(
            str(events_file.relative_to(folder))) and r["name"].rsplit("/", 1)[-1] in (
            "epoch_learning_rate", "epoch_lr", "lr", "learning_rate")]
        assert sorted(got) == sorted(expected)
    console = _printed_text(folder)
    printed = [float(v) for v in re.findall(r"reducing learning rate to ([0-9.eE+-]+?)\.?\s", console)]
    events = [r for r in rows if r["kind"] == "event"]
    reductions = [float(r["value"]) for r in events if r["name"] == "plateau_reduction"]
    assert sorted(reductions) == sorted(printed)
    scheduled = re.findall(r"LearningRateScheduler setting learning rate to ([0-9.eE+-]+?)\.?\s", console)
    set_values = [float(r["value"]) for r in rows if r["kind"] == "event" and r["name"] == "scheduler_set"]
    assert sorted(set_values) == sorted(float(v) for v in scheduled)


@pytest.mark.parametrize("run", corpus_params(RUNS))
def test_parse_epochs_and_fits_match_the_run(parsed, run):
    meta = run_meta(run)
    rows = [r for r in parsed[run] if r["global_epoch"]]
    # an epoch cut by an exception ran updates but CSVLogger never wrote its row
    logged_epochs = meta["epochs"] - sum(1 for fit in meta["fits"] if "interrupted" in fit)
    assert {int(r["global_epoch"]) for r in rows if r["source"] == "csvlogger"} == set(range(logged_epochs))
    # a folder holding several trainings numbers each one's fits from 0: count them per training
    fits = sum(len({r["fit"] for r in rows if r["fit"] and r["run"] == training}) for training in {
        r["run"] for r in rows})
    assert fits == len(meta["fits"])


def test_formats_round_trip_exactly(tmp_path):
    run = FIXTURES / "runs" / "k3_adam_weightdecay_plateau_minlr"
    frames = {}
    for fmt in ("csv", "json", "parquet"):
        output = tmp_path / f"out.{fmt}"
        proc = run_lraudit("parse", str(run), "-o", str(output))
        assert proc.returncode == 0, proc.stderr
        if fmt == "csv":
            frames[fmt] = pd.read_csv(output, dtype={"text": str})
        elif fmt == "json":
            frames[fmt] = pd.DataFrame(json.loads(output.read_text()))
        else:
            frames[fmt] = pd.read_parquet(output)
    lr = {
        fmt: frame[frame["name"] == "learning_rate"]["value"].to_numpy(np.float64)
        for fmt, frame in frames.items()
    }
    with open(run / "history.csv", newline="") as handle:
        expected = [float(r["learning_rate"]) for r in csv.DictReader(handle)]
    for fmt, values in lr.items():
        frame = frames[fmt]
        csv_part = frame[(frame["name"] == "learning_rate") & (frame["source"] == "csvlogger")]
        assert list(csv_part["value"]) == expected, fmt
        assert len(values) == len(lr["csv"])
    assert list(frames["csv"].columns) == list(frames["parquet"].columns) == list(frames["json"].columns)


def test_explicit_format_overrides_suffix(tmp_path):
    output = tmp_path / "table.data"
    result = CliRunner().invoke(app, ["parse", str(FIXTURES / "runs" / RUNS[0]), "-o", str(output),
                                      "--format", "json"])
    assert result.exit_code == 0
    assert json.loads(output.read_text())[0]["run"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return run_lraudit(*args)


@pytest.mark.parametrize("case", ["missing", "empty", "unrecognised", "format", "suffix"])
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, case):
    output = tmp_path / "out.csv"
    target = tmp_path / "in"
    target.mkdir()
    extra: list[str] = []
    if case == "missing":
        target = tmp_path / "nope"
    elif case == "unrecognised":
        (target / "notes.txt").write_text("just text\n")
        (target / "script.py").write_text("print('hi')\n")
    elif case in ("format", "suffix"):
        target = FIXTURES / "runs" / RUNS[0]
        if case == "format":
            extra = ["--format", "xlsx"]
        else:
            output = tmp_path / "out.xlsx"
    proc = _cli("parse", str(target), "-o", str(output), *extra)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("lraudit: error:")
    assert not output.exists()
    assert list(tmp_path.glob(".out*")) == []  # no temporary file left either


def test_corrupt_files_leave_the_rest_readable(tmp_path):
    import lraudit

    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "runs" / "k3_adam_weightdecay_plateau_minlr", run)
    (run / "history.json").write_text((run / "history.json").read_text()[:100])  # truncated
    (run / "extra.csv").write_bytes(b"epoch,learning_rate\n0,0.1\n".decode().encode("utf-16"))  # UTF-16
    (run / "latin.csv").write_bytes("epoch,loss\n0,1.5\n# caf\xe9\n".encode("latin-1"))
    (run / "optimizer_initial.json").write_text('{"name": "adam", "learning_rate": 0.001, ')
    (run / "model.keras").write_bytes((run / "model.keras").read_bytes()[:500])
    (run / "empty.h5").write_bytes(b"")
    (run / "binary.csv").write_bytes(bytes(range(256)) * 4)
    loaded = lraudit.load_run(run)
    warnings = " ".join(loaded.warnings)
    for name in ("history.json", "optimizer_initial.json", "model.keras"):
        assert name in warnings
    statuses = {Path(entry.path).name: entry.status for entry in loaded.inputs}
    assert statuses["empty.h5"] == statuses["binary.csv"] == "skipped"
    assert statuses["history.csv"] == "read"
    csv_lr = loaded.scalars.query("source == 'csvlogger' and name == 'learning_rate'")
    assert 0.1 in set(csv_lr["value"]) and len(csv_lr) == 9
    assert loaded.optimizer["class_name"] == "Adam"
    rows = _parse_csv(tmp_path, run)
    assert any(r["name"] == "loss" and Path(r["file"]).name == "latin.csv" for r in rows)


def test_inputs_are_never_modified(tmp_path):
    def snapshot() -> dict[Path, tuple[str, int]]:
        return {
            path: (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
            for path in sorted((FIXTURES / "runs").rglob("*")) if path.is_file()
        }

    before = snapshot()
    runs = FIXTURES / "runs"
    _parse_csv(tmp_path, runs / "k3_resume_reload_keras_probe", runs / "k2_adam_decay_plateau")
    assert snapshot() == before
