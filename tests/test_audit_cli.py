"""``lraudit audit`` end to end on the shared runs: each reaches the conclusion INDEX.md states.

The expected codes below are written from the "a correct auditor concludes" column of the
shared corpus' INDEX.md (hidden per-batch decay -> LRA001/LRA007, scheduler overwriting plateau
reductions -> LRA014, ...), not from lraudit's output.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import run_lraudit

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "fixtures" / "runs"
RUN_NAMES = sorted(p.name for p in RUNS.iterdir() if p.is_dir())

#: codes a correct audit must report, per run (INDEX.md conclusions)
REQUIRED = {
    "e2_rmsprop_decay_lrscheduler": {"LRA001", "LRA007"},  # scheduler logs the base; legacy decay hidden
    "e2_scheduler_then_plateau_conflict": {"LRA014"},  # scheduler overwrites the plateau's reductions
    "k2_adam_decay_plateau": {"LRA001", "LRA007"},  # logged lr is the base; per-batch decay
    "k2_cosine_similarity_plateau_mode": {"LRA016"},  # auto mode minimises a similarity
    "k2_decay_plus_schedule_probe": {"LRA001"},  # TensorBoard shows the schedule without decay
    "k2_lrscheduler_halving": set(),  # logged lr matches: nothing hidden
    "k2_plateau_missing_monitor": {"LRA006", "LRA001"},  # monitor never logged; decay hidden
    "k2_recompile_fresh_optimizer_probe": {"LRA017"},  # counter restarted with epochs continuing
    "k2_resume_adam_decay": {"LRA011", "LRA001"},  # counter carried over; decay hidden
    "k2_rmsprop_expdecay_staircase": {"LRA021"},  # TensorBoard value is the next step's
    "k2_sgd_decay_plateau_probe": {"LRA001", "LRA007"},
    "k2_sgd_decay_probe": {"LRA001", "LRA007"},
    "k2_sgd_momentum_decay": {"LRA007"},  # no lr logged; decay per batch
    "k2_steps_per_execution_probe": {"LRA001", "LRA007"},
    "k3_adam_weightdecay_plateau_minlr": {"LRA008", "LRA012", "LRA021"},
    "k3_cosine_nowarmup_tf_probe": set(),
    "k3_cosine_restarts_tf_probe": set(),
    "k3_cosine_warmup_probe": {"LRA020"},  # step 0 updates nothing
    "k3_grad_accum_probe": set(),
    "k3_piecewise_inside_epoch_probe": set(),  # plus one of LRA010/LRA022, see ONE_OF
    "k3_polynomial_cycle_probe": set(),
    "k3_resume_reload_keras_probe": {"LRA011"},  # reloaded counter continues
    "k3_sgd_decay_ignored_probe": {"LRA009"},
    "k3_sgd_expdecay_smooth_probe": {"LRA021"},
    "k3_warmup_target_below_initial_torch": {"LRA019"},
    "k3jax_adam_plateau": {"LRA021"},
    "k3jax_cosine_restarts_probe_b": set(),
    "k3jax_expdecay_smooth_probe": set(),
    "k3jax_polynomial_power15_probe": {"LRA023"},
    # console shows the base only (decay hidden, per batch); the last epoch's reduction is unused
    "n1_k2_sgd_decay_partial_batch_plateau_loss_probe": {"LRA001", "LRA007", "LRA024"},
    # decay divides every step but TensorBoard shows the schedule alone, at the next step
    "n2_k2_adam_expdecay_staircase_plus_decay_pipe": {"LRA001", "LRA007", "LRA021"},
    # counter carried over into the second fit; TensorBoard is the next step's schedule value
    "n3_k3_sgd_inversetime_two_fits_probe": {"LRA011", "LRA021"},
    # clipped at min_lr; TensorBoard (read after the callback) one epoch ahead at reductions
    "n4_k3_adam_plateau_cooldown_minlr": {"LRA012", "LRA021"},
    # every reduction overwritten by the scheduler; History/CSV lr is the reduced value no step
    # used; the last reduction applies to no step
    "n5_e2_plateau_then_scheduler_conflict": {"LRA014", "LRA021", "LRA024"},
    # lr 0 at step 0 (warm-up from initial_learning_rate=0); TensorBoard shows the next step's value
    "n6_k3jax_cosine_warmup_from_zero_probe": {"LRA020", "LRA021"},
    # logged learning_rate equals each epoch's applied value: nothing to report
    "n7_k3_lrscheduler_verbose_earlystop_probe": set(),
    # legacy decay per batch, never logged; TensorBoard shows the schedule alone, at the next step
    "n8_k2_rmsprop_piecewise_plus_decay": {"LRA001", "LRA007", "LRA021"},
    # TensorBoard value is the next step's (schedule at the raw micro-batch counter)
    "n9_k3jax_expdecay_staircase_accum3_probe": {"LRA021"},
    # a new optimizer at fit 2 restarts the counter while epochs continue; the logged lr is the
    # base variable, legacy decay divides it on every batch
    "n10_k2_sgd_decay_recompile_plateau_silent_probe": {"LRA017", "LRA001", "LRA007"},
    # the LossScaleOptimizer wrapper does not change the lr: the schedule applies as configured
    "e2_mixed_precision_expdecay_probe": set(),
    "k3_mixed_precision_staircase_probe": set(),
    # XLA arithmetic (jit_compile=True); legacy decay still hidden, nothing logged
    "k2_jit_legacy_decay_probe": {"LRA001", "LRA007"},
    "k3_jit_cosine_tf_probe": set(),
    # accumulation windows straddle epochs: explained (note, LRA021), never a mismatch
    "k3_grad_accum_odd_inverse_time_probe": {"LRA021"},
    "k3jax_grad_accum3_odd_probe": {"LRA021"},
    # notebook runs (a real Jupyter kernel) and a sweep log: a folder may hold several trainings;
    # a code here must appear in one of them (per-training expectations in the tests below)
    # recompiled with a new optimizer: two trainings, each a constant lr, nothing hidden
    "nb_e2_finetune_recompile": set(),
    # hidden legacy decay under the logged base variable; the last reduction is unused
    "nb_k2_sgd_decay_plateau": {"LRA001", "LRA007", "LRA024"},
    # two models, two optimizers; the scheduler's halvings are what was logged and applied
    "nb_k3_two_models_scheduler": set(),
    # the fit stopped inside epoch 3 (30 updates); the decaying schedule is never logged
    "nb_k3torch_callback_raises": {"LRA010"},
    # model 2's CosineDecay reaches 0 at step 40: its last epoch trains nothing
    "k3_sweep_two_models_pipe": {"LRA020"},
}
#: how many trainings (separate runs in the report) a folder holds, when more than one
TRAININGS = {"nb_e2_finetune_recompile": 2, "nb_k3_two_models_scheduler": 2, "k3_sweep_two_models_pipe": 2}
#: the conclusion allows either code
ONE_OF = {"k3_piecewise_inside_epoch_probe": {"LRA010", "LRA022"}}
#: error-severity findings a conclusion calls for (any other error is wrong)
ALLOWED_ERRORS = {
    "k2_plateau_missing_monitor": {"LRA006"},
    "k3_sgd_decay_ignored_probe": {"LRA009"},
    "k3jax_polynomial_power15_probe": {"LRA023"},
}
#: codes that contradict a conclusion
FORBIDDEN = {
    "k2_lrscheduler_halving": {"LRA001", "LRA007"},  # "no hidden decay"
    "k2_resume_adam_decay": {"LRA017"},  # "rather than restarting"
    "k3_resume_reload_keras_probe": {"LRA017"},  # "nothing restarts"
    "k2_recompile_fresh_optimizer_probe": {"LRA011"},
    "k3_sgd_decay_ignored_probe": {"LRA001", "LRA007"},  # decay is not applied
    "n3_k3_sgd_inversetime_two_fits_probe": {"LRA017"},  # "nothing restarts"
    "n4_k3_adam_plateau_cooldown_minlr": {"LRA001", "LRA007"},  # "no hidden decay"
    "n6_k3jax_cosine_warmup_from_zero_probe": {"LRA001", "LRA007"},  # no decay: applied as scheduled
    "n7_k3_lrscheduler_verbose_earlystop_probe": {"LRA001", "LRA007", "LRA014"},  # one lr writer, no decay
    "n9_k3jax_expdecay_staircase_accum3_probe": {"LRA001", "LRA007", "LRA009"},  # no decay argument
    "n10_k2_sgd_decay_recompile_plateau_silent_probe": {"LRA011"},  # "iterations reset"
    "e2_mixed_precision_expdecay_probe": {"LRA001", "LRA007", "LRA009"},  # no decay argument
    "k3_mixed_precision_staircase_probe": {"LRA001", "LRA007", "LRA009"},
    "k3_jit_cosine_tf_probe": {"LRA001", "LRA007", "LRA009"},
    "k3_grad_accum_odd_inverse_time_probe": {"LRA001", "LRA007", "LRA009"},
    "k3jax_grad_accum3_odd_probe": {"LRA001", "LRA007", "LRA009"},
    # a fresh optimizer's counter restarts: nothing is carried over, nothing restarts on resume
    "nb_e2_finetune_recompile": {"LRA001", "LRA007", "LRA011", "LRA017"},
    "nb_k3_two_models_scheduler": {"LRA001", "LRA007", "LRA011", "LRA014", "LRA017"},
    "k3_sweep_two_models_pipe": {"LRA001", "LRA007", "LRA011", "LRA017"},
    "nb_k3torch_callback_raises": {"LRA001", "LRA007", "LRA009"},  # no decay argument
}
#: runs whose conclusion leaves nothing to warn about (only notes and info findings)
NO_WARNINGS = {
    "e2_mixed_precision_expdecay_probe",  # smooth schedule, wrapper changes nothing
    "k3_jit_cosine_tf_probe",  # jit_compile changes only the last bits
    "k3_grad_accum_odd_inverse_time_probe",  # accumulation across epoch ends is explained
    "nb_e2_finetune_recompile",  # constant lr in each training
    "nb_k3_two_models_scheduler",  # logged = applied
    "nb_k3torch_callback_raises",  # the schedule applies as configured
}


def lraudit(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return run_lraudit(*args, cwd=cwd)


def _folder(run_path: str) -> str:
    """The run folder under ``fixtures/runs`` a reported run (or training of it) came from."""
    return Path(run_path).relative_to(RUNS).parts[0]


@pytest.fixture(scope="module")
def corpus_trainings() -> dict[str, list[dict]]:
    """One audit of the whole folder of runs (two worker processes), as JSON: per run folder,
    its trainings in log order (one for most folders)."""
    proc = lraudit("audit", str(RUNS), "--format", "json", "--fail-on", "never", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    expected_runs = sum(TRAININGS.get(name, 1) for name in RUN_NAMES)
    assert report["schema_version"] == "1" and report["summary"]["runs"] == expected_runs
    grouped: dict[str, list[dict]] = {}
    for run in report["runs"]:
        grouped.setdefault(_folder(run["path"]), []).append(run)
    return grouped


@pytest.fixture(scope="module")
def corpus_report(corpus_trainings) -> dict[str, dict]:
    """The run of each folder that holds one training."""
    return {name: runs[0] for name, runs in corpus_trainings.items() if len(runs) == 1}


def test_expectations_cover_every_shared_run():
    assert set(REQUIRED) == set(RUN_NAMES)
    assert set(TRAININGS) <= set(RUN_NAMES)


@pytest.mark.slow  # one audit of the whole corpus (~25 s)
@pytest.mark.parametrize("name", RUN_NAMES)
def test_shared_run_reaches_its_conclusion(corpus_trainings, name):
    runs = corpus_trainings[name]
    assert len(runs) == TRAININGS.get(name, 1), [run["path"] for run in runs]
    findings = [f for run in runs for f in run["findings"]]
    codes = {f["code"] for f in findings}
    assert REQUIRED[name] <= codes, f"missing {sorted(REQUIRED[name] - codes)}; got {sorted(codes)}"
    if name in ONE_OF:
        assert codes & ONE_OF[name], f"expected one of {sorted(ONE_OF[name])}; got {sorted(codes)}"
    assert not codes & FORBIDDEN.get(name, set())
    errors = {f["code"] for f in findings if f["severity"] == "error"}
    assert errors <= ALLOWED_ERRORS.get(name, set()), f"unexpected errors {sorted(errors)}"
    assert "LRA002" not in codes  # the config describes every shared run
    for run in runs:
        for finding in run["findings"]:
            assert finding["message"] and finding["fix"] and finding["run"] == run["path"]


@pytest.mark.slow  # reads the corpus audit
@pytest.mark.parametrize("name", sorted(NO_WARNINGS))
def test_explained_runs_raise_no_warning(corpus_trainings, name):
    severities = {f["code"]: f["severity"] for run in corpus_trainings[name] for f in run["findings"]}
    assert set(severities.values()) <= {"info"}, severities


@pytest.mark.slow  # reads the corpus audit
def test_sweep_zero_lr_is_the_second_models(corpus_trainings):
    """k3_sweep_two_models_pipe (INDEX.md): model 1 applies a constant 0.05 over its 30 steps;
    model 2's CosineDecay(3e-3, 40) restarts at iteration 0 and applies 0.0 in steps 40-49."""
    first, second = corpus_trainings["k3_sweep_two_models_pipe"]
    assert first["steps"] == 30 and second["steps"] == 50
    assert first["optimizer"]["class_name"] == "SGD" and second["optimizer"]["class_name"] == "Adam"
    assert not [f for f in first["findings"] if f["severity"] != "info"]
    zero = next(f for f in second["findings"] if f["code"] == "LRA020")
    assert zero["step"] == 40 and "steps 40-49" in zero["message"]


