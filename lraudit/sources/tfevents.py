"""TensorBoard event files: every scalar point, streamed in bounded chunks, fast.

Recognised by content (TFRecord framing whose first record is an ``Event`` with
``file_version: "brain.Event:…"``). Both scalar encodings are read as one series: TF1
``simple_value`` (standalone Keras: plain tags ``lr``, ``val_loss``) and TF2 tensor scalars
(``tf.keras``/Keras 3: ``epoch_learning_rate``, ``batch_loss``, ... in ``train/`` and
``validation/`` folders) of dtype float32, float64, float16 or bfloat16. Nothing is sampled.

Speed: framing is found in bulk (:mod:`lraudit.sources._tfrecord`) and single-scalar records
are decoded with NumPy gathers from a byte layout learnt once per kind of record
(:mod:`lraudit.sources._event_scalars`); everything else goes through protobuf. The points are
exactly those of tensorboard's ``event_file_loader`` + protobuf.

Columns of every chunk: :data:`~lraudit.sources.base.SCALAR_COLUMNS` then ``wall_time``:

* ``name``: ``"<dir>/<tag>"`` when the file's folder is ``train`` or ``validation``, else the tag;
* ``step``: the event step; ``epoch``: the step for ``epoch_*`` tags; for TF1 ``simple_value``
  *plain* tags (no ``/``, no ``epoch_``/``batch_``/``evaluation_`` prefix) the step when the
  tag's steps in this file are consecutive integers from its first point on, and that first
  point has step 0 or is followed (in the same chunk) by step + 1 (standalone Keras writes
  ``step = epoch`` with ``update_freq='epoch'``, else samples seen, which grow by the batch
  size); ``<NA>`` otherwise.
* ``line`` and ``fit``: ``<NA>``; ``text``: ``<NA>``; ``value``: float64 of the stored scalar.

Damage: a bad length CRC, a record whose data CRC is wrong when it is checked (records decoded
through protobuf, layout samples, everything with ``verify_crc=True``) or a truncated last
record ends the file: every point before it is kept and a warning names the file and byte
offset. Without ``verify_crc`` a flipped bit inside a fast-decoded *value* is not detected
(the reference loader checks every CRC; ``verify_crc=True`` does too, vectorised).
"""
from __future__ import annotations

import struct
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lraudit.sources import _event_scalars as es
from lraudit.sources import _tfrecord as tfr
from lraudit.sources.base import SCALAR_COLUMNS, SourceData, empty_scalars

KIND = "tfevents"

#: column appended after SCALAR_COLUMNS in every chunk
WALL_TIME_COLUMN = "wall_time"

_FILE_VERSION_PREFIX = b"brain.Event:"
_SPLIT_DIRS = ("train", "validation")
_MAX_LAYOUTS_PER_LENGTH = 64
_MAX_LAYOUT_BYTES = 4096

TagsArg = Callable[[str], bool] | Collection[str] | None


def sniff(prefix: bytes, path: Path) -> bool:
    """True when ``prefix`` starts with a TFRecord whose Event has ``file_version`` ``brain.Event:…``.

    Both CRCs of that first record are checked.
    """
    if len(prefix) < tfr.HEADER_BYTES:
        return False
    length, stored = struct.unpack_from("<QI", prefix, 0)
    if stored != tfr.length_crc(length) or len(prefix) < tfr.HEADER_BYTES + length + tfr.FOOTER_BYTES:
        return False
    data = bytes(prefix[tfr.HEADER_BYTES : tfr.HEADER_BYTES + length])
    (data_crc,) = struct.unpack_from("<I", prefix, tfr.HEADER_BYTES + length)
    if data_crc != tfr.masked_crc32c(data):
        return False
    try:
        fields = es._fields(data, 0, len(data))
    except es._Malformed:
        return False
    version = fields.get(3)
    return version is not None and version[0] == 2 and data[version[1] : version[2]].startswith(
        _FILE_VERSION_PREFIX
    )


