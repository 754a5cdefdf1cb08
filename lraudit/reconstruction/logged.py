"""Every logged lr value joined to the step it really describes, and how it relates to it.

A value is classified against the applied lr of its step (``effective``/``base``), of the
update after its epoch (``next_step``/``after_callback``), of a nearby step (``shifted``), or
found wrong (``mismatch``/``invalid``); see :mod:`lraudit.reconstruction` for the contract. The best
value per step is then copied into the frame's ``logged_lr``/``logged_source``.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from lraudit.numfmt import f32, print_precision
from lraudit.reconstruction.contracts import (
    LOGGED_COLUMNS,
    RELATIONS,
    SCHEDULE_READ_ULPS,
    SCHEDULER,
    LrChange,
)
from lraudit.reconstruction.scalars import (
    CALLBACK_SOURCE,
    SOURCE_RANK,
    epoch_column,
    is_missing,
    row_location,
)
from lraudit.sources.registry import kinds_where

if TYPE_CHECKING:
    import pandas as pd

    from lraudit.reconstruction.applied import AfterEpoch
    from lraudit.reconstruction.layout import Layout
    from lraudit.run import Run

_RELATION_RANK = {name: rank for rank, name in enumerate(RELATIONS)}


_LR_TAG = re.compile(r"^(?:epoch_|batch_)?(?:lr|learning_rate)(?:_\S+)?$")


def _is_lr_name(name: str) -> bool:
    leaf = name.rsplit("/", 1)[-1]
    return bool(_LR_TAG.match(leaf)) and not leaf.startswith("val_")


def join_logged(
    run: Run,
    layout: Layout,
    frame: pd.DataFrame,
    after: AfterEpoch,
    changes: list[LrChange],
    keras: str,
    schedule_driven: bool,
) -> pd.DataFrame:
    """:attr:`Timeline.logged`: every lr scalar of ``run`` and every printed callback value, classified."""
    import pandas as pd

    base = frame["lr_base"].to_numpy()
    effective = frame["lr_effective"].to_numpy()
    records: list[dict[str, Any]] = []
    scalars = run.scalars
    if scalars is not None and len(scalars):
        column = epoch_column(scalars)
        names = scalars["name"].astype("string").fillna("")
        # decided once per distinct name, not per row (a per-batch run has millions of rows)
        mask = names.isin([name for name in names.unique() if _is_lr_name(str(name))])
        # values printed with a few digits match within their print precision, others exactly
        rounded = set(kinds_where(lambda facts: facts.rounded))
        for row in scalars[mask.to_numpy()].itertuples(index=False):
            if is_missing(row.value):
                continue
            leaf = str(row.name).rsplit("/", 1)[-1]
            source = str(row.source)
            approx = print_precision(row.text) if source in rounded else None
            if leaf.startswith("batch_"):
                target = _batch_row(layout, row)
                record = _classify_at_row(target, row.value, approx, layout, base, effective)
            else:
                epoch = getattr(row, column)
                if is_missing(epoch):
                    continue
                record = _classify_epoch(int(epoch), row.value, approx, layout, base, effective, after)
            record.update(
                source=source, name=str(row.name), location=row_location(row), value=float(row.value)
            )
            if approx is None:
                _exact_ulps(record)
            records.append(record)
    for change in changes:
        if change.printed is None:
            continue
        records.append(_exact_ulps(_classify_change(change, layout, base, effective, after)))
    try:
        return _typed_logged(records)
    except (TypeError, ValueError):  # a value of another type: let astype convert it as before
        logged = pd.DataFrame.from_records(records, columns=list(LOGGED_COLUMNS))
        return logged.astype(_LOGGED_DTYPES)


#: the dtype of each :data:`LOGGED_COLUMNS` column
_LOGGED_DTYPES = {
    "source": "string",
    "name": "string",
    "location": "string",
    "epoch": "Int64",
    "step": "Int64",
    "value": "float64",
    "lr_base": "float32",
    "lr_effective": "float32",
    "relation": "string",
    "ulps": "Int64",
}


def _typed_logged(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The logged table straight from the records into typed columns (what ``from_records`` then
    ``astype`` gives, without the object columns in between: runs are audited by the thousand)."""
    import pandas as pd

    from lraudit.sources.base import int64_array, string_array

    columns: dict[str, Any] = {}
    for name in LOGGED_COLUMNS:
        values = [record.get(name) for record in records]
        dtype = _LOGGED_DTYPES[name]
        if dtype == "string":
            columns[name] = string_array(values)
        elif dtype == "Int64":
            columns[name] = int64_array(values)
        else:
            columns[name] = np.array([np.nan if value is None else value for value in values], dtype=dtype)
    return pd.DataFrame(columns, columns=list(LOGGED_COLUMNS), copy=False)


