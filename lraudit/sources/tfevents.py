"""TensorBoard event files: every scalar point, streamed in bounded chunks, fast.

Recognised by content (TFRecord framing whose first record is an ``Event`` with
``file_version: "brain.Event:…"``). Both scalar encodings are read as one series: TF1
``simple_value`` (standalone Keras: plain tags ``lr``, ``val_loss``) and TF2 tensor scalars
(``tf.keras``/Keras 3: ``epoch_learning_rate``, ``batch_loss``, ... in ``train/`` and
``validation/`` folders) of dtype float32, float64, float16 or bfloat16. Nothing is sampled.

API: :func:`read` (a :class:`SourceData`), :func:`iter_scalar_chunks` (pandas chunks, one per
4 MiB read block), :class:`EventScalarReader` (``chunks()``, ``tables()`` for Arrow/parquet,
``warnings``, ``keras``), :func:`sniff`, :func:`lr_tags` (the series the audit needs).

Speed (10 M scalars, 708 MB, in ~1.6 s; see ``benchmarks/README.md``): record boundaries are
predicted from the repeating pattern of record sizes and verified in bulk
(:mod:`lraudit.sources._tfrecord`); a single-scalar record's byte layout is learnt once from a
record protobuf also decodes, then every record of a periodic run is checked against its
phase's constant bytes and decoded with NumPy gathers (:mod:`lraudit.sources._event_scalars`);
records that never hold a point (a single image/histogram/audio value; a single value whose length
and tag protobuf already found pointless, e.g. histogram or text tensors) are dropped by their
header bytes, in bulk; everything else goes through protobuf. The points are exactly those of tensorboard's
``event_file_loader`` + protobuf (a value is a point when it has ``simple_value`` or is a
one-element numeric tensor of the ``scalars`` plugin; bfloat16 is decoded too, which
tensorboard's ``tensor_util`` cannot).

Columns of every chunk: :data:`~lraudit.sources.base.SCALAR_COLUMNS` then ``wall_time``:

* ``name``: ``"<dir>/<tag>"`` when the file's folder is ``train`` or ``validation``, else the tag;
* ``step``: the event step; ``epoch``: the step for ``epoch_*`` tags; for TF1 ``simple_value``
  *plain* tags (no ``/``, no ``epoch_``/``batch_``/``evaluation_`` prefix) the step when the
  tag's steps in this file are consecutive integers from its first point on, and that first
  point has step 0 or is followed (in the same chunk) by step + 1 (standalone Keras writes
  ``step = epoch`` with ``update_freq='epoch'``, else samples seen, which grow by the batch
  size); ``<NA>`` otherwise.
* ``line`` and ``fit``: ``<NA>``; ``text``: ``<NA>``; ``value``: float64 of the stored scalar.

Keras model summary (tag ``keras``, plugin ``graph_keras_model``; one per ``fit()``, written
when it begins; read through protobuf, so the fast path is untouched): ``keras`` is "2"/"3"
(``keras_version`` in Keras 2; Keras 3's serialization format otherwise), else None. From the
first summary of a file (:mod:`lraudit.sources.keras_model_json`) :func:`read` also fills
``optimizer`` (Keras 3: the config as compiled, ``optimizer_stage="initial"``),
``compile_config`` (the resolved ``jit_compile``, ``steps_per_execution``, ...) and ``backend``
(Keras 2's JSON names it); malformed JSON becomes a warning.

Damage: a bad length CRC, a record whose data CRC is wrong when it is checked (records decoded
through protobuf, layout samples, everything with ``verify_crc=True``) or a truncated last
record ends the file: every point before it is kept and a warning names the file and byte
offset. Without ``verify_crc`` a flipped bit inside a fast-decoded *value*, or in a record dropped
by its header, is not detected
(the reference loader checks every CRC; ``verify_crc=True`` does too, vectorised).
"""
from __future__ import annotations

import struct
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

import lraudit.sources._event_scalars as es
import lraudit.sources._tfrecord as tfr
from lraudit.sources.base import SCALAR_COLUMNS, Source, SourceData, SourceFacts, empty_scalars
from lraudit.sources.keras_model_json import ModelJson, read_model_json
from lraudit.sources.torch_events import event_file_torch_facts
from lraudit.torchfacts import TorchFacts

KIND = "tfevents"

#: column appended after SCALAR_COLUMNS in every chunk
WALL_TIME_COLUMN = "wall_time"
#: the only columns worth parquet dictionary encoding (``use_dictionary=``): dictionary
#: attempts on the float columns double the time of writing 10 M points
DICTIONARY_COLUMNS = ("source", "file", "name")

