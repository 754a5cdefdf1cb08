"""Findings a user can trust: stated settings checked, advice that fits the run, each message once.

CLI runs on short excerpts of real logs (fixtures/real-logs, fixtures/notebooks; sources in
fixtures/README.md) and on a shared keras-runs run (fixtures/runs).
"""
from __future__ import annotations

import json
from pathlib import Path

from conftest import run_lraudit

from lraudit.api import build_run
from lraudit.auditing import AuditResult, RunAudit
from lraudit.report._common import notes_of
from lraudit.report.text import render
from lraudit.run_builder import _same_setting
from lraudit.sources.base import InputFile, SourceData

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
K21 = FIXTURES / "real-logs" / "k21-rocj" / "console.log"
K21_SGD = "SGD(lr=0.01, decay=1e-6, momentum=0.9, nesterov=True)"
BADTYPRR = FIXTURES / "notebooks" / "jupyter_raw_bars_interrupt.ipynb"
HALVING = FIXTURES / "runs" / "k2_lrscheduler_halving"
OTHER_SCHEDULE = FIXTURES / "rules" / "LRA025" / "fail_scheduler_function_differs" / "lr_schedule.py"


def _audit(*args: str | Path) -> tuple[int, list[dict], str]:
    proc = run_lraudit("audit", *args, "--format", "json", "--fail-on", "warning")
    report = json.loads(proc.stdout)  # stdout is the report only, whatever the user's code prints
    return proc.returncode, [f for run in report["runs"] for f in run["findings"]], proc.stderr


def test_small_legacy_decay_without_per_epoch_writer_is_explained_as_info():
    """k21-rocj: SGD decay=1e-6 and no lr callback: a power schedule, no per-epoch decay proposed."""
    code, findings, _ = _audit(K21, "--optimizer", K21_SGD)
    by_code = {f["code"]: f for f in findings}
    assert code == 0, findings  # nothing at warning level
    assert by_code["LRA001"]["severity"] == "info"
    for rule in ("LRA001", "LRA007"):
        assert 'per-step ("power") schedule' in by_code[rule]["message"]
        assert "would give the intended" not in by_code[rule]["message"]
        assert "Nothing to change" in by_code[rule]["fix"]


def test_steps_per_epoch_contradicting_the_bars_names_both_numbers():
    """k21-rocj bars end at 1562/1562; --steps-per-epoch 100 is reported, and every number uses 100."""
    code, findings, _ = _audit(K21, "--optimizer", K21_SGD, "--steps-per-epoch", "100")
    (contradiction,) = [f for f in findings if f["code"] == "LRA025"]
    assert "100 steps per epoch" in contradiction["message"] and "1562" in contradiction["message"]
    assert code == 1
    (per_batch,) = [f for f in findings if f["code"] == "LRA007"]
    assert "with 100 steps per epoch" in per_batch["message"]


def test_scheduler_function_is_compared_with_the_logged_values_and_prints_to_stderr():
    code, findings, stderr = _audit(
        HALVING, "--callback", f"LearningRateScheduler('{OTHER_SCHEDULE}:step_decay')"
    )
    (finding,) = [f for f in findings if f["code"] == "LRA025"]
    assert finding["epoch"] == 2 and "returns 0.002 at epoch 2" in finding["message"]
    assert "schedule called at epoch" in stderr
    assert code == 1


def test_scheduler_function_that_ran_gives_no_finding():
    code, findings, _ = _audit(
        HALVING, "--callback", f"LearningRateScheduler('{HALVING / 'lr_schedule.py'}:step_decay')"
    )
    assert code == 0 and not [f for f in findings if f["code"] == "LRA025"]


def test_missing_or_failing_scheduler_function_is_one_line_exit_2(tmp_path):
    failing = tmp_path / "sched.py"
    failing.write_text("def fn(epoch, lr):\n    raise ValueError('bad epoch')\n")
    for reference, said in ((f"{tmp_path / 'none.py'}:fn", "none.py"), (f"{failing}:other", "'other'"),
                            (f"{failing}:fn", "ValueError: bad epoch")):
        proc = run_lraudit("audit", HALVING, "--callback", f"LearningRateScheduler('{reference}')")
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and said in lines[0] and "Traceback" not in proc.stderr


def test_an_input_read_in_part_is_not_called_skipped_and_is_warned_once():
    """badtyprr: epoch 2 interrupted at 37472/37500; the notebook is used, its warning said once."""
    proc = run_lraudit("audit", BADTYPRR, "--optimizer", "RMSprop(lr=1e-4, decay=1e-6)")
    assert f"skipped {BADTYPRR}" not in proc.stdout
    warnings = [line for line in proc.stdout.splitlines() if "no final progress line" in line]
    assert len(warnings) == 1, proc.stdout


def test_notes_say_each_input_once():
    run = RunAudit(
        path="r",
        inputs=[InputFile("a.log", "console", "partial", "a.log:9: epoch 1 has no final progress line"),
                InputFile("b.txt", None, "skipped", "not a recognised training log"),
                InputFile("c.csv", "csvlogger", "partial", "c.csv: last row cut")],
        warnings=["a.log:9: epoch 1 has no final progress line", "same", "same"],
    )
    assert notes_of(run) == [
        "skipped b.txt: not a recognised training log",
        "warning: a.log:9: epoch 1 has no final progress line",
        "warning: same",
        "warning: c.csv read in part: c.csv: last row cut",
    ]


def test_the_summary_line_is_in_the_report_once():
    """The report (plain or on a terminal) carries the summary once; the exit line on stderr adds
    only the exit code (tests/test_report_ux.py checks the command's two streams)."""
    result = AuditResult(runs=[RunAudit(path="r")], rules=[])
    assert render(result, color=False).count("1 run: 0 errors") == 1
    assert render(result, color=True, width=100).count("1 run: 0 errors") == 1


def test_one_loss_serialised_two_ways_is_no_disagreement():
    as_config = {"module": "keras.losses", "class_name": "CategoricalCrossentropy",
                 "config": {"name": "categorical_crossentropy", "reduction": "sum_over_batch_size",
                            "from_logits": False, "label_smoothing": 0.0, "axis": -1}}
    assert _same_setting("categorical_crossentropy", as_config)
    assert _same_setting(["accuracy"], [{"class_name": "MeanMetricWrapper", "config": {"name": "accuracy"}}])
    assert _same_setting("mse", "mean_squared_error")
    logits = {**as_config, "config": {**as_config["config"], "from_logits": True}}
    assert not _same_setting("categorical_crossentropy", logits)
    first = SourceData(path="model-01.h5", kind="models", iterations=79,
                       compile_config={"loss": "categorical_crossentropy"})
    last = SourceData(path="model.keras", kind="models", iterations=158, compile_config={"loss": as_config})
    run = build_run("r", [first, last])
    assert not [w for w in run.warnings if "compile settings disagree" in w]
    real = SourceData(path="model.keras", kind="models", iterations=158, compile_config={"loss": logits})
    run = build_run("r", [first, real])
    assert [w for w in run.warnings if "compile settings disagree" in w]
