"""The documented library API: lraudit.parse / load_run / timeline / audit."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

import lraudit

RUNS = Path(__file__).resolve().parent.parent / "fixtures" / "runs"
EXPECTED = RUNS.parent / "expected"


def test_timeline_is_a_function_returning_the_design_columns():
    frame = lraudit.timeline(RUNS / "k2_sgd_decay_probe")
    assert list(frame.columns[:7]) == [
        "step", "epoch", "batch", "lr_base", "lr_effective", "logged_lr", "logged_source",
    ]
    with open(EXPECTED / "k2_sgd_decay_probe" / "truth.csv", newline="") as fh:
        truth = [np.float32(float(row["lr_effective"])) for row in csv.DictReader(fh)]
    assert len(frame) == len(truth)
    assert (frame["lr_effective"].to_numpy(np.float32) == np.array(truth, np.float32)).all()


def test_timeline_module_stays_importable_and_callable():
    from lraudit.reconstruction import build_timeline

    assert callable(build_timeline)
    assert callable(lraudit.timeline)


def test_audit_returns_findings_for_the_seed_run():
    result = lraudit.audit(RUNS / "k2_adam_decay_plateau")
    codes = {finding.code for run in result.runs for finding in run.findings}
    assert {"LRA001", "LRA007"} <= codes
    assert not result.fails("error")


def test_parse_and_load_run():
    frame = lraudit.parse(RUNS / "k2_adam_decay_plateau")
    assert {"source", "name", "value", "location"} <= set(frame.columns)
    run = lraudit.load_run(RUNS / "k2_adam_decay_plateau")
    assert run.epochs == 8 and run.steps_per_epoch == 20