_FILE_VERSION_PREFIX = b"brain.Event:"
_SPLIT_DIRS = ("train", "validation")
_MAX_LAYOUTS_PER_LENGTH = 64
_MAX_LAYOUT_BYTES = 4096
#: a periodic run is decoded in place when each phase repeats at least this often
_MIN_RUN_REPEATS = 4

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


def plain_tag_epochs(torch: TorchFacts | None) -> bool:
    """Whether plain TF1 tags may count epochs (the module rule) in a file with these torch facts.

    False only when the file itself shows a Trainer or Lightning writer: a file known only by its
    ``<pid>.<n>`` name may be any writer using tensorboard's ``EventFileWriter`` (torch's
    SummaryWriter, but also TF1-style files written by it), so it keeps the rule; a run known to
    be PyTorch from its other files should ignore that epoch column.
    """
    return torch is None or torch.framework == "pytorch"


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

    Iterate :meth:`chunks` (DataFrames) or :meth:`tables` (Arrow); afterwards
    :attr:`warnings`, :attr:`keras` and :attr:`points` describe the read. ``block_bytes`` bounds
    the bytes read at a time (and so a chunk's size); ``progress`` allows a bar on a terminal.
    """

    def __init__(
        self,
        path: Path | str,
        tags: TagsArg = None,
        verify_crc: bool = False,
        block_bytes: int = tfr.DEFAULT_BLOCK_BYTES,
        progress: bool = True,
        fast: bool = True,
        plain_tag_epochs: bool = True,
    ) -> None:
        self.path = Path(path)
        #: False for PyTorch-ecosystem files: a plain tag's step is a step, never a Keras epoch
        self.plain_tag_epochs = plain_tag_epochs
        #: False: every record through protobuf (the slow reference path, for checks)
        self.fast = fast
        self.verify_crc = verify_crc
        self.block_bytes = block_bytes
        self.progress = progress
        self.warnings: list[str] = []
        self.keras: str | None = None
        #: what the Keras model summary (tag ``keras``) says, when the file has one
        self.model_json: ModelJson | None = None
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
        #: (length, tag) of records that are not one float scalar (histograms, images, text...):
        #: never learnt again, so a file full of them costs one protobuf decode per record only
        self._unlearnable: set[tuple[int, bytes | None]] = set()
        #: (length, tag) of single-value records of those kinds that gave no point: not decoded again
        self._no_points: set[tuple[int, bytes | None]] = set()
        self._categories: pd.Index | None = None
        self._constant_categories: tuple[pd.Index, pd.Index] | None = None
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
            elif self.plain_tag_epochs and simple_value and "/" not in tag and not tag.startswith(
                es._PREFIXED
            ):
                kind = 2
            else:
                kind = 0
            self._epoch_kind.append(kind)
            self._categories = None
        return code

    # --- reading -------------------------------------------------------------------------

    def chunks(self) -> Iterator[pd.DataFrame]:
        """Yield the points as DataFrames, one per read block, in file order."""
        for columns in self._columns():
            yield self._frame(*columns)

    def tables(self) -> Iterator[pa.Table]:
        """Yield the points as Arrow tables (same columns; name/source/file dictionary-encoded).

        The cheapest way to stream into parquet: no pandas objects are built.
        """
        for columns in self._columns():
            yield self._table(*columns)

    def _columns(self) -> Iterator[tuple[np.ndarray, ...]]:
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
                    columns, stop_offset = self._decode_block(block)
                    end = int(block.offsets[-1] + block.lengths[-1]) + tfr.HEADER_BYTES + tfr.FOOTER_BYTES
                    bar.update(block.file_offset + end)
                    if columns is not None:
                        self.points += columns[0].shape[0]
                        yield columns
                    if stop_offset is not None:
                        return
            except OSError as exc:
                self.warnings.append(f"{self.path}: read error: {exc.strerror or exc}")
                return
            finally:
                self._take_model_json()
        if state.problem is not None:
            self.warnings.append(
                f"{self.path}: {state.problem} at byte {state.problem_offset}; "
                "kept the points before it"
            )

    def _take_model_json(self) -> None:
        """Read the Keras model summary met while streaming (at most one per file is used)."""
        if self.keras is None:
            self.keras = self._hints.get("keras")
        text = self._hints.get(es.MODEL_JSON_HINT)
        if text is None or self.model_json is not None:
            return
        where = f"{self.path}:{self._hints.get(es.MODEL_JSON_TAG_HINT, 'keras')}"
        self.model_json = read_model_json(text, where)
        self.warnings.extend(self.model_json.warnings)
        self.keras = self.keras or self.model_json.keras

    # --- one block -----------------------------------------------------------------------

    def _decode_block(self, block: tfr.Block) -> tuple[tuple[np.ndarray, ...] | None, int | None]:
        n = block.offsets.shape[0]
        starts = block.offsets + tfr.HEADER_BYTES
        first_bad = _first_bad_crc(block.buf, starts, block.lengths) if self.verify_crc else None
        out = _RecordColumns(n)
        if self.fast:
            handled = np.zeros(n, dtype=bool)
            for first, count, period in block.runs:
                self._decode_run(block, starts, first, count, period, out, handled)
            rest = np.flatnonzero(~handled)
            slow_records = self._decode_groups(block, starts, rest, out) if rest.size else []
        else:
            slow_records = list(range(n))
        slow, notes, first_bad = self._decode_slow(block, starts, slow_records, first_bad)
        self._drop_undeclared(out)
        self._block_no += 1
        limit = n if first_bad is None else first_bad
        self.warnings.extend(text for record, text in sorted(notes) if record < limit)
        stop_offset = None
        if first_bad is not None:
            stop_offset = block.file_offset + int(block.offsets[first_bad])
            self.warnings.append(
                f"{self.path}: bad data CRC at byte {stop_offset}; kept the points before it"
            )
        return self._assemble(out, slow, limit), stop_offset

    def _decode_run(self, block, starts, first: int, count: int, period: int, out, handled) -> None:
        """Records of a periodic run, all phases at once.

        The run's bytes are viewed as one row per period (no copy); the constant words of every
        phase's layout are gathered, compared and OR-reduced per record in a few NumPy calls,
        and wall time, step and value come out as (period count, phase) matrices in file order.
        """
        reps = count // period
        if reps < _MIN_RUN_REPEATS:
            return
        layouts = []
        for phase in range(period):
            record = first + phase
            layout = self._layout_of(block, int(starts[record]), record)
            if layout is None or layout.step_len > 8:
                return  # the general path takes the whole run
            layouts.append(layout)
        buf = block.buf
        base = int(block.offsets[first])
        stride = int(block.offsets[first + period]) - base
        data_at = block.offsets[first : first + period] - base + tfr.HEADER_BYTES
        words = tfr.period_matrix(buf, base, stride, reps, "<u8")
        plan = _run_plan(layouts, data_at)
        diff = (words[:, plan.columns] ^ plan.expected) & plan.masks
        ok = (np.bitwise_or.reduceat(diff, plan.phase_starts, axis=1) == 0).reshape(-1)
        total = reps * period
        steps = np.zeros((reps, period), dtype=np.uint64)
        raw_steps = words[:, plan.step_columns] & plan.step_masks
        for k in range(plan.step_bytes):
            steps |= ((raw_steps >> np.uint64(8 * k)) & np.uint64(0x7F)) << np.uint64(7 * k)
        walls = words[:, plan.wall_columns].view(np.float64)
        if plan.wall_missing.any():
            walls = np.where(plan.wall_missing, 0.0, walls)
        values = _run_values(buf, base, stride, reps, layouts, data_at)
        codes = np.tile(plan.codes, reps)
        if ok.all():
            where: slice | np.ndarray = slice(first, first + total)
            handled[where] = True
        else:
            where = first + np.flatnonzero(ok)
            handled[where] = True
            codes, steps = codes[ok], steps.reshape(-1)[ok]
            walls, values = walls.reshape(-1)[ok], values.reshape(-1)[ok]
        out.code[where] = codes
        out.undeclared.update((layout.code, layout.tag) for layout in layouts if layout.needs_declaration)
        out.step[where] = steps.reshape(-1).view(np.int64)
        out.wall[where] = walls.reshape(-1)
        out.value[where] = values.reshape(-1)

    def _drop_undeclared(self, out: _RecordColumns) -> None:
        """Unset the points of metadata-less tensors whose tag had not declared the scalars plugin
        before them (every record of the block is decoded by now, so every declaration is known)."""
        if not out.undeclared:
            return
        records = np.arange(out.code.shape[0])
        for code, tag in out.undeclared.items():
            since = self._scalar_since.get(tag)
            if since is None or since[0] > self._block_no:
                first_point = records.shape[0]
            elif since[0] < self._block_no:
                continue
            else:
                first_point = since[1]  # the declaring record itself carries the metadata
            out.code[(out.code == code) & (records < first_point)] = -1

    def _layout_of(self, block: tfr.Block, start: int, record: int) -> es.Layout | None:
        """The known layout of one record, else one learnt from it, else None."""
        length = int(block.lengths[record])
        if length > _MAX_LAYOUT_BYTES:
            return None
        words = -(-length // 8)
        first_words = np.ndarray((words,), dtype="<u8", buffer=block.buf, offset=start).tolist()
        for layout in self._layouts.get(length, ()):
            if es.matches_one(layout, first_words):
                return layout
        data = block.buf[start : start + length].tobytes()
        return self._learn(data, block.buf, int(block.offsets[record]), length, (self._block_no, record))

    def _decode_groups(self, block, starts, records: np.ndarray, out) -> list[int]:
        """Records outside periodic runs, grouped by length; returns those protobuf must decode.

        Known layouts first, then layouts learnt from what is left; in a group where a record
        cannot be learnt, the records that never hold a point are dropped by their header bytes
        (:meth:`_no_point_records`), not decoded one by one.
        """
        buf, lengths = block.buf, block.lengths
        u64 = tfr.unaligned_view(buf, np.uint64)
        slow_records: list[int] = []
        # groups in the order they start in the file: a tag's first value (which declares the
        # scalars plugin) is learnt before its later values without metadata
        for group in sorted((records[local] for local in _length_groups(lengths[records])),
                            key=lambda group: int(group[0])):
            length = int(lengths[group[0]])
            if length > _MAX_LAYOUT_BYTES:
                slow_records.extend(group[~self._no_point_records(block, starts, group)].tolist())
                continue
            rows = es.gather_rows(u64, starts[group], -(-length // 8))
            alive = np.arange(group.size)
            for layout in self._layouts.get(length, ()):
                alive = self._match_layout(layout, group, rows, alive, out)
                if not alive.size:
                    break
            if alive.size:
                slow_records.extend(self._learn_group(block, starts, group, rows, alive, out))
        return slow_records

    def _match_layout(self, layout: es.Layout, group, rows, alive: np.ndarray, out) -> np.ndarray:
        """Decode the records of ``group[alive]`` that have ``layout``; returns the others."""
        whole = alive.size == rows.shape[0]  # the usual case: one layout per length group
        candidates = rows if whole else rows[alive]
        hit = es.match(layout, candidates)
        if hit.all():
            if layout.keep:
                out.put(group if whole else group[alive], layout, *es.decode(layout, candidates))
            return alive[:0]
        if not hit.any():
            return alive
        if layout.keep:
            out.put(group[alive[hit]], layout, *es.decode(layout, candidates[hit]))
        return alive[~hit]

    def _learn_group(self, block, starts, group, rows, alive: np.ndarray, out) -> list[int]:
        """Learn layouts from the first record nothing matched, until every record is decoded or
        left to protobuf (returned)."""
        buf = block.buf
        length = int(block.lengths[group[0]])
        slow_records: list[int] = []
        filtered = False
        while alive.size:
            record = int(group[alive[0]])
            data = buf[starts[record] : starts[record] + length].tobytes()
            layout = self._learn(data, buf, int(block.offsets[record]), length, (self._block_no, record))
            if layout is None:
                slow_records.append(record)
                alive = alive[1:]
                if not filtered and alive.size:
                    # not one scalar: the group may hold many records of its kind (histograms...)
                    filtered = True
                    alive = alive[~self._no_point_records(block, starts, group[alive])]
                continue
            alive = self._match_layout(layout, group, rows, alive, out)
        return slow_records

    def _no_point_records(self, block, starts, records: np.ndarray) -> np.ndarray:
        """Which ``records`` certainly hold no point, from their header bytes (no decoding).

        A single image/histogram/audio value never does (:func:`es.value_heads`); a single value
        whose (length, tag) protobuf already found pointless once in this file (a histogram, image
        or text tensor: ``_no_points``) is taken to be another of those.
        """
        heads = es.value_heads(block.buf, starts[records], block.lengths[records])
        skip = heads.never_point
        if not self._no_points:
            return skip
        candidates = np.flatnonzero(heads.single & ~skip)
        if not candidates.size:
            return skip
        # one look-up per distinct (length, tag): rows of length + tag length + tag bytes
        lengths = block.lengths[records[candidates]]
        tag_pos, tag_len = heads.tag_pos[candidates], heads.tag_len[candidates]
        width = int(tag_len.max())
        if width > _MAX_LAYOUT_BYTES:
            return skip
        last = block.buf.shape[0] - 1
        spread = np.arange(width)
        tags = block.buf[np.minimum(tag_pos[:, None] + spread, last)]
        tags[spread >= tag_len[:, None]] = 0
        keys = np.concatenate(
            [lengths.astype("<u4").view(np.uint8).reshape(-1, 4),
             tag_len.astype("<u2").view(np.uint8).reshape(-1, 2), tags],
            axis=1,
        )
        _, first, inverse = np.unique(
            np.ascontiguousarray(keys).view(np.dtype((np.void, keys.shape[1]))).reshape(-1),
            return_index=True, return_inverse=True,
        )
        keys_seen = [(int(lengths[i]), tags[i, : int(tag_len[i])].tobytes()) for i in first.tolist()]
        known = np.array([key in self._no_points for key in keys_seen], dtype=bool)
        skip[candidates[known[inverse.reshape(-1)]]] = True
        return skip

    def _decode_slow(self, block, starts, slow_records: list[int], first_bad: int | None):
        """Protobuf decoding, in file order (a tensor without plugin metadata is a scalar only
        when an earlier value of its tag declared the scalars plugin)."""
        buf, offsets, lengths = block.buf, block.offsets, block.lengths
        slow: dict[int, list[es.SlowPoint]] = {}
        notes: list[tuple[int, str]] = []
        for record in sorted(slow_records):
            if first_bad is not None and record >= first_bad:
                break
            length = int(lengths[record])
            data = buf[starts[record] : starts[record] + length].tobytes()
            key = (length, es.summary_tag(data))
            if key in self._no_points:
                continue
            hints = len(self._hints)
            points = es.protobuf_points(data, self._scalar_since, (self._block_no, record), self._hints)
            no_point = points == [] and hints == len(self._hints)
            if no_point and key in self._unlearnable and es.single_value(data):
                # one histogram/image/text value: its kind of record never holds a point
                self._no_points.add(key)
            checked = self.verify_crc or points == []
            if not checked and not es.record_crc_ok(buf, int(offsets[record]), length):
                first_bad = record
                break
            if points is None:
                where = block.file_offset + int(offsets[record])
                notes.append((record, f"{self.path}: record at byte {where} is not an Event; skipped"))
                continue
            kept = [p for p in points if self._keep[self._code(p.tag, p.simple_value)]]
            if kept:
                slow[record] = kept
        return slow, notes, first_bad

    def _learn(
        self, data: bytes, buf: np.ndarray, offset: int, length: int, position: tuple[int, int]
    ) -> es.Layout | None:
        """Learn (and confirm with protobuf and the record's CRC) the layout of ``data``."""
        known = self._layouts.setdefault(length, [])
        if length > _MAX_LAYOUT_BYTES or len(known) >= _MAX_LAYOUTS_PER_LENGTH:
            return None
        key = (length, es.summary_tag(data))
        if key in self._unlearnable:
            return None
        layout = es.learn_layout(data)
        if layout is None:
            self._unlearnable.add(key)
            return None
        if not es.record_crc_ok(buf, offset, length):
            return None
        points = es.protobuf_points(data, {}, position, {})
        if not points:
            # a tensor without plugin metadata: a scalar once its tag declared the scalars plugin
            # earlier in the file (TF1's FileWriter writes the metadata with the first value only);
            # decoded as one, and dropped at the end of the block where it is not (yet) declared
            points = es.protobuf_points(data, {layout.tag: (-1, -1)}, position, {})
            layout.needs_declaration = True
        if not points or len(points) != 1:
            return None
        point = points[0]
        es.bind(layout, data)
        padded = np.zeros(layout.words * 8, dtype=np.uint8)
        padded[:length] = np.frombuffer(data, dtype=np.uint8)
        step, wall, value = es.decode(layout, padded.view("<u8").reshape(1, -1))
        decoded = float(value[0])
        same_value = decoded == point.value or (np.isnan(decoded) and np.isnan(point.value))
        if (
            point.tag != layout.tag
            or point.simple_value != (layout.kind == "sv")
            or int(step[0]) != point.step
            or (0.0 if wall is None else float(wall[0])) != point.wall_time
            or not same_value
        ):
            return None
        if not point.simple_value and not layout.needs_declaration:
            since = self._scalar_since.get(point.tag)
            self._scalar_since[point.tag] = position if since is None else min(since, position)
        layout.code = self._code(layout.tag, point.simple_value)
        layout.keep = self._keep[layout.code]
        known.insert(0, layout)
        return layout

    # --- output --------------------------------------------------------------------------

    def summarise_batch_metrics(self, codes, steps, walls, values, known) -> tuple[np.ndarray, ...]:
        """Drop the inner rows of per-batch metrics (``batch_loss``...; never an lr tag).

        An audit needs of them only how far each run of batch steps goes (steps per epoch),
        so per tag the first and last row of the chunk and the rows around each step reset are
        kept: a 1 M-step run then holds thousands of rows, not millions. ``lraudit parse``
        streams every row through :meth:`tables` instead.
        """
        summarised = np.asarray(
            [name.rsplit("/", 1)[-1].startswith("batch_") and not lr_tags(name) for name in self._names],
            dtype=bool,
        )
        if not summarised.any() or codes.shape[0] == 0:
            return codes, steps, walls, values, known
        keep = ~summarised[codes]
        for code in np.flatnonzero(summarised).tolist():
            rows = np.flatnonzero(codes == code)
            if rows.size <= 2:
                keep[rows] = True
                continue
            reset = np.flatnonzero(steps[rows[1:]] <= steps[rows[:-1]])
            keep[rows[[0, -1]]] = True
            keep[rows[reset]] = True  # the last row before a reset
            keep[rows[reset + 1]] = True  # and the first after it
        if keep.all():
            return codes, steps, walls, values, known
        return codes[keep], steps[keep], walls[keep], values[keep], known[keep]

    def _assemble(self, out: _RecordColumns, slow: dict[int, list[es.SlowPoint]], limit: int):
        """Per-record results -> point columns in file order (codes, steps, walls, values, epochs, known)."""
        codes, steps, walls, values = out.code[:limit], out.step[:limit], out.wall[:limit], out.value[:limit]
        fast = codes >= 0
        slow = {record: points for record, points in slow.items() if record < limit}
        if slow:
            counts = fast.astype(np.int64)
            for record, points in slow.items():
                counts[record] = len(points)
            row_start = np.cumsum(counts) - counts
            total = int(counts[-1] + row_start[-1])
            at = row_start[fast]
            columns = [np.empty(total, dtype=a.dtype) for a in (codes, steps, walls, values)]
            for column, source in zip(columns, (codes, steps, walls, values), strict=True):
                column[at] = source[fast]
            for record, points in slow.items():
                for j, point in enumerate(points):
                    row = int(row_start[record]) + j
                    columns[0][row] = self._name_index[point.tag]
                    columns[1][row] = point.step
                    columns[2][row] = point.wall_time
                    columns[3][row] = point.value
            codes, steps, walls, values = columns
        elif not fast.all():
            codes, steps, walls, values = codes[fast], steps[fast], walls[fast], values[fast]
        if codes.shape[0] == 0:
            return None
        known = self._epoch_known(codes, steps)
        return codes, steps, walls, values, known

    def _epoch_known(self, codes: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """Which points have epoch = step (``epoch_*`` tags; TF1 plain tags by the module rule)."""
        kinds = np.asarray(self._epoch_kind, dtype=np.int8)
        if not kinds.any():
            return np.zeros(codes.shape[0], dtype=bool)
        per_point = kinds[codes]
        known = per_point == 1
        for code in np.unique(codes[per_point == 2]).tolist():
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
        return known

    def _frame(self, codes, steps, walls, values, known) -> pd.DataFrame:
        n = codes.shape[0]
        if self._categories is None:
            self._categories = pd.Index(self._names, dtype="string")
            self._constant_categories = (
                pd.Index([KIND], dtype="string"),
                pd.Index([self._file_str], dtype="string"),
            )
        source_categories, file_categories = self._constant_categories
        zeros = np.zeros(n, dtype=np.int8)
        missing = np.ones(n, dtype=bool)
        columns = {
            "source": pd.Categorical.from_codes(zeros, dtype=pd.CategoricalDtype(source_categories)),
            "file": pd.Categorical.from_codes(zeros, dtype=pd.CategoricalDtype(file_categories)),
            "line": pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), missing),
            "name": pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(self._categories)),
            "epoch": pd.arrays.IntegerArray(np.where(known, steps, 0), ~known),
            "step": pd.arrays.IntegerArray(steps, np.zeros(n, dtype=bool)),
            "fit": pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), missing),
            "value": values,
            "text": pd.arrays.ArrowStringArray(pa.nulls(n, pa.large_string())),
            WALL_TIME_COLUMN: walls,
        }
        return pd.DataFrame(columns, copy=False)

    def _table(self, codes, steps, walls, values, known) -> pa.Table:
        n = codes.shape[0]
        zeros = pa.array(np.zeros(n, dtype=np.int8))
        columns = [
            pa.DictionaryArray.from_arrays(zeros, pa.array([KIND])),
            pa.DictionaryArray.from_arrays(zeros, pa.array([self._file_str])),
            pa.nulls(n, pa.int64()),
            pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(self._names)),
            pa.array(steps, mask=~known),
            pa.array(steps),
            pa.nulls(n, pa.int64()),
            pa.array(values),
            pa.nulls(n, pa.large_string()),
            pa.array(walls),
        ]
        return pa.Table.from_arrays(columns, names=[*SCALAR_COLUMNS, WALL_TIME_COLUMN])


