"""``lraudit audit notebook.ipynb`` with no option: the code cells state the optimizer, read with ast."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from conftest import run_lraudit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SEED = FIXTURES / "notebooks" / "seed_adam_decay_plateau.ipynb"


def _report(*args) -> dict:
    proc = run_lraudit("audit", SEED, "--format", "json", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["runs"][0]


def test_the_code_gives_the_optimizer_and_every_value_is_cited_to_its_cell():
    run = _report()
    assert run["optimizer"]["class_name"] == "Adam"
    assert run["optimizer"]["learning_rate"] == 1e-3 and run["optimizer"]["decay"] == 1e-2
    note = next(n for n in run["notes"] if n.startswith("optimizer from the code"))
    assert "Adam(lr=LR, decay=LR_DECAY) at " in note and "seed_adam_decay_plateau.ipynb:cell 2:line 1" in note
    assert "LR = 0.001 at " in note and "cell 1:line 4" in note  # the constant's own line
    callbacks = next(n for n in run["notes"] if n.startswith("callbacks from the code"))
    assert "factor=0.75" in callbacks and "cell 3:line 1" in callbacks
    codes = {f["code"]: f["severity"] for f in run["findings"]}
    assert codes.get("LRA001") == "warning" and "LRA002" not in codes and "LRA003" not in codes


def test_the_notebook_alone_is_bit_exact(tmp_path):
    out = tmp_path / "t.csv"
    assert run_lraudit("timeline", SEED, "-o", out).returncode == 0
    ours = pd.read_csv(out)
    truth = pd.read_csv(FIXTURES / "expected" / "k2_adam_decay_plateau" / "truth.csv")
    assert len(ours) == len(truth) == 160
    assert (ours["lr_effective"].to_numpy(np.float32) == truth["lr_effective"].to_numpy(np.float32)).all()


def test_a_command_line_optimizer_overrides_the_code():
    run = _report("--optimizer", "tf.keras.optimizers.legacy.Adam(learning_rate=1e-3)")
    assert run["optimizer"]["decay"] == 0
    assert any(n.startswith("optimizer from --optimizer") for n in run["notes"])
    assert not any(n.startswith("optimizer from the code") for n in run["notes"])
    assert "LRA001" not in {f["code"] for f in run["findings"]}
