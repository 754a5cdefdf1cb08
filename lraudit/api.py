"""The library API for reading runs: :func:`load_run`, :func:`load_runs`, :func:`parse`.

``lraudit parse`` writes the long table of :func:`parse_table` (columns :data:`PARSE_COLUMNS`):

=============  =============================================================================
column         meaning
=============  =============================================================================
run            the run's root folder (or the file given)
kind           ``scalar`` (a logged value) or ``event`` (a callback message)
source         source kind: console, tfevents, csvlogger, history
file           the file it was read from
line           1-based line in a text file (empty for event files and unlocated values)
location       ``file:line``, or ``file:tag`` for event files, or ``file:name[epoch]``
name           metric key as Keras named it (``lr``, ``val_loss``), the event-file tag, or the
               event kind (``plateau_reduction``, ``scheduler_set``, ...)
fit            0-based ``fit()`` call within the run (global), empty when unknown
epoch          0-based epoch as the file numbers it (History: index within its fit)
global_epoch   0-based epoch counted from the first fit of the run
step           event-file step or batch counter, empty if none
value          the value as a float64 (float32 values widened exactly)
text           the value as printed in the file, empty for event files
callback       the callback that printed an event (events only)
detail         JSON object with the event's details (events only)
=============  =============================================================================
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lraudit.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from lraudit.run import Run
    from lraudit.sources.base import SourceData
    from lraudit.sources.discovery import Found, RunPlan

PARSE_COLUMNS = (
    "run",
    "kind",
    "source",
    "file",
    "line",
    "location",
    "name",
    "fit",
    "epoch",
    "global_epoch",
    "step",
    "value",
    "text",
    "callback",
    "detail",
)

_DTYPES = {
    "run": "string",
    "kind": "string",
    "source": "string",
    "file": "string",
    "line": "Int64",
    "location": "string",
    "name": "string",
    "fit": "Int64",
    "epoch": "Int64",
    "global_epoch": "Int64",
    "step": "Int64",
    "value": "float64",
    "text": "string",
    "callback": "string",
    "detail": "string",
}

PathsLike = str | Path | Sequence[str | Path]


def _as_paths(paths: PathsLike) -> list[Path]:
    if isinstance(paths, (str, Path)):
        return [Path(paths)]
    items = [Path(path) for path in paths]
    if not items:
        raise UsageError("no path given")
    return items


def _read(found: Found, **kwargs: Any) -> SourceData:
    """Read one file; a source that fails anyway becomes a warning, never a traceback."""
    from lraudit.sources.base import SourceData

    try:
        return found.module.read(found.path, **kwargs)
    except Exception as exc:  # sources must not raise; this guards a broken reader
        data = SourceData(path=str(found.path), kind=found.kind)
        data.warnings.append(f"{found.path}: could not be read ({type(exc).__name__}: {exc})")
        return data


def _streams(found: Found) -> bool:
    return found.kind == "tfevents" and hasattr(found.module, "iter_scalar_chunks")


def _run_of_plan(plan: RunPlan, root: str, stream_events: bool = False) -> Run:
    from lraudit.run import build_run

    datas = []
    for found in plan.found:
        data = _read(found)
        if stream_events and _streams(found):
            data.scalars = None  # written chunk by chunk later instead of held in memory
        datas.append(data)
    return build_run(root, datas, plan.skipped)


def load_run(path: PathsLike) -> Run:
    """Everything the logs at ``path`` say, as one :class:`~lraudit.run.Run`.

    ``path`` is a run folder, a log file, or a list of files/folders that together are one run.
    Raises :class:`~lraudit.errors.InputError` when a path does not exist or holds no log.
    """
    from lraudit.sources.discovery import RunPlan, discover_sources

    paths = _as_paths(path)
    found, skipped = discover_sources(paths)
    root = str(paths[0]) if len(paths) == 1 else " ".join(str(item) for item in paths)
    return _run_of_plan(RunPlan(root=paths[0], found=found, skipped=skipped), root)


def load_runs(paths: PathsLike) -> list[Run]:
    """One :class:`~lraudit.run.Run` per run under ``paths`` (a folder of runs gives several).

    Files given explicitly form one run together; each folder is one run or a collection of
    runs (see :mod:`lraudit.sources.discovery`).
    """
    from lraudit.sources.discovery import plan_runs

    return [_run_of_plan(plan, str(plan.root)) for plan in plan_runs(_as_paths(paths))]


def _location(file: str, line: Any, name: str, epoch: Any, source: str) -> str:
    import pandas as pd

    if not pd.isna(line):
        return f"{file}:{int(line)}"
    if source == "tfevents" or pd.isna(epoch):
        return f"{file}:{name}"
    return f"{file}:{name}[{int(epoch)}]"


def _scalar_rows(run_name: str, scalars: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "run": run_name,
            "kind": "scalar",
            "source": scalars["source"],
            "file": scalars["file"],
            "line": scalars["line"],
            "location": [
                _location(str(file), line, str(name), epoch, str(source))
                for file, line, name, epoch, source in zip(
                    scalars["file"],
                    scalars["line"],
                    scalars["name"],
                    scalars["epoch"],
                    scalars["source"],
                    strict=False,
                )
            ],
            "name": scalars["name"],
            "fit": scalars["global_fit"] if "global_fit" in scalars else scalars["fit"],
            "epoch": scalars["epoch"],
            "global_epoch": scalars["global_epoch"],
            "step": scalars["step"],
            "value": scalars["value"],
            "text": scalars["text"],
            "callback": pd.NA,
            "detail": pd.NA,
        },
        columns=list(PARSE_COLUMNS),
    )
    return frame.astype(_DTYPES)


def _event_rows(run: Run) -> pd.DataFrame:
    import pandas as pd

    sources = {entry.path: entry.kind for entry in run.inputs}
    rows = []
    for event in run.events:
        file, _, tail = event.location.rpartition(":")
        line = int(tail) if tail.isdigit() and file else None
        file = file if line is not None else event.location
        fit_offset = 0
        if event.fit is not None and 0 <= event.fit < len(run.fits):
            fit_offset = run.fits[event.fit].epoch_offset
        rows.append(
            {
                "run": run.path,
                "kind": "event",
                "source": sources.get(file, "console"),
                "file": file,
                "line": line,
                "location": event.location,
                "name": event.kind,
                "fit": event.fit,
                "epoch": None if event.epoch is None else event.epoch - fit_offset,
                "global_epoch": event.epoch,
                "step": None,
                "value": event.value,
                "text": event.text,
                "callback": event.callback,
                "detail": json.dumps(event.detail, sort_keys=True, default=str),
            }
        )
    return pd.DataFrame(rows, columns=list(PARSE_COLUMNS)).astype(_DTYPES)


def _streamed_rows(run: Run, found: Found) -> Iterator[pd.DataFrame]:
    """Rows of a TensorBoard file, chunk by chunk, with global epochs from the run's fits."""
    import pandas as pd

    for chunk in found.module.iter_scalar_chunks(found.path):
        if chunk is None or chunk.empty:
            continue
        offsets = chunk["fit"].map(
            lambda fit: run.fits[int(fit)].epoch_offset
            if not pd.isna(fit) and 0 <= int(fit) < len(run.fits)
            else 0
        )
        scalars = chunk.copy()
        scalars["global_epoch"] = (scalars["epoch"].astype("Int64") + offsets.astype("Int64")).astype("Int64")
        scalars["global_fit"] = scalars["fit"].astype("Int64")
        yield _scalar_rows(run.path, scalars)