@dataclass
class _RunPlan:
    """Column indices (bytes from the start of a period) and constants for a run's layouts."""

    columns: np.ndarray
    masks: np.ndarray
    expected: np.ndarray
    phase_starts: np.ndarray
    step_columns: np.ndarray
    step_masks: np.ndarray
    step_bytes: int
    wall_columns: np.ndarray
    wall_missing: np.ndarray
    codes: np.ndarray


def _run_plan(layouts: list[es.Layout], data_at: np.ndarray) -> _RunPlan:
    columns, masks, expected, phase_starts = [], [], [], []
    step_columns, step_masks, wall_columns, wall_missing = [], [], [], []
    for layout, at in zip(layouts, data_at.tolist(), strict=True):
        phase_starts.append(len(columns))
        for word, mask, value in layout.checks:
            columns.append(at + 8 * word)
            masks.append(mask)
            expected.append(value)
        step_columns.append(at + (layout.step_pos or 0))
        step_masks.append((1 << (8 * layout.step_len)) - 1 if layout.step_pos is not None else 0)
        wall_columns.append(at + (layout.wall_pos or 0))
        wall_missing.append(layout.wall_pos is None)
    return _RunPlan(
        np.asarray(columns, dtype=np.intp),
        np.asarray(masks, dtype=np.uint64),
        np.asarray(expected, dtype=np.uint64),
        np.asarray(phase_starts, dtype=np.intp),
        np.asarray(step_columns, dtype=np.intp),
        np.asarray(step_masks, dtype=np.uint64),
        max(layout.step_len for layout in layouts),
        np.asarray(wall_columns, dtype=np.intp),
        np.asarray(wall_missing, dtype=bool),
        np.asarray([layout.code if layout.keep else -1 for layout in layouts], dtype=np.int32),
    )


