"""Scalar points of TensorBoard ``Event`` records: learnt byte layouts in bulk, protobuf otherwise.

Keras writes millions of records that differ only in wall time, step and value: one
``Summary.Value`` with a fixed tag and a float tensor (TF2) or ``simple_value`` (TF1). Such a
record's *layout* is learnt once from a record that protobuf also decodes: which bytes hold
the wall time (fixed64), the step (a varint of a given byte count), the value (4 or 8 bytes),
and which bytes are constant (tag, dtype, shape, plugin metadata...). Every other record of the
same length whose constant bytes are equal (compared as masked 64-bit words, all records at
once: a phase of a periodic run through strided views, other records grouped by length) then
decodes to the same structure with those variable bytes, so its point is gathered with NumPy
from fixed offsets. Varint continuation bits are part of the compared constant bits,
so a step of another byte count never matches.

Anything else (several values per record, histograms, images, graphs, half_val tensors,
non-canonical encodings, records whose layout does not match) goes through protobuf, one record
at a time, and gives exactly the same points.
"""
from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lraudit.sources._tfrecord import HEADER_BYTES, masked_crc32c

# TensorFlow DataType enum values of float scalars the fast path decodes
_DT_FLOAT, _DT_DOUBLE, _DT_BFLOAT16, _DT_HALF = 1, 2, 14, 19
_FAST_DTYPES = {_DT_FLOAT: "f4", _DT_DOUBLE: "f8", _DT_HALF: "f2", _DT_BFLOAT16: "bf16"}
_WIDTH = {"f4": 4, "f8": 8, "f2": 2, "bf16": 2, "sv": 4}

#: ``hints`` keys of :func:`protobuf_points`: the first Keras model JSON met and its tag
MODEL_JSON_HINT = "keras_model_json"
MODEL_JSON_TAG_HINT = "keras_model_tag"

#: the name prefixes under which Keras writes epoch-level scalars
EPOCH_PREFIX = "epoch_"
_PREFIXED = ("epoch_", "batch_", "evaluation_")


