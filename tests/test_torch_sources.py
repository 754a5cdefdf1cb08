"""The input side of PyTorch / Transformers / Lightning runs: every source kind, its sniff, its
TorchFacts, the restricted unpickler's refusals, and ``lraudit parse`` on the fixtures."""
from __future__ import annotations

import pickle
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import run_lraudit

from lraudit.api import load_run
from lraudit.sources import (
    hf_trainer_state,
    lightning_logs,
    read_prefix,
    sniff_file,
    torch_checkpoint,
    torch_console,
)
from lraudit.sources.base import CallbackEvent
from lraudit.sources.discovery import classify
from lraudit.sources.tfevents import read as read_tfevents
from lraudit.sources.torch_events import event_file_torch_facts
from lraudit.sources.torch_pickle import load

FIXTURES = Path(__file__).parent.parent / "fixtures"
RUNS = FIXTURES / "torch-runs"
BINARIES = FIXTURES / "torch-binaries"


def _kind(path: Path) -> str | None:
    source = sniff_file(path)
    return source.facts.kind if source is not None else None


# --- every fixture file is recognised ----------------------------------------------------


def test_every_torch_run_file_but_train_py_is_recognised():
    files = [path for path in RUNS.rglob("*") if path.is_file() and path.name != "train.py"]
    assert len(files) > 60
    unread = [str(path) for path in files if classify(path)[0] is None]
    assert unread == []


def test_keras_event_files_are_not_torch_runs():
    keras_events = [path for path in FIXTURES.rglob("events.out.tfevents*") if RUNS not in path.parents]
    assert keras_events
    assert [str(path) for path in keras_events[:300] if event_file_torch_facts(path) is not None] == []


def test_keras_console_logs_are_not_torch_consoles():
    runs = FIXTURES / "runs"
    keras_logs = [*runs.rglob("*.log"), *runs.rglob("*.txt")]
    assert keras_logs
    assert [str(path) for path in keras_logs if _kind(path) == torch_console.KIND] == []


# --- HF trainer_state.json / config.json ---------------------------------------------------


def test_trainer_state_rows_header_and_version():
    path = RUNS / "hf448_linear_warmup/out/checkpoint-24/trainer_state.json"
    assert _kind(path) == hf_trainer_state.KIND
    data = hf_trainer_state.read(path)
    lr = data.scalars[data.scalars["name"] == "learning_rate"]
    assert lr["step"].tolist() == list(range(1, 25))
    assert lr["value"].iloc[0] == 0.000125 and lr["value"].iloc[-1] == 0.0
    # the last step of epoch 0 logs epoch 1.0: it ran in epoch 0
    assert lr["epoch"].tolist() == [0] * 12 + [1] * 12
    assert "epoch" in set(data.scalars["name"])  # the float epoch kept as a value
    facts = data.torch
    assert facts.framework == "transformers"
    assert facts.versions == {"transformers": "4.48.3"}
    assert facts.trainer_state["global_step"] == 24 and facts.trainer_state["logging_steps"] == 1
    assert facts.steps_per_epoch == 12 and facts.epochs == 2
    assert "superseded_by" not in facts.trainer_state


def test_earlier_checkpoint_is_marked_and_rows_dedupe():
    early = hf_trainer_state.read(RUNS / "hf448_linear_warmup/out/checkpoint-12/trainer_state.json")
    late = hf_trainer_state.read(RUNS / "hf448_linear_warmup/out/checkpoint-24/trainer_state.json")
    assert early.torch.trainer_state["superseded_by"].endswith("checkpoint-24")
    assert "superseded_by" not in late.torch.trainer_state
    # the run assembled from both checkpoints (and the other files) holds each log row once
    scalars = load_run(RUNS / "hf448_linear_warmup").scalars
    lr = scalars[(scalars["name"] == "learning_rate") & (scalars["source"] == hf_trainer_state.KIND)]
    assert lr["step"].tolist() == sorted(lr["step"].tolist()) and len(lr) == 24


def test_model_config_is_its_own_kind():
    path = RUNS / "hf5_linear_warmup/out/checkpoint-24/config.json"
    assert _kind(path) == hf_trainer_state.CONFIG_KIND
    facts = hf_trainer_state.read_config(path).torch
    assert facts.versions == {"transformers": "5.25.0"} and facts.hparams["model_type"] == "bert"


def test_trainer_state_damaged_gives_warning(tmp_path):
    path = tmp_path / "trainer_state.json"
    path.write_text('{"global_step": 3, "log_history": [{"step": 1, "learning_rate": 0.1}', encoding="utf-8")
    data = hf_trainer_state.read(path)
    assert data.warnings and data.scalars.empty


# --- Lightning ----------------------------------------------------------------------------


