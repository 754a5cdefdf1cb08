"""Lightning's ``CSVLogger`` ``metrics.csv`` and the ``hparams.yaml`` its loggers write.

``metrics.csv`` (``<save_dir>/lightning_logs/version_N/metrics.csv``) has one row per logging call
and one column per logged key, sorted by name: ``epoch``, ``lr-SGD`` (``LearningRateMonitor``:
``lr-<Optimizer>``, ``lr-<Optimizer>-momentum``...), ``step``, ``train_loss``, ``val_loss``...
A row fills only the keys logged together; the others are empty. Recognised by its header: a
``step`` column and an ``epoch`` or ``lr-...`` column (:func:`is_lightning_header`). Keras'
CSVLogger (:mod:`lraudit.sources.csvlogger`) never writes a ``step`` column and its sniff
refuses such headers, so the two kinds exclude each other.

Every non-empty cell other than ``step`` and ``epoch`` becomes a scalar: ``name`` the column as
written, ``step`` the row's ``step`` cell (Lightning's 0-based ``global_step``: optimizer steps),
``epoch`` the row's ``epoch`` cell (0-based) or ``<NA>`` when the row leaves it empty (the
``lr-SGD`` rows do), ``text`` the cell exactly as written (float64 ``repr``). Every row is kept:
with gradient accumulation ``LearningRateMonitor(logging_interval="step")`` writes one row per
micro-batch, so one optimizer step appears several times with the same value (deduplicate by
step where the run is assembled; rows are never counted as steps here).

``hparams.yaml``: the ``save_hyperparameters()`` values -> ``TorchFacts.hparams``. Read with
PyYAML's *safe* loader, extended so that the Python-specific tags ``yaml.dump`` writes for tuples
or objects (``!!python/tuple``, ``!!python/object:...``) become plain lists/dicts/strings instead of
failing the whole file (nothing is ever constructed from a tag). Recognised as YAML text whose
folder is a Lightning log folder (``version_N``) holding ``hparams.yaml``; the content is a
``key: value`` mapping.
"""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Any

from lraudit.sources.base import Source, SourceData, SourceFacts, scalars_frame
from lraudit.sources.text import decode, looks_like_text, read_text
from lraudit.torchfacts import TorchFacts

KIND = "lightning_metrics"
HPARAMS_KIND = "lightning_hparams"

_MISSING = {"", "na", "none", "null"}
_LR_COLUMN = re.compile(r"^lr-\w")
_VERSION_DIR = re.compile(r"^version_\d+$")
_YAML_KEY = re.compile(r"^[A-Za-z_][\w.\-]*\s*:(\s|$)")


def is_lightning_header(cells: list[str]) -> bool:
    """True for a Lightning CSVLogger header: a ``step`` column and an ``epoch`` or ``lr-`` one."""
    names = [cell.strip().lstrip("\ufeff").strip('"') for cell in cells]
    return "step" in names and ("epoch" in names or any(_LR_COLUMN.match(name) for name in names))


def _header_cells(text: str) -> list[str] | None:
    for line in text.splitlines():
        if line.strip():
            try:
                return next(csv.reader([line]))
            except (csv.Error, StopIteration):
                return None
    return None


def sniff(prefix: bytes, path: Path) -> bool:
    """True when the first non-empty line is a comma-separated Lightning metrics header."""
    text, _ = decode(prefix)
    if not looks_like_text(text):
        return False
    cells = _header_cells(text)
    return cells is not None and len(cells) >= 2 and is_lightning_header(cells)


def _int_cell(cell: str) -> int | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return int(value) if math.isfinite(value) and value == int(value) else None


def _row_scalars(
    path: Path, line_no: int, header: list[str], cells: list[str], warnings: list[str]
) -> list[tuple]:
    by_name = dict(zip(header, (cell.strip() for cell in cells), strict=False))
    step = _int_cell(by_name.get("step", "")) if by_name.get("step") else None
    epoch = _int_cell(by_name.get("epoch", "")) if by_name.get("epoch") else None
    rows = []
    for name, cell in by_name.items():
        if name in ("step", "epoch") or cell.lower() in _MISSING:
            continue
        try:
            value = float(cell)
        except ValueError:
            warnings.append(f"{path}:{line_no}: {name}={cell!r} is not a number")
            continue
        rows.append((KIND, str(path), line_no, name, epoch, step, None, value, cell))
    return rows


