"""Notebooks (``.ipynb``) end to end through the CLI, and the console eras they brought along.

Fixtures in ``fixtures/notebooks`` are real notebook outputs (short excerpts, code cells replaced;
see fixtures/README.md); expected values are read off the excerpts by eye, never from lraudit.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import run_cli

from lraudit.sources import notebook, sniff_file

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NOTEBOOKS = FIXTURES / "notebooks"


def parse_rows(path: Path, tmp_path: Path, monkeypatch, capsys) -> tuple[list[dict[str, str]], str]:
    output = tmp_path / "out.csv"
    code, _, err = run_cli(["parse", str(path), "-o", str(output)], monkeypatch, capsys)
    assert code == 0, err
    with open(output, newline="") as handle:
        return list(csv.DictReader(handle)), err


def values(rows: list[dict[str, str]], name: str) -> list[float]:
    return [float(row["value"]) for row in rows if row["kind"] == "scalar" and row["name"] == name]


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_every_fixture_notebook_is_recognised_as_a_notebook(name):
    assert sniff_file(NOTEBOOKS / name) is notebook.NotebookSource


def test_colab_stream_split_mid_line_is_a_redraw_not_glued_text(tmp_path, monkeypatch, capsys):
    rows, _ = parse_rows(NOTEBOOKS / "colab_split_streams.ipynb", tmp_path, monkeypatch, capsys)
    acc = values(rows, "acc")
    assert len(acc) == 10 and acc[:2] == [0.4206, 0.5666]  # not 0.54161563
    first = next(row for row in rows if row["name"] == "val_acc")
    assert first["location"].endswith("colab_split_streams.ipynb:cell 3:line 3")
    data = notebook.read(NOTEBOOKS / "colab_split_streams.ipynb")
    assert data.steps_per_epoch == 1563
    assert data.fits[0].new_training.startswith("compile() in ") and ":cell 2" in data.fits[0].new_training
    assert [cell["index"] for cell in data.code_cells] == [2, 3]
    assert data.code_cells[0]["execution_count"] is None and "compile" in data.code_cells[0]["source"]


def test_raw_sample_bars_give_batch_and_the_interrupted_epoch_its_steps():
    data = notebook.read(NOTEBOOKS / "jupyter_raw_bars_interrupt.ipynb")
    fit = data.fits[0]
    # "Train on 37500 samples", first update "32/37500": batch 32, ceil(37500/32) = 1172 steps
    assert fit.samples == 37500 and fit.validation_samples == 12500
    assert fit.steps_per_epoch == 1172 and data.steps_per_epoch == 1172
    # epoch 2 stopped at 37472/37500 by a KeyboardInterrupt: 37472/32 = 1171 steps ran
    assert fit.epochs_seen == [0, 1] and fit.last_epoch_steps == 1171
    assert any("epoch 2 has no final progress line" in w for w in data.warnings)


def test_fit_generator_validation_bar_before_the_epoch_line(tmp_path, monkeypatch, capsys):
    rows, _ = parse_rows(NOTEBOOKS / "colab_fitgen_valbar_stale.ipynb", tmp_path, monkeypatch, capsys)
    assert values(rows, "val_loss") == [0.7204, 0.6172]
    assert values(rows, "loss") == [1.0114, 0.7979]  # the 209/209 line, not the 27/27 validation bar
    data = notebook.read(NOTEBOOKS / "colab_fitgen_valbar_stale.ipynb")
    assert data.steps_per_epoch == 209
    assert any("no execution count" in w and "cells 1;" in w for w in data.warnings)


def test_evaluate_in_a_later_cell_does_not_complete_the_cut_epoch():
    data = notebook.read(NOTEBOOKS / "colab_interrupted_then_evaluate.ipynb")
    fit = data.fits[0]
    assert (fit.first_epoch, fit.epochs_seen, fit.steps_per_epoch) == (12, [12, 13], 449)
    assert fit.last_epoch_steps == 229  # "229/449 ... ETA: 3:05", no traceback


def test_nbformat3_keras1_verbose2_and_early_stopping_before_its_line(tmp_path, monkeypatch, capsys):
    rows, _ = parse_rows(NOTEBOOKS / "v3_keras1_verbose2.ipynb", tmp_path, monkeypatch, capsys)
    assert len(values(rows, "val_loss")) == 4  # "225s - loss: ..." lines, no leading " - "
    stop = next(row for row in rows if row["name"] == "early_stopping")
    assert stop["epoch"] == "18"  # "Epoch 00018: early stopping" (0-based) printed before epoch 19's line
    data = notebook.read(NOTEBOOKS / "v3_keras1_verbose2.ipynb")
    fit = data.fits[0]
    assert fit.samples == 40000 and fit.steps_per_epoch is None  # batch size not shown: never 40000


def test_compile_between_fits_marks_a_new_training():
    data = notebook.read(NOTEBOOKS / "two_compiles.ipynb")
    first, second = data.fits
    assert "model summary" in " ".join(first.start_markers)
    assert second.new_training is not None and "compile() in" in second.new_training
    assert second.new_training.endswith(":cell 4")
    assert any(m.startswith("epoch numbering restarts at Epoch 1/20") for m in second.start_markers)
    scheduler = [e for e in data.events if e.kind == "scheduler_set"]
    assert scheduler and scheduler[0].location.endswith("two_compiles.ipynb:cell 5:line 2")
    assert scheduler[0].fit == 1


def test_console_glued_callback_text_and_doubled_headers(tmp_path, monkeypatch, capsys):
    path = FIXTURES / "console" / "glued_callback_doubled_headers.md"
    rows, _ = parse_rows(path, tmp_path, monkeypatch, capsys)
    assert len(values(rows, "val_loss")) == 2
    assert {row["fit"] for row in rows if row["kind"] == "scalar"} == {"0"}  # doubled headers: one fit


def test_console_paste_from_the_middle_of_epoch_one_is_one_fit(tmp_path, monkeypatch, capsys):
    path = FIXTURES / "console" / "paste_from_mid_epoch1.txt"
    rows, _ = parse_rows(path, tmp_path, monkeypatch, capsys)
    loss = [(row["epoch"], row["fit"]) for row in rows if row["kind"] == "scalar" and row["name"] == "loss"]
    assert loss[:2] == [("0", "0"), ("1", "0")]


def test_already_right_audit_of_a_notebook_run(monkeypatch, capsys):
    run_path = str(FIXTURES / "runs" / "nb_k2_sgd_decay_plateau")
    code, out, err = run_cli(
        ["audit", run_path, "--format", "json", "--fail-on", "never"],
        monkeypatch,
        capsys,
    )
    assert code == 0, err
    run = json.loads(out)["runs"][0]
    codes = {finding["code"] for finding in run["findings"]}
    assert {"LRA001", "LRA007"} <= codes
    assert {entry["kind"] for entry in run["inputs"]} >= {"notebook"}
    hidden = next(f for f in run["findings"] if f["code"] == "LRA001")
    assert hidden["source"]


# ---- bad input: the rest is read, one warning names the file and the problem, never a traceback


def _write(path: Path, notebook_dict: dict) -> Path:
    path.write_text(json.dumps(notebook_dict))
    return path


def _document(cells: list[dict]) -> dict:
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _cell(text: str, count: int | None = 1) -> dict:
    output = {"output_type": "stream", "name": "stdout", "text": text}
    return {"cell_type": "code", "execution_count": count, "metadata": {}, "outputs": [output], "source": "x"}


EPOCH = "Epoch 1/1\n2/2 [==============================] - 0s 5ms/step - loss: 0.5000\n"


def test_invalid_json_notebook_warns_once(tmp_path, monkeypatch, capsys):
    path = tmp_path / "broken.ipynb"
    path.write_text('{"cells": [{"cell_type": "code", "outputs": [{"text": "Epoch 1/1\\n')
    data = notebook.read(path)
    assert len(data.warnings) == 1
    assert "broken.ipynb" in data.warnings[0] and "not valid JSON" in data.warnings[0]
    code, _, err = run_cli(["parse", str(path), "-o", str(tmp_path / "o.csv")], monkeypatch, capsys)
    assert "Traceback" not in err and code in (0, 2)


def test_notebook_without_outputs_says_so(tmp_path):
    cells = [dict(_cell(""), outputs=[])]
    path = _write(tmp_path / "empty.ipynb", _document(cells))
    data = notebook.read(path)
    assert data.fits == [] and any("no outputs" in w and "empty.ipynb" in w for w in data.warnings)


def test_megabyte_output_and_thousands_of_cells_are_read(tmp_path, monkeypatch, capsys):
    noise = "x" * 200 + "\n"
    cells = [_cell(noise, count=i + 1) for i in range(3000)]
    cells.append(_cell(noise * 10000 + EPOCH, count=3001))  # ~2 MB of output before the epoch
    path = _write(tmp_path / "big.ipynb", _document(cells))
    rows, err = parse_rows(path, tmp_path, monkeypatch, capsys)
    assert "Traceback" not in err
    loss = [row for row in rows if row["name"] == "loss"]
    assert [float(row["value"]) for row in loss] == [0.5]
    assert loss[0]["location"].endswith("big.ipynb:cell 3001:line 10002")


# ---- the notebook runs of the shared corpus (real Jupyter kernel), against their run.json

NOTEBOOK_RUNS = sorted(
    p.name for p in (FIXTURES / "runs").iterdir() if p.is_dir() and any(p.glob("*.ipynb"))
)


def test_the_notebook_runs_are_there():
    assert len(NOTEBOOK_RUNS) >= 4


@pytest.mark.parametrize("name", NOTEBOOK_RUNS)
def test_notebook_run_fits_steps_and_new_optimizers(name, tmp_path, monkeypatch, capsys):
    meta = json.loads((FIXTURES / "expected" / name / "run.json").read_text())
    truth = (FIXTURES / "expected" / name / "truth.csv").read_text().splitlines()
    last_epoch = max(int(line.split(",")[1]) for line in truth[1:])
    ran_in_last_epoch = sum(1 for line in truth[1:] if int(line.split(",")[1]) == last_epoch)
    path = FIXTURES / "runs" / name / f"{name}.ipynb"
    rows, err = parse_rows(path, tmp_path, monkeypatch, capsys)
    assert "Traceback" not in err and any(row["source"] == "console" for row in rows)
    data = notebook.read(path)
    assert len(data.fits) == len(meta["fits"])
    for ours, truth in zip(data.fits, meta["fits"], strict=True):
        assert ours.first_epoch == truth["initial_epoch"]
        assert ours.steps_per_epoch == meta["steps_per_epoch"]
        if truth["new_optimizer_before"]:
            assert ours.new_training is not None and "compile() in" in ours.new_training
        elif truth["fit"] > 1:
            assert ours.new_training is None
        if "interrupted" in truth:
            # the stored bar was last drawn at 1/12 (Keras 3 redraws at most every 50 ms); the
            # callback's traceback names the batch it raised at: the exact count
            assert ours.last_epoch_steps == ran_in_last_epoch, ours.last_epoch_evidence
            assert "(exact)" in ours.last_epoch_evidence
        else:
            assert ours.last_epoch_steps is None
    locations = {row["location"] for row in rows if row["kind"] == "scalar"}
    assert all(f"{name}.ipynb:cell " in where and ":line " in where for where in locations)
