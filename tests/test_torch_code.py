"""The static reader of PyTorch / Transformers / Lightning training code (lraudit.code.torch_reader)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lraudit.code.model import CodeCell
from lraudit.code.torch_expressions import parse_torch_construction
from lraudit.code.torch_reader import read_torch_code
from lraudit.errors import UsageError
from lraudit.torchfacts import ACTIONS, AXES, PHASES, READS, Construction, FunctionRef

FIXTURES = Path(__file__).parent.parent / "fixtures"
#: the first corpus (torch-expected/INDEX.md), whose run.json fields the expectations below are
#: written against; the second corpus (INDEX-corpus2.md) is checked end to end in test_torch_runs.py
_FIRST_INDEX = (FIXTURES / "torch-expected" / "INDEX.md").read_text()
RUNS = sorted(
    name for name in re.findall(r"^\| `([a-z0-9_]+)` \|", _FIRST_INDEX, re.M)
    if (FIXTURES / "torch-runs" / name / "train.py").is_file()
)
FRAMEWORK = {"native": "pytorch", "hf": "transformers", "lightning": "lightning"}


def read(text: str, label: str = "train.py"):
    return read_torch_code([CodeCell(text, label)])


def _scheduler_classes(run: dict) -> list[str]:
    built = run["schedulers_constructed"]
    if isinstance(built, dict):  # resumed runs: per process
        built = built["process 1"]
    return [item["class"].rsplit(".", 1)[-1] for item in built]


def _expected_step(description: str) -> tuple[str, str | None]:
    """(phase, step_arg) from run.json's scheduler_step description."""
    if "START" in description:
        return "epoch_start", "epoch" if "step(epoch)" in description else None
    if "val_loss" in description:
        return "epoch_end", "metric:val_loss"
    if "epoch's batches" in description:
        return "epoch_end", None
    return "batch", "epoch_fraction" if "epoch + i" in description else None


@pytest.mark.parametrize("name", RUNS)
def test_every_fixture_script_reads_as_its_run_json_says(name: str) -> None:
    run = json.loads((FIXTURES / "torch-expected" / name / "run.json").read_text())
    facts = read((FIXTURES / "torch-runs" / name / "train.py").read_text(), f"{name}/train.py")
    assert facts is not None
    assert facts.framework == FRAMEWORK[run["kind"]]
    assert facts.epochs == run["epochs"]
    assert facts.batches_per_epoch == run["batches_per_epoch"]
    assert facts.steps_per_epoch == run["steps_per_epoch"]
    assert facts.gradient_accumulation_steps == run["gradient_accumulation_steps"]
    if run["kind"] == "hf":
        args = facts.training_args
        assert args["learning_rate"] == json.loads(run["training_arguments"]["learning_rate"])
        assert args["lr_scheduler_type"] == json.loads(run["training_arguments"]["lr_scheduler_type"])
        return
    assert [s.name for s in facts.schedulers] == _scheduler_classes(run)
    assert facts.optimizer is not None and facts.optimizer.kwargs["lr"] == run["optimizer_defaults"]["lr"]
    for action in facts.loop:
        assert action.action in ACTIONS and action.phase in PHASES
        assert action.read in (None, *READS) and action.axis in (None, *AXES)
        assert action.location and action.location.startswith(f"{name}/train.py:")
    if run["kind"] == "lightning":
        assert facts.scheduler_config["interval"] == json.loads(run["lr_scheduler_config"]["interval"])
        assert facts.lr_monitor is not None
        return
    steps = [a for a in facts.loop if a.action == "scheduler_step"]
    assert len(steps) == 1
    assert (steps[0].phase, steps[0].step_arg) == _expected_step(run["scheduler_step"])
    console = [a for a in facts.loop if a.action == "log_lr" and a.sink == "print"]
    assert len(console) == 1 and console[0].text_format == run["console_lr_format"]
    assert (console[0].read_phase == "epoch_start") == run["console_lr"].startswith("lr read at the start")
    tensorboard = [a for a in facts.loop if a.action == "log_lr" and a.sink == "tensorboard:lr"]
    assert len(tensorboard) == 1
    read_name = {"param_groups": "param_groups", "get_last_lr": "get_last_lr", "get_lr()": "get_lr"}
    assert any(key in run["tb_lr_logging"] for key in read_name if read_name[key] == tensorboard[0].read)
    assert tensorboard[0].axis == ("epoch" if "], epoch)" in run["tb_lr_logging"] else "global_step")
    if run["resume"]:
        assert facts.resume["loads_scheduler"] is run["resume"]["load_scheduler"]
        assert any("--epochs" in warning for warning in facts.warnings)


