"""End to end on the real PyTorch / Transformers / Lightning runs (fixtures/torch-runs).

Every update's lr is compared with what the run really applied (fixtures/torch-expected/<run>/
truth.csv, measured by an optimizer hook and a probe parameter), in float64 and in float32 bits, and
each run's audit must reach the conclusion the corpus INDEX.md states for it. Everything goes
through the command line as a user runs it, on the user's files only.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_lraudit

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "fixtures" / "torch-runs"
EXPECTED = ROOT / "fixtures" / "torch-expected"
NAMES = sorted(p.name for p in RUNS.iterdir() if p.is_dir())
#: the shared corpus (INDEX.md) runs in the fast tier; the corpora made here (INDEX-corpus2/3.md)
#: in the slow one, as every other whole-corpus check
_FIRST_CORPUS = (EXPECTED / "INDEX.md").read_text(encoding="utf-8")
RUN_PARAMS = [
    pytest.param(name, marks=() if f"| `{name}` |" in _FIRST_CORPUS else pytest.mark.slow) for name in NAMES
]

#: the findings each run's conclusion (INDEX.md) calls for: code -> severity. Nothing else may be
#: a warning or an error (info findings beyond these are allowed only where listed).
CONCLUSIONS: dict[str, dict[str, str]] = {
    # shifted log (transformers <= 4.50 logs the next update's lr); warm-up's first update at 0
    "hf448_cosine_accum4": {"LRA021": "info", "LRA020": "warning"},
    "hf448_linear_warmup": {"LRA021": "info", "LRA020": "warning"},
    # aligned log (>= 4.51); the first update is wasted by the warm-up
    "hf5_cosine_warmup": {"LRA020": "warning"},
    "hf5_linear_warmup": {"LRA020": "warning"},
    # logged = applied; LearningRateMonitor's micro-batch rows are not steps
    "pl_cosine_step_monitor": {},
    "pl_exponential_step_accum2": {},
    # reductions from epochs 3, 5, 7, 9 (0-based), after patience + 1 bad epochs
    "pl_plateau_epoch_monitor": {"LRA032": "info"},
    # horizon error: the scheduler steps 4x per update; the console's epoch-start lr is older
    # (0.1 is never applied, a consequence of the horizon error, not a scheduler that ignores it)
    "pt_accum_cosine_stepped_per_batch": {"LRA028": "error", "LRA029": "warning"},
    "pt_cawr_fractional_epoch": {},
    # the cosine reaches 0 at T_max and climbs back
    "pt_cosine_batch_past_tmax": {"LRA028": "warning", "LRA020": "warning", "LRA013": "warning"},
    # TB get_last_lr() after scheduler.step(): one update early; console: the next epoch's lr
    "pt_exponential_batch_last_lr_after": {"LRA021": "info"},
    # get_lr() applies the decay once more at each boundary
    "pt_get_lr_extra_decay": {"LRA029": "warning", "LRA021": "info"},
    "pt_lambdalr_warmup_batch": {},
    # each drop logged one epoch early
    "pt_multisteplr_last_lr_after_epoch": {"LRA021": "info"},
    # the optimizer's lr is never applied; the console's epoch lr is the next epoch's
    "pt_onecycle_adamw_batch": {"LRA033": "info", "LRA021": "info"},
    # TB one epoch early; plateau semantics explained
    "pt_plateau_tb_next_epoch": {"LRA021": "info", "LRA032": "info"},
    "pt_resume_with_scheduler_state": {},
    # the order error moves every boundary one epoch early
    "pt_scheduler_before_optimizer": {"LRA027": "warning"},
    # TB one update early
    "pt_sequential_warmup_cosine_shifted": {"LRA021": "info"},
    # the order warning is harmless with step(epoch)
    "pt_step_epoch_arg_at_start": {"LRA027": "info"},
    "pt_steplr_log_before": {},
    # ---- second corpus (fixtures/torch-expected/INDEX-corpus2.md): other numbers and shapes
    # 4.48 logs the next update's lr; every Trainer warm-up applies 0.0 first
    "hf448_constant_with_warmup": {"LRA021": "info", "LRA020": "warning"},
    "hf448_cosine_with_restarts": {"LRA021": "info", "LRA020": "warning"},
    "hf448_linear_warmup_ratio_accum3": {"LRA021": "info", "LRA020": "warning"},
    "hf448_polynomial_warmup_ratio": {"LRA021": "info", "LRA020": "warning"},
    "hf5_constant_with_warmup_logging3": {"LRA020": "warning"},
    "hf5_cosine_restarts_accum2": {},
    "hf5_linear_warmup_ratio_accum3": {"LRA020": "warning"},
    "hf5_polynomial_logging2": {"LRA020": "warning"},
    "pl_cosine_no_monitor": {},
    "pl_exponential_accum3_remainder": {},
    "pl_exponential_frequency2": {},
    "pl_steplr_epoch_interval_monitor_epoch": {},
    "pt_accum2_steplr_epoch_start": {"LRA027": "warning"},
    "pt_accum3_exponential_remainder": {},
    "pt_cawr_per_epoch": {},
    # ConstantLR's halving overlaps the decay: 0.1 is never applied, but the schedule scales it
    # (tuning it matters), so LRA033 - for schedulers that ignore it - does not apply
    "pt_chained_constant_exponential_batch": {},
    "pt_constantlr_epoch_shifted": {"LRA021": "info"},
    "pt_cyclic_exp_range_rmsprop": {},
    "pt_cyclic_triangular2_shifted": {"LRA021": "info", "LRA033": "info"},
    "pt_linearlr_batch_decay": {"LRA021": "info"},
    "pt_multiplicative_epoch_adam": {},
    "pt_multistep_last_lr_before_step": {"LRA021": "info"},
    "pt_onecycle_linear_three_phase": {"LRA021": "info", "LRA033": "info"},
    "pt_plateau_max_abs_cooldown": {"LRA021": "info", "LRA032": "info"},
    "pt_plateau_min_rel_cooldown_adam": {"LRA032": "info"},
    # PolynomialLR reaches 0 at total_iters=20 and the last 5 of 25 updates apply it
    "pt_polynomial_batch_adamw_past_total": {"LRA028": "warning", "LRA020": "warning"},
    "pt_steplr_per_batch": {},
    # frequency 3 with accumulation 2: the scheduler steps once per epoch (after batch 6)
    "pl_step_frequency3_accum2": {},
    # step(epoch) after each epoch makes every value one epoch late (epochs 0 and 1 both apply 0.1)
    "pt_exponential_epoch_arg_end": {"LRA027": "warning"},
    # ---- third corpus (fixtures/torch-expected/INDEX-corpus3.md): the knob matrix's other cells
    # 4.48 logs the next update's lr, invisible for a constant lr; logging_first_step adds step 1
    "hf448_constant_logging_first_step": {},
    "hf448_cosine_with_min_lr_rate_accum2": {"LRA021": "info", "LRA020": "warning"},
    "hf448_inverse_sqrt_logging2": {"LRA021": "info", "LRA020": "warning"},
    # max_steps ends training inside epoch 3; no warm-up, so no zero update
    "hf448_linear_max_steps_save_steps": {"LRA021": "info"},
    # the Trainer logs param_groups for a plateau scheduler: aligned in 4.48 too
    "hf448_reduce_lr_on_plateau": {},
    # resumed with max_steps 24 instead of 12: the rebuilt schedule jumps back up at step 13
    "hf448_resume_linear_more_epochs": {"LRA017": "warning", "LRA020": "warning", "LRA021": "info"},
    "hf448_warmup_stable_decay": {"LRA021": "info", "LRA020": "warning"},
    "hf5_constant_warmup_max_steps": {"LRA020": "warning"},
    "hf5_cosine_with_min_lr": {"LRA020": "warning"},
    "hf5_inverse_sqrt_timescale": {"LRA020": "warning"},
    "hf5_reduce_lr_on_plateau": {},
    "hf5_warmup_stable_decay_1sqrt": {"LRA020": "warning"},
    # LearningRateMonitor at the epoch start, a scheduler every 2nd update
    "pl3_cawr_step_frequency2_epoch_monitor": {},
    # log_every_n_steps > 1: rows at every n-th step only
    "pl3_cosine_step_log_every_4_accum2": {},
    "pl3_exponential_epoch_step_monitor_accum3": {},
    "pl3_multistep_epoch_log_every_3": {},
    "pl3_onecycle_step_log_momentum": {"LRA033": "info"},
    "pl3_plateau_frequency2_step_monitor": {"LRA032": "info"},
    # max_steps=22 ends training inside epoch 4
    "pl3_sequential_epoch_max_steps": {},
    # lr-SGD/pg1 and lr-SGD/pg2: each group's own lr
    "pl3_two_groups_lambda_warmup": {},
    "pt3_accum2_cosine_batch_shifted": {"LRA021": "info"},
    "pt3_accum4_steplr_console_next": {"LRA021": "info"},
    "pt3_cawr_batch_frac_shifted": {"LRA021": "info"},
    "pt3_chained_sequential_and_steplr_batch": {},
    "pt3_console_only_exponential_g": {"LRA021": "info"},
    # step(epoch) at the epoch end: late; TB/console read after it: shifted; T_max never passed
    "pt3_cosine_epoch_arg_end_shifted": {"LRA021": "info", "LRA027": "warning"},
    "pt3_cyclic_triangular_momentum_console_next": {"LRA021": "info", "LRA033": "info"},
    # get_lr() mid-epoch computes one more decay: values no update of that epoch used
    "pt3_get_lr_mid_epoch_exponential": {"LRA021": "info", "LRA029": "warning"},
    "pt3_lambda_helper_epoch_shifted": {"LRA021": "info"},
    # the helper reads module constants (WARMUP, TOTAL = 4, 30)
    "pt3_lambda_math_warmup_cosine_batch": {"LRA021": "info"},
    # LinearLR sized in updates, stepped per batch under accumulation 3; the console reads between updates
    "pt3_micro_batch_linearlr_accum3": {"LRA028": "error", "LRA029": "warning", "LRA021": "info"},
    "pt3_multistep_epoch_start_per_step_log": {"LRA027": "warning"},
    "pt3_onecycle_epochs_spe_shifted": {"LRA021": "info", "LRA033": "info"},
    "pt3_plateau_per_step_log_console_next": {"LRA021": "info", "LRA032": "info"},
    "pt3_plateau_score_console_last_lr": {"LRA021": "info", "LRA032": "info"},
    # 0.0 from epoch 4 of 6: the last quarter of the updates is frozen
    "pt3_polynomial_epoch_past_total": {"LRA028": "warning", "LRA020": "warning", "LRA013": "warning"},
    # a fresh MultiStepLR in the resumed process: its milestones count from the resume
    "pt3_resume_without_scheduler_state": {"LRA017": "warning"},
    # a fresh ExponentialLR multiplies the lr it finds: nothing changes
    "pt3_resume_without_scheduler_state_exponential_batch": {},
    "pt3_sequential_three_per_epoch": {},
    # step(epoch) at the epoch start: the intended schedule despite the warnings
    "pt3_steplr_epoch_start_arg_last_lr": {"LRA027": "info"},
    # the closed-form cosine at a fractional epoch, one batch behind: nothing wrong
    "pt3_cosine_fractional_epoch_batch": {},
    # stepped before the epoch's first update (accumulation 3): 0.05 is never applied
    "pt3_accum3_epoch_start_last_lr_after_batch": {"LRA027": "warning"},
    # a fresh cosine from the loaded lr; TB one update ahead
    "pt3_resume_without_state_cosine_batch_shifted": {"LRA017": "warning", "LRA021": "info"},
    # step(epoch) at the end: milestones one epoch late; get_lr() applies gamma once more
    "pt3_multistep_epoch_arg_end_get_lr": {"LRA027": "warning", "LRA029": "warning"},
    "pt3_plateau_accum2_tb_epoch_start": {"LRA032": "info"},
}


#: rules shown firing by a test of their own below (a given scheduler the logs contradict, param
#: groups of different lr), beside the corpus runs
EXTRA_CASES = {
    "LRA030": ["test_a_given_scheduler_the_logs_contradict"],
    "LRA031": ["test_only_group_0_logged_while_groups_differ"],
    "LRA034": ["test_amp_skipped_updates_are_explained"],
}


def _truth(name: str) -> tuple[np.ndarray, np.ndarray]:
    with open(EXPECTED / name / "truth.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    lr = np.array([float(r["lr_applied"]) for r in rows], dtype=np.float64)
    bits = np.array([int(r["lr_applied_f32_hex"], 16) for r in rows], dtype=np.uint32)
    return lr, bits


def test_every_corpus_run_has_a_conclusion():
    assert sorted(CONCLUSIONS) == NAMES


@pytest.mark.parametrize("name", RUN_PARAMS)
def test_every_update_is_bit_exact(name, tmp_path):
    out = tmp_path / "timeline.csv"
    result = run_lraudit("timeline", RUNS / name, "-o", out)
    assert result.returncode == 0, result.stderr
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    lr, bits = _truth(name)
    base = np.array([float(r["lr_base"]) for r in rows], dtype=np.float64)
    effective = np.array([float(r["lr_effective"]) for r in rows], dtype=np.float32)
    assert len(base) == len(lr)
    assert [repr(v) for v in base] == [repr(v) for v in lr]
    assert effective.view(np.uint32).tolist() == bits.tolist()


@pytest.mark.parametrize("name", RUN_PARAMS)
def test_audit_reaches_the_corpus_conclusion(name):
    result = run_lraudit("audit", RUNS / name, "--format", "json", "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (run,) = report["runs"]
    found: dict[str, set[str]] = {}
    for finding in run["findings"]:
        found.setdefault(finding["code"], set()).add(finding["severity"])
    expected = CONCLUSIONS[name]
    for code, severity in expected.items():
        assert severity in found.get(code, set()), (code, run["findings"])
    unexpected = {c: s for c, s in found.items() if c not in expected}
    assert not unexpected, unexpected
    # the name's prefix says the framework (hf448_, hf5_, pl_, pl3_, pt_, pt3_)
    assert run["framework"] == {"hf": "transformers", "pl": "lightning", "pt": "pytorch"}[name[:2]]


def test_shifted_transformers_log_names_the_version():
    result = run_lraudit("audit", RUNS / "hf448_linear_warmup", "--format", "json")
    (run,) = json.loads(result.stdout)["runs"]
    shifted = [f for f in run["findings"] if f["code"] == "LRA021"]
    assert any("transformers 4.48.3" in f["message"] and "4.51" in f["message"] for f in shifted)
    assert run["versions"]["transformers"] == "4.48.3"


def test_scheduler_order_finding_shows_the_run_and_the_intended_epochs():
    result = run_lraudit("audit", RUNS / "pt_scheduler_before_optimizer", "--format", "json")
    (run,) = json.loads(result.stdout)["runs"]
    (finding,) = [f for f in run["findings"] if f["code"] == "LRA027"]
    assert "0.1, 0.01, 0.01, 0.001, 0.001" in finding["message"]
    assert "0.1, 0.1, 0.01, 0.01, 0.001, 0.001" in finding["message"]
    assert finding["source"].endswith("train.py:26")


def test_lightning_micro_batch_rows_are_not_counted_as_steps():
    result = run_lraudit("audit", RUNS / "pl_exponential_step_accum2", "--format", "json")
    (run,) = json.loads(result.stdout)["runs"]
    assert run["steps"] == 18 and run["steps_per_epoch"] == 6


def test_resumed_run_is_one_training():
    result = run_lraudit("audit", RUNS / "pt_resume_with_scheduler_state", "--format", "json")
    runs = json.loads(result.stdout)["runs"]
    assert len(runs) == 1 and runs[0]["steps"] == 40


def test_without_the_script_the_logged_lr_stands_for_the_applied_one(tmp_path):
    run = tmp_path / "run"
    (run / "tb").mkdir(parents=True)
    source = RUNS / "pt_steplr_log_before"
    for event in (source / "tb").iterdir():
        (run / "tb" / event.name).write_bytes(event.read_bytes())
    result = run_lraudit("audit", run, "--format", "json")
    assert result.returncode == 0, result.stderr
    (audited,) = json.loads(result.stdout)["runs"]
    assert audited["framework"] == "pytorch"
    assert audited["steps"] == 48
    assert any("taken as the lr applied" in note for note in audited["notes"])


@pytest.mark.parametrize("command", ["explain", "plot", "parse"])
def test_every_command_works_on_a_torch_run(command, tmp_path):
    args = {
        "explain": ["explain", RUNS / "pt_scheduler_before_optimizer"],
        "plot": ["plot", RUNS / "pt_cosine_batch_past_tmax", "-o", tmp_path / "lr.png"],
        "parse": ["parse", RUNS / "pl_plateau_epoch_monitor", "-o", tmp_path / "scalars.csv"],
    }[command]
    result = run_lraudit(*args)
    assert result.returncode == 0, result.stderr
    if command == "plot":
        assert (tmp_path / "lr.png").stat().st_size > 10_000


def test_a_given_scheduler_the_logs_contradict():
    result = run_lraudit(
        "audit", RUNS / "pt_cosine_batch_past_tmax", "--scheduler", "CosineAnnealingLR(T_max=60)",
        "--format", "json",
    )
    assert result.returncode == 0, result.stderr
    (run,) = json.loads(result.stdout)["runs"]
    contradicted = [f for f in run["findings"] if f["code"] == "LRA030"]
    assert contradicted and all(f["severity"] == "warning" for f in contradicted)
    assert any("scheduler(s) given: CosineAnnealingLR(T_max=60)" in n for n in run["notes"])


def test_a_bad_scheduler_expression_is_a_usage_error():
    result = run_lraudit("audit", RUNS / "pt_steplr_log_before", "--scheduler", "StepLR(step_size=")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_only_group_0_logged_while_groups_differ(tmp_path):
    run = tmp_path / "run"
    source = RUNS / "pt_steplr_log_before"
    (run / "tb").mkdir(parents=True)
    for event in (source / "tb").iterdir():
        (run / "tb" / event.name).write_bytes(event.read_bytes())
    (run / "console.log").write_bytes((source / "console.log").read_bytes())
    script = (source / "train.py").read_text()
    groups = (
        'optimizer = torch.optim.SGD([{"params": model[0].parameters()}, '
        '{"params": model[2].parameters(), "lr": 0.01}], lr=0.1, momentum=0.9)'
    )
    lines = [groups if line.startswith("optimizer = ") else line for line in script.splitlines()]
    (run / "train.py").write_text("\n".join(lines) + "\n")
    result = run_lraudit("audit", run, "--format", "json")
    (audited,) = json.loads(result.stdout)["runs"]
    (finding,) = [f for f in audited["findings"] if f["code"] == "LRA031"]
    assert "2 param groups with lrs 0.1, 0.01" in finding["message"]


def test_polynomial_past_total_iters_names_the_held_updates():
    result = run_lraudit("audit", RUNS / "pt_polynomial_batch_adamw_past_total", "--format", "json")
    (run,) = json.loads(result.stdout)["runs"]
    (finding,) = [f for f in run["findings"] if f["code"] == "LRA028"]
    assert "PolynomialLR(total_iters=20) was stepped 25 times" in finding["message"]
    assert "update 20" in finding["message"] and "last 5 of 25 updates" in finding["message"]


def test_lightning_epoch_frequency_and_partial_accumulation_windows():
    result = run_lraudit("audit", RUNS / "pl_exponential_accum3_remainder", "--format", "json")
    (run,) = json.loads(result.stdout)["runs"]
    assert run["steps"] == 12 and run["steps_per_epoch"] == 4  # 10 batches / 3: the 4th update uses 1
    result = run_lraudit("audit", RUNS / "pl_exponential_frequency2", "--format", "json")
    (run,) = json.loads(result.stdout)["runs"]
    assert not run["findings"]


def test_transformers_448_stops_at_max_steps_inside_the_last_epoch():
    """10 batches / accumulation 3 = 4 updates per epoch, but 4.48 sizes max_steps 3 x 3 = 9."""
    result = run_lraudit("audit", RUNS / "hf448_linear_warmup_ratio_accum3", "--format", "json")
    (run,) = json.loads(result.stdout)["runs"]
    assert run["steps"] == 9


def test_explain_a_pytorch_schedule_without_a_run():
    result = run_lraudit(
        "explain", "--optimizer", "SGD(lr=0.1, momentum=0.9)", "--scheduler", "CosineAnnealingLR(T_max=30)",
        "--steps-per-epoch", "6", "--epochs", "10", "--step", "batch", "--format", "json",
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    document = json.loads(text)
    assert "0.09045085" in text  # the lr after epoch 1: 0.05 * (1 + cos(pi * 6 / 30))
    assert document  # the same numbers as text, for scripts


def test_explain_steps_a_step_lr_per_epoch_by_default():
    result = run_lraudit(
        "explain", "--optimizer", "SGD(lr=0.1)", "--scheduler", "StepLR(step_size=2, gamma=0.5)",
        "--steps-per-epoch", "4", "--epochs", "6",
    )
    assert result.returncode == 0, result.stderr
    assert "The lr changes only between epochs" in result.stdout
    assert "scheduler.step() after every epoch" in result.stdout


def _amp_run(tmp_path: Path, warned: bool) -> Path:
    """pt_lambdalr_warmup_batch's logs with its loop stepping through a GradScaler (AMP)."""
    run = tmp_path / ("warned" if warned else "silent")
    source = RUNS / "pt_lambdalr_warmup_batch"
    (run / "tb").mkdir(parents=True)
    for event in (source / "tb").iterdir():
        (run / "tb" / event.name).write_bytes(event.read_bytes())
    script = (source / "train.py").read_text().replace(
        "        optimizer.step()", "        scaler.step(optimizer)\n        scaler.update()"
    ).replace("scheduler = ", "scaler = torch.amp.GradScaler()\nscheduler = ", 1)
    (run / "train.py").write_text(script)
    console = (source / "console.log").read_text()
    if warned:  # PyTorch's own warning, as the first update's overflow makes it print
        order = (RUNS / "pt_scheduler_before_optimizer" / "console.log").read_text().splitlines()[0]
        console = order.replace("train.py:26", "train.py:38") + "\n" + console
    (run / "console.log").write_text(console)
    return run