def read(path: Path) -> SourceData:
    """Read a Lightning metrics.csv (every row kept); never raises on content."""
    data = SourceData(path=str(path), kind=KIND, scalars=scalars_frame([]))
    data.torch = TorchFacts(framework="lightning", evidence=[f"CSVLogger metrics: {path}"])
    text = read_text(path, data.warnings)
    if text is None:
        return data
    lines = text.splitlines()
    header: list[str] | None = None
    rows: list[tuple] = []
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            cells = next(csv.reader([line]))
        except csv.Error as exc:
            data.warnings.append(f"{path}:{line_no}: unreadable row ({exc})")
            continue
        if header is None or is_lightning_header(cells):
            header = [cell.strip().lstrip("\ufeff") for cell in cells]
            continue
        if len(cells) != len(header):
            last = line_no == len(lines) and not text.endswith(("\n", "\r"))
            why = "truncated last row" if last else f"{len(cells)} cells for {len(header)} columns"
            data.warnings.append(f"{path}:{line_no}: row skipped ({why})")
            continue
        rows.extend(_row_scalars(path, line_no, header, cells, data.warnings))
    if header is None or not is_lightning_header(header):
        data.warnings.append(f"{path}: no Lightning metrics header (step and epoch/lr- columns) found")
    data.scalars = scalars_frame(rows)
    return data


# --- hparams.yaml ------------------------------------------------------------------------


def sniff_hparams(prefix: bytes, path: Path) -> bool:
    """True for ``hparams.yaml`` text in a Lightning ``version_N`` folder (YAML ``key: value``)."""
    if path.name != "hparams.yaml" or not _VERSION_DIR.match(path.parent.name):
        return False
    text, _ = decode(prefix)
    if not looks_like_text(text):
        return False
    lines = (line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    first = next(lines, "")
    return first == "{}" or _YAML_KEY.match(first) is not None


def _yaml_load(text: str) -> Any:
    """YAML with the safe loader; Python tags become plain values (never constructed)."""
    import yaml

    class _InertLoader(yaml.SafeLoader):
        """SafeLoader that reads ``!!python/...`` and other unknown tags as plain data."""

    def _plain(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)

    _InertLoader.add_multi_constructor("", _plain)
    return yaml.load(text, Loader=_InertLoader)  # a SafeLoader subclass: nothing is constructed from a tag


def _flat_yaml(text: str) -> dict[str, Any]:
    """Fallback without PyYAML: flat ``key: value`` lines, values as numbers when they parse."""
    values: dict[str, Any] = {}
    for line in text.splitlines():
        if not _YAML_KEY.match(line):
            continue
        key, _, raw = line.partition(":")
        raw = raw.strip()
        try:
            values[key.strip()] = int(raw) if re.fullmatch(r"[-+]?\d+", raw) else float(raw)
        except ValueError:
            values[key.strip()] = raw.strip("'\"")
    return values


def read_hparams(path: Path) -> SourceData:
    """Read a Lightning hparams.yaml into ``TorchFacts.hparams`` (no scalars)."""
    data = SourceData(path=str(path), kind=HPARAMS_KIND, scalars=scalars_frame([]))
    facts = TorchFacts(framework="lightning", evidence=[f"hparams: {path}"])
    data.torch = facts
    text = read_text(path, data.warnings)
    if text is None:
        return data
    try:
        loaded = _yaml_load(text)
    except ImportError:
        loaded = _flat_yaml(text)
    except Exception as exc:  # any YAML error: keep the flat lines that read
        data.warnings.append(f"{path}: not valid YAML ({str(exc).splitlines()[0]}); read its flat lines")
        loaded = _flat_yaml(text)
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        data.warnings.append(f"{path}: not a key: value mapping; nothing read")
        return data
    facts.hparams = {str(key): value for key, value in loaded.items()}
    return data


class LightningMetricsSource(Source):
    """The registered face of Lightning's ``metrics.csv`` (see :mod:`lraudit.sources.registry`)."""

    facts = SourceFacts(
        kind=KIND,
        label="Lightning metrics.csv",
        tells=frozenset({"lr", "metrics", "torch_facts"}),
        epoch_values="exact",  # str() of the float64: shortest repr
        epoch_numbering="0-based",  # the epoch column
        names="log-keys",
        located_by="line",
        value_rank=1,
        fit_rank=9,  # no fit() structure of its own: last
        hint_rank=5,
    )
    sniff = staticmethod(sniff)
    read = staticmethod(read)


class LightningHparamsSource(Source):
    """The registered face of Lightning's ``hparams.yaml`` (logs no values)."""

    facts = SourceFacts.logging_no_values(
        HPARAMS_KIND, "Lightning hparams.yaml", frozenset({"torch_facts"}), hint_rank=6
    )
    sniff = staticmethod(sniff_hparams)
    read = staticmethod(read_hparams)
