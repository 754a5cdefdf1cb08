"""A fresh optimizer per fit given on the command line: ``--optimizer "2:Adam(...)"`` (a re-compile)."""

from __future__ import annotations

import json
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


def test_without_the_second_optimizer_fit_2_continues_the_first_one(tmp_path):
    """The console shows no lr: only the per-fit option tells the re-compile. Without it the second
    fit continues the first optimizer (counter 36-71 at 2e-3), with it it restarts at 2e-4 - and the
    report says which optimizer each fit got."""
    out = tmp_path / "t.csv"
    first_only = run_lraudit("timeline", LOG, "-o", out, "--optimizer", "legacy.Adam(learning_rate=2e-3)")
    assert first_only.returncode == 0, first_only.stderr
    second = pd.read_csv(out).query("fit == 1")
    assert list(second["step"]) == list(range(36, 72))
    assert (second["lr_effective"].to_numpy(np.float32) == np.float32(2e-3)).all()
    with_refit = run_lraudit(
        "audit", LOG, "--optimizer", "legacy.Adam(learning_rate=2e-3)",
        "--optimizer", "2:legacy.Adam(learning_rate=2e-4)", "--format", "json",
    )
    assert with_refit.returncode == 0, with_refit.stderr
    notes = json.loads(with_refit.stdout)["runs"][0]["notes"]
    said = "fit 2: a fresh optimizer compiled before it (--optimizer 2:legacy.Adam(learning_rate=2e-4))"
    assert said in notes


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
