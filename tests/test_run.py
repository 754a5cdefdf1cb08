"""The Run builder: fits and global epochs, optimizer choice, hints, disagreements, warnings.

Real runs are checked against their measurement metadata (fixtures/expected/*/run.json) and raw
files; the builder's merging rules are checked on small hand-made SourceData.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _expected import run_meta
from conftest import LazyRuns, corpus_params

import lraudit
from lraudit.api import build_run
from lraudit.sources.base import CallbackEvent, FitInfo, SourceData, scalars_frame

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RUNS = sorted(path.name for path in (FIXTURES / "runs").iterdir() if path.is_dir())


def _meta(run: str) -> dict:
    return run_meta(run)


def _f32(value: float) -> np.float32:
    return np.float32(value)


@pytest.fixture(scope="module")
def trainings():
    """Per run folder, its trainings (one Run each; a notebook or sweep log may hold several)."""
    return LazyRuns(lambda name: lraudit.load_runs(FIXTURES / "runs" / name))


@pytest.fixture(scope="module")
def runs(trainings):
    """The Run of a folder holding one training (``load_run`` refuses a folder of several)."""

    def one(name: str):
        found = trainings[name]
        return found[0] if len(found) == 1 else lraudit.load_run(FIXTURES / "runs" / name)

    return LazyRuns(one)


def test_load_run_refuses_a_folder_of_several_trainings():
    with pytest.raises(lraudit.InputError, match="holds 2 separate trainings"):
        lraudit.load_run(FIXTURES / "runs" / "k3_sweep_two_models_pipe")


@pytest.mark.parametrize("name", corpus_params(RUNS))
def test_epochs_and_global_epochs(trainings, name):
    meta = _meta(name)
    assert max(run.epochs for run in trainings[name]) == meta["epochs"]
    for run in trainings[name]:
        _epochs_of_one_training(run)


def _epochs_of_one_training(run):
    epochs = run.scalars["global_epoch"].dropna()
    assert epochs.min() >= 0 and epochs.max() < run.epochs
    # every History file lands where its values are: history.json holds the last fit
    csv_rows = run.scalars[run.scalars["source"] == "csvlogger"]
    by_epoch = {
        (n, int(e)): v
        for n, e, v in zip(csv_rows["name"], csv_rows["global_epoch"], csv_rows["value"], strict=True)
    }
    hist = run.scalars[run.scalars["source"] == "history"]
    compared = 0
    for n, e, v in zip(hist["name"], hist["global_epoch"], hist["value"], strict=False):
        if (n, int(e)) in by_epoch and len(set(by_epoch.values())) > 1:
            assert _f32(by_epoch[(n, int(e))]) == _f32(v)
            compared += 1
    assert run.disagreements == []


@pytest.mark.parametrize("name", corpus_params(RUNS))
def test_fits_and_steps_per_epoch(trainings, name):
    """Fits come from the console (Epoch N/M) and steps per epoch from its bar or TensorBoard;
    a folder of several trainings holds run.json's fits one training after the other."""
    meta = _meta(name)
    assert [(fit.first_epoch, fit.end_epoch) for run in trainings[name] for fit in run.fits] == [
        (fit["initial_epoch"], fit["epochs"]) for fit in meta["fits"]
    ]
    assert {run.steps_per_epoch for run in trainings[name]} == {meta["steps_per_epoch"]}


@pytest.mark.parametrize("name", corpus_params(RUNS))
def test_optimizer_final_and_initial(trainings, name):
    """The config saved last is the last training's; with several trainings, the optimizer
    configs of another optimizer belong to an earlier one (lr variable aside)."""
    run, meta = trainings[name][-1], _meta(name)
    folder = FIXTURES / "runs" / name
    serialized = json.loads((folder / "optimizer_serialized.json").read_text())
    final = json.loads((folder / "optimizer.json").read_text())
    initial = json.loads((folder / "optimizer_initial.json").read_text())
    assert run.optimizer["class_name"] == serialized["class_name"]
    assert run.optimizer["module"] == serialized["module"]
    if "inner_optimizer" in final:  # LossScaleOptimizer: the wrapped optimizer holds the lr
        final, initial = final["inner_optimizer"]["config"], initial["inner_optimizer"]["config"]
        lr = run.optimizer["config"]["inner_optimizer"]["config"]["learning_rate"]
    else:
        lr = run.optimizer["config"]["learning_rate"]
    if isinstance(final["learning_rate"], dict):
        assert lr["config"] == final["learning_rate"]["config"]
    else:
        assert _f32(lr) == _f32(final["learning_rate"])
        if _f32(final["learning_rate"]) != _f32(initial["learning_rate"]) and len(trainings[name]) == 1:
            assert _f32(run.optimizer_initial["config"]["learning_rate"]) == _f32(initial["learning_rate"])
    assert sum(len(training.optimizer_configs) for training in trainings[name]) >= 3
    assert {training.keras for training in trainings[name]} == {meta["keras_generation"]}