_EQUAL_RELATIONS = ("effective", "base", "next_step", "after_callback", "shifted")


def _exact_ulps(record: dict[str, Any]) -> dict[str, Any]:
    """``ulps`` 0 for a value found bit-equal to a step's lr (unless a schedule read set it)."""
    if record.get("ulps") is None and record["relation"] in _EQUAL_RELATIONS:
        record["ulps"] = 0
    return record


def _same(value: float, reference, approx: float | None) -> bool:
    """Equal in float32, or within print precision for a rounded console value."""
    reference = np.float32(reference)
    if not np.isfinite(reference):
        return False
    if approx is None:
        return bool(f32(value) == reference)
    return abs(float(value) - float(reference)) <= approx * (1 + 1e-6)


def _invalid(value) -> bool:
    value = np.float32(value)
    return bool(not np.isfinite(value) or value < 0)


def _row_step(layout: Layout, row: int) -> int | None:
    return int(layout.step[row]) if row >= 0 else None


def _classify_epoch(epoch, value, approx, layout, base, effective, after: AfterEpoch) -> dict[str, Any]:
    """Which step an epoch-level logged value describes, and how it relates to the timeline.

    Nominally the first update of the epoch (History/CSV ``lr`` = the variable during the epoch).
    TensorBoard's schedule read and Keras 3's post-callback read describe the update after it,
    and so does History/CSV ``lr`` when an lr-writing callback's ``on_epoch_end`` ran after
    another's reduction (``after_callback``); when a later write replaced that value before the
    next update (a scheduler at the next epoch begin), no step used it and ``step`` is None.
    """
    if not 0 <= epoch < layout.n_epochs:
        return _record(epoch, None, None, None, "mismatch")
    row = int(layout.first_row[epoch])
    if row >= 0:
        if _invalid(effective[row]):
            return _record(epoch, _row_step(layout, row), base[row], effective[row], "invalid")
        if _same(value, effective[row], approx):
            return _record(epoch, _row_step(layout, row), base[row], effective[row], "effective")
        if _same(value, base[row], approx):
            return _record(epoch, _row_step(layout, row), base[row], effective[row], "base")
    next_row = int(layout.first_row[epoch + 1]) if epoch + 1 < layout.n_epochs else -1
    next_step = _row_step(layout, next_row) if next_row >= 0 else int(layout.next_counter[epoch])
    candidates = [after.effective[epoch], after.base[epoch]]
    if after.eager_base is not None:
        candidates.append(after.eager_base[epoch])
    ulps = _schedule_read_ulps(value, approx, candidates, after.eager_base is not None)
    if ulps is not None:
        relation = "after_callback" if after.changed_at_end[epoch] else "next_step"
        if _invalid(after.effective[epoch]):
            relation = "invalid"  # the log shows a normal value, the update applied NaN/inf/<0
        elif relation == "after_callback" and not _used_by(next_row, after.effective[epoch], effective):
            # another callback replaced the value before the next update: no step used it
            next_step = None
        record = _record(epoch, next_step, after.base[epoch], after.effective[epoch], relation)
        record["ulps"] = ulps if ulps >= 0 else None
        return record
    shifted = _nearest_equal(value, approx, row if row >= 0 else layout.last_row[epoch], effective, layout)
    if shifted is not None:
        return _record(epoch, _row_step(layout, shifted), base[shifted], effective[shifted], "shifted")
    if row >= 0:
        return _record(epoch, _row_step(layout, row), base[row], effective[row], "mismatch")
    return _record(epoch, None, None, None, "mismatch")