def lr_tags(name: str) -> bool:
    """Whether the audit needs the series ``name``: learning-rate tags and epoch-level metrics.

    True for anything naming ``lr``/``learning_rate`` (``epoch_lr``, ``train/epoch_learning_rate``,
    ``lr``), for ``epoch_*`` metrics and ``evaluation_*_vs_iterations`` anchors, and for TF1 plain
    tags (standalone Keras logs epoch metrics under their bare key); False for ``batch_*``.
    """
    tag = name.rsplit("/", 1)[-1]
    lowered = tag.lower()
    if "learning_rate" in lowered or lowered == "lr" or lowered.endswith("_lr") or lowered.startswith("lr_"):
        return True
    if lowered.startswith("batch_"):
        return False
    return lowered.startswith(("epoch_", "evaluation_")) or "/" not in name


def _tag_filter(tags: TagsArg) -> Callable[[str, str], bool] | None:
    if tags is None:
        return None
    if callable(tags):
        return lambda name, tag: bool(tags(name))
    wanted = set(tags)
    return lambda name, tag: name in wanted or tag in wanted


@dataclass
class _PlainState:
    """Epoch-index detection state of one TF1 plain tag."""

    last_step: int
    consecutive: bool


class EventScalarReader:
    """Streams the scalar points of one event file as bounded DataFrame chunks.

    Iterate :meth:`chunks`; afterwards :attr:`warnings`, :attr:`keras` and :attr:`points`
    describe the read.
    """

    def __init__(
        self,
        path: Path | str,
        tags: TagsArg = None,
        verify_crc: bool = False,
        block_bytes: int = tfr.DEFAULT_BLOCK_BYTES,
        progress: bool = True,
    ) -> None:
        self.path = Path(path)
        self.verify_crc = verify_crc
        self.block_bytes = block_bytes
        self.progress = progress
        self.warnings: list[str] = []
        self.keras: str | None = None
        self.points = 0
        self._filter = _tag_filter(tags)
        parent = self.path.parent.name
        self._dir = parent if parent in _SPLIT_DIRS else None
        self._names: list[str] = []
        self._name_index: dict[str, int] = {}
        self._keep: list[bool] = []
        self._epoch_kind: list[int] = []  # 0: none, 1: epoch_ prefix, 2: TF1 plain tag
        self._layouts: dict[int, list[es.Layout]] = {}
        #: tag -> (block, record) where a value first declared the scalars plugin
        self._scalar_since: dict[str, tuple[int, int]] = {}
        self._block_no = 0
        self._hints: dict[str, str] = {}
        self._plain: dict[int, _PlainState] = {}
        self._categories: pd.Index | None = None
        self._file_str = str(path)

    # --- names ---------------------------------------------------------------------------

    def _code(self, tag: str, simple_value: bool) -> int:
        code = self._name_index.get(tag)
        if code is None:
            name = f"{self._dir}/{tag}" if self._dir else tag
            code = len(self._names)
            self._name_index[tag] = code
            self._names.append(name)
            self._keep.append(self._filter is None or self._filter(name, tag))
            if tag.startswith(es.EPOCH_PREFIX):
                kind = 1
            elif simple_value and "/" not in tag and not tag.startswith(es._PREFIXED):
                kind = 2
            else:
                kind = 0
            self._epoch_kind.append(kind)
            self._categories = None
        return code

    # --- reading -------------------------------------------------------------------------

    def chunks(self) -> Iterator[pd.DataFrame]:
        """Yield the points block by block (each chunk holds one buffer's worth of records)."""
        from lraudit.progress import ByteProgress

        state = tfr.FramingState()
        try:
            total = self.path.stat().st_size
        except OSError as exc:
            self.warnings.append(f"{self.path}: cannot read: {exc.strerror or exc}")
            return
        with ByteProgress(total, f"reading {self.path.name}", enabled=self.progress) as bar:
            try:
                for block in tfr.iter_blocks(self.path, state, self.block_bytes):
                    frame, stop_offset = self._decode_block(block)
                    bar.update(block.file_offset + int(block.offsets[-1] + block.lengths[-1]) + 16)
                    if frame is not None and len(frame):
                        self.points += len(frame)
                        yield frame
                    if stop_offset is not None:
                        return
            except OSError as exc:
                self.warnings.append(f"{self.path}: read error: {exc.strerror or exc}")
                return
        if state.problem is not None:
            self.warnings.append(
                f"{self.path}: {state.problem} at byte {state.problem_offset}; "
                "kept the points before it"
            )
        if self.keras is None:
            self.keras = self._hints.get("keras")

    def _decode_block(self, block: tfr.Block) -> tuple[pd.DataFrame | None, int | None]:
        buf, offsets, lengths = block.buf, block.offsets, block.lengths
        n = offsets.shape[0]
        starts = offsets + tfr.HEADER_BYTES
        first_bad: int | None = None
        if self.verify_crc:
            first_bad = _first_bad_crc(buf, starts, lengths)
        u64 = tfr.unaligned_view(buf, np.uint64)
        counts = np.zeros(n, dtype=np.int64)
        fast: list[tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray]] = []
        slow: dict[int, list[es.SlowPoint]] = {}
        notes: list[tuple[int, str]] = []
        slow_records: list[int] = []
        for group in _length_groups(lengths):
            length = int(lengths[group[0]])
            if length > _MAX_LAYOUT_BYTES:
                slow_records.extend(group.tolist())
                continue
            words = -(-length // 8)
            rows = es.gather_rows(u64, starts[group], words)
            alive = np.arange(group.size)
            for layout in self._layouts.get(length, ()):
                if not alive.size:
                    break
                candidates = rows if alive.size == group.size else rows[alive]
                hit = es.match(layout, candidates)
                if hit.any():
                    self._take(layout, group[alive[hit]], candidates[hit], fast, counts)
                    alive = alive[~hit]
            pending: list[int] = []
            while alive.size:
                record = int(group[alive[0]])
                data = buf[starts[record] : starts[record] + length].tobytes()
                layout = self._learn(data, buf, int(offsets[record]), length, (self._block_no, record))
                if layout is None:
                    pending.append(record)
                    alive = alive[1:]
                    continue
                candidates = rows[alive]
                hit = es.match(layout, candidates)
                self._take(layout, group[alive[hit]], candidates[hit], fast, counts)
                alive = alive[~hit]
            slow_records.extend(pending)
        # Records protobuf decodes, in file order (a tensor without plugin metadata is a scalar
        # only when an earlier value of its tag declared the scalars plugin).
        for record in sorted(slow_records):
            if first_bad is not None and record >= first_bad:
                break
            length = int(lengths[record])
            data = buf[starts[record] : starts[record] + length].tobytes()
            points = es.protobuf_points(data, self._scalar_since, (self._block_no, record), self._hints)
            where = block.file_offset + int(offsets[record])
            checked = self.verify_crc or points == []
            if not checked and not es.record_crc_ok(buf, int(offsets[record]), length):
                first_bad = record
                break
            if points is None:
                notes.append((record, f"{self.path}: record at byte {where} is not an Event; skipped"))
                continue
            kept = [p for p in points if self._keep[self._code(p.tag, p.simple_value)]]
            if kept:
                slow[record] = kept
                counts[record] = len(kept)
        self._block_no += 1
        stop_offset = None
        limit = n
        if first_bad is not None:
            limit = first_bad
            counts[first_bad:] = 0
            stop_offset = block.file_offset + int(offsets[first_bad])
        self.warnings.extend(text for record, text in sorted(notes) if record < limit)
        if stop_offset is not None:
            self.warnings.append(
                f"{self.path}: bad data CRC at byte {stop_offset}; kept the points before it"
            )
        frame = self._assemble(counts, fast, slow, limit)
        return frame, stop_offset

    def _take(self, layout: es.Layout, records: np.ndarray, rows: np.ndarray, fast: list, counts) -> None:
        """Decode the ``rows`` of ``records`` that matched ``layout`` (if its tag is kept)."""
        if layout.keep and records.size:
            step, wall, value = es.decode(layout, rows)
            fast.append((records, layout.code, step, wall, value))
            counts[records] = 1

    def _learn(
        self, data: bytes, buf: np.ndarray, offset: int, length: int, position: tuple[int, int]
    ) -> es.Layout | None:
        """Learn (and confirm with protobuf and the record's CRC) the layout of ``data``."""
        known = self._layouts.setdefault(length, [])
        if length > _MAX_LAYOUT_BYTES or len(known) >= _MAX_LAYOUTS_PER_LENGTH:
            return None
        layout = es.learn_layout(data)
        if layout is None or not es.record_crc_ok(buf, offset, length):
            return None
        points = es.protobuf_points(data, {}, position, {})
        if not points or len(points) != 1:
            return None
        point = points[0]
        es.bind(layout, data)
        padded = np.zeros(layout.words * 8, dtype=np.uint8)
        padded[:length] = np.frombuffer(data, dtype=np.uint8)
        step, wall, value = es.decode(layout, padded.view("<u8").reshape(1, -1))
        same_value = value[0] == point.value or (np.isnan(value[0]) and np.isnan(point.value))
        if (
            point.tag != layout.tag
            or point.simple_value != (layout.kind == "sv")
            or int(step[0]) != point.step
            or float(wall[0]) != point.wall_time
            or not same_value
        ):
            return None
        if not point.simple_value:
            since = self._scalar_since.get(point.tag)
            self._scalar_since[point.tag] = position if since is None else min(since, position)
        layout.code = self._code(layout.tag, point.simple_value)
        layout.keep = self._keep[layout.code]
        known.insert(0, layout)
        return layout

    def _assemble(self, counts, fast, slow, limit: int) -> pd.DataFrame | None:
        row_start = np.cumsum(counts) - counts
        total = int(counts.sum())
        if total == 0:
            return None
        codes = np.empty(total, dtype=np.int32)
        steps = np.empty(total, dtype=np.int64)
        walls = np.empty(total, dtype=np.float64)
        values = np.empty(total, dtype=np.float64)
        for records, code, step, wall, value in fast:
            if records[-1] >= limit:
                inside = records < limit
                records, step, wall, value = records[inside], step[inside], wall[inside], value[inside]
            at = row_start[records]
            codes[at] = code
            steps[at] = step
            walls[at] = wall
            values[at] = value
        for record, points in slow.items():
            if record >= limit:
                continue
            at = int(row_start[record])
            for j, point in enumerate(points):
                codes[at + j] = self._name_index[point.tag]
                steps[at + j] = point.step
                walls[at + j] = point.wall_time
                values[at + j] = point.value
        epochs, epoch_known = self._epochs(codes, steps)
        return self._frame(codes, steps, walls, values, epochs, epoch_known)

    def _epochs(self, codes: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kinds = np.asarray(self._epoch_kind, dtype=np.int8)[codes]
        known = kinds == 1
        for code in np.unique(codes[kinds == 2]).tolist():
            rows = np.flatnonzero(codes == code)
            series = steps[rows]
            state = self._plain.get(code)
            if state is None:
                start_ok = series[0] == 0 or (series.size > 1 and series[1] == series[0] + 1)
                previous = np.concatenate(([series[0] - 1], series[:-1]))
                consecutive = bool(start_ok)
            else:
                previous = np.concatenate(([state.last_step], series[:-1]))
                consecutive = state.consecutive
            run = np.logical_and.accumulate(series == previous + 1) & consecutive
            known[rows] = run
            self._plain[code] = _PlainState(int(series[-1]), bool(run[-1]))
        return steps, known

    def _frame(self, codes, steps, walls, values, epochs, epoch_known) -> pd.DataFrame:
        import pyarrow as pa

        n = codes.shape[0]
        if self._categories is None:
            self._categories = pd.Index(self._names, dtype="string")
        no_ints = pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
        zeros = np.zeros(n, dtype=np.int8)
        columns = {
            "source": pd.Categorical.from_codes(zeros, categories=pd.Index([KIND], dtype="string")),
            "file": pd.Categorical.from_codes(zeros, categories=pd.Index([self._file_str], dtype="string")),
            "line": no_ints,
            "name": pd.Categorical.from_codes(codes, categories=self._categories),
            "epoch": pd.arrays.IntegerArray(np.where(epoch_known, epochs, 0), ~epoch_known),
            "step": pd.arrays.IntegerArray(steps, np.zeros(n, dtype=bool)),
            "fit": no_ints.copy(),
            "value": values,
            "text": pd.arrays.ArrowStringArray(pa.nulls(n, pa.large_string())),
            WALL_TIME_COLUMN: walls,
        }
        return pd.DataFrame(columns, columns=[*SCALAR_COLUMNS, WALL_TIME_COLUMN], copy=False)


def _length_groups(lengths: np.ndarray) -> list[np.ndarray]:
    """Record indices grouped by data length, each group in file order."""
    # 16-bit keys: NumPy's stable sort of them is a radix sort
    keys = lengths.astype(np.uint16) if lengths.size and int(lengths.max()) < 65536 else lengths
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    cuts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    return np.split(order, cuts)


def _first_bad_crc(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> int | None:
    """Index of the first record whose data CRC is wrong, checked per length group in bulk."""
    footer = tfr.unaligned_view(buf, np.uint32)
    first: int | None = None
    for group in _length_groups(lengths):
        length = int(lengths[group[0]])
        group_starts = starts[group]
        if group.size < 8:
            computed = np.array(
                [tfr.masked_crc32c(memoryview(buf)[s : s + length]) for s in group_starts.tolist()],
                dtype=np.uint32,
            )
        else:
            computed = tfr.masked_crc32c_equal_length(buf, group_starts, length)
        bad = np.flatnonzero(computed != footer[group_starts + length])
        if bad.size:
            index = int(group[bad[0]])
            first = index if first is None else min(first, index)
    return first


def iter_scalar_chunks(
    path: Path | str,
    tags: TagsArg = None,
    verify_crc: bool = False,
    warnings: list[str] | None = None,
    progress: bool = True,
) -> Iterator[pd.DataFrame]:
    """Stream the scalar points of one event file as bounded DataFrame chunks.

    ``tags``: ``None`` (all), a predicate on the name (e.g. :func:`lr_tags`) or a collection of
    names or bare tags. Warnings (damage, unreadable records) are appended to ``warnings``.
    Chunks are in file order; each holds the records of one read block (16 MiB of file).
    """
    reader = EventScalarReader(path, tags=tags, verify_crc=verify_crc, progress=progress)
    yield from reader.chunks()
    if warnings is not None:
        warnings.extend(reader.warnings)


def read(path: Path, tags: TagsArg = None, verify_crc: bool = False) -> SourceData:
    """Every scalar point of the event file (or those ``tags`` selects), with warnings and a Keras hint.

    ``keras`` is set from the Keras model summary TensorBoard stores (``keras_version`` in Keras 2's
    model JSON, Keras 3's serialization format otherwise); None without one.
    """
    reader = EventScalarReader(path, tags=tags, verify_crc=verify_crc)
    frames = list(reader.chunks())
    if frames:
        scalars = pd.concat(frames, ignore_index=True)
        for column in ("source", "file", "name"):
            scalars[column] = scalars[column].astype("string")
    else:
        scalars = empty_scalars()
        scalars[WALL_TIME_COLUMN] = np.zeros(0, dtype=np.float64)
    return SourceData(
        path=str(path), kind=KIND, scalars=scalars, keras=reader.keras, warnings=list(reader.warnings)
    )