@pytest.mark.parametrize("name", corpus_params([n for n in RUNS if _meta(n)["saved_models"]]))
def test_saved_counters(runs, name):
    run, meta = runs[name], _meta(name)
    assert sorted(Path(counter.path).name for counter in run.saved_counters) == sorted(meta["saved_models"])
    assert all(counter.iterations > 0 for counter in run.saved_counters)


def _data(kind, path, rows, fits, **kwargs):
    return SourceData(path=path, kind=kind, scalars=scalars_frame(rows), fits=fits, **kwargs)


def test_restarted_numbering_gets_an_offset_and_events_move_with_it():
    csv_rows = [("csvlogger", "h.csv", i + 2, "loss", e, None, f, 1.0 / (i + 1), str(1.0 / (i + 1)))
                for i, (f, e) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)])]
    csv_data = _data("csvlogger", "h.csv", csv_rows,
                     [FitInfo(0, 0, 2, [0, 1]), FitInfo(1, 0, 3, [0, 1, 2])])
    csv_data.events = [CallbackEvent("plateau_reduction", 1, 0.5, "0.5", "h.csv:9", fit=1)]
    run = build_run("r", [csv_data])
    assert [(f.first_epoch, f.end_epoch, f.epoch_offset) for f in run.fits] == [(0, 2, 0), (2, 5, 2)]
    assert list(run.scalars["global_epoch"]) == [0, 1, 2, 3, 4]
    assert list(run.scalars["global_fit"]) == [0, 0, 1, 1, 1]
    assert (run.events[0].epoch, run.events[0].fit) == (3, 1)
    assert run.epochs == 5


def test_history_placed_by_values_and_disagreements_beyond_print_precision():
    csv_rows = [("csvlogger", "h.csv", e + 2, "loss", e, None, 0, v, repr(v))
                for e, v in enumerate([0.9, 0.8, 0.7, 0.6])]
    csv_data = _data("csvlogger", "h.csv", csv_rows, [FitInfo(0, 0, 4, [0, 1, 2, 3])])
    hist_rows = [("history", "h.json", None, "loss", i, None, 0, v, repr(v))
                 for i, v in enumerate([0.7, 0.6])]
    hist = _data("history", "h.json", hist_rows, [FitInfo(0, 0, 2, [0, 1])])
    console_rows = [("console", "c.log", 10, "loss", 0, None, 0, 0.9001, "0.9001"),
                    ("console", "c.log", 11, "loss", 1, None, 0, 0.8123, "0.8123")]
    console = _data("console", "c.log", console_rows, [FitInfo(0, 0, 4, [0, 1, 2, 3])])
    run = build_run("r", [csv_data, hist, console])
    assert list(run.scalars.query("source == 'history'")["global_epoch"]) == [2, 3]
    # 0.9001 is 0.9 within print precision? no: 4 decimals, 0.9 vs 0.9001 differ by 1e-4 > 5e-5
    assert len(run.disagreements) == 2
    assert all("c.log" in line for line in run.disagreements)


def test_initial_config_is_the_one_matching_the_first_logged_lr():
    lr_rows = [("history", "h.json", 3, "lr", 0, None, 0, 0.001, "0.001")]
    hist = _data("history", "h.json", lr_rows, [FitInfo(0, 0, 1, [0])])
    before = SourceData(path="a.json", kind="optimizer_config", keras="2",
                        optimizer={"class_name": "Adam", "module": None, "config": {"learning_rate": 0.001}})
    after = SourceData(path="b.json", kind="optimizer_config", keras="3",
                       optimizer={"class_name": "Adam", "module": None, "config": {"learning_rate": 0.00025}})
    run = build_run("r", [before, after, hist])
    assert run.optimizer["config"]["learning_rate"] == 0.00025
    assert run.optimizer_initial["config"]["learning_rate"] == 0.001
    assert any("hints disagree" in warning for warning in run.warnings)


def test_warnings_name_their_file_and_partial_inputs():
    broken = SourceData(path="bad.csv", kind="csvlogger", warnings=["line 3: row skipped"])
    run = build_run("r", [broken])
    assert run.warnings == ["bad.csv: line 3: row skipped"]
    assert [(entry.path, entry.status) for entry in run.inputs] == [("bad.csv", "partial")]
