"""The rules' per-epoch views read at epoch boundaries give what grouping the frame gives."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from lraudit.rules._facts import _epoch_rows
from lraudit.rules.contradictions import steps_per_epoch_used, unexplained_counters
from lraudit.rules.resume import _fit_starts_grouped, fit_starts


def _frame(sizes: list[int], fits: list[int]) -> pd.DataFrame:
    """A frame laid out like the reconstruction's: epochs in order, each in one fit."""
    rng = np.random.default_rng(0)
    epoch = np.repeat(np.arange(len(sizes)), sizes)
    fit = np.repeat(np.array(fits), sizes)
    steps = np.arange(len(epoch), dtype=np.int64)
    steps[epoch >= 3] -= 5  # a counter reset: steps are not the row numbers
    return pd.DataFrame({
        "step": steps,
        "epoch": epoch,
        "fit": fit,
        "lr_effective": rng.random(len(epoch)).astype(np.float32),
        "lr_variable": rng.random(len(epoch)).astype(np.float32),
    })


def test_epoch_boundaries_match_groupby() -> None:
    table = _frame([4, 7, 7, 3, 5], [0, 0, 1, 1, 2])
    rows = _epoch_rows(table)
    assert rows is not None
    for column in ("lr_effective", "lr_variable"):
        pd.testing.assert_series_equal(
            rows.first_values(table, column), table.groupby("epoch")[column].first(), check_names=False
        )
        pd.testing.assert_series_equal(
            rows.last_values(table, column), table.groupby("epoch")[column].last(), check_names=False
        )
    grouped = table.groupby([table["fit"], table["epoch"]]).size()
    assert steps_per_epoch_used(table, rows) == {
        int(f): int(n) for f, n in grouped.groupby(level=0).max().items()
    }
    run = SimpleNamespace(saved_counters=[SimpleNamespace(path="a.h5", iterations=n) for n in (4, 6, 11)])
    assert unexplained_counters(run, table, rows) == unexplained_counters(run, table, None)
    assert fit_starts(run, table) == _fit_starts_grouped(run, table)


def test_missing_or_unordered_values_fall_back() -> None:
    table = _frame([3, 3, 3], [0, 0, 0])
    table.loc[3, "lr_effective"] = np.nan  # groupby.first skips it: no boundary read
    rows = _epoch_rows(table)
    assert rows is not None and rows.first_values(table, "lr_effective") is None
    assert _epoch_rows(table.iloc[::-1].reset_index(drop=True)) is None