@pytest.mark.slow  # reads the corpus audit
def test_callback_exception_stops_the_timeline_where_training_stopped(corpus_report):
    """nb_k3torch_callback_raises (INDEX.md): 30 updates (epochs 1-2 complete, epoch 3 up to
    batch 5), told by the callback's own message in the notebook's traceback; torch backend
    from the code's KERAS_BACKEND."""
    run = corpus_report["nb_k3torch_callback_raises"]
    assert run["steps"] == 30
    notes = run.get("notes", [])
    assert any("cut after 6 update(s)" in note and "(exact)" in note for note in notes), notes
    assert any("KERAS_BACKEND='torch'" in note for note in notes), notes


@pytest.mark.slow  # reads the corpus audit
@pytest.mark.parametrize("name", ["e2_mixed_precision_expdecay_probe", "k3_mixed_precision_staircase_probe"])
def test_loss_scale_optimizer_is_read_through(corpus_report, name):
    """INDEX.md: the wrapper does not change the lr; the note says why the inner optimizer rules."""
    run = corpus_report[name]
    assert run["optimizer"]["class_name"] == "SGD" and run["optimizer"]["wrapper"] == "LossScaleOptimizer"
    assert any("wrapped in LossScaleOptimizer" in note for note in run.get("notes", [])), run.get("notes")