_KIND_DTYPE = {"f4": "<f4", "sv": "<f4", "f8": "<f8", "f2": "<f2", "bf16": "<u2"}


def _run_values(buf, base: int, stride: int, reps: int, layouts: list[es.Layout], data_at) -> np.ndarray:
    """The value of every record of a run as a (period count, phase) float64 matrix."""
    kinds = {layout.kind for layout in layouts}
    offsets = data_at.tolist()
    positions = np.asarray([at + layout.value_pos for layout, at in zip(layouts, offsets, strict=True)])
    if len(kinds) == 1:
        (kind,) = kinds
        matrix = tfr.period_matrix(buf, base, stride, reps, _KIND_DTYPE[kind])[:, positions]
        return _widen(matrix, kind)
    values = np.empty((reps, len(layouts)), dtype=np.float64)
    for kind in kinds:
        phases = np.asarray([i for i, layout in enumerate(layouts) if layout.kind == kind])
        matrix = tfr.period_matrix(buf, base, stride, reps, _KIND_DTYPE[kind])[:, positions[phases]]
        values[:, phases] = _widen(matrix, kind)
    return values


def _widen(matrix: np.ndarray, kind: str) -> np.ndarray:
    if kind == "bf16":  # bfloat16: the high half of a float32
        matrix = (matrix.astype(np.uint32) << np.uint32(16)).view(np.float32)
    return matrix.astype(np.float64)


