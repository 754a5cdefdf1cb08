"""The library API: :func:`parse`, :func:`load_run`, :func:`timeline`, :func:`audit` (and helpers).

These are plain functions, re-exported as ``lraudit.parse`` etc.; the command line is a thin
layer over them. Errors are typed (:class:`~lraudit.errors.UsageError` for a bad argument,
:class:`~lraudit.errors.InputError` for unreadable input) and their messages name the
arguments of these functions (``optimizer=``, ``steps_per_epoch=``).

``lraudit parse`` writes the long table of :func:`parse_table` (columns :data:`PARSE_COLUMNS`):

=============  =============================================================================
column         meaning
=============  =============================================================================
run            the run's root folder (or the file given)
kind           ``scalar`` (a logged value) or ``event`` (a callback message)
source         source kind (``SourceFacts.kind``: console, tfevents, csvlogger, history, ...)
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
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lraudit.errors import InputError, LrauditError, UsageError

if TYPE_CHECKING:
    import pandas as pd

    from lraudit.auditing import AuditResult
    from lraudit.options import OptimizerOverride, RunOptions
    from lraudit.reconstruction import Timeline
    from lraudit.run import Run
    from lraudit.semantics.specs import OptimizerSpec
    from lraudit.sources.base import InputFile, SourceData
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
        return found.source.read(found.path, **kwargs)
    except Exception as exc:  # sources must not raise; this guards a broken reader
        data = SourceData(path=str(found.path), kind=found.kind)
        data.warnings.append(f"{found.path}: could not be read ({type(exc).__name__}: {exc})")
        return data


def _streams(found: Found) -> bool:
    return found.source.streams


def _runs_of_plan(plan: RunPlan, root: str, stream_events: bool = False) -> list[Run]:
    """The runs of one plan: one per training its files hold (:mod:`lraudit.trainings`)."""
    from lraudit.trainings import group_trainings

    datas = _read_plan(plan, stream_events)
    trainings = group_trainings(datas, _holds_several_trainings)
    if len(trainings) <= 1:
        return [build_run(root, datas, plan.skipped)]
    runs = []
    for index, training in enumerate(trainings):
        name = training.start or f"{root} [training {index + 1}]"
        run = build_run(name, training.datas, plan.skipped if index == 0 else [])
        others = "the other one is" if len(trainings) == 2 else f"the {len(trainings) - 1} others are"
        why = f" ({training.reason})" if training.reason else ""
        run.notes.append(
            f"training {index + 1} of {len(trainings)} in {root}, starting at {training.start}{why}; "
            f"{others} audited separately"
        )
        runs.append(run)
    return runs


def runs_of_plan(plan: RunPlan) -> list[Run]:
    """The runs one planned run folder holds (one per training; see :mod:`lraudit.trainings`)."""
    return _runs_of_plan(plan, str(plan.root))


def _holds_several_trainings(kind: str) -> bool:
    from lraudit.sources.registry import facts_for

    facts = facts_for(kind)
    return facts is not None and facts.several_trainings


def build_run(path: str | Path, datas: list[SourceData], inputs: list[InputFile] | None = None) -> Run:
    """Merge what every source read into one :class:`~lraudit.run.Run` (see :mod:`lraudit.run_builder`).

    ``inputs`` are the files given or discovered that were not read (skipped); the files in
    ``datas`` are added to :attr:`Run.inputs` as ``read`` (or ``partial`` with warnings).
    """
    from lraudit.run_builder import assemble

    return assemble(str(path), datas, list(inputs or []))


def _run_of_plan(plan: RunPlan, root: str, stream_events: bool = False) -> Run:
    """The one run of a plan (a plan whose files hold several trainings is an InputError)."""
    runs = _runs_of_plan(plan, root, stream_events)
    if len(runs) > 1:
        from lraudit.errors import InputError

        starts = "; ".join(run.path for run in runs)
        raise InputError(
            f"{root} holds {len(runs)} separate trainings ({starts}): audit them with "
            "`lraudit audit`, or give the files of one training"
        )
    return runs[0]


def _read_plan(plan: RunPlan, stream_events: bool) -> list[SourceData]:
    from lraudit.sources.base import SourceData

    datas = []
    for found in plan.found:
        if stream_events and _streams(found):
            # its points are streamed to the output later; the run is built without them (as
            # before), so the file is not read twice
            datas.append(SourceData(path=str(found.path), kind=found.kind))
        else:
            datas.append(_read(found))
    return datas


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

    return [run for plan in plan_runs(_as_paths(paths)) for run in _runs_of_plan(plan, str(plan.root))]


def _text_array(series: pd.Series) -> Any:
    """A pandas column as an Arrow large_string array (missing values stay null)."""
    import pyarrow as pa

    return pa.array(series.astype("string").to_numpy(dtype=object, na_value=None), pa.large_string())


def _locations(scalars: pd.DataFrame) -> Any:
    """``file:line``, else ``file:name`` (event files, values without an epoch), else ``file:name[epoch]``.

    Vectorised with Arrow string kernels (a Python call per row cost ~2 s per million rows).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    file = _text_array(scalars["file"])
    name = _text_array(scalars["name"])
    line = pa.array(scalars["line"].astype("Int64").to_numpy(dtype=object, na_value=None), pa.int64())
    epoch = pa.array(scalars["epoch"].astype("Int64").to_numpy(dtype=object, na_value=None), pa.int64())
    source = _text_array(scalars["source"])
    def text(value: str) -> Any:
        return pa.scalar(value, pa.large_string())

    # a notebook cell's rows are labelled "nb.ipynb:cell N": their location reads "...:cell N:line M"
    in_cell = pc.fill_null(pc.match_substring_regex(file, r":cell \d+$"), False)
    separator = pc.if_else(in_cell, text(":line "), text(":"))
    by_line = pc.binary_join_element_wise(file, pc.cast(line, pa.large_string()), separator)
    by_name = pc.binary_join_element_wise(file, name, text(":"))
    epoch_text = pc.binary_join_element_wise(pc.cast(epoch, pa.large_string()), text("]"), text(""))
    by_epoch = pc.binary_join_element_wise(by_name, epoch_text, text("["))
    from lraudit.sources.registry import kinds_where

    # sources located by tag (event files) name a value file:tag, never file:name[epoch]
    tagged = pa.array(kinds_where(lambda facts: facts.located_by == "tag"), pa.large_string())
    unknown = pa.scalar(None, pa.bool_())  # a missing source stays unknown, as pc.equal leaves it
    is_tagged = pc.if_else(pc.is_valid(source), pc.is_in(source, value_set=tagged), unknown)
    plain = pc.or_kleene(is_tagged, pc.is_null(epoch))
    return pc.if_else(pc.is_valid(line), by_line, pc.if_else(pc.fill_null(plain, True), by_name, by_epoch))