def _iter_parse(paths: PathsLike, stream_events: bool) -> Iterator[pd.DataFrame]:
    from lraudit.sources.discovery import plan_runs

    for plan in plan_runs(_as_paths(paths)):
        run = _run_of_plan(plan, str(plan.root), stream_events=stream_events)
        if run.scalars is not None and not run.scalars.empty:
            yield _scalar_rows(run.path, run.scalars)
        if stream_events:
            for found in plan.found:
                if _streams(found):
                    yield from _streamed_rows(run, found)
        yield _event_rows(run)


def parse(path: PathsLike) -> pd.DataFrame:
    """Every logged scalar and callback event under ``path`` as one long DataFrame.

    Columns are :data:`PARSE_COLUMNS` (see the module docstring).
    """
    import pandas as pd

    frames = [frame for frame in _iter_parse(path, stream_events=False) if not frame.empty]
    if not frames:
        return pd.DataFrame(columns=list(PARSE_COLUMNS)).astype(_DTYPES)
    return pd.concat(frames, ignore_index=True).astype(_DTYPES)


def parse_to_file(paths: PathsLike, output: Path, fmt: str | None = None) -> None:
    """Write :func:`parse`'s table to ``output`` (csv, parquet or json), streamed and atomically.

    The format comes from ``fmt`` or the suffix; an unknown one is a UsageError before any input
    is read. TensorBoard files are written chunk by chunk, never held in memory whole.
    """
    from lraudit.report.tables import table_format, write_table

    chosen = table_format(Path(output), fmt)
    write_table(_iter_parse(paths, stream_events=True), Path(output), chosen, list(PARSE_COLUMNS))