def test_sequential_lr_nests_its_schedulers_and_lambda_keeps_its_source() -> None:
    facts = read((FIXTURES / "torch-runs/pt_sequential_warmup_cosine_shifted/train.py").read_text())
    outer = facts.schedulers[-1]
    assert [inner.name for inner in outer.kwargs["schedulers"]] == ["LinearLR", "CosineAnnealingLR"]
    assert outer.kwargs["milestones"] == [5]
    facts = read((FIXTURES / "torch-runs/pt_lambdalr_warmup_batch/train.py").read_text())
    ref = facts.schedulers[0].kwargs["lr_lambda"]
    assert isinstance(ref, FunctionRef) and ref.name == "warmup" and "min(1.0, (step + 1) / 8)" in ref.source


LOOSE = """
import math
import torch
from torch import optim
from torch.optim.lr_scheduler import StepLR, LambdaLR
from torch.utils.data import DataLoader, TensorDataset
from tqdm import tqdm
import wandb

EPOCHS, BS = 5, 16
data = TensorDataset(torch.randn(100, 3), torch.randn(100, 1))
loader = DataLoader(data, batch_size=BS, drop_last=True)
opt = optim.SGD([{"params": a, "lr": 0.1}, {"params": b}], lr=0.01)
sched = LambdaLR(opt, lambda e: 0.5 * (1 + math.cos(math.pi * e / EPOCHS)))
epoch = 0
while epoch < EPOCHS:
    for step, batch in enumerate(tqdm(loader)):
        loss = model(batch)
        loss.backward()
        opt.step()
        current = opt.param_groups[0]["lr"]
        wandb.log({"train/lr": current, "loss": loss}, step=step)
    sched.step()
    print("lr", sched.get_last_lr())
    epoch += 1
"""


def test_loose_real_user_code() -> None:
    facts = read(LOOSE)
    assert facts.framework == "pytorch" and facts.optimizer.name == "SGD"
    assert facts.param_groups == 2 and facts.group_lrs == [0.1, 0.01]
    assert facts.epochs == 5 and facts.batches_per_epoch == 6 and facts.steps_per_epoch == 6  # 100 // 16
    assert isinstance(facts.schedulers[0].kwargs["lr_lambda"], FunctionRef)
    actions = [(a.action, a.phase, a.sink) for a in facts.loop]
    assert actions == [
        ("optimizer_step", "batch", None),
        ("log_lr", "batch", "wandb:train/lr"),
        ("scheduler_step", "epoch_end", None),
        ("log_lr", "epoch_end", "print"),
    ]
    assert facts.loop[3].read == "get_last_lr" and facts.loop[3].scheduler == "sched"


def test_manual_param_group_writes_and_helper_functions() -> None:
    text = """
import torch
def adjust_learning_rate(optimizer, epoch):
    lr = 0.1 * (0.1 ** (epoch // 30))
    for param_group in optimizer.param_groups:
        param_group["lr"] = lr

def train_one_epoch(model, loader, optim):
    for x, y in loader:
        optim.zero_grad()
        optim.step()

optimizer = torch.optim.SGD(model.parameters(), 0.1, 0.9)
for epoch in range(90):
    adjust_learning_rate(optimizer, epoch)
    train_one_epoch(model, train_loader, optimizer)
    for g in optimizer.param_groups:
        g["lr"] *= 0.99
"""
    facts = read(text)
    assert facts.optimizer.kwargs == {"lr": 0.1, "momentum": 0.9}
    assert [(a.action, a.phase) for a in facts.loop] == [
        ("set_lr", "epoch_start"),
        ("optimizer_step", "batch"),
        ("set_lr", "epoch_end"),
    ]
    assert facts.loop[0].expression == "adjust_learning_rate(optimizer, epoch)"
    assert facts.epochs == 90


