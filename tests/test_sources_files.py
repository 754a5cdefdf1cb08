"""The file sources (CSVLogger, History JSON, optimizer configs, saved models) on the real runs and
on hand-made variants. Expected values come from the raw files read with csv/json/h5py here, or
from the runs' measurement metadata (fixtures/expected), never from the code under test."""
from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lraudit.sources import csvlogger, history, models, optimizer_config, sniff_file
from lraudit.sources.base import SNIFF_BYTES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RUNS = sorted(path.name for path in (FIXTURES / "runs").iterdir() if path.is_dir())


def _by_epoch(frame, *columns: str) -> dict:
    """{(name, epoch): value} (or a tuple of ``columns``) of a scalars table."""
    picked = [frame[column] for column in columns] if columns else [frame["value"]]
    keys = zip(frame["name"], frame["epoch"], strict=True)
    values = zip(*picked, strict=True)
    return {(n, int(e)): (v if len(v) > 1 else v[0]) for (n, e), v in zip(keys, values, strict=True)}


def _run_json(run: str) -> dict:
    return json.loads((FIXTURES / "expected" / run / "run.json").read_text())


def _truth_last_steps(run: str) -> set[int]:
    """Iteration counter after each fit, from truth.csv (max step of the fit + 1)."""
    with open(FIXTURES / "expected" / run / "truth.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    last: dict[str, int] = {}
    for row in rows:
        last[row["fit"]] = max(last.get(row["fit"], -1), int(row["step"]))
    return {step + 1 for step in last.values()}


# ------------------------------------------------------------------ CSVLogger


def _csv_files(run: str) -> list[Path]:
    return sorted((FIXTURES / "runs" / run).glob("*.csv"))


CSV_FILES = [(run, path.name) for run in RUNS for path in _csv_files(run)]


def test_every_run_has_a_csvlogger_file():
    assert {run for run, _ in CSV_FILES} == set(RUNS)


@pytest.mark.parametrize(("run", "name"), CSV_FILES)
def test_csvlogger_reads_every_cell_of_the_real_runs(run, name):
    path = FIXTURES / "runs" / run / name
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    expected = {
        (name, int(row[0])): cell
        for row in rows[1:]
        for name, cell in zip(header[1:], row[1:], strict=False)
        if cell not in ("", "NA")
    }
    assert sniff_file(path) is csvlogger.CsvLoggerSource
    data = csvlogger.read(path)
    assert data.warnings == []
    got = _by_epoch(data.scalars, "value", "text")
    assert set(got) == set(expected)
    for key, cell in expected.items():
        value, text = got[key]
        assert text == cell
        assert value == float(cell)  # exact float64, so float32 bits survive
    assert set(data.scalars["source"]) == {"csvlogger"}
    # line numbers point at the row of that epoch (header is line 1)
    first = data.scalars[data.scalars["epoch"] == int(rows[1][0])]
    assert set(first["line"]) == {2}
    assert [fit.epochs_seen for fit in data.fits] == [[int(row[0]) for row in rows[1:]]]


def test_csvlogger_semicolon_na_and_crlf(tmp_path):
    path = tmp_path / "log.txt"
    path.write_bytes(b"epoch;lr;loss;val_loss\r\n0;0.001;1.5;NA\r\n1;0.00075;1.25;\r\n")
    assert sniff_file(path) is csvlogger.CsvLoggerSource
    data = csvlogger.read(path)
    values = _by_epoch(data.scalars)
    assert values == {("lr", 0): 0.001, ("loss", 0): 1.5, ("lr", 1): 0.00075, ("loss", 1): 1.25}
    assert data.warnings == []


def test_csvlogger_repeated_header_and_restarted_numbering_are_new_fits(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text(
        "epoch,loss\n0,3.0\n1,2.0\n"  # fit 0
        "epoch,loss\n0,1.5\n1,1.25\n"  # repeated header: fit 1
        "0,1.0\n"  # numbering restarted: fit 2
    )
    data = csvlogger.read(path)
    assert [fit.epochs_seen for fit in data.fits] == [[0, 1], [0, 1], [0]]
    assert list(data.scalars["fit"]) == [0, 0, 1, 1, 2]
    assert list(data.scalars["line"]) == [2, 3, 5, 6, 7]


def test_csvlogger_append_with_initial_epoch_is_one_numbering(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("epoch,loss\n0,3.0\n1,2.0\n2,1.0\n3,0.5\n")
    assert [fit.epochs_seen for fit in csvlogger.read(path).fits] == [[0, 1, 2, 3]]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "latin-1", "utf-8-sig"])
def test_csvlogger_odd_encodings(tmp_path, encoding):
    path = tmp_path / "h.csv"
    path.write_bytes("epoch,lr,loss\r\n0,0.001,1.5\r\n1,0.0005,1.25\r\n".encode(encoding))
    assert sniff_file(path) is csvlogger.CsvLoggerSource
    data = csvlogger.read(path)
    assert list(data.scalars["value"]) == [0.001, 1.5, 0.0005, 1.25]


def test_csvlogger_truncated_and_garbled_rows_are_warnings(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("epoch,lr,loss\n0,0.001,1.5\nxx,1,2\n1,0.0005,oops\n2,0.0002")
    data = csvlogger.read(path)
    assert ("lr", 1) in set(zip(data.scalars["name"], data.scalars["epoch"], strict=False))
    assert ("loss", 1) not in set(zip(data.scalars["name"], data.scalars["epoch"], strict=False))
    assert 2 not in set(data.scalars["epoch"])
    text = " ".join(data.warnings)
    assert ":3:" in text and ":4:" in text and "truncated" in text


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=20),
    separator=st.sampled_from([",", ";", "\t", "|"]),
)
def test_csvlogger_round_trips_float32_values_exactly(tmp_path_factory, values, separator):
    path = tmp_path_factory.mktemp("csv") / "h.csv"
    lines = [f"epoch{separator}lr"] + [f"{i}{separator}{np.float32(v)}" for i, v in enumerate(values)]
    path.write_text("\r\n".join(lines) + "\r\n")
    data = csvlogger.read(path)
    got = np.asarray(data.scalars["value"], dtype=np.float32)
    assert got.tobytes() == np.asarray(values, dtype=np.float32).tobytes()
    assert list(data.scalars["epoch"]) == list(range(len(values)))