class _RecordColumns:
    """One slot per record of a block: the name code (-1: no point), step, wall time and value."""

    def __init__(self, n: int) -> None:
        self.code = np.full(n, -1, dtype=np.int32)
        self.step = np.empty(n, dtype=np.int64)
        self.wall = np.empty(n, dtype=np.float64)
        self.value = np.empty(n, dtype=np.float64)
        #: name code -> tag of the points decoded by layouts that need a declaration
        self.undeclared: dict[int, str] = {}

    def put(self, where, layout: es.Layout, step, wall, value) -> None:
        """Store decoded points at ``where`` (a slice or record indices); widens on assignment."""
        if layout.needs_declaration:
            self.undeclared[layout.code] = layout.tag
        self.code[where] = layout.code
        self.step[where] = step
        self.wall[where] = 0.0 if wall is None else wall
        self.value[where] = value


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


def _decoded_strings(column: pd.Series) -> pd.Series:
    """A categorical column as the ``string`` dtype other sources use (via Arrow: 20x faster)."""
    categories = pa.array(column.cat.categories.to_numpy(dtype=object), pa.large_string())
    decoded = pa.DictionaryArray.from_arrays(pa.array(column.cat.codes.to_numpy()), categories)
    return pd.Series(pd.arrays.ArrowStringArray(decoded.dictionary_decode()), index=column.index)


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