@pytest.mark.slow  # reads the corpus audit
@pytest.mark.parametrize("name", ["k3_grad_accum_odd_inverse_time_probe", "k3jax_grad_accum3_odd_probe"])
def test_accumulation_across_epoch_ends_is_explained(corpus_report, name):
    """INDEX.md: which batches update, which counter the schedule reads, what the epoch log shows."""
    run = corpus_report[name]
    note = next(n for n in run.get("notes", []) if n.startswith("gradient_accumulation_steps="))
    assert "straddle epoch boundaries" in note and "raw counter after the epoch" in note
    assert not [f for f in run["findings"] if f["severity"] != "info" and f["code"] != "LRA010"]


@pytest.mark.slow  # reads the corpus audit
def test_odd_accumulation_epoch_reads_between_updates_are_named(corpus_report):
    """k3_grad_accum_odd_inverse_time_probe: 9 batches/epoch, k=2; TensorBoard's epoch 1 value is
    0.08/(1+0.4*18/5), the schedule at raw counter 18, which no update (raw 17, 19) applied."""
    shifted = next(
        f for f in corpus_report["k3_grad_accum_odd_inverse_time_probe"]["findings"] if f["code"] == "LRA021"
    )
    assert "at the end of epochs 2 and 4 (of 4) lies inside an accumulation window" in shifted["message"]


