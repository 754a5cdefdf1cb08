"""Exit-code contract of ``lraudit audit`` over the console script and ``python -m lraudit``.

0: nothing at or above --fail-on; 1: findings at or above it; 2: bad usage or unreadable input
(one line on stderr, no traceback, nothing written).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_lraudit

from lraudit.cli import EXIT_ERROR, EXIT_FINDINGS, EXIT_SUCCESS

ROOT = Path(__file__).resolve().parent.parent
ENTRY_POINTS = [["lraudit"], [sys.executable, "-m", "lraudit"]]
#: INDEX.md: legacy SGD(lr=0.1, decay=1e-3): hidden decay (warning) + decay per batch (info), no error
DECAY_RUN = str(ROOT / "fixtures" / "runs" / "k2_sgd_decay_probe")


def run(entry: list[str] | None, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``entry`` None: the real entry point in-process; else that command in a subprocess."""
    if entry is None:
        return run_lraudit(*args, cwd=cwd)
    return subprocess.run([*entry, *args], capture_output=True, text=True, cwd=cwd)


SCRIPT, MODULE = ENTRY_POINTS


SLOW = pytest.mark.slow  # a new process per case (~3 s of imports each)


@pytest.mark.parametrize(
    ("entry", "fail_on", "code"),
    [
        pytest.param(SCRIPT, "error", EXIT_SUCCESS, marks=SLOW),
        pytest.param(SCRIPT, "warning", EXIT_FINDINGS, marks=SLOW),
        pytest.param(MODULE, "warning", EXIT_FINDINGS, marks=SLOW),
        (None, "error", EXIT_SUCCESS), (None, "warning", EXIT_FINDINGS),
        (None, "info", EXIT_FINDINGS), (None, "never", EXIT_SUCCESS),
    ],
    ids=["script-error", "script-warning", "module-warning", "error", "warning", "info", "never"],
)
def test_fail_on_decides_the_exit_code(entry, fail_on, code, tmp_path):
    out = tmp_path / "report.json"
    proc = run(entry, "audit", DECAY_RUN, "--format", "json", "--fail-on", fail_on, "--output", str(out))
    assert proc.returncode == code, proc.stderr
    assert out.is_file() and '"LRA001"' in out.read_text()
    assert proc.stdout == "" and "lraudit:" in proc.stderr  # report to the file, summary to stderr


@pytest.mark.slow
@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=["script", "module"])
def test_missing_path_is_exit_2_for_both_entry_points(entry):
    proc = run(entry, "audit", "no/such/run")
    assert proc.returncode == EXIT_ERROR and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["audit", "no/such/run"], "no/such/run"),
        (["audit", DECAY_RUN, "--format", "xml"], "unknown format"),
        (["audit", DECAY_RUN, "--fail-on", "sometimes"], "--fail-on"),
        (["audit", DECAY_RUN, "--select", "LRA999"], "LRA999"),
        (["audit", DECAY_RUN, "--ignore", "LRA1"], "LRA1"),
        (["audit", DECAY_RUN, "--jobs", "0"], "--jobs"),
        (["audit", DECAY_RUN, "--plot", "x.gif"], "x.gif"),
        (["audit", DECAY_RUN, "--timeline", "x.txt"], "x.txt"),
        (["audit", DECAY_RUN, "--keras", "4"], "--keras"),
        (["audit", DECAY_RUN, "--optimizer", "Adam(lr="], ""),
        (["rules", "LRA404"], "LRA404"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(args, says, tmp_path):
    entry = None  # in-process: the same main(), error translation and exit code
    out = tmp_path / "report.txt"
    proc = run(entry, *args, "--output", str(out)) if args[0] == "audit" else run(entry, *args)
    assert proc.returncode == EXIT_ERROR
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("lraudit: error:") and proc.stderr.count("\n") == 1, proc.stderr
    assert says in proc.stderr
    assert not out.exists() and proc.stdout == ""


def test_a_folder_of_code_without_output_is_one_line_naming_what_is_missing():
    proc = run_lraudit("audit", ROOT / "fixtures" / "code")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "training code but no training output" in proc.stderr


@pytest.mark.slow
def test_python_m_lraudit_without_its_dependencies_is_one_line_exit_2():
    """A checkout run before installing: the missing package named, no traceback."""
    code = "import sys, runpy; sys.modules['typer'] = None; runpy.run_module('lraudit', run_name='__main__')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        "lraudit: missing dependency 'typer': install lraudit first (pip install -e . or pip install "
        "keras-lraudit)"
    )