def test_lightning_metrics_keeps_every_row_and_lr_column_name():
    path = RUNS / "pl_exponential_step_accum2/logs/lightning_logs/version_0/metrics.csv"
    assert _kind(path) == lightning_logs.KIND
    data = lightning_logs.read(path)
    lr = data.scalars[data.scalars["name"] == "lr-SGD"]
    # one row per micro-batch: each optimizer step twice (accumulate_grad_batches=2)
    assert lr["step"].value_counts().max() == 2 and lr["epoch"].isna().all()
    assert lr["text"].iloc[0] == "0.1"
    losses = data.scalars[data.scalars["name"] == "train_loss"]
    assert losses["epoch"].notna().all()
    assert data.torch.framework == "lightning" and not data.warnings


def test_keras_csvlogger_and_lightning_sniffs_exclude_each_other(tmp_path):
    from lraudit.sources import csvlogger

    lightning = RUNS / "pl_plateau_epoch_monitor/logs/lightning_logs/version_0/metrics.csv"
    assert not csvlogger.sniff(read_prefix(lightning), lightning)
    keras = tmp_path / "log.csv"
    keras.write_text("epoch,loss,lr\n0,0.5,0.001\n", encoding="utf-8")
    assert _kind(keras) == csvlogger.KIND
    assert not lightning_logs.sniff(read_prefix(keras), keras)


def test_hparams_yaml():
    path = RUNS / "pl_plateau_epoch_monitor/logs/lightning_logs/version_0/hparams.yaml"
    assert _kind(path) == lightning_logs.HPARAMS_KIND
    data = lightning_logs.read_hparams(path)
    assert data.torch.hparams == {"lr": 0.05} and data.torch.framework == "lightning"


def test_hparams_yaml_python_tags_are_not_constructed(tmp_path):
    folder = tmp_path / "lightning_logs" / "version_0"
    folder.mkdir(parents=True)
    path = folder / "hparams.yaml"
    path.write_text(
        "lr: 0.1\nbetas: !!python/tuple\n- 0.9\n- 0.99\nx: !!python/object/apply:os.system ['true']\n"
    )
    facts = lightning_logs.read_hparams(path).torch
    assert facts.hparams["lr"] == 0.1 and facts.hparams["betas"] == [0.9, 0.99]
    assert facts.hparams["x"] == ["true"]


# --- TensorBoard ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run", "framework"),
    [
        ("hf5_linear_warmup", "transformers"),
        ("pl_cosine_step_monitor", "lightning"),
        ("pt_steplr_log_before", "pytorch"),
    ],
)
def test_event_files_of_torch_runs(run, framework):
    path = next((RUNS / run).rglob("events.out.tfevents*"))
    data = read_tfevents(path)
    assert data.torch is not None and data.torch.framework == framework
    if framework != "pytorch":  # a name-only "pytorch" file keeps the TF1 rule (see plain_tag_epochs)
        assert data.scalars["epoch"].isna().all()  # a step axis, never a Keras epoch


def test_trainer_event_file_gives_training_args_and_version():
    path = next((RUNS / "hf448_cosine_accum4").rglob("events.out.tfevents*"))
    facts = read_tfevents(path).torch
    assert facts.versions == {"transformers": "4.48.3"}
    assert facts.training_args["gradient_accumulation_steps"] == 4


# --- torch.save files ------------------------------------------------------------------------


def test_training_args_bin():
    path = BINARIES / "training_args.bin"
    assert _kind(path) == torch_checkpoint.KIND
    data = torch_checkpoint.read(path)
    args = data.torch.training_args
    assert data.torch.framework == "transformers" and not data.warnings
    assert args["learning_rate"] == 0.0005 and args["lr_scheduler_type"] == "linear"  # enum -> value
    assert args["warmup_steps"] == 4 and args["gradient_accumulation_steps"] == 2


def test_scheduler_and_optimizer_state():
    scheduler = torch_checkpoint.read(BINARIES / "scheduler.pt").torch
    assert scheduler.resume["last_epoch"] == 12 and scheduler.resume["base_lrs"] == [0.0005, 0.0005]
    optimizer = torch_checkpoint.read(BINARIES / "optimizer.pt").torch
    assert optimizer.param_groups == 2
    assert optimizer.resume["optimizer_initial_lrs"] == [0.0005, 0.0005]


def test_checkpoint_dict_and_legacy_format_and_lightning_ckpt():
    resume = torch_checkpoint.read(BINARIES / "checkpoint.pt").torch.resume
    assert resume["last_epoch"] == 4 and resume["_last_lr"] == [0.024]
    assert resume["checkpoint_epoch"] == 4 and resume["checkpoint_global_step"] == 20
    assert load(BINARIES / "scheduler_legacy.pt").format == "legacy"
    assert torch_checkpoint.read(BINARIES / "scheduler_legacy.pt").torch.resume["milestones"] == {3: 1, 5: 1}
    ckpt = torch_checkpoint.read(BINARIES / "epoch=2-step=24.ckpt").torch
    assert ckpt.framework == "lightning" and ckpt.versions == {"lightning": "2.6.6"}
    assert ckpt.resume["T_max"] == 40 and ckpt.hparams == {"lr": 0.1}


def test_one_element_tensors_are_read_from_storage():
    obj = load(BINARIES / "optimizer.pt")
    from lraudit.sources.torch_pickle import plain

    assert plain(obj.obj)["state"][0]["step"] == 12.0


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def _malicious_zip(path: Path, payload: bytes) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/version", "3\n")