def _used_by(row: int, value, effective: np.ndarray) -> bool:
    """Whether the update of ``row`` applied ``value`` (False when there is no such update)."""
    return row >= 0 and bool(np.float32(effective[row]) == np.float32(value))


def _ulp_distance(a, b) -> int:
    """Distance of two finite float32 values in units in the last place."""
    ordered = np.array([a, b], dtype=np.float32).view(np.int32).astype(np.int64)
    ordered = np.where(ordered < 0, -(ordered & 0x7FFFFFFF), ordered)
    return int(abs(ordered[0] - ordered[1]))


def _schedule_read_ulps(value, approx, candidates, schedule_read: bool) -> int | None:
    """0 when ``value`` equals a candidate (in float32, or within print precision: then ``-1``
    marks that no ulp count applies); for a schedule read (a schedule drives the lr), the ulp
    distance to the nearest candidate when it is at most :data:`SCHEDULE_READ_ULPS`; else None."""
    if any(_same(value, candidate, approx) for candidate in candidates):
        return 0 if approx is None else -1
    if not schedule_read or approx is not None or not np.isfinite(np.float32(value)):
        return None
    finite = [np.float32(c) for c in candidates if np.isfinite(np.float32(c))]
    if not finite:
        return None
    nearest = min(_ulp_distance(value, candidate) for candidate in finite)
    return nearest if nearest <= SCHEDULE_READ_ULPS else None


def _nearest_equal(value, approx, row: int, effective: np.ndarray, layout: Layout) -> int | None:
    """The row nearest to ``row`` (within two epochs either side) whose applied lr equals ``value``."""
    if row < 0:
        return None
    epoch = int(layout.epoch[row])
    low_epoch, high_epoch = max(epoch - 2, 0), min(epoch + 2, layout.n_epochs - 1)
    lows = layout.first_row[low_epoch : high_epoch + 1]
    highs = layout.last_row[low_epoch : high_epoch + 1]
    low = int(lows[lows >= 0].min()) if (lows >= 0).any() else row
    high = int(highs[highs >= 0].max()) if (highs >= 0).any() else row
    window = effective[low : high + 1]
    if approx is None:
        hits = np.flatnonzero(window == np.float32(value))
    else:
        hits = np.flatnonzero(np.abs(window.astype(np.float64) - float(value)) <= approx * (1 + 1e-6))
    if hits.size == 0:
        return None
    hits = hits + low
    return int(hits[np.argmin(np.abs(hits - row))])


def _batch_row(layout: Layout, row) -> int:
    """Batch-level TensorBoard steps count train batches within a fit, 1-based (reference §5.3)."""
    if is_missing(row.step):
        return -1
    fit = 0 if is_missing(getattr(row, "fit", None)) else int(row.fit)
    rows = np.flatnonzero(layout.fit == fit) if (layout.fit == fit).any() else np.arange(layout.rows)
    index = int(row.step) - 1
    return int(rows[index]) if 0 <= index < rows.shape[0] else -1


def _classify_at_row(row: int, value, approx, layout: Layout, base, effective) -> dict[str, Any]:
    """A batch-level logged value: it describes the update of its own row."""
    if row < 0:
        return _record(None, None, None, None, "mismatch")
    relation = "mismatch"
    if _invalid(effective[row]):
        relation = "invalid"
    elif _same(value, effective[row], approx):
        relation = "effective"
    elif _same(value, base[row], approx):
        relation = "base"
    return _record(int(layout.epoch[row]), _row_step(layout, row), base[row], effective[row], relation)