def read(
    path: Path,
    tags: TagsArg = None,
    verify_crc: bool = False,
    block_bytes: int = tfr.DEFAULT_BLOCK_BYTES,
    batch_metrics: str = "all",
) -> SourceData:
    """Every scalar point of the event file (or those ``tags`` selects), with warnings and a Keras hint.

    ``batch_metrics="bounds"`` keeps of the per-batch metrics other than the lr (``batch_loss``...)
    only the rows that bound each run of steps (:meth:`EventScalarReader.summarise_batch_metrics`):
    all a run needs of them, in bounded memory (what the registered source reads).

    ``keras`` is set from the Keras model summary TensorBoard stores (``keras_version`` in Keras 2's
    model JSON, Keras 3's serialization format otherwise); None without one. The summary's
    compile settings fill ``compile_config`` and its optimizer (Keras 3) ``optimizer`` with
    ``optimizer_stage="initial"``: the callback writes it when ``fit()`` begins.
    """
    torch = event_file_torch_facts(Path(path))
    reader = EventScalarReader(
        path,
        tags=tags,
        verify_crc=verify_crc,
        block_bytes=block_bytes,
        plain_tag_epochs=plain_tag_epochs(torch),
    )
    if batch_metrics == "bounds":
        columns = [reader.summarise_batch_metrics(*chunk) for chunk in reader._columns()]
    else:
        columns = list(reader._columns())
    if columns:
        joined = [np.concatenate(parts) for parts in zip(*columns, strict=True)]
        reader._categories = None  # every name seen: one category list for the whole file
        scalars = reader._frame(*joined)
        for column in DICTIONARY_COLUMNS:
            scalars[column] = _decoded_strings(scalars[column])
    else:
        scalars = empty_scalars()
        scalars[WALL_TIME_COLUMN] = np.zeros(0, dtype=np.float64)
    data = SourceData(
        path=str(path), kind=KIND, scalars=scalars, keras=reader.keras, warnings=list(reader.warnings)
    )
    data.torch = torch
    summary = reader.model_json
    if summary is not None:
        data.backend = summary.backend
        data.compile_config = dict(summary.compile_config)
        if summary.optimizer is not None:
            data.optimizer = summary.optimizer
            data.optimizer_stage = "initial"  # written when fit() begins, before any update
    return data