@pytest.mark.slow
@pytest.mark.parametrize("name", RUN_NAMES)
def test_findings_name_only_steps_and_epochs_the_run_has(corpus_trainings, name):
    """A finding's step/epoch is one the run really trained (truth.csv), never one past its end."""
    import pandas as pd

    truth = pd.read_csv(ROOT / "fixtures" / "expected" / name / "truth.csv")
    steps, epochs = set(truth["step"].astype(int)), set(truth["epoch"].astype(int))
    for finding in (f for run in corpus_trainings[name] for f in run["findings"]):
        assert finding.get("step") is None or finding["step"] in steps, finding
        assert finding.get("epoch") is None or finding["epoch"] in epochs, finding
        assert "epoch None" not in finding["message"] and "step None" not in finding["message"], finding


@pytest.mark.slow
def test_hidden_decay_under_a_schedule_is_worded_for_the_schedule(corpus_report):
    """n2: a legacy decay on top of ExponentialDecay; TensorBoard reads the schedule, not a variable."""
    hidden = next(
        f for f in corpus_report["n2_k2_adam_expdecay_staircase_plus_decay_pipe"]["findings"]
        if f["code"] == "LRA001"
    )
    assert "the schedule's value before legacy decay" in hidden["message"]
    assert "base variable" not in hidden["message"]
    # run.json: ExponentialDecay(0.01, 7, 0.5, staircase) with decay=5e-3
    step = hidden["step"]
    assert hidden["logged"] == pytest.approx(0.01 * 0.5 ** (step // 7), rel=1e-6)
    assert hidden["effective"] == pytest.approx(hidden["logged"] / (1 + 0.005 * step), rel=1e-6)


@pytest.mark.slow
def test_seed_case_reads_like_the_answer(corpus_report):
    """k2_adam_decay_plateau: logged base vs applied lr, why, and the decay giving x0.75 per epoch."""
    run = corpus_report["k2_adam_decay_plateau"]
    hidden = next(f for f in run["findings"] if f["code"] == "LRA001")
    assert "is the base variable" in hidden["message"]
    assert "divides it by 1+decay*iterations on every batch" in hidden["message"]
    # INDEX.md: Adam(lr=1e-3, decay=1e-2), 20 steps/epoch, factor 0.75; D = (1/0.75 - 1)/20
    assert "decay=0.01667 would give the intended x0.75 per epoch" in hidden["message"]
    step = hidden["step"]
    assert hidden["effective"] == pytest.approx(hidden["logged"] / (1 + 0.01 * step), rel=1e-6)
    assert hidden["source"].startswith(str(RUNS / "k2_adam_decay_plateau"))
    per_batch = next(f for f in run["findings"] if f["code"] == "LRA007")
    assert "x0.8333 over epoch 1/8" in per_batch["message"]  # 1/(1+0.01*20), as the console numbers it
    assert per_batch["epoch"] == 0  # the JSON field stays 0-based


def test_select_and_ignore_filter_findings(tmp_path):
    run = str(RUNS / "k2_plateau_missing_monitor")
    only = json.loads(lraudit("audit", run, "--format", "json", "--select", "LRA006,LRA007").stdout)
    assert {f["code"] for f in only["runs"][0]["findings"]} == {"LRA006", "LRA007"}
    rest = json.loads(lraudit("audit", run, "--format", "json", "--ignore", "LRA006").stdout)
    assert "LRA006" not in {f["code"] for f in rest["runs"][0]["findings"]}


def test_defaults_come_from_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.lraudit]\nformat = "json"\nignore = ["LRA001"]\nfail-on = "warning"\n'
    )
    proc = lraudit("audit", str(RUNS / "k2_adam_decay_plateau"), cwd=tmp_path)
    report = json.loads(proc.stdout)
    assert "LRA001" not in {f["code"] for f in report["runs"][0]["findings"]}
    assert proc.returncode == 0  # only info findings (LRA007, LRA024) are left, below --fail-on warning
    proc = lraudit("audit", str(RUNS / "k2_adam_decay_plateau"), "--format", "json", "--ignore", "LRA007",
                   cwd=tmp_path)
    assert proc.returncode == 1  # --ignore on the command line replaces the file's: LRA001 (warning) is back
    codes = {f["code"] for f in json.loads(proc.stdout)["runs"][0]["findings"]}
    assert "LRA001" in codes and "LRA007" not in codes


def test_timeline_and_output_are_written(tmp_path):
    out, table = tmp_path / "report.md", tmp_path / "timeline.csv"
    proc = lraudit("audit", str(RUNS / "k2_sgd_decay_probe"), str(RUNS / "k2_lrscheduler_halving"),
                   "--format", "markdown", "--output", str(out), "--timeline", str(table))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # the report went to the file
    assert "2 runs" in proc.stderr
    text = out.read_text()
    assert text.count("\n## `") == 2 and "| LRA001 hidden-decay |" in text
    header = table.read_text().splitlines()[0].split(",")
    assert header[:7] == ["step", "epoch", "batch", "lr_base", "lr_effective", "logged_lr", "logged_source"]
    assert "run" in header
