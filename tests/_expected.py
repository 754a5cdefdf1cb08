"""Expected values of a fixture run, read from its measurement metadata (tests only, never the tool)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

EXPECTED = Path(__file__).resolve().parent.parent / "fixtures" / "expected"


def run_meta(run: str) -> dict:
    """run.json of ``run``, with each fit's ``epochs`` cut to the epochs that really ran.

    run.json's fits hold the ``epochs`` argument; a fit stopped early (EarlyStopping) ran fewer:
    each fit ends after its last epoch with an update in truth.csv.
    """
    meta = json.loads((EXPECTED / run / "run.json").read_text())
    with open(EXPECTED / run / "truth.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for fit in meta["fits"]:
        epochs = [int(r["epoch"]) for r in rows if int(r["fit"]) == fit["fit"]]
        if epochs:
            fit["epochs"] = min(fit["epochs"], max(epochs) + 1)
    meta["epochs"] = max(fit["epochs"] for fit in meta["fits"])
    return meta