# ------------------------------------------------------------------ History


def _history_files(run: str) -> list[Path]:
    return sorted((FIXTURES / "runs" / run).glob("history*.json"))


@pytest.mark.parametrize("run", RUNS)
def test_history_reads_every_value_of_the_real_runs(run):
    for path in _history_files(run):
        raw = json.loads(path.read_text())
        assert sniff_file(path) is history.HistorySource
        data = history.read(path)
        assert data.warnings == []
        got = _by_epoch(data.scalars)
        expected = {(name, i): float(v) for name, values in raw.items() for i, v in enumerate(values)}
        assert got == expected
        # each value is located on its own line, and the text is what the file says there
        lines = path.read_text().splitlines()
        for line, text in zip(data.scalars["line"], data.scalars["text"], strict=False):
            assert text in lines[int(line) - 1]
        assert len(data.fits) == 1


def test_history_several_fits_and_string_values(tmp_path):
    as_list = tmp_path / "a.json"
    as_list.write_text(json.dumps([{"loss": [1.0, 0.5], "lr": ["0.001", "0.001"]}, {"loss": [0.25]}]))
    as_dict = tmp_path / "b.json"
    as_dict.write_text(json.dumps({"first": {"loss": [1.0, 0.5]}, "second": {"loss": [0.25]}}, indent=1))
    for path in (as_list, as_dict):
        assert sniff_file(path) is history.HistorySource
        data = history.read(path)
        assert [fit.end_epoch for fit in data.fits] == [2, 1]
        loss = data.scalars[data.scalars["name"] == "loss"]
        triples = list(zip(loss["fit"], loss["epoch"], loss["value"], strict=True))
        assert triples == [(0, 0, 1.0), (0, 1, 0.5), (1, 0, 0.25)]
    lr = history.read(as_list).scalars.query("name == 'lr'")
    assert list(lr["value"]) == [0.001, 0.001] and list(lr["text"]) == ["0.001", "0.001"]


