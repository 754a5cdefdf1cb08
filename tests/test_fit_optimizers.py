"""A fresh optimizer per fit given on the command line: ``--optimizer "2:Adam(...)"`` (a re-compile)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_lraudit

from lraudit.api import split_fit_optimizers
from lraudit.errors import UsageError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LOG = FIXTURES / "console" / "finetune_recompile_outputs.log"


def _truth() -> pd.DataFrame:
    for folder in ("expected", "notebook_expected"):
        path = FIXTURES / folder / "nb_e2_finetune_recompile" / "truth.csv"
        if path.exists():
            return pd.read_csv(path)
    raise FileNotFoundError("truth of nb_e2_finetune_recompile")


def test_a_recompile_given_per_fit_rebuilds_every_step_bit_for_bit(tmp_path):
    """fit 1: legacy Adam(2e-3), 36 steps; re-compile; fit 2 (initial_epoch=3): Adam(2e-4) from counter 0."""
    out = tmp_path / "t.csv"
    proc = run_lraudit(
        "timeline",
        LOG,
        "-o",
        out,
        "--optimizer",
        "legacy.Adam(learning_rate=2e-3)",
        "--optimizer",
        "2:legacy.Adam(learning_rate=2e-4)",
    )
    assert proc.returncode == 0, proc.stderr
    ours, truth = pd.read_csv(out), _truth()
    assert list(ours["step"]) == list(truth["step"]) == [*range(36), *range(36)]
    assert (ours["lr_effective"].to_numpy(np.float32) == truth["lr_effective"].to_numpy(np.float32)).all()


def test_without_the_second_optimizer_the_audit_says_the_logs_contradict_it(tmp_path):
    proc = run_lraudit("audit", LOG, "--optimizer", "legacy.Adam(learning_rate=2e-3)", "--format", "json")
    with_refit = run_lraudit(
        "audit",
        LOG,
        "--optimizer",
        "legacy.Adam(learning_rate=2e-3)",
        "--optimizer",
        "2:legacy.Adam(learning_rate=2e-4)",
        "--format",
        "json",
    )
    assert with_refit.returncode == 0, with_refit.stderr
    assert '"fit 2: a fresh optimizer compiled before it' in with_refit.stdout
    assert proc.stdout != with_refit.stdout


@pytest.mark.parametrize(
    ("given", "main", "per_fit"),
    [
        ("Adam(1e-3)", "Adam(1e-3)", {}),
        (["Adam(1e-3)", "2:Adam(1e-5)", " 3 : SGD(0.1)"], "Adam(1e-3)", {2: "Adam(1e-5)", 3: "SGD(0.1)"}),
        (["2:Adam(1e-5)"], None, {2: "Adam(1e-5)"}),
    ],
)
def test_fit_prefixes_are_split_from_the_run_optimizer(given, main, per_fit):
    assert split_fit_optimizers(given) == (main, per_fit)


def test_two_unprefixed_optimizers_or_fit_zero_are_usage_errors():
    with pytest.raises(UsageError, match="given twice"):
        split_fit_optimizers(["Adam(1e-3)", "SGD(0.1)"])
    with pytest.raises(UsageError, match="numbered from 1"):
        split_fit_optimizers(["0:Adam(1e-3)"])
    proc = run_lraudit(
        "timeline", LOG, "-o", "x.csv", "--optimizer", "Adam(1e-3)", "--optimizer", "7:Adam(1e-5)"
    )
    assert proc.returncode == 2 and "fit 7" in proc.stderr and proc.stderr.count("\n") == 1