def _classify_change(change: LrChange, layout, base, effective, after: AfterEpoch) -> dict[str, Any]:
    """A printed callback value: it describes the first update that used it, if any did."""
    epoch = change.epoch
    if change.callback == SCHEDULER:
        row = int(layout.first_row[epoch]) if 0 <= epoch < layout.n_epochs else -1
    else:
        row = int(layout.first_row[epoch + 1]) if 0 <= epoch + 1 < layout.n_epochs else -1
    record: dict[str, Any]
    if row >= 0 and _same(change.printed, effective[row], None):
        record = _record(epoch, _row_step(layout, row), base[row], effective[row], "effective")
    elif row >= 0 and _same(change.printed, base[row], None):
        record = _record(epoch, _row_step(layout, row), base[row], effective[row], "base")
    elif _same(change.printed, change.new_lr, None):
        # nothing used it (overwritten, or the last epoch end): it is the value set at that epoch
        record = _record(epoch, None, None, None, "after_callback")
    elif row >= 0:
        record = _record(epoch, _row_step(layout, row), base[row], effective[row], "mismatch")
    else:
        record = _record(epoch, None, None, None, "mismatch")
    record.update(
        source=CALLBACK_SOURCE,
        name=change.callback,
        location=change.location or "",
        value=float(change.printed),
    )
    return record


def _record(epoch, step, lr_base, lr_effective, relation) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "step": step,
        "lr_base": np.nan if lr_base is None else np.float32(lr_base),
        "lr_effective": np.nan if lr_effective is None else np.float32(lr_effective),
        "relation": relation,
        "ulps": None,  # set by join_logged (0: bit-equal) or by a schedule read within ulps
    }


#: rows of the frame searched at a time: ``np.isin`` sorts what it compares, so a whole 1 M-row
#: column at once costs ~20 MB of transients for a few thousand logged steps
_ISIN_CHUNK = 1 << 16


def _rows_with_steps(steps: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Positions in ``steps`` whose value is in ``wanted`` (``np.flatnonzero(np.isin(...))``, in
    bounded chunks)."""
    return np.concatenate([
        np.flatnonzero(np.isin(steps[start : start + _ISIN_CHUNK], wanted)) + start
        for start in range(0, len(steps), _ISIN_CHUNK)
    ] or [np.zeros(0, dtype=np.int64)])


def fill_frame_logged(frame: pd.DataFrame, logged: pd.DataFrame) -> None:
    """Per step, the best logged value describing it: exact sources and closer relations first."""
    if len(logged) == 0:
        return
    rows = np.flatnonzero(logged["step"].notna().to_numpy())
    if len(rows) == 0:
        return
    # plain lists: the logged table has a few rows per epoch, pandas sorting costs more than them
    steps_logged = logged["step"].to_numpy(dtype=np.int64, na_value=0)[rows].tolist()
    ranks = [
        (SOURCE_RANK.get(str(source), 9), _RELATION_RANK.get(str(relation), 9))
        for source, relation in zip(
            logged["source"].take(rows).tolist(), logged["relation"].take(rows).tolist(), strict=True
        )
    ]
    # per step the best-ranked row, the first of equals (a stable sort, then the first per step)
    best: dict[int, int] = {}
    for index in sorted(range(len(rows)), key=ranks.__getitem__):
        best.setdefault(steps_logged[index], index)
    chosen = rows[list(best.values())]
    steps = frame["step"].to_numpy()
    # only the rows of logged steps (no dict over every step of a long run); the last row wins
    hits = _rows_with_steps(steps, np.array(list(best), dtype=np.int64))
    row_of_step = {int(steps[i]): int(i) for i in hits}
    positions, values, sources = [], [], []
    chosen_values = logged["value"].to_numpy()[chosen].tolist()
    chosen_locations = logged["location"].take(chosen).tolist()
    for step, value, location in zip(best, chosen_values, chosen_locations, strict=True):
        position = row_of_step.get(step)
        if position is not None:
            positions.append(position)
            values.append(float(value))
            sources.append(str(location))
    if positions:
        frame.loc[frame.index[positions], "logged_lr"] = values
        frame.loc[frame.index[positions], "logged_source"] = sources
