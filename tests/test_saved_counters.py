"""What saved models' iteration counters say: steps per epoch, and files the logged run cannot
have produced (end to end through the CLI, plus the arithmetic of lraudit.saved_counters).

The DNN-Repair case (fixtures/real-logs/k22-dnnrepair/README.txt, epochs 1-8 of a Keras 2.2.4
console paste whose sample-count bars ``10000/10000`` have no ``Train on`` header): its
per-epoch ModelCheckpoint files are third-party binaries and are not copied. Their facts, read
from the files (``optimizer_weights/Adam/iterations:0``): 79 after epoch 1, 632 after epoch 8,
1580 after epoch 20; ``keras_version`` 2.2.4; ``training_config`` Adam lr 0.001, decay 0.0. The
tests rebuild tiny .h5 files holding only that layout, under names that say nothing true.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import EXPECTED, RUNS, run_lraudit

from lraudit.run import Fit, SavedCounter
from lraudit.saved_counters import (
    epoch_end_counters,
    read_counters,
    sample_batch_sizes,
    steps_from_counters,
)

DNNREPAIR = Path(__file__).resolve().parent.parent / "fixtures" / "real-logs" / "k22-dnnrepair" / "README.txt"
ADAM_2_2_4 = {
    "optimizer_config": {"class_name": "Adam", "config": {"lr": 0.0010000000474974513, "decay": 0.0}}
}


def _write_h5(path: Path, iterations: int, keras_version: str = "2.2.4") -> Path:
    """A saved model as standalone Keras 2.2 writes one, reduced to what lraudit reads."""
    import h5py

    with h5py.File(path, "w") as handle:
        handle.attrs["keras_version"] = keras_version.encode()
        handle.attrs["backend"] = b"tensorflow"
        handle.attrs["training_config"] = json.dumps(ADAM_2_2_4).encode()
        handle.create_dataset("optimizer_weights/Adam/iterations:0", data=np.int64(iterations))
    return path


def _audit(*args) -> tuple[int, dict]:
    proc = run_lraudit("audit", *args, "--format", "json", "--fail-on", "never")
    assert proc.returncode == 0, proc.stderr
    return proc.returncode, json.loads(proc.stdout)["runs"][0]


def _dnnrepair_run(tmp_path: Path, counters: dict[str, int]) -> Path:
    run = tmp_path / "dnnrepair"
    (run / "saved-models").mkdir(parents=True)
    shutil.copy(DNNREPAIR, run / "README.txt")
    for name, iterations in counters.items():
        _write_h5(run / "saved-models" / name, iterations)
    return run


def test_dnnrepair_counters_give_79_steps_per_epoch_not_the_sample_count(tmp_path):
    # misleading names on purpose: the epoch a file was saved at comes from its counter only
    run = _dnnrepair_run(tmp_path, {"saved-model-08-0.96.hdf5": 79, "saved-model-01-0.91.hdf5": 632})
    _, report = _audit(run)
    shape = (report["keras"], report["epochs"], report["steps_per_epoch"], report["steps"])
    assert shape == ("2", 8, 79, 632)
    assert report["warnings"] == []
    [note] = [note for note in report["notes"] if note.startswith("steps per epoch 79")]
    assert "79 (" in note and "632 (" in note and "(1, 8)" in note
    assert "10000/10000 counts samples" in note and "127 to 128" in note


def test_dnnrepair_counter_of_a_longer_run_is_a_warning_naming_both_numbers(tmp_path):
    """The epoch-20 checkpoint (1580) beside a log of 8 epochs: 79 and 632 still decide."""
    run = _dnnrepair_run(tmp_path, {"a.hdf5": 79, "b.hdf5": 632, "c.hdf5": 1580})
    _, report = _audit(run)
    assert report["steps_per_epoch"] == 79
    [warning] = [w for w in report["warnings"] if "saved iteration counter" in w]
    assert "c.hdf5" in warning and "1580" in warning
    assert "8 epoch(s) of 79 steps" in warning and "632 updates" in warning


def test_dnnrepair_steps_per_epoch_option_still_wins(tmp_path):
    run = _dnnrepair_run(tmp_path, {"a.hdf5": 79, "b.hdf5": 632})
    _, report = _audit(run, "--steps-per-epoch", "100")
    assert report["steps"] == 800


_STEP_BARS = "".join(
    f"Epoch {epoch}/10\n209/209 [==============================] - 3s 14ms/step - loss: 0.5 - acc: 0.8\n"
    for epoch in range(1, 11)
)


def test_counter_no_logged_epoch_explains_is_a_warning(tmp_path):
    """10 logged epochs of 209 steps (2090 updates) cannot leave a counter at 5000."""
    (tmp_path / "train.log").write_text(_STEP_BARS)
    _write_h5(tmp_path / "model.h5", 5000)
    _, report = _audit(tmp_path)
    assert report["steps_per_epoch"] == 209
    [warning] = [w for w in report["warnings"] if "saved iteration counter" in w]
    assert "5000" in warning and "10 epoch(s) of 209 steps" in warning and "2090 updates" in warning


def test_counter_at_an_epoch_end_is_silent(tmp_path):
    (tmp_path / "train.log").write_text(_STEP_BARS)
    _write_h5(tmp_path / "model.h5", 209 * 10)
    _write_h5(tmp_path / "checkpoint.h5", 209 * 3)
    _, report = _audit(tmp_path)
    assert report["steps_per_epoch"] == 209
    assert report["warnings"] == [] and not any("saved iteration counter" in n for n in report["notes"])


@pytest.mark.parametrize(
    ("name", "keep"),
    [
        ("k2_adam_decay_plateau", ["history.csv", "model.h5"]),
        ("k3_resume_reload_keras_probe", ["history.csv", "model.keras", "model_after_fit1.keras"]),
    ],
)
def test_real_run_without_console_gets_steps_from_its_saved_models(tmp_path, name, keep):
    """CSVLogger + saved model(s) only: the per-step lr needs the steps per epoch, which only the
    counters tell; the timeline is then bit-exact against the measured truth."""
    for file in keep:
        shutil.copy(RUNS / name / file, tmp_path / file)
    truth = pd.read_csv(EXPECTED / name / "truth.csv")
    expected_steps = int(truth["epoch"].value_counts().iloc[0])
    _, report = _audit(tmp_path)
    assert report["steps_per_epoch"] == expected_steps
    decided = f"steps per epoch {expected_steps} from the saved"
    assert any(note.startswith(decided) for note in report["notes"])
    out = tmp_path / "steps.csv"
    proc = run_lraudit("timeline", tmp_path, "-o", out)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out)
    assert len(table) == len(truth)
    assert np.array_equal(
        table["lr_effective"].to_numpy(np.float32), truth["lr_effective"].to_numpy(np.float32)
    )


# ---------------------------------------------------------------- the arithmetic


def test_steps_from_counters():
    assert steps_from_counters([79, 632, 1580], 20) == (79, [79, 632, 1580])
    assert steps_from_counters([1580], 20) == (79, [1580])
    # largest not at the last epoch: the one divisor of the gcd that fits
    assert steps_from_counters([79, 632], 20) == (79, [79, 632])
    # a foreign larger counter is left out when the others agree
    assert steps_from_counters([79, 632, 1580], 8) == (79, [79, 632])
    assert steps_from_counters([200, 400], 9) is None  # 50 or 100 or 200: undecided
    assert steps_from_counters([0], 5) is None


def test_sample_batch_sizes():
    assert sample_batch_sizes(10000, 79) == (127, 128)
    assert sample_batch_sizes(60000, 469) == (128, 128)
    assert sample_batch_sizes(209, 500) is None
    assert sample_batch_sizes(100, 40) is None  # no batch size gives 40 steps of 100 samples


def test_epoch_end_counters_allow_restarts_and_carried_counters():
    fits = [Fit(0, 0, 2), Fit(1, 2, 4)]
    assert epoch_end_counters(fits, [10, 10]) == {0, 10, 20, 30, 40}
    resumed = [Fit(0, 3, 5)]  # initial_epoch=3: the counter may carry the 3 earlier epochs
    assert epoch_end_counters(resumed, [10]) == {0, 10, 20, 40, 50}
    assert epoch_end_counters(fits, [10, 10], accumulation=3) == {0, 3, 6, 10, 13}


def test_read_counters_confirming_or_deciding():
    fits = [Fit(0, 0, 8, steps_per_epoch=10000)]
    counters = [SavedCounter("a.h5", 79), SavedCounter("b.h5", 632)]
    decided = read_counters(counters, fits, 8, 10000, bars_may_count_samples=True)
    assert decided.steps_per_epoch == 79 and not decided.warnings
    # the same numbers from a fit whose bars are known to count steps: kept, and both named
    kept = read_counters(counters, fits, 8, 10000, bars_may_count_samples=False)
    assert kept.steps_per_epoch is None and len(kept.warnings) == 2
    assert "fit 79 steps per epoch" in kept.warnings[0]
    silent = read_counters(counters, [Fit(0, 0, 8, steps_per_epoch=79)], 8, 79, True)
    assert (silent.steps_per_epoch, silent.notes, silent.warnings) == (None, [], [])


# ---------------------------------------------------------------- the Keras era from every file

GALEXY = Path(__file__).resolve().parent.parent / "fixtures" / "real-logs" / "k3-galexy" / "training_log.csv"


def _k3_console(key: str) -> str:
    return "".join(
        f"Epoch {epoch}/3\n10/10 ━━━━━━━━━━━━━━━━━━━━ 1s 50ms/step - loss: 0.5 - {key}: 0.0010\n"
        for epoch in range(1, 4)
    )


def test_keras3_csvlogger_is_keras_3_alone_and_beside_a_keras3_console(tmp_path):
    shutil.copy(GALEXY, tmp_path / "training_log.csv")
    _, alone = _audit(tmp_path / "training_log.csv", "--optimizer", "Adam(learning_rate=1e-3)")
    assert alone["keras"] == "3"
    (tmp_path / "train.log").write_text(_k3_console("learning_rate"))
    files = (tmp_path / "train.log", tmp_path / "training_log.csv")
    _, both = _audit(*files, "--optimizer", "Adam(learning_rate=1e-3)")
    assert both["keras"] == "3" and not any("hints disagree" in w for w in both["warnings"])


def test_lr_key_a_callback_chose_is_outvoted_by_the_bar_glyphs_with_a_note(tmp_path):
    """Keras 3 bars (━) with a user callback logging ``lr``: Keras 3, no warning."""
    (tmp_path / "train.log").write_text(_k3_console("lr"))
    (tmp_path / "history.csv").write_text("epoch,loss,lr\n0,0.5,0.001\n1,0.5,0.001\n2,0.5,0.001\n")
    _, report = _audit(tmp_path, "--optimizer", "Adam(learning_rate=1e-3)")
    assert report["keras"] == "3"
    assert not any("disagree" in w or "mixed" in w for w in report["warnings"])
    [note] = [n for n in report["notes"] if n.startswith("Keras 3 (told by")]
    assert "history.csv logs lr" in note


def test_saved_model_version_against_keras3_bars_is_a_warning(tmp_path):
    (tmp_path / "train.log").write_text(_k3_console("loss2"))
    _write_h5(tmp_path / "model.h5", 30, keras_version="2.2.4")
    _, report = _audit(tmp_path)
    assert report["keras"] == "2"  # the saved file states its version: the most specific word
    assert any(w.startswith("Keras generation hints disagree") for w in report["warnings"])