def test_history_nan_null_and_corrupt(tmp_path):
    path = tmp_path / "h.json"
    path.write_text('{"loss": [NaN, 1.5, null]}')
    data = history.read(path)
    assert math.isnan(data.scalars["value"].iloc[0]) and list(data.scalars["epoch"]) == [0, 1]
    broken = tmp_path / "broken.json"
    broken.write_text('{"loss": [1.0, 0.5,')
    assert sniff_file(broken) is history.HistorySource  # still recognised, so the warning names it
    data = history.read(broken)
    assert data.scalars.empty and "broken.json" in data.warnings[0]


# ------------------------------------------------------------------ optimizer configs


@pytest.mark.parametrize("run", RUNS)
def test_optimizer_configs_of_the_real_runs(run):
    folder = FIXTURES / "runs" / run
    serialized = json.loads((folder / "optimizer_serialized.json").read_text())
    meta = _run_json(run)
    # a run that trained several optimizers (a recompile, a second model): each file is one of them
    constructed = [meta["optimizer_ctor"], *(fit.get("optimizer_ctor", "") for fit in meta["fits"])]
    classes = {match.group(1) for ctor in constructed if (match := re.search(r"(\w+)\(", ctor))}
    several = len(meta.get("optimizer_ctors", [])) > 1
    for name in ("optimizer.json", "optimizer_initial.json", "optimizer_serialized.json"):
        raw = json.loads((folder / name).read_text())
        config = raw.get("config", raw)
        assert sniff_file(folder / name) is optimizer_config.OptimizerConfigSource
        data = optimizer_config.read(folder / name)
        if several:
            assert data.optimizer["class_name"] in classes
        else:
            assert data.optimizer["class_name"] == serialized["class_name"]
        ours = data.optimizer["config"]
        if "inner_optimizer" in config:  # LossScaleOptimizer: the wrapped optimizer holds the lr
            config, ours = config["inner_optimizer"]["config"], ours["inner_optimizer"]["config"]
        assert ours["learning_rate"] == config["learning_rate"] or isinstance(
            config["learning_rate"], dict
        )
        if isinstance(config["learning_rate"], dict):
            schedule = ours["learning_rate"]
            assert schedule["class_name"] == config["learning_rate"]["class_name"]
            assert schedule["config"] == config["learning_rate"]["config"]
        assert data.keras in (None, meta["keras_generation"])
        assert data.optimizer_stage is None
    module = optimizer_config.read(folder / "optimizer_serialized.json").optimizer["module"]
    assert module == serialized["module"]