class TfeventsSource(Source):
    """The registered face of this module (see :mod:`lraudit.sources.registry`)."""

    facts = SourceFacts(
        kind=KIND,
        label="TensorBoard event file",
        tells=frozenset({"lr", "metrics", "optimizer", "backend"}),
        epoch_values="exact",  # float32/float64 as written
        epoch_numbering="0-based",  # the step of epoch_* tags
        names="tags",
        located_by="tag",
        value_rank=2,
        fit_rank=2,
        hint_rank=3,
        in_mode_folders=True,
    )
    sniff = staticmethod(sniff)
    streams = True

    @staticmethod
    def read(path: Path) -> SourceData:
        """The file's points for a run: per-batch metrics other than the lr summarised to the
        rows that bound each run of steps (a 1 M-step run holds thousands of rows, not millions;
        ``lraudit parse`` streams every row through :meth:`iter_tables`)."""
        return read(path, batch_metrics="bounds")

    @staticmethod
    def iter_tables(
        path: Path, *, verify_crc: bool = False, warnings: list[str] | None = None
    ) -> Iterator[pa.Table]:
        """The file's scalars as Arrow tables, one per read block (never the whole file)."""
        torch = event_file_torch_facts(Path(path))
        reader = EventScalarReader(path, verify_crc=verify_crc, plain_tag_epochs=plain_tag_epochs(torch))
        yield from reader.tables()
        if warnings is not None:
            warnings.extend(reader.warnings)