class _Malformed(ValueError):
    """The bytes are not the simple protobuf shape a layout needs."""


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Malformed("varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes, start: int, end: int) -> dict[int, tuple[int, int, int]]:
    """Fields of one message: number -> (wire type, value start, value end); duplicates rejected."""
    found: dict[int, tuple[int, int, int]] = {}
    pos = start
    while pos < end:
        key, pos = _varint(data, pos, end)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, after = _varint(data, pos, end)
        elif wire == 1:
            after = pos + 8
        elif wire == 5:
            after = pos + 4
        elif wire == 2:
            size, pos = _varint(data, pos, end)
            after = pos + size
        else:
            raise _Malformed("wire type")
        if after > end or number in found:
            raise _Malformed("field")
        found[number] = (wire, pos, after)
        pos = after
    return found


@dataclass
class Layout:
    """Where the variable parts of one kind of single-scalar record sit (offsets into the data).

    ``mask``/``expected`` cover the record as ``words`` little-endian uint64 words (the last
    one padded with don't-care bytes): a record has this layout when ``word & mask == expected``
    for every word.
    """

    length: int
    tag: str
    kind: str  # f4 | f8 | f2 | bf16 (tensor) | sv (simple_value, float32)
    value_pos: int
    wall_pos: int | None
    step_pos: int | None
    step_len: int
    mask: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    expected: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    code: int = -1  # index of the name in the file's name list
    keep: bool = True  # passes the tag filter
    #: (word index, mask, expected) as Python ints, words whose mask is not zero
    checks: list[tuple[int, int, int]] = field(default_factory=list)
    #: a tensor without plugin metadata: a point only at or after the record where its tag
    #: declared the scalars plugin (checked once the block is decoded)
    needs_declaration: bool = False

    @property
    def words(self) -> int:
        return -(-self.length // 8)


def _first_value(data: bytes) -> tuple[bytes, bool] | None:
    """The tag of the first summary value of an Event record and whether it is the record's only
    value (a few byte reads, no full parse); None when the record does not start the usual way
    (wall time, step, summary, value, tag)."""
    try:
        pos = 9 if data[0] == 0x09 else 0
        if data[pos] == 0x10:
            _, pos = _varint(data, pos + 1, len(data))
        if data[pos] != 0x2A:
            return None
        summary_size, pos = _varint(data, pos + 1, len(data))
        summary_end = pos + summary_size
        if data[pos] != 0x0A:
            return None
        value_size, pos = _varint(data, pos + 1, len(data))
        only = pos + value_size == summary_end == len(data)
        if data[pos] != 0x0A:
            return None
        size, pos = _varint(data, pos + 1, len(data))
        return data[pos : pos + size], only
    except (IndexError, _Malformed):
        return None


#: keys of the ``Summary.Value`` fields that never hold a scalar point (length-delimited):
#: obsolete_old_style_histogram (3), image (4), histo (5), audio (6)
NEVER_POINT_KEYS = np.array([0x1A, 0x22, 0x2A, 0x32], dtype=np.uint8)
_METADATA_KEY = 0x4A  # Summary.Value.metadata (9), length-delimited


def _varints(
    buf: np.ndarray, at: np.ndarray, width: int, values: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """(value or None, byte count, complete) of the varints at ``at`` (at most ``width`` bytes each)."""
    last = buf.shape[0] - 1
    size = np.zeros(at.shape[0], dtype=np.int64)
    going = np.ones(at.shape[0], dtype=bool)  # no byte below 0x80 met yet
    value = np.zeros(at.shape[0], dtype=np.int64) if values else None
    for k in range(width):
        byte = buf[np.minimum(at + k, last)]
        if value is not None:
            value |= np.where(going, (byte & 0x7F).astype(np.int64) << (7 * k), 0)
        size += going
        going &= byte >= 0x80
    return value, size, ~going


@dataclass
class ValueHeads:
    """Where the first summary value of each record sits, read from its header bytes only.

    ``single``: the record is ``wall_time, step, summary`` with exactly one value and nothing
    after it (and every length inside is consistent with the record's); ``tag_pos``/``tag_len``
    locate its tag (in the buffer); ``never_point``: that value is an image, histogram or audio
    (the only field after the tag, optionally followed by plugin metadata), which is never a
    scalar point and touches no reader state, so the record can be skipped undecoded.
    """

    single: np.ndarray
    tag_pos: np.ndarray
    tag_len: np.ndarray
    never_point: np.ndarray


def value_heads(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> ValueHeads:
    """:class:`ValueHeads` of the records whose data is ``buf[starts : starts + lengths]``, vectorised.

    Reads a few header bytes per record (gathers; never the payload): wall time key, step varint,
    summary/value/tag sizes and the key of the field after the tag. ``buf`` must extend a few
    bytes past the last record (reads are clipped to it; every position is checked against the
    record's end, so bytes of the next record never decide anything).
    """
    last = buf.shape[0] - 1
    ends = starts + lengths
    # wall time (fixed64) and step (varint) are absent when zero (proto3)
    step_key = starts + np.where(buf[np.minimum(starts, last)] == 0x09, 9, 0)
    has_step = buf[np.minimum(step_key, last)] == 0x10
    _, step_size, step_ok = _varints(buf, step_key + 1, 10, values=False)
    ok = step_ok | ~has_step
    summary_at = step_key + np.where(has_step, 1 + step_size, 0)
    ok &= buf[np.minimum(summary_at, last)] == 0x2A
    summary_size, size_bytes, complete = _varints(buf, summary_at + 1, 3)
    value_at = summary_at + 1 + size_bytes
    ok &= complete & (value_at + summary_size == ends) & (buf[np.minimum(value_at, last)] == 0x0A)
    value_size, size_bytes, complete = _varints(buf, value_at + 1, 3)
    tag_key = value_at + 1 + size_bytes
    ok &= complete & (tag_key + value_size == ends) & (buf[np.minimum(tag_key, last)] == 0x0A)
    tag_len, size_bytes, complete = _varints(buf, tag_key + 1, 2)
    tag_pos = tag_key + 1 + size_bytes
    kind_at = tag_pos + tag_len
    single = ok & complete & (kind_at < ends)
    kind = buf[np.minimum(kind_at, last)]
    field_size, size_bytes, complete = _varints(buf, kind_at + 1, 3)
    field_end = kind_at + 1 + size_bytes + field_size
    metadata_size, metadata_bytes, metadata_ok = _varints(buf, field_end + 1, 3)
    with_metadata = (
        (buf[np.minimum(field_end, last)] == _METADATA_KEY)
        & metadata_ok
        & (field_end + 1 + metadata_bytes + metadata_size == ends)
    )
    whole = complete & ((field_end == ends) | with_metadata)
    never_point = single & whole & np.isin(kind, NEVER_POINT_KEYS)
    return ValueHeads(single, tag_pos, tag_len, never_point)


def summary_tag(data: bytes) -> bytes | None:
    """The tag of the first summary value of an Event record (see :func:`_first_value`)."""
    first = _first_value(data)
    return None if first is None else first[0]


def single_value(data: bytes) -> bool:
    """True when the Event record holds exactly one summary value (and nothing after it)."""
    first = _first_value(data)
    return first is not None and first[1]


def learn_layout(data: bytes) -> Layout | None:
    """The layout of ``data`` when it is one float scalar summary value in a simple encoding."""
    try:
        return _learn(data)
    except (_Malformed, UnicodeDecodeError, IndexError):
        return None


#: protobuf fields by number: (wire type, start, end)
_Fields = dict[int, tuple[int, int, int]]


def _event_positions(event: _Fields) -> tuple[int | None, int | None, int] | None:
    """Where an Event's wall time (double) and step (varint) sit, and the step's length; None
    when the event is not a bare ``wall_time, step, summary``."""
    if set(event) - {1, 2, 5} or 5 not in event or event[5][0] != 2:
        return None
    wall_pos = step_pos = None
    step_len = 0
    if 1 in event:
        if event[1][0] != 1:
            return None
        wall_pos = event[1][1]
    if 2 in event:
        if event[2][0] != 0:
            return None
        step_pos, step_len = event[2][1], event[2][2] - event[2][1]
    return wall_pos, step_pos, step_len


def _summary_value(data: bytes, event: _Fields) -> _Fields | None:
    """The fields of the Summary's one Value (tag + simple_value or tensor), None otherwise."""
    summary = _fields(data, event[5][1], event[5][2])
    if set(summary) != {1} or summary[1][0] != 2:
        return None
    value = _fields(data, summary[1][1], summary[1][2])
    if set(value) - {1, 2, 7, 8, 9} or 1 not in value or (2 in value) == (8 in value):
        return None
    if any(value[k][0] != 2 for k in (1, 7, 8, 9) if k in value):
        return None
    return value


def _tensor_scalar_position(data: bytes, tensor_field: tuple[int, int, int]) -> tuple[str, int] | None:
    """(dtype kind, offset) of a rank-0 float tensor's single value in a fixed-width payload."""
    tensor = _fields(data, tensor_field[1], tensor_field[2])
    if set(tensor) - {1, 2, 3, 4, 5, 6} or 1 not in tensor or tensor[1][0] != 0:
        return None
    dtype, _ = _varint(data, tensor[1][1], tensor[1][2])
    kind = _FAST_DTYPES.get(dtype)
    payloads = [k for k in (4, 5, 6) if k in tensor]
    if kind is None or len(payloads) != 1 or tensor[payloads[0]][0] != 2:
        return None
    if 2 in tensor and (tensor[2][0] != 2 or tensor[2][2] != tensor[2][1]):
        return None  # shape must be rank 0 (empty TensorShapeProto)
    payload = payloads[0]
    _, value_pos, value_end = tensor[payload]
    if (payload == 5 and kind != "f4") or (payload == 6 and kind != "f8"):
        return None
    if value_end - value_pos != _WIDTH[kind]:
        return None
    return kind, value_pos


def _learn(data: bytes) -> Layout | None:
    end = len(data)
    if end < 8:
        return None
    event = _fields(data, 0, end)
    positions = _event_positions(event)
    if positions is None:
        return None
    value = _summary_value(data, event)
    if value is None:
        return None
    tag = data[value[1][1] : value[1][2]].decode("utf-8")
    if 2 in value:
        if value[2][0] != 5:
            return None
        found: tuple[str, int] | None = ("sv", value[2][1])
    else:
        found = _tensor_scalar_position(data, value[8])
    if found is None:
        return None
    wall_pos, step_pos, step_len = positions
    return Layout(end, tag, found[0], found[1], wall_pos, step_pos, step_len)


def _constant_mask(layout: Layout) -> np.ndarray:
    """Per-word masks of the constant bits of the layout (wall time, step value bits, value: 0)."""
    mask = np.zeros(layout.words * 8, dtype=np.uint8)
    mask[: layout.length] = 0xFF
    if layout.wall_pos is not None:
        mask[layout.wall_pos : layout.wall_pos + 8] = 0
    if layout.step_pos is not None:
        # the continuation bits stay constant: a step of another byte count never matches
        mask[layout.step_pos : layout.step_pos + layout.step_len] = 0x80
    mask[layout.value_pos : layout.value_pos + _WIDTH[layout.kind]] = 0
    return mask.view("<u8").astype(np.uint64)


def bind(layout: Layout, data: bytes) -> None:
    """Take the expected constant bits from ``data`` (a record of this layout)."""
    layout.mask = _constant_mask(layout)
    padded = np.zeros(layout.words * 8, dtype=np.uint8)
    padded[: layout.length] = np.frombuffer(data, dtype=np.uint8)
    layout.expected = padded.view("<u8").astype(np.uint64) & layout.mask
    layout.checks = [
        (w, int(m), int(e)) for w, (m, e) in enumerate(zip(layout.mask, layout.expected, strict=True)) if m
    ]


def matches_one(layout: Layout, words: list[int]) -> bool:
    """Whether one record, given as its first uint64 words (Python ints), has the layout."""
    return all(words[w] & m == e for w, m, e in layout.checks)


def gather_rows(u64: np.ndarray, starts: np.ndarray, words: int) -> np.ndarray:
    """The first ``words`` uint64 words of every record at data offsets ``starts``: shape (n, words).

    One row copy per record (the rows of a sorted group are read in address order), after which
    matching and decoding work on contiguous memory.
    """
    table = np.lib.stride_tricks.as_strided(
        u64, shape=(max(u64.shape[0] - 8 * words, 0), words), strides=(1, 8), writeable=False
    )
    return table[starts]


def match(layout: Layout, rows: np.ndarray) -> np.ndarray:
    """Which of ``rows`` (from :func:`gather_rows`, records of ``layout.length``) have the layout."""
    rows = np.ascontiguousarray(rows)
    return match_strided(layout, rows.view(np.uint8).reshape(-1), 0, rows.shape[1] * 8, rows.shape[0])


def decode(layout: Layout, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(step, wall_time or None, value) of ``rows`` (from :func:`gather_rows`) of ``layout``."""
    rows = np.ascontiguousarray(rows)
    flat = rows.view(np.uint8).reshape(-1)
    return decode_strided(layout, flat, 0, rows.shape[1] * 8, rows.shape[0])


def _all_zero(layout: Layout, column, n: int) -> np.ndarray:
    # word by word (an OR of masked differences): much faster than .all(axis=1) on short rows
    diff = np.zeros(n, dtype=np.uint64)
    for w, mask, expected in layout.checks:
        word = column(w) ^ np.uint64(expected)
        if mask != 0xFFFFFFFFFFFFFFFF:
            word &= np.uint64(mask)
        diff |= word
    return diff == 0


def _strided(buf: np.ndarray, dtype: str, offset: int, stride: int, count: int) -> np.ndarray:
    """A zero-copy view of ``count`` values of ``dtype`` at ``offset``, ``offset + stride``, ..."""
    return np.ndarray((count,), dtype=dtype, buffer=buf, offset=offset, strides=(stride,))


def match_strided(layout: Layout, buf: np.ndarray, start: int, stride: int, count: int) -> np.ndarray:
    """Which of ``count`` records at data offsets ``start + k * stride`` have the layout (no copies)."""
    return _all_zero(layout, lambda w: _strided(buf, "<u8", start + 8 * w, stride, count), count)


def decode_strided(
    layout: Layout, buf: np.ndarray, start: int, stride: int, count: int
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(step, wall_time or None when absent, value) of records at ``start + k * stride``.

    Wall time and value are zero-copy views (float64 / the stored float type); the caller's
    assignment into float64 columns widens them.
    """
    if layout.step_pos is None:
        step = np.zeros(count, dtype=np.int64)
    elif layout.step_len == 1:
        step = _strided(buf, "u1", start + layout.step_pos, stride, count)
    else:
        acc = np.zeros(count, dtype=np.uint64)
        for k in range(layout.step_len):
            byte = _strided(buf, "u1", start + layout.step_pos + k, stride, count).astype(np.uint64)
            acc |= (byte & np.uint64(0x7F)) << np.uint64(7 * k)
        step = acc.view(np.int64)
    wall = None if layout.wall_pos is None else _strided(buf, "<f8", start + layout.wall_pos, stride, count)
    at = start + layout.value_pos
    if layout.kind in ("f4", "sv"):
        value = _strided(buf, "<f4", at, stride, count)
    elif layout.kind == "f8":
        value = _strided(buf, "<f8", at, stride, count)
    elif layout.kind == "f2":
        value = _strided(buf, "<f2", at, stride, count)
    else:  # bfloat16: the high half of a float32
        value = (_strided(buf, "<u2", at, stride, count).astype(np.uint32) << np.uint32(16)).view(np.float32)
    return step, wall, value


# --- protobuf path ---------------------------------------------------------------------------


@dataclass
class SlowPoint:
    """One scalar point decoded by protobuf."""

    tag: str
    step: int
    wall_time: float
    value: float
    simple_value: bool


def protobuf_points(
    data: bytes,
    scalar_since: dict[str, tuple[int, int]],
    position: tuple[int, int],
    hints: dict[str, str],
) -> list[SlowPoint] | None:
    """Scalar points of one Event record via protobuf; ``None`` when it does not parse.

    A value is a scalar point when it has ``simple_value``, or a one-element numeric tensor whose
    plugin is ``scalars`` (or that has no plugin metadata and a tag declared scalars at an earlier
    ``position`` of this file, as recorded in ``scalar_since``: TF1-style tensor summaries carry
    the metadata only on their first value).
    A Keras model summary sets ``hints["keras"]`` (see :func:`keras_generation`) and, for the
    first one met, ``hints[MODEL_JSON_HINT]`` (its JSON text) and ``hints[MODEL_JSON_TAG_HINT]``.
    """
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto import event_pb2

    try:
        event = event_pb2.Event.FromString(data)
    except (DecodeError, RuntimeError, ValueError):
        return None
    if event.WhichOneof("what") != "summary":
        return []
    points = []
    for value in event.summary.value:
        kind = value.WhichOneof("value")
        if kind == "simple_value":
            scalar = float(np.float32(value.simple_value))
            points.append(SlowPoint(value.tag, event.step, event.wall_time, scalar, True))
            continue
        if kind != "tensor":
            continue
        plugin = value.metadata.plugin_data.plugin_name if value.HasField("metadata") else ""
        if plugin == "graph_keras_model":
            generation = keras_generation(value.tensor.string_val)
            if generation:
                hints["keras"] = generation
            if value.tensor.string_val and MODEL_JSON_HINT not in hints:
                # the callback writes it when fit() begins: the first one is the earliest
                hints[MODEL_JSON_HINT] = value.tensor.string_val[0].decode("utf-8", errors="replace")
                hints[MODEL_JSON_TAG_HINT] = value.tag
            continue
        if plugin == "scalars":
            since = scalar_since.get(value.tag)
            if since is None or position < since:
                scalar_since[value.tag] = position
        elif plugin or scalar_since.get(value.tag, position) >= position:
            continue
        scalar = _tensor_scalar(value.tensor)
        if scalar is not None:
            points.append(SlowPoint(value.tag, event.step, event.wall_time, scalar, False))
    return points


def _tensor_scalar(tensor) -> float | None:
    """The float value of a one-element numeric tensor proto, else None."""
    from tensorboard.util import tensor_util

    if tensor.dtype == _DT_BFLOAT16:  # tensorboard's tensor_util has no bfloat16 type
        return _bfloat16_scalar(tensor)
    try:
        array = tensor_util.make_ndarray(tensor)
    except (TypeError, ValueError, KeyError):
        return None
    if array.size != 1 or array.dtype.kind not in "fiub":
        return None
    return float(array.reshape(-1)[0])


def _bfloat16_scalar(tensor) -> float | None:
    """bfloat16 is the high half of a float32: from 2 bytes of tensor_content or one half_val."""
    if any(dim.size != 1 for dim in tensor.tensor_shape.dim):
        return None
    if len(tensor.tensor_content) == 2:
        (bits,) = struct.unpack("<H", tensor.tensor_content)
    elif not tensor.tensor_content and len(tensor.half_val) == 1:
        bits = tensor.half_val[0] & 0xFFFF
    else:
        return None
    return float(np.array([bits << 16], dtype=np.uint32).view(np.float32)[0])


def keras_generation(texts) -> str | None:
    """"2" or "3" from the Keras model JSON TensorBoard stores under the ``graph_keras_model`` plugin.

    Keras 2's ``model.to_json()`` carries ``keras_version``; Keras 3's has no such key but the
    Keras 3 serialization (top-level ``module`` and ``registered_name`` keys).
    """
    import json

    from lraudit.sources.keras_model_json import generation

    for text in texts:
        try:
            config = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(config, dict) and generation(config):
            return generation(config)
    return None


def record_crc_ok(buf: np.ndarray, offset: int, length: int) -> bool:
    """Whether the data CRC of the record at ``offset`` (its length field) matches its data."""
    start = offset + HEADER_BYTES
    stored = struct.unpack_from("<I", memoryview(buf), start + length)[0]
    return masked_crc32c(memoryview(buf)[start : start + length]) == stored


TagFilter = Callable[[str], bool]
