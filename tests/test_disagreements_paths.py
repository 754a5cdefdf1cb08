"""The small-run (Python lists) and whole-column (pandas) disagreement checks agree exactly."""
from __future__ import annotations

import random
import warnings

import pandas as pd

from lraudit import run_builder
from lraudit.sources.base import scalars_frame
from lraudit.sources.registry import kinds_where


def _random_rows(rng: random.Random, count: int) -> pd.DataFrame:
    sources = list(kinds_where(lambda facts: facts.logs_values and facts.keras_keys))
    rows = [
        (
            rng.choice(sources), rng.choice(["a.log", "b.csv", "c.json", None]),
            rng.choice([None, 1, 2, 5, 8]),
            rng.choice(["loss", "val_loss", "lr", None]), rng.randint(0, 3), None, 0,
            rng.choice([0.5, 0.25, 0.2500001, float("nan"), 0.333, 0.33]),
            rng.choice(["0.5", "0.25", "0.3330", None, "nan"]),
        )
        for _ in range(count)
    ]
    frame = scalars_frame(rows)
    frame["global_epoch"] = pd.array([rng.choice([0, 1, 2]) for _ in range(count)], dtype="Int64")
    return frame[["file", "line", "name", "global_epoch", "value", "text", "source"]]


def test_small_and_frame_disagreements_are_identical() -> None:
    rng = random.Random(1)
    rounded = set(kinds_where(lambda facts: facts.rounded))
    found_any = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(200):
            rows = _random_rows(rng, rng.randint(1, 50))
            expected = run_builder._disagreements_frame(rows, rounded)
            columns = {name: rows[name].to_numpy(dtype=object) for name in rows.columns}
            assert run_builder._disagreements_small(columns, rounded) == expected
            found_any = found_any or bool(expected)
    assert found_any