@pytest.mark.parametrize("container", ["zip", "pickle"])
def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path, container):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"scheduler": _Exploit(marker)}, protocol=2)
    path = tmp_path / "checkpoint.pt"
    if container == "zip":
        _malicious_zip(path, payload)
    else:
        path.write_bytes(payload)
    assert _kind(path) == torch_checkpoint.KIND
    data = torch_checkpoint.read(path)
    assert not marker.exists()
    assert any("refused" in warning and ("os.system" in warning or "posix.system" in warning)
               for warning in data.warnings)


def test_builtins_eval_is_refused(tmp_path):
    payload = b"\x80\x02cbuiltins\neval\nX\x0b\x00\x00\x00print('hi')\x85R."
    path = tmp_path / "x.pt"
    path.write_bytes(payload)
    data = torch_checkpoint.read(path)
    assert any("builtins.eval" in warning for warning in data.warnings)


def test_truncated_file_warns_without_traceback(tmp_path):
    path = tmp_path / "scheduler.pt"
    whole = (BINARIES / "scheduler_legacy.pt").read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    data = torch_checkpoint.read(path)
    assert data.warnings and data.torch is None
    zipped = tmp_path / "optimizer.pt"
    raw = (BINARIES / "optimizer.pt").read_bytes()
    zipped.write_bytes(raw[: len(raw) // 2])
    assert torch_checkpoint.read(zipped).warnings


# --- console -------------------------------------------------------------------------------


def test_console_events_of_native_loops():
    data = torch_console.read(RUNS / "pt_step_epoch_arg_at_start/console.log")
    assert [event.kind for event in data.events] == ["torch_scheduler_order", "torch_epoch_arg_deprecated"]
    lr = data.scalars[data.scalars["name"] == "lr"]
    assert lr["epoch"].tolist() == list(range(7)) and lr["text"].iloc[1] == "0.04000000000000001"
    assert data.torch.framework == "pytorch" and data.torch.epochs == 7 and data.torch.versions == {}
    get_lr = torch_console.read(RUNS / "pt_get_lr_extra_decay/console.log")
    assert [event.kind for event in get_lr.events] == ["torch_get_lr_called"]


@pytest.mark.parametrize(
    ("line", "epoch", "value"),
    [
        ("Epoch    10: reducing learning rate of group 0 to 5.0000e-04.", 9, 5e-4),
        ("Epoch 00005: reducing learning rate of group 0 to 5.0000e-02.", 4, 0.05),
        ("Epoch 5: reducing learning rate of group 1 to 5.0000e-02.", 4, 0.05),
    ],
)
def test_plateau_messages_of_every_torch_version(tmp_path, line, epoch, value):
    path = tmp_path / "console.log"
    path.write_text(f"epoch 1/8 - loss: 0.5 - lr: 0.1\n{line}\n", encoding="utf-8")
    assert _kind(path) == torch_console.KIND
    events = [event for event in torch_console.read(path).events if event.kind == "torch_plateau_reduction"]
    assert len(events) == 1 and events[0].epoch == epoch and events[0].value == value
    assert events[0].callback == "ReduceLROnPlateau"


def test_trainer_console_dicts_both_eras():
    old = torch_console.read(RUNS / "hf448_linear_warmup/console.log")
    new = torch_console.read(RUNS / "hf5_linear_warmup/console.log")
    for data in (old, new):
        assert data.torch.framework == "transformers"
        assert len(data.scalars[data.scalars["name"] == "learning_rate"]) == 24
        assert [event.kind for event in data.events] == ["torch_train_summary"]
    assert new.scalars[new.scalars["name"] == "learning_rate"]["text"].iloc[2] == "0.00025"
    steps = torch_console.hf_dict_steps(old.scalars, logging_steps=1)
    assert steps[steps["name"] == "learning_rate"]["step"].tolist() == list(range(1, 25))


def test_lightning_console():
    data = torch_console.read(RUNS / "pl_exponential_step_accum2/console.log")
    assert data.torch.framework == "lightning" and data.torch.batches_per_epoch == 12
    assert data.torch.epochs == 3
    assert [event.kind for event in data.events] == ["torch_fit_stopped"]


def test_event_kinds_documented():
    for kind in torch_console.EVENT_KINDS:
        assert kind in (CallbackEvent.__doc__ or "")


# --- end to end ----------------------------------------------------------------------------


def test_parse_prints_torch_facts(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(RUNS / "hf5_linear_warmup", run)
    out = tmp_path / "rows.csv"
    result = run_lraudit("parse", str(run), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "PyTorch-ecosystem run: transformers (transformers 5.25.0)" in result.stderr
    text = out.read_text(encoding="utf-8")
    assert "hf_trainer_state" in text and "torch_console" in text


def test_parse_checkpoint_file(tmp_path):
    out = tmp_path / "rows.csv"
    result = run_lraudit("parse", str(BINARIES / "checkpoint.pt"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "resume: milestones=" in result.stderr and "Traceback" not in result.stderr