def test_accumulation_guard_and_tensorboard_train_lr_tag() -> None:
    text = """
import torch
ACCUM = 4
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
lr_scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-3, total_steps=100)
for epoch in range(3):
    for i, batch in enumerate(train_loader):
        if (i + 1) % ACCUM == 0:
            optimizer.step()
            lr_scheduler.step()
            writer.add_scalar("train/lr", lr_scheduler.get_last_lr()[0], epoch * 100 + i)
"""
    facts = read(text)
    assert facts.gradient_accumulation_steps == 4
    assert [a.every for a in facts.loop] == [4, 4, 4]
    assert facts.loop[2].sink == "tensorboard:train/lr" and facts.loop[2].axis == "global_step"


def test_nothing_in_the_script_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = f'''
import os, torch
os.system("touch {marker}")
open("{marker}", "w").write("x")
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
'''
    facts = read(text)
    assert facts is not None and facts.optimizer.kwargs["lr"] == 0.1
    assert not marker.exists()


def test_syntax_error_is_a_warning() -> None:
    facts = read("import torch\noptimizer = torch.optim.SGD(model.parameters(), lr=0.1\n")
    assert facts is None  # nothing readable: no optimizer
    cells = [
        CodeCell("import torch\nfor x in :\n", "nb.ipynb:cell 0", 1),
        CodeCell("opt = torch.optim.Adam(m.parameters(), lr=1e-3)", "nb.ipynb:cell 1", 2),
    ]
    facts = read_torch_code(cells)
    assert facts.optimizer.location == "nb.ipynb:cell 1:line 1"
    assert any("does not parse" in warning for warning in facts.warnings)


def test_keras_code_is_not_torch_training() -> None:
    assert (
        read("import keras\nmodel.compile(optimizer=keras.optimizers.Adam(1e-3))\nmodel.fit(x, y)\n") is None
    )


def test_hf_custom_loop_with_get_scheduler() -> None:
    text = """
from transformers import get_scheduler, get_linear_schedule_with_warmup
import torch
optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
lr_scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0, num_training_steps=300)
"""
    facts = read(text)
    assert facts.schedulers[0].name == "get_scheduler"
    assert facts.schedulers[0].kwargs == {"name": "linear", "num_warmup_steps": 0, "num_training_steps": 300}


def test_parse_torch_construction() -> None:
    assert parse_torch_construction("SGD(lr=0.1, momentum=0.9)", "optimizer") == Construction(
        "SGD", {"lr": 0.1, "momentum": 0.9}, "command line"
    )
    assert parse_torch_construction(
        "torch.optim.lr_scheduler.StepLR(opt, 3, gamma=0.5)", "scheduler"
    ).kwargs == {
        "step_size": 3,
        "gamma": 0.5,
    }
    nested = parse_torch_construction(
        "SequentialLR([LinearLR(start_factor=0.1, total_iters=5), CosineAnnealingLR(T_max=25)],"
        " milestones=[5])",
        "scheduler",
    )
    assert [inner.name for inner in nested.kwargs["schedulers"]] == ["LinearLR", "CosineAnnealingLR"]
    assert parse_torch_construction(
        "CosineAnnealingLR(T_max=30, eta_min=1e-3 * math.pi)", "scheduler"
    ).kwargs["eta_min"] == pytest.approx(3.14159e-3, rel=1e-5)
    for bad in ("StepLR(", "Foo(lr=1)", "StepLR(step_size=x)", "3"):
        with pytest.raises(UsageError):
            parse_torch_construction(bad, "scheduler")
