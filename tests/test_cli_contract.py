"""Exit-code contract over the console script and ``python -m lraudit``."""
from __future__ import annotations

import subprocess
import sys

import pytest

ENTRY_POINTS = [["lraudit"], [sys.executable, "-m", "lraudit"]]


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=["script", "module"])
def test_help_exits_zero(entry):
    proc = subprocess.run([*entry, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "audit" in proc.stdout


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=["script", "module"])
def test_unknown_command_is_usage_error(entry):
    proc = subprocess.run([*entry, "no-such-command"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
