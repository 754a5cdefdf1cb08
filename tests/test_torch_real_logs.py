"""Real PyTorch-ecosystem logs committed to public repositories (excerpts in fixtures/real-logs/,
sources in fixtures/README.md): the conclusions a correct audit reaches, and no false alarm.

Where a conclusion needs the training settings, the test writes a few lines of its own that pass
the values the repository's code passed (never the repository's code).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, run_lraudit

REAL = ROOT / "fixtures" / "real-logs"
#: findings that would be false alarms on these runs (a value, an order, a horizon said wrong)
FALSE_ALARMS = {"LRA001", "LRA002", "LRA003", "LRA004", "LRA005", "LRA017", "LRA028", "LRA029", "LRA030"}


def _audit(path: Path) -> dict:
    result = run_lraudit("audit", path, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    (audited,) = json.loads(result.stdout)["runs"]
    return audited


def _codes(audited: dict) -> set[str]:
    return {finding["code"] for finding in audited["findings"]}


def _copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(REAL / name, target)
    return target


def test_fp16_skipped_updates_explain_a_lagging_trainer_log():
    # Francis-xsc/BERT_Weibo_Rumor: transformers 4.24, no TrainingArguments; the logged values are
    # the linear schedule from 5e-05 over 25800 updates, 1..3 scheduler steps behind global_step
    audited = _audit(REAL / "hf-bert-weibo-fp16")
    assert audited["framework"] == "transformers"
    assert audited["steps"] == 25800 and audited["epochs"] == 100 and audited["steps_per_epoch"] == 258
    assert not _codes(audited) & FALSE_ALARMS
    notes = " ".join(audited["notes"])
    assert "5e-05 reproduces every logged value" in notes
    assert "GradScaler skipped 3 optimizer step(s)" in notes


@pytest.mark.slow  # 215,337 updates replayed twice: ~10 s
def test_a_dev_build_of_the_release_that_changed_the_log_tries_both_semantics():
    # 10844110/t5-summarization-demo: config.json says 4.51.0.dev0, whose Trainer still logged
    # the next update's lr; 215337 updates (the header), not the 215000 of the last log row
    audited = _audit(REAL / "hf-t5-summ-dev")
    assert audited["versions"] == {"transformers": "4.51.0.dev0"}
    assert audited["steps"] == 215337 and audited["epochs"] == 3 and audited["steps_per_epoch"] == 71779
    assert _codes(audited) == {"LRA021"}  # the log leads the applied lr by one update: info
    assert any("5e-05 reproduces every logged value" in note for note in audited["notes"])


def test_a_known_schedule_with_an_fp16_skip_is_no_replay_contradiction(tmp_path):
    # Dheena731/tinyLlama-finetune: cosine 1e-05, warmup_ratio 0.02, accumulation 8, fp16; one
    # overflow between steps 2025 and 2040 delays every later logged value by one update
    run = _copy("hf-tinyllama-fp16", tmp_path)
    (run / "train.py").write_text(
        "from transformers import TrainingArguments\n"
        "args = TrainingArguments(output_dir='out', num_train_epochs=2, gradient_accumulation_steps=8,\n"
        "                         learning_rate=1e-5, lr_scheduler_type='cosine', warmup_ratio=0.02,\n"
        "                         fp16=True, logging_steps=15)\n"
    )
    audited = _audit(run)
    assert audited["steps"] == 2808
    assert not _codes(audited) & FALSE_ALARMS  # was LRA030 on 51 of 186 values
    assert any("GradScaler skipped 1 optimizer step(s)" in note for note in audited["notes"])


def test_the_same_lag_with_bf16_is_not_explained_away(tmp_path):
    # bf16 has no GradScaler: a lagging log is then a real disagreement
    run = _copy("hf-tinyllama-fp16", tmp_path)
    (run / "train.py").write_text(
        "from transformers import TrainingArguments\n"
        "args = TrainingArguments(output_dir='out', num_train_epochs=2, gradient_accumulation_steps=8,\n"
        "                         learning_rate=1e-5, lr_scheduler_type='cosine', warmup_ratio=0.02,\n"
        "                         bf16=True, fp16=False, logging_steps=15)\n"
    )
    audited = _audit(run)
    assert "LRA030" in _codes(audited)


def test_max_steps_inside_the_first_epoch_keeps_the_real_epoch_length():
    # subro608/Deep_learning_Bert_project2: max_steps=2400 stopped at epoch 0.3217 (7460 per epoch)
    audited = _audit(REAL / "hf-roberta-maxsteps")
    assert audited["steps"] == 2400 and audited["epochs"] == 1
    assert _codes(audited) == {"LRA021"}
    assert any("(1 epochs x 7460)" in note for note in audited["notes"])


def test_unevaluated_arguments_are_read_from_the_logs_and_early_stopping_ends_the_run(tmp_path):
    # ByErenOzer/Whisper_Finetune: learning_rate=lr and lr_scheduler_type=scheduler come from an
    # experiment table; the log says 1e-4 cosine with 500 warm-up; early stopping ended at 1500
    # of 10990 updates (the train_runtime row)
    run = _copy("hf-whisper-lora-early-stop", tmp_path)
    (run / "finetune.py").write_text(
        "import sys\n"
        "from transformers import Trainer, TrainingArguments\n"
        "lr, scheduler = float(sys.argv[1]), sys.argv[2]\n"
        "args = TrainingArguments(output_dir='out', num_train_epochs=10, learning_rate=lr,\n"
        "                         warmup_steps=500, lr_scheduler_type=scheduler,\n"
        "                         fp16=False, bf16=True, logging_steps=25)\n"
        "Trainer(model=None, args=args).train()\n"
    )
    audited = _audit(run)
    assert audited["steps"] == 1500
    assert not _codes(audited) & FALSE_ALARMS
    notes = " ".join(audited["notes"])
    assert "0.0001 with lr_scheduler_type 'cosine' reproduces every logged value" in notes
    assert "training ended after 1500 of the schedule's 10990 updates" in notes


def test_an_unknown_warmup_falls_back_to_the_logged_values_without_alarm():
    # P4P4N1CK/whisper-large-v2-japanese-5k-steps: warm-up 500 is in no file; the logged lr is
    # used as applied, 5000 updates over 39 epochs (max_steps), nothing flagged
    audited = _audit(REAL / "hf-whisper-ja-fp16")
    assert audited["steps"] == 5000 and audited["epochs"] == 39
    assert not _codes(audited) & FALSE_ALARMS


def test_lightning_epoch_length_from_the_validation_rows(tmp_path):
    # HCDescamps/cv-image-classification: train_loss every 50 steps, val rows at each epoch's
    # last update (1718, 3437, ...): 1719 updates per epoch; Adam(lr=1e-3) never logged
    run = _copy("pl-mnist-val-ends", tmp_path)
    (run / "model.py").write_text(
        "import torch\nimport lightning as L\n\n"
        "class Net(L.LightningModule):\n"
        "    def configure_optimizers(self):\n"
        "        return torch.optim.Adam(self.parameters(), lr=1e-3)\n\n"
        "trainer = L.Trainer(max_epochs=5)\n"
    )
    audited = _audit(run)
    assert audited["framework"] == "lightning"
    assert audited["steps"] == 8595 and audited["epochs"] == 5 and audited["steps_per_epoch"] == 1719
    assert audited["findings"] == []


def test_git_lfs_pointers_are_named_in_the_error():
    # Observer-18/nlp commits trainer_state.json and training_args.bin through Git LFS
    result = run_lraudit("audit", REAL / "hf-lfs-pointers")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "Git LFS pointers" in result.stderr


@pytest.mark.parametrize("lead", [False, True])
def test_skip_inference_places_the_skips_where_the_lag_grew(lead):
    from lraudit.reconstruction.torch_amp import infer_skipped_updates

    lrs = np.linspace(1.0, 0.0, 101)[:100]  # a linear decay, one value per update
    shift = 1 if lead else 0
    # logged every 10 updates; 1 skip before update 9, 2 more before update 39
    updates = [9, 19, 29, 39, 49]
    lags = [1, 1, 1, 3, 3]
    values = [lrs[u + shift - k] for u, k in zip(updates, lags, strict=True)]
    skipped = infer_skipped_updates(updates, values, lrs, lead, lambda a, b: a == b, cap=8)
    assert skipped == (0, 30, 31)
    # a value no lag explains: not an fp16 skip
    assert infer_skipped_updates(updates, [*values[:-1], 0.123], lrs, lead, lambda a, b: a == b, 8) is None