def _scalar_rows(run_name: str, scalars: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "run": run_name,
            "kind": "scalar",
            "source": scalars["source"],
            "file": scalars["file"],
            "line": scalars["line"],
            "location": pd.arrays.ArrowStringArray(_locations(scalars)) if len(scalars) else [],
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

    from lraudit.sources.base import split_line_location
    from lraudit.sources.registry import kinds_ranked

    sources = {entry.path: entry.kind for entry in run.inputs}
    # an event whose file is not an input: from the kind that prints callback events
    printer = kinds_ranked(lambda facts: facts.fit_rank, lambda facts: "callback_events" in facts.tells)[0]
    rows = []
    for event in run.events:
        file, line = split_line_location(event.location)
        file = file if line is not None else event.location
        source_file = file.rsplit(":cell ", 1)[0] if file else file
        fit_offset = 0
        if event.fit is not None and 0 <= event.fit < len(run.fits):
            fit_offset = run.fits[event.fit].epoch_offset
        rows.append(
            {
                "run": run.path,
                "kind": "event",
                "source": sources.get(source_file, printer),
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


def _parse_schema() -> Any:
    """The Arrow schema of the parse table (with the pandas metadata that restores its dtypes)."""
    import pandas as pd
    import pyarrow as pa

    empty = pd.DataFrame({column: pd.Series([], dtype=dtype) for column, dtype in _DTYPES.items()})
    return pa.Schema.from_pandas(empty, preserve_index=False)


def _arrow_rows(frame: pd.DataFrame, schema: Any) -> Any:
    import pyarrow as pa

    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)


def _streamed_tables(
    run: Run, found: Found, schema: Any, *, verify_crc: bool = False, warnings: list[str] | None = None
) -> Iterator[Any]:
    """Rows of a TensorBoard file as Arrow tables, one per read block, never the whole file.

    The reader's tables are reused column for column (names stay dictionary-encoded, the
    location is a dictionary over the same codes); only ``global_epoch`` is computed.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    offsets = np.array([fit.epoch_offset for fit in run.fits] or [0], dtype=np.int64)
    run_name = pa.array([run.path], pa.large_string())
    kind = pa.array(["scalar"], pa.large_string())
    for table in found.source.iter_tables(found.path, verify_crc=verify_crc, warnings=warnings):
        n = table.num_rows
        if n == 0:
            continue
        zeros = pa.array(np.zeros(n, dtype=np.int8))
        names = table.column("name").combine_chunks()
        files = table.column("file").combine_chunks()
        file = files.dictionary[0].as_py()
        locations = [f"{file}:{name}" for name in names.dictionary.to_pylist()]
        location = pa.DictionaryArray.from_arrays(names.indices, pa.array(locations, pa.large_string()))
        epoch = table.column("epoch")
        fit = table.column("fit")
        global_epoch = epoch
        if fit.null_count < n:  # a fit index is known: shift its epochs by the fit's offset
            index = pc.fill_null(fit, 0).to_numpy()
            inside = (index >= 0) & (index < len(run.fits))
            shift = np.where(inside, offsets[np.clip(index, 0, len(offsets) - 1)], 0)
            global_epoch = pc.add(epoch, pa.array(shift))
        columns = {
            "run": pa.DictionaryArray.from_arrays(zeros, run_name),
            "kind": pa.DictionaryArray.from_arrays(zeros, kind),
            "source": table.column("source"),
            "file": files,
            "line": table.column("line"),
            "location": location,
            "name": names,
            "fit": fit,
            "epoch": epoch,
            "global_epoch": global_epoch,
            "step": table.column("step"),
            "value": table.column("value"),
            "text": table.column("text"),
            "callback": pa.nulls(n, pa.large_string()),
            "detail": pa.nulls(n, pa.large_string()),
        }
        yield pa.table(columns).replace_schema_metadata(schema.metadata)


def _iter_parse(paths: PathsLike) -> Iterator[pd.DataFrame]:
    """The parse table as DataFrames, one run at a time, everything held in memory."""
    from lraudit.sources.discovery import plan_runs

    for plan in plan_runs(_as_paths(paths)):
        for run in _runs_of_plan(plan, str(plan.root)):
            if run.scalars is not None and not run.scalars.empty:
                yield _scalar_rows(run.path, run.scalars)
            yield _event_rows(run)


def _iter_parse_tables(
    paths: PathsLike,
    *,
    verify_crc: bool = False,
    warnings: list[str] | None = None,
    notes: list[str] | None = None,
) -> Iterator[Any]:
    """The parse table as Arrow tables: each run's text-source rows, its event files streamed, its events.

    What could not be read (damaged files, skipped inputs) is appended to ``warnings``.
    """
    from lraudit.sources.discovery import plan_runs

    schema = _parse_schema()
    for plan in plan_runs(_as_paths(paths)):
        for run in _runs_of_plan(plan, str(plan.root), stream_events=True):
            yield from _run_tables(run, plan, schema, verify_crc=verify_crc, warnings=warnings, notes=notes)


def _run_tables(
    run: Run,
    plan: RunPlan,
    schema: Any,
    *,
    verify_crc: bool,
    warnings: list[str] | None,
    notes: list[str] | None = None,
) -> Iterator[Any]:
    """One run's rows: its text-source rows, its own event files streamed, its events."""
    if warnings is not None:
        warnings.extend(run.warnings)
    if notes is not None and run.torch is not None:
        from lraudit.torchfacts import describe

        notes.extend(f"{run.path}: PyTorch-ecosystem run: {line}" for line in describe(run.torch))
        warnings.extend(
            f"skipped {item.path}: {item.reason or item.status}"
            for item in run.inputs
            if item.status == "skipped"
        )
    if run.scalars is not None and not run.scalars.empty:
        yield _arrow_rows(_scalar_rows(run.path, run.scalars), schema)
    mine = {entry.path for entry in run.inputs}
    for found in plan.found:
        if _streams(found) and str(found.path) in mine:
            yield from _streamed_tables(run, found, schema, verify_crc=verify_crc, warnings=warnings)
    events = _event_rows(run)
    if not events.empty:
        yield _arrow_rows(events, schema)


def parse(path: PathsLike) -> pd.DataFrame:
    """Every logged scalar and callback event under ``path`` as one long DataFrame.

    Columns are :data:`PARSE_COLUMNS` (see the module docstring).
    """
    import pandas as pd

    frames = [frame for frame in _iter_parse(path) if not frame.empty]
    if not frames:
        return pd.DataFrame(columns=list(PARSE_COLUMNS)).astype(_DTYPES)
    return pd.concat(frames, ignore_index=True).astype(_DTYPES)


def parse_to_file(
    paths: PathsLike,
    output: Path,
    fmt: str | None = None,
    *,
    verify_crc: bool = False,
    notes: list[str] | None = None,
) -> list[str]:
    """Write :func:`parse`'s table to ``output`` (csv, parquet or json), streamed and atomically.

    The format comes from ``fmt`` or the suffix; an unknown one is a UsageError before any input
    is read. TensorBoard files are written chunk by chunk, never held in memory whole;
    ``verify_crc`` checks the data CRC of every event record. Returns the warnings (damaged or
    skipped inputs) for the caller to show; ``notes`` receives what each PyTorch-ecosystem run's
    files tell (:func:`lraudit.torchfacts.describe`).
    """
    from lraudit.report.tables import table_format, write_table

    chosen = table_format(Path(output), fmt)
    warnings: list[str] = []
    tables = _iter_parse_tables(paths, verify_crc=verify_crc, warnings=warnings, notes=notes)
    write_table(tables, Path(output), chosen, list(PARSE_COLUMNS), schema=_parse_schema())
    return warnings


#: ``keras=`` values: a generation, or decided from the logs
KERAS_CHOICES = ("2", "3", "auto")
#: ``keras="2.1.5"``: a version, for the behaviours that changed within a generation
#: (ReduceLROnPlateau waited one epoch longer up to Keras 2.1.5)
_KERAS_VERSION = re.compile(r"^[23]\.\d+(\.\d+)?$")
#: ``backend=`` values: the Keras 3 executor of the train step, or decided from the logs
BACKEND_CHOICES = ("auto", "tensorflow", "jax", "torch")


#: ``"2:Adam(learning_rate=2e-4)"``: an optimizer compiled fresh before fit 2
_FIT_PREFIX = re.compile(r"^\s*(\d+)\s*:\s*(\S.*)$", re.DOTALL)


def split_fit_optimizers(
    optimizer: str | Path | OptimizerSpec | Sequence[str | Path] | None,
) -> tuple[str | Path | OptimizerSpec | None, dict[int, str]]:
    """The run's optimizer and the per-fit ones (``"N:EXPR"``: compiled fresh before fit N)."""
    if optimizer is None or isinstance(optimizer, (str, Path)) or not isinstance(optimizer, Sequence):
        items = [] if optimizer is None else [optimizer]
    else:
        items = list(optimizer)
    main: str | Path | OptimizerSpec | None = None
    per_fit: dict[int, str] = {}
    for item in items:
        match = _FIT_PREFIX.match(item) if isinstance(item, str) else None
        if match is not None:
            number = int(match.group(1))
            if number < 1:
                raise UsageError(f"optimizer {item!r}: fits are numbered from 1", argument="optimizer")
            per_fit[number] = match.group(2).strip()
        elif main is None:
            main = item
        else:
            raise UsageError(
                f"optimizer given twice ({main!r}, {item!r}); prefix later ones with the fit they start "
                'from, e.g. "2:Adam(learning_rate=1e-5)"',
                argument="optimizer",
            )
    return main, per_fit


def run_options(
    *,
    optimizer: str | Path | OptimizerSpec | Sequence[str | Path] | None = None,
    callbacks: Sequence[str] = (),
    keras: str = "auto",
    steps_per_epoch: int | None = None,
    backend: str = "auto",
    schedulers: Sequence[str] = (),
) -> RunOptions:
    """Validate the reconstruction options and resolve ``optimizer`` before any run is rebuilt.

    ``optimizer`` is an expression (``"Adam(lr=1e-3, decay=1e-2)"``), a JSON config or saved model
    file (read here, so the timeline stage never reads the disk), or an
    :class:`~lraudit.semantics.specs.OptimizerSpec`; or a list of them where the later ones carry
    the fit they start from (``"2:Adam(learning_rate=2e-4)"``: compiled fresh before fit 2, whose
    counter restarts at 0 — fine-tuning after a re-compile). A bad value raises
    :class:`~lraudit.errors.UsageError` (a missing file :class:`~lraudit.errors.InputError`).
    """
    from lraudit.options import RunOptions

    if keras not in KERAS_CHOICES and not _KERAS_VERSION.match(str(keras)):
        raise UsageError(
            f"keras must be '2', '3', 'auto' or a version such as '2.1.5', not {keras!r}", argument="keras"
        )
    if steps_per_epoch is not None and (isinstance(steps_per_epoch, bool) or int(steps_per_epoch) <= 0):
        raise UsageError(
            f"steps_per_epoch must be a positive integer, not {steps_per_epoch}", argument="steps_per_epoch"
        )
    if backend not in BACKEND_CHOICES:
        raise UsageError(
            f"backend must be one of {', '.join(BACKEND_CHOICES)}, not {backend!r}", argument="backend"
        )
    callback_texts = [callbacks] if isinstance(callbacks, str) else [str(text) for text in callbacks]
    _check_callbacks(callback_texts)
    scheduler_texts = [schedulers] if isinstance(schedulers, str) else [str(text) for text in schedulers]
    _check_schedulers(scheduler_texts)
    optimizer, per_fit = split_fit_optimizers(optimizer)
    return RunOptions(
        optimizer=resolve_optimizer(optimizer),
        fit_optimizers={number: resolve_optimizer(text) for number, text in sorted(per_fit.items())},
        callbacks=callback_texts,
        keras=keras,
        steps_per_epoch=None if steps_per_epoch is None else int(steps_per_epoch),
        backend=backend,
        schedulers=scheduler_texts,
    )


def resolve_optimizer(optimizer: str | Path | OptimizerSpec | None) -> OptimizerOverride | None:
    """``optimizer=`` as the timeline stage takes it: an expression parsed, a file's configs read.

    A text that names an existing file is read as a config/model; one that looks like a path
    (``.json``/``.h5``/``.keras`` suffix, or a separator and no parenthesis) but does not exist
    is an :class:`~lraudit.errors.InputError`; anything else must parse as an expression.
    """
    from lraudit.options import OptimizerOverride
    from lraudit.semantics.specs import OptimizerSpec

    if optimizer is None:
        return None
    if isinstance(optimizer, OptimizerSpec):
        return OptimizerOverride(text=optimizer.class_name, spec=optimizer)
    text = str(optimizer).strip()
    if not text:
        return None
    candidate = Path(text).expanduser()
    if candidate.is_file():
        other = load_run(candidate)
        return OptimizerOverride(
            text=text, path=str(candidate), config=other.optimizer, initial=other.optimizer_initial
        )
    suffix = text.lower().endswith((".json", ".h5", ".hdf5", ".keras"))
    if isinstance(optimizer, Path) or suffix or ("(" not in text and ("/" in text or "\\" in text)):
        raise InputError(f"optimizer={text!r}: no such file", argument="optimizer")
    from lraudit.semantics.expressions import parse_optimizer_expr

    try:
        with _errors_about("optimizer"):
            return OptimizerOverride(text=text, spec=parse_optimizer_expr(text))
    except UsageError:
        # not a Keras optimizer: a PyTorch one (torch.optim.SGD(...)) is kept as written, for the
        # PyTorch-ecosystem reconstruction; neither -> the Keras parser's message
        if not _is_torch_expression(text, "optimizer"):
            raise
        return OptimizerOverride(text=text)


def _is_torch_expression(text: str, kind: str) -> bool:
    from lraudit.code.torch_expressions import parse_torch_construction

    try:
        parse_torch_construction(text, kind)
    except LrauditError:
        return False
    return True


def _check_schedulers(texts: list[str]) -> None:
    """Parse every ``--scheduler`` expression (PyTorch syntax) now, before any run is read."""
    from lraudit.code.torch_expressions import parse_torch_construction

    for text in texts:
        parse_torch_construction(text, "scheduler")


def _check_callbacks(texts: list[str]) -> None:
    """Parse every callback expression now, so a bad one fails before any run is read."""
    from lraudit.semantics.expressions import parse_callback_expr

    with _errors_about("callbacks"):
        for text in texts:
            parse_callback_expr(text)


#: the command-line option the expression parser names, per library argument
_PARSER_FLAGS = {"optimizer": "--optimizer", "callbacks": "--callback"}


@contextmanager
def _errors_about(argument: str) -> Iterator[None]:
    """Errors of the expression parser (which speaks as the CLI: ``--optimizer: ...``) re-raised
    as the same type naming the library argument (``optimizer: ...``)."""
    try:
        yield
    except LrauditError as exc:
        message = re.sub(rf"{_PARSER_FLAGS[argument]}\b", argument, str(exc))
        raise type(exc)(message, argument=argument) from exc


def _as_options(options: RunOptions | None, given: dict[str, Any]) -> RunOptions:
    """``options`` when the caller built them, else the keyword arguments validated."""
    if options is None:
        return run_options(**given)
    from lraudit.options import OptimizerOverride

    if isinstance(options.optimizer, OptimizerOverride):
        return options
    return run_options(
        optimizer=options.optimizer,
        callbacks=options.callbacks,
        keras=options.keras,
        steps_per_epoch=options.steps_per_epoch,
        backend=options.backend,
    )


def load_timeline(path: PathsLike, options: RunOptions | None = None) -> Timeline:
    """Load the run at ``path`` (a run folder, or the files of one run) and rebuild it.

    The full :class:`~lraudit.reconstruction.Timeline` (frame, logged values joined, notes,
    callback changes); :func:`timeline` returns only its per-step frame.
    """
    from lraudit.reconstruction import build_timeline

    resolved = _as_options(options, {})
    paths = _as_paths(path)
    return build_timeline(load_run(paths[0] if len(paths) == 1 else paths), resolved)


def load_timelines(path: PathsLike, options: RunOptions | None = None) -> list[Timeline]:
    """Every training at ``path`` rebuilt (a notebook or a sweep log may hold several), in log order."""
    from lraudit.reconstruction import build_timeline
    from lraudit.sources.discovery import RunPlan, discover_sources

    resolved = _as_options(options, {})
    paths = _as_paths(path)
    found, skipped = discover_sources(paths)
    root = str(paths[0]) if len(paths) == 1 else " ".join(str(item) for item in paths)
    runs = _runs_of_plan(RunPlan(root=paths[0], found=found, skipped=skipped), root)
    return [build_timeline(run, resolved) for run in runs]


def timelines_frame(timelines: Sequence[Timeline]) -> pd.DataFrame:
    """The per-step frames of several trainings as one table, with a ``run`` column when there are several."""
    import pandas as pd

    if len(timelines) == 1:
        return timelines[0].frame
    frames = [t.frame.assign(run=t.run.path) for t in timelines]
    return pd.concat(frames, ignore_index=True)


def timeline(
    path: PathsLike,
    *,
    optimizer: str | Path | OptimizerSpec | None = None,
    callbacks: Sequence[str] = (),
    keras: str = "auto",
    steps_per_epoch: int | None = None,
    backend: str = "auto",
) -> pd.DataFrame:
    """The lr Keras applied at every optimizer update of the run at ``path``, with what was logged.

    One row per update, columns ``step, epoch, batch, lr_base, lr_effective, logged_lr,
    logged_source`` then ``fit, lr_variable, decay_factor`` (DESIGN.md §2; lr columns float32),
    and ``run`` (where each training starts) when ``path`` holds several trainings.
    ``optimizer`` is needed when the logs hold no optimizer config (an expression such as
    ``"Adam(lr=1e-3, decay=1e-2)"``, or a config/model file); ``callbacks`` are callback
    expressions replayed when the logs show no lr writes; ``keras`` (``"2"``/``"3"``/``"auto"``),
    ``steps_per_epoch`` and ``backend`` (``"tensorflow"``/``"jax"``/``"torch"``/``"auto"``) say
    what the logs do not. Raises :class:`~lraudit.errors.LrauditError` subclasses.
    """
    options = run_options(
        optimizer=optimizer,
        callbacks=callbacks,
        keras=keras,
        steps_per_epoch=steps_per_epoch,
        backend=backend,
    )
    return timelines_frame(load_timelines(path, options))


def audit(
    paths: PathsLike,
    *,
    optimizer: str | Path | OptimizerSpec | None = None,
    callbacks: Sequence[str] = (),
    keras: str = "auto",
    steps_per_epoch: int | None = None,
    backend: str = "auto",
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    jobs: int = 1,
    options: RunOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AuditResult:
    """Audit every run under ``paths``: rebuild each one and apply the rules.

    ``progress(done, total)`` is called once the runs are found and after each run is audited
    (the command line draws its progress bar with it).

    ``select``/``ignore`` are rule codes, names or prefixes (``"LRA01"``); ``jobs > 1`` audits
    runs in that many processes. The reconstruction arguments mean what they mean for
    :func:`timeline` (or pass ready ``options`` from :func:`run_options`). Returns an
    :class:`~lraudit.auditing.AuditResult` (``result.runs[i].findings``, ``result.fails("error")``).
    """
    from lraudit.auditing import AuditResult, iter_audits
    from lraudit.rules import REGISTRY

    if isinstance(jobs, bool) or int(jobs) < 1:
        raise UsageError(f"jobs must be at least 1, not {jobs}", argument="jobs")
    resolved = _as_options(
        options,
        {
            "optimizer": optimizer,
            "callbacks": callbacks,
            "keras": keras,
            "steps_per_epoch": steps_per_epoch,
            "backend": backend,
        },
    )
    rules = REGISTRY.select(_codes(select), _codes(ignore))
    runs = load_runs(paths)
    audited = []
    if progress is not None:
        progress(0, len(runs))
    for audit_of_run in iter_audits(runs, resolved, rules, int(jobs)):
        audited.append(audit_of_run)
        if progress is not None:
            progress(len(audited), len(runs))
    return AuditResult(runs=audited, rules=rules)


def _codes(selectors: str | Sequence[str]) -> list[str]:
    from lraudit.rules import parse_codes

    return parse_codes(selectors)


#: schedulers PyTorch's documentation steps after every batch; the others after every epoch
_PER_BATCH_SCHEDULERS = ("OneCycleLR", "CyclicLR")


def torch_schedule_timeline(
    optimizer: str,
    schedulers: Sequence[str],
    *,
    steps_per_epoch: int,
    epochs: int,
    step: str = "auto",
) -> Timeline:
    """The lr a PyTorch optimizer and its schedulers apply, without a run: a loop of ``epochs`` x
    ``steps_per_epoch`` updates, each scheduler stepped after every update (``step="batch"``) or at
    every epoch end (``"epoch"``; ``"auto"``: per batch for OneCycleLR/CyclicLR, else per epoch).

    ``optimizer`` and ``schedulers`` are PyTorch expressions (``"SGD(lr=0.1)"``,
    ``"StepLR(step_size=3)"``); a bad one raises :class:`~lraudit.errors.UsageError`.
    """
    from lraudit.code.torch_expressions import parse_torch_construction
    from lraudit.reconstruction.torch_build import build_torch_timeline
    from lraudit.run import Run
    from lraudit.torchfacts import LoopAction, TorchFacts

    if step not in ("auto", "batch", "epoch"):
        raise UsageError(f"step must be auto, batch or epoch, not {step!r}", argument="step")
    if steps_per_epoch <= 0 or epochs <= 0:
        raise UsageError("steps_per_epoch and epochs must be positive", argument="steps_per_epoch")
    built = [parse_torch_construction(text, "scheduler") for text in schedulers]
    per_batch = step == "batch" or (step == "auto" and any(c.name in _PER_BATCH_SCHEDULERS for c in built))
    if any(c.name == "ReduceLROnPlateau" for c in built):
        raise UsageError("ReduceLROnPlateau depends on the monitored metric: explain a run's logs instead",
                         argument="schedulers")
    actions = [LoopAction("optimizer_step", "batch", "the loop explained")]
    if built:
        where = "batch" if per_batch else "epoch_end"
        actions.append(LoopAction("scheduler_step", where, "the loop explained"))
    facts = TorchFacts(
        framework="pytorch",
        optimizer=parse_torch_construction(optimizer, "optimizer"),
        schedulers=built,
        loop=actions,
        epochs=epochs,
        batches_per_epoch=steps_per_epoch,
        steps_per_epoch=steps_per_epoch,
    )
    subject = " + ".join([optimizer, *schedulers])
    timeline = build_torch_timeline(Run(path=subject, torch=facts))
    timeline.notes.insert(
        0, f"scheduler.step() after every {'update' if per_batch else 'epoch'}, as assumed here (--step)"
    )
    return timeline
