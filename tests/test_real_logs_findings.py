"""Findings on real third-party logs: no false alarm, no silent pass (fixtures/real-logs)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_lraudit

REAL = Path(__file__).resolve().parent.parent / "fixtures" / "real-logs"
GALEXY = REAL / "k3-galexy" / "training_log.csv"
PLATEAU = "ReduceLROnPlateau(monitor='val_loss', factor={factor}, patience=3, min_lr=1e-6, verbose={verbose})"


def _codes(*args) -> tuple[int, list[dict]]:
    proc = run_lraudit("audit", *args, "--format", "json")
    report = json.loads(proc.stdout)
    return proc.returncode, [f for run in report["runs"] for f in run["findings"]]


@pytest.mark.parametrize("verbose", [0, 1])
def test_silent_plateau_seen_in_lr_column_is_neither_missed_nor_unexplained(verbose):
    """Keras 3 CSVLogger: factor-0.25 reductions only in the learning_rate column (verbose=0 run)."""
    code, findings = _codes(
        str(GALEXY), "--optimizer", "Adam(learning_rate=1e-3)",
        "--callback", PLATEAU.format(factor=0.25, verbose=verbose), "--steps-per-epoch", "10",
    )
    assert code == 0
    assert not {f["code"] for f in findings} & {"LRA002", "LRA003", "LRA004", "LRA005"}


@pytest.mark.parametrize("verbose", [0, 1])
def test_configured_factor_contradicting_the_lr_column_is_reported(verbose):
    """The HEAD script says factor 0.5; the column shows x0.25 steps: LRA005 names both."""
    code, findings = _codes(
        str(GALEXY), "--optimizer", "Adam(learning_rate=1e-3)",
        "--callback", PLATEAU.format(factor=0.5, verbose=verbose), "--steps-per-epoch", "10",
    )
    assert code == 1
    mismatches = [f for f in findings if f["code"] == "LRA005"]
    assert [f["epoch"] for f in mismatches][:4] == [18, 24, 30, 33]
    assert "old*0.25" in mismatches[0]["message"]
    assert not [f for f in findings if f["code"] == "LRA004"]


SILENT = Path(__file__).resolve().parent.parent / "fixtures" / "console" / "silent_plateau"


@pytest.mark.parametrize("verbose", [0, 1])
def test_a_silent_plateau_overwritten_by_a_scheduler_is_a_writer_conflict(verbose):
    """Every reduction of a verbose=0 ReduceLROnPlateau is overwritten by LearningRateScheduler at
    the next epoch's start: LRA014 (as with printed reductions), never LRA004 'missed'."""
    _, findings = _codes(
        str(SILENT / "console.log"), "--optimizer", "legacy.SGD(learning_rate=0.04)",
        "--callback", f"LearningRateScheduler('{SILENT / 'lr_schedule.py'}:step_down', verbose=1)",
        "--callback", f"ReduceLROnPlateau(monitor='val_loss', factor=0.25, patience=1, verbose={verbose})",
    )
    codes = [f["code"] for f in findings]
    assert "LRA014" in codes and "LRA004" not in codes and "LRA002" not in codes
    conflict = next(f for f in findings if f["code"] == "LRA014")
    assert "runs at LearningRateScheduler's 0.04, not ReduceLROnPlateau's 0.01" in conflict["message"]