@pytest.mark.parametrize("warned", [True, False])
def test_amp_skipped_updates_are_explained(tmp_path, warned):
    result = run_lraudit("audit", _amp_run(tmp_path, warned), "--format", "json")
    assert result.returncode == 0, result.stderr
    (run,) = json.loads(result.stdout)["runs"]
    (finding,) = [f for f in run["findings"] if f["code"] == "LRA034"]
    assert "scaler.step(optimizer)" in finding["message"]
    assert finding["severity"] == ("warning" if warned else "info")


def _logs_only(tmp_path: Path, name: str, keep: tuple[str, ...]) -> Path:
    """A copy of a corpus run holding only the files named (no training script)."""
    run = tmp_path / name
    source = RUNS / name
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if path.is_file() and relative.parts[0] in keep:
            (run / relative).parent.mkdir(parents=True, exist_ok=True)
            (run / relative).write_bytes(path.read_bytes())
    return run


def test_console_alone_is_audited_per_epoch(tmp_path):
    run = _logs_only(tmp_path, "pt_onecycle_adamw_batch", ("console.log",))
    result = run_lraudit("audit", run, "--format", "json")
    assert result.returncode == 0, result.stderr
    (audited,) = json.loads(result.stdout)["runs"]
    assert audited["epochs"] == 6 and audited["steps_per_epoch"] is None
    assert any("one row per epoch" in note for note in audited["notes"])


