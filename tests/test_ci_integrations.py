"""The pre-commit hook and the composite GitHub Action, exercised on a fixture run."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "fixtures" / "runs" / "k2_adam_decay_plateau"
FAILING = ROOT / "fixtures" / "runs" / "k3_sgd_decay_ignored_probe"  # LRA009 error: decay ignored


def _lraudit_on_path() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.mark.slow
def test_pre_commit_hook_runs_the_audit_with_the_args_a_user_gives():
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "lraudit" and hook["language"] == "python" and hook["pass_filenames"] is False
    command = [*shlex.split(hook["entry"]), str(RUN)]
    ok = subprocess.run(command, capture_output=True, text=True, env=_lraudit_on_path())
    assert ok.returncode == 0, ok.stderr
    failing = subprocess.run([*shlex.split(hook["entry"]), str(FAILING)], capture_output=True, text=True,
                             env=_lraudit_on_path())
    assert failing.returncode == 1 and "LRA009" in failing.stdout


def test_action_metadata_is_a_composite_action_with_sarif_and_summary():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert {"path", "fail-on", "options", "python-version", "upload-sarif"} <= set(action["inputs"])
    uses = [step.get("uses", "") for step in action["runs"]["steps"]]
    assert any(u.startswith("actions/setup-python") for u in uses)
    assert any(u.startswith("github/codeql-action/upload-sarif") for u in uses)
    audit = next(step for step in action["runs"]["steps"] if step.get("id") == "audit")
    assert "lraudit-action.sh" in audit["run"] and (ROOT / ".github" / "lraudit-action.sh").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("run", "fail_on", "code"), [(RUN, "error", 0), (FAILING, "error", 1), (RUN, "info", 1)]
)
def test_action_audit_step_writes_sarif_summary_and_exit_code(tmp_path, run, fail_on, code):
    """The step's script as the runner calls it: inputs as env, outputs to GITHUB_OUTPUT/SUMMARY."""
    env = _lraudit_on_path() | {
        "LRAUDIT_PATHS": shlex.quote(str(run)), "LRAUDIT_FAIL_ON": fail_on, "LRAUDIT_OPTIONS": "",
        "RUNNER_TEMP": str(tmp_path), "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    proc = subprocess.run(["bash", str(ROOT / ".github" / "lraudit-action.sh")], env=env, capture_output=True,
                          text=True)
    assert proc.returncode == code, proc.stderr
    outputs = dict(line.split("=", 1) for line in (tmp_path / "output").read_text().splitlines())
    sarif = json.loads(Path(outputs["sarif"]).read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["tool"]["driver"]["name"] == "lraudit"
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("## lraudit") and "| " in summary