def test_optimizer_config_legacy_forms_and_class_inference(tmp_path):
    cases = {
        # standalone Keras 2.2: lr key, no name
        '{"lr": 0.0010000000474974513, "decay": 0.01, "beta_1": 0.9, "beta_2": 0.999, "amsgrad": false}': (
            "Adam", "2"),
        # Keras 3 bare config of a user-named optimizer: class from its keys
        '{"name": "my_opt", "learning_rate": 0.1, "momentum": 0.9, "nesterov": true, '
        '"loss_scale_factor": null}': ("SGD", "3"),
        # TF 2.x serialize() with a TF-style nested schedule
        '{"class_name": "SGD", "config": {"name": "SGD", "learning_rate": {"class_name": "ExponentialDecay",'
        ' "config": {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5}}, "decay": 0.0}}': (
            "SGD", "2"),
        # a training_config dump
        '{"loss": "mse", "optimizer_config": {"class_name": "RMSprop", "config": {"learning_rate": 0.01,'
        ' "is_legacy_optimizer": false}}}': ("RMSprop", "2"),
    }
    for index, (text, (class_name, keras)) in enumerate(cases.items()):
        path = tmp_path / f"c{index}.json"
        path.write_text(text)
        assert sniff_file(path) is optimizer_config.OptimizerConfigSource, text
        data = optimizer_config.read(path)
        assert (data.optimizer["class_name"], data.keras) == (class_name, keras), text
    nested = optimizer_config.read(tmp_path / "c2.json").optimizer["config"]["learning_rate"]
    assert nested == {"class_name": "ExponentialDecay", "module": None,
                      "config": {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5}}


def test_optimizer_config_corrupt_is_a_warning(tmp_path):
    path = tmp_path / "opt.json"
    path.write_text('{"name": "Adam", "learning_rate": 0.001, "beta_1"')
    assert sniff_file(path) is optimizer_config.OptimizerConfigSource
    data = optimizer_config.read(path)
    assert data.optimizer is None and "opt.json" in data.warnings[0]


# ------------------------------------------------------------------ saved models

MODEL_FILES = sorted(
    (run, path.name) for run in RUNS for path in (FIXTURES / "runs" / run).iterdir()
    if path.suffix in (".h5", ".keras")
)


@pytest.mark.parametrize(("run", "name"), MODEL_FILES)
def test_saved_models_of_the_real_runs(run, name):
    import h5py

    path = FIXTURES / "runs" / run / name
    meta = _run_json(run)
    assert sniff_file(path) is models.ModelsSource
    data = models.read(path)
    assert data.warnings == []
    assert data.optimizer_stage == "saved"
    assert data.keras == meta["keras_generation"]
    assert data.iterations in _truth_last_steps(run)
    if path.suffix == ".h5":
        with h5py.File(path, "r") as handle:
            stored = json.loads(handle.attrs["training_config"])["optimizer_config"]
            assert data.backend == handle.attrs["backend"]
        assert data.optimizer["class_name"] == stored["class_name"]
        assert data.optimizer["config"] == stored["config"]
    else:
        import zipfile

        with zipfile.ZipFile(path) as archive:
            compile_config = json.loads(archive.read("config.json"))["compile_config"]
        assert data.optimizer["class_name"] == compile_config["optimizer"]["class_name"]
        assert data.optimizer["module"] == compile_config["optimizer"]["module"]
        assert data.compile_config["steps_per_execution"] == meta["steps_per_execution"]


def test_truncated_and_fake_models_are_warnings(tmp_path):
    source = next(FIXTURES.glob("runs/*/model.h5"))
    truncated = tmp_path / "cut.h5"
    truncated.write_bytes(source.read_bytes()[:3000])
    assert sniff_file(truncated) is models.ModelsSource
    data = models.read(truncated)
    assert data.optimizer is None and "cut.h5" in data.warnings[0]
    fake = tmp_path / "fake.keras"
    fake.write_bytes(b"PK\x03\x04" + b"config.json" + b"\x00" * 100)
    data = models.read(fake)
    assert data.warnings and "fake.keras" in data.warnings[0]


def test_sniff_looks_at_content_not_names(tmp_path):
    csv_named_json = tmp_path / "history.json"
    csv_named_json.write_text("epoch,loss\n0,1.0\n")
    assert sniff_file(csv_named_json) is csvlogger.CsvLoggerSource
    binary = tmp_path / "history.csv"
    binary.write_bytes(bytes(range(256)) * 10)
    assert sniff_file(binary) is None
    empty = tmp_path / "model.h5"
    empty.write_bytes(b"")
    assert sniff_file(empty) is None
    assert SNIFF_BYTES >= 4096