def test_lightning_epoch_start_monitor_alone_holds_each_value_for_its_epoch(tmp_path):
    run = _logs_only(tmp_path, "pl_plateau_epoch_monitor", ("logs",))
    out = tmp_path / "timeline.csv"
    result = run_lraudit("timeline", run, "-o", out)
    assert result.returncode == 0, result.stderr
    with open(out, newline="") as handle:
        base = [float(r["lr_base"]) for r in csv.DictReader(handle)]
    lr, _ = _truth("pl_plateau_epoch_monitor")
    assert base == lr.tolist()  # logged = applied, once per epoch at its start


def _findings(name: str, code: str) -> list[dict]:
    result = run_lraudit("audit", RUNS / name, "--format", "json", "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    (run,) = json.loads(result.stdout)["runs"]
    return [f for f in run["findings"] if f["code"] == code]


def test_resume_without_scheduler_state_restarts_the_milestones():
    """The second process' console starts at epoch 5: there a fresh MultiStepLR counts from 0."""
    (finding,) = _findings("pt3_resume_without_scheduler_state", "LRA017")
    assert "epoch 5/8" in finding["message"] and "0.02" in finding["message"]
    assert finding["step"] == 25


def test_resume_without_state_of_a_chainable_scheduler_is_harmless():
    assert _findings("pt3_resume_without_scheduler_state_exponential_batch", "LRA017") == []


def test_trainer_resumed_with_more_epochs_names_the_rebuilt_schedule():
    (finding,) = _findings("hf448_resume_linear_more_epochs", "LRA017")
    assert "max_steps 24 instead of 12" in finding["message"] and finding["step"] == 13


def test_step_epoch_at_the_end_never_passes_t_max():
    """7 step(epoch) calls with T_max=6: the last applied position is 5, the cosine never climbs."""
    assert _findings("pt3_cosine_epoch_arg_end_shifted", "LRA028") == []


@pytest.mark.parametrize(("name", "updates"), [
    ("hf448_linear_max_steps_save_steps", 17), ("hf5_constant_warmup_max_steps", 14),
    ("pl3_sequential_epoch_max_steps", 22),
])
def test_max_steps_ends_training_inside_an_epoch(name, updates):
    result = run_lraudit("audit", RUNS / name, "--format", "json", "--fail-on", "never")
    (run,) = json.loads(result.stdout)["runs"]
    assert run["steps"] == updates


def test_lightning_group_columns_are_compared_with_their_own_group():
    from lraudit.api import load_timeline

    logged = load_timeline(RUNS / "pl3_two_groups_lambda_warmup").logged
    second = logged[logged["name"].astype(str).str.endswith("/pg2")]
    assert len(second) and set(second["relation"]) == {"effective"}
    assert set(second["reproduced"]) == {True}


def test_real_trainer_state_alone_infers_the_learning_rate():
    # a real trainer_state.json with nothing beside it (github.com/Tashu014/lora-imdb-distilbert)
    run = ROOT / "fixtures" / "real-logs" / "hf-tashu-lora-imdb"
    result = run_lraudit("audit", run, "--format", "json")
    assert result.returncode == 0, result.stderr
    (audited,) = json.loads(result.stdout)["runs"]
    assert audited["framework"] == "transformers" and audited["steps"] == 375
    assert audited["findings"] == []  # no false alarm from a guessed lr
    assert any("0.0002 reproduces every logged value" in note for note in audited["notes"])
