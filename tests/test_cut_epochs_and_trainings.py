"""Evidence the user's files hold about where training stopped and which optimizer trained what.

* an epoch cut by an exception: a batch callback's traceback names its batch (exact), else the
  progress bar's last drawn count is a lower bound (Keras redraws it at most every 50 ms);
* the Keras 3 backend the code chose with ``KERAS_BACKEND`` before importing Keras;
* different optimizers saved beside a log whose epoch numbering restarts: one training each.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from lraudit.api import load_runs
from lraudit.code import CodeCell, read_code
from lraudit.reconstruction import build_timeline
from lraudit.sources import notebook
from lraudit.sources.batch_exception import BatchHookRaise, batch_from_message

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RAISES = FIXTURES / "runs" / "nb_k3torch_callback_raises"
SWEEP = FIXTURES / "runs" / "k3_sweep_two_models_pipe"


def _feed(lines: list[str]):
    scanner = BatchHookRaise()
    found = [scanner.line(line) for line in lines]
    return [item for item in found if item is not None]


def test_python_traceback_of_a_batch_end_hook_gives_the_batches_that_ran():
    found = _feed([
        "Traceback (most recent call last):",
        '  File "train.py", line 40, in <module>',
        "    model.fit(x, y, epochs=5, callbacks=[Budget()])",
        '  File "train.py", line 12, in on_train_batch_end',
        '    raise RuntimeError(f"budget used up at batch {batch} of epoch {self.epoch}")',
        "RuntimeError: budget used up at batch 7 of epoch 2",
    ])
    assert found and found[0][0] == 8 and "(exact)" in found[0][1]


def test_ipython7_traceback_of_a_batch_begin_hook_counts_only_the_batches_before():
    found = _feed([
        "<ipython-input-4-1a2b3c> in on_batch_begin(self, step, logs)",
        "      9     def on_batch_begin(self, step, logs=None):",
        "---> 10         raise ValueError(f'stop before {step + 1}')",
        "ValueError: stop before 4",
    ])
    assert found == [(3, found[0][1])]  # step=3 never ran: batches 0-2 did


def test_a_message_that_does_not_name_the_batch_tells_nothing():
    assert _feed([
        '  File "train.py", line 12, in on_train_batch_end',
        '    raise RuntimeError(f"budget of {self.max_steps} used up")',
        "RuntimeError: budget of 30 used up",
    ]) == []
    raise_line = 'raise RuntimeError(f"batch {batch}")'
    assert batch_from_message(raise_line, "batch", "KeyError", "batch 3") is None
    assert batch_from_message(raise_line, "batch", "RuntimeError", "batch x") is None


def test_keras_backend_from_the_code_only_before_keras_is_imported():
    before = read_code([CodeCell('import os\nos.environ["KERAS_BACKEND"] = "jax"\nimport keras\n', "t.py")])
    assert before.keras_backend == ("jax", "t.py:line 2")
    after = read_code([CodeCell('import keras, os\nos.environ["KERAS_BACKEND"] = "jax"\n', "t.py")])
    assert after.keras_backend is None  # Keras had read the variable already
    magic = read_code([CodeCell("%env KERAS_BACKEND=torch\nimport keras\n", "nb.ipynb:cell 1", 1)])
    assert magic.keras_backend is not None and magic.keras_backend[0] == "torch"


def _without_the_traceback(tmp_path: Path) -> Path:
    folder = tmp_path / RAISES.name
    shutil.copytree(RAISES, folder)
    path = folder / f"{RAISES.name}.ipynb"
    document = json.loads(path.read_text())
    for cell in document["cells"]:
        cell["outputs"] = [o for o in cell.get("outputs", []) if o.get("output_type") != "error"]
    path.write_text(json.dumps(document))
    return folder


def test_without_the_traceback_the_bar_is_a_lower_bound_and_the_note_says_so(tmp_path):
    """The limit: the stored bar was last drawn at 1/12 while 6 batches of epoch 3 ran (truth:
    30 updates). Without the callback's message nothing in the files tells the 5 others, so the
    timeline holds the 25 updates known to have run and a note says it is a lower bound."""
    folder = _without_the_traceback(tmp_path)
    fit = notebook.read(folder / f"{RAISES.name}.ipynb").fits[0]
    assert fit.last_epoch_steps == 1 and "lower bound" in fit.last_epoch_evidence
    (run,) = load_runs(folder)
    timeline = build_timeline(run)
    assert len(timeline.frame) == 12 + 12 + 1  # truth: 12 + 12 + 6
    assert any("cut after 1 update(s)" in note and "lower bound" in note for note in timeline.notes)


def test_a_restarted_epoch_numbering_alone_does_not_split_a_log(tmp_path):
    """Without the two optimizers saved beside it, ``Epoch 1/5`` after ``Epoch 3/3`` may be a
    second fit() of the same model (its counter continuing): one training, as before."""
    folder = tmp_path / SWEEP.name
    shutil.copytree(SWEEP, folder, ignore=shutil.ignore_patterns("optimizer*.json"))
    assert len(load_runs(folder)) == 1
    runs = load_runs(SWEEP)
    assert [run.optimizer["class_name"] for run in runs] == ["SGD", "Adam"]
    assert any("different optimizers are saved beside the log" in note for note in runs[1].notes)


def test_event_file_epoch_tags_are_read_as_the_keras_keys_they_hold():
    from lraudit.trainings import _epoch_tag_metric

    assert _epoch_tag_metric("train/epoch_loss") == "loss"
    assert _epoch_tag_metric("validation/epoch_loss") == "val_loss"
    assert _epoch_tag_metric("logs/run1/validation/epoch_loss") == "val_loss"
    assert _epoch_tag_metric("epoch_val_loss") == "val_loss"
    assert _epoch_tag_metric("train/batch_loss") is None and _epoch_tag_metric("loss") is None


def test_validation_loss_decides_when_a_bar_shows_another_training_loss():
    """A Keras 3 bar's loss (1.5257) differs from the logged epoch loss (1.1386) while val_loss agrees
    (ShifatHasanGNS/brain_tumour_identification): the files are one training."""
    from lraudit.trainings import relation

    console = {"loss": [(1.5257, 5e-5), (0.8384, 5e-5)], "val_loss": [(1.2018, 5e-5), (1.6002, 5e-5)]}
    events = {"loss": [(1.1386, 1e-6), (0.8064, 1e-6)], "val_loss": [(1.201799, 1e-6), (1.600214, 1e-6)]}
    assert relation(console, events) == "same"
    other = {"loss": [(1.1386, 1e-6), (0.8064, 1e-6)], "val_loss": [(0.9, 1e-6), (0.8, 1e-6)]}
    assert relation(console, other) == "different"
