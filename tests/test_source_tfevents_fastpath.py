"""The bulk paths (framing prediction, periodic runs, learnt layouts) equal protobuf, point for point."""
from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorboard.backend.event_processing import event_file_loader
from tfevents_helpers import (
    event,
    frame_points,
    histogram_value,
    image_value,
    reference_points,
    simple_value,
    tensor_value,
    text_value,
    write_events,
)

from lraudit.progress import ByteProgress
from lraudit.sources import _event_scalars as es
from lraudit.sources import _tfrecord as tfr
from lraudit.sources import tfevents

BLOCKS = [tfr.DEFAULT_BLOCK_BYTES, 4096, 700]


def _points(path: Path, **kwargs) -> tuple[list, list[str]]:
    reader = tfevents.EventScalarReader(path, **kwargs)
    frames = list(reader.chunks())
    frame = pd.concat(frames, ignore_index=True) if frames else None
    return ([] if frame is None else frame_points(frame)), reader.warnings


def _assert_same_as_protobuf_and_reference(path: Path) -> list:
    expected = reference_points(path)
    slow, slow_warnings = _points(path, fast=False)
    assert slow == expected
    for block in BLOCKS:
        fast, warnings = _points(path, block_bytes=block)
        assert fast == expected, block
        assert warnings == slow_warnings
    return expected


def _keras_like(steps: int, epoch_every: int, extra=None):
    """Batch scalars every step, epoch scalars every ``epoch_every`` steps, like tf.keras writes."""
    events = []
    for step in range(1, steps + 1):
        events.append(event(step, 1e9 + step, tensor_value("batch_loss", 1.0 / step)))
        events.append(event(step, 1e9 + step + 0.1, tensor_value("batch_mae", step / 3.0)))
        if step % epoch_every == 0:
            epoch = step // epoch_every - 1
            events.append(event(epoch, 1e9 + step + 0.2, tensor_value("epoch_loss", 0.25)))
            lr = tensor_value("epoch_learning_rate", 0.01 / (epoch + 1))
            events.append(event(epoch, 1e9 + step + 0.3, lr))
        if extra:
            events.extend(extra(step))
    return events


@pytest.mark.parametrize("framer", ["scan", "walk"])
def test_keras_like_file_framed_in_bulk_and_equals_protobuf(tmp_path, monkeypatch, framer):
    """The header scan frames every record; the walking framer (what the scan leaves: records of
    64 KiB or more, damage) verifies most of them in periodic runs."""
    if framer == "walk":
        nothing = np.zeros(0, np.int64)
        monkeypatch.setattr(tfr, "_scan_chain", lambda buf, end: (nothing, nothing, 0))
    path = write_events(tmp_path / "train", _keras_like(400, 50))
    raw = list(event_file_loader.RawEventFileLoader(str(path)).Load())
    for block_bytes in (tfr.DEFAULT_BLOCK_BYTES, 2048):
        framed, in_runs = [], 0
        for block in tfr.iter_blocks(path, tfr.FramingState(), block_bytes):
            in_runs += sum(count for _, count, _ in block.runs)
            framed += [
                block.buf[o + 12 : o + 12 + n].tobytes()
                for o, n in zip(block.offsets.tolist(), block.lengths.tolist(), strict=True)
            ]
        assert framed == raw
        if block_bytes == tfr.DEFAULT_BLOCK_BYTES and framer == "walk":
            assert in_runs > 0.8 * len(raw)  # most records were framed and verified in bulk
    points = _assert_same_as_protobuf_and_reference(path)
    assert len(points) == 400 * 2 + 8 * 2


def test_awkward_file_equals_protobuf(tmp_path):
    """Multi-value records, histograms, a >64 KiB record, look-alike tags, float64 and float16
    tensors, float_val, steps 0 / 127 / 128 / 2**40 / negative, no wall time, NaN and inf."""

    def extra(step):
        found = []
        if step % 7 == 0:  # tensorboardX style: several values in one record
            found.append(event(step, 5.0, simple_value("loss/train", 0.5), simple_value("loss/val", 0.25)))
        if step % 11 == 0:
            found.append(event(step, 6.0, histogram_value("weights")))
        if step == 150:
            found.append(event(step, 7.0, text_value("notes", 70_000)))
        if step % 13 == 0:  # same length as batch_loss, other bytes
            found.append(event(step, 8.0, tensor_value("batch_lxss", 2.0)))
            found.append(event(step, 8.5, tensor_value("epoch_lr", 0.1, "f64")))
            found.append(event(step, 8.6, tensor_value("epoch_lr16", 0.1, "f16")))
            found.append(event(step, 8.7, tensor_value("lr_val", 0.3, "f32val")))
        return found

    events = _keras_like(300, 40, extra)
    events += [
        event(0, 0.0, tensor_value("batch_loss", float("nan"))),
        event(127, 1.0, tensor_value("batch_loss", float("inf"))),
        event(128, 1.0, tensor_value("batch_loss", -0.0)),
        event(2**40, 1.0, tensor_value("batch_loss", 1.5)),
        event(-1, 1.0, tensor_value("batch_loss", 2.5)),
        event(-1, 1.0, simple_value("lr", 2.5)),
        event(5, 2.0, tensor_value("epoch_lr", 0.5, "f64val")),
    ]
    path = write_events(tmp_path / "validation", events)
    points = _assert_same_as_protobuf_and_reference(path)
    tags = {tag for tag, *_ in points}
    assert {"loss/train", "loss/val", "batch_lxss", "epoch_lr", "epoch_lr16", "lr_val", "lr"} <= tags
    assert "weights" not in tags and "notes" not in tags


def test_tensor_without_metadata_counts_after_its_tag_was_declared(tmp_path):
    events = [
        event(1, 1.0, tensor_value("tf1_tensor", 1.0, metadata=False)),  # not declared yet: no point
        event(2, 2.0, tensor_value("tf1_tensor", 2.0)),
        event(3, 3.0, tensor_value("tf1_tensor", 3.0, metadata=False)),
        event(4, 4.0, tensor_value("tf1_tensor", 4.0, metadata=False)),
    ]
    path = write_events(tmp_path / "t", events)
    points = _assert_same_as_protobuf_and_reference(path)
    assert [step for _, step, *_ in points] == [2, 3, 4]


def test_records_without_points_are_skipped_by_their_header(tmp_path, monkeypatch):
    """Histograms, images (with or without plugin metadata after them), text tensors between the
    scalars: the same points as protobuf, in every block size, and protobuf decodes only a few
    of them (the first of each length and tag); a histogram sharing a record with a scalar, or
    tagged like one, is still decoded."""

    def extra(step):
        found = [event(step, 3.0, histogram_value("dense/kernel", buckets=10 + step % 3))]
        if step % 2:
            found.append(event(step, 3.5, image_value("dense/kernel/image")))
            found.append(event(step, 3.6, image_value("epoch_loss", 90, plugin="images")))
            found.append(event(step, 3.7, text_value("notes", 40)))
        if step % 9 == 0:
            found.append(event(step, 4.0, histogram_value("h"), simple_value("lr", 0.5)))
        return found

    path = write_events(tmp_path / "train", _keras_like(600, 50, extra))
    points = _assert_same_as_protobuf_and_reference(path)
    assert len(points) == 600 * 2 + 12 * 2 + 600 // 9
    calls = []
    real = es.protobuf_points
    monkeypatch.setattr(es, "protobuf_points", lambda *args: calls.append(1) or real(*args))
    reader = tfevents.EventScalarReader(path, progress=False)
    assert sum(table.num_rows for table in reader.tables()) == len(points)
    assert len(calls) < 150  # not one decode per histogram/image/text record (~2,400 of them)


def test_value_heads_read_only_well_formed_single_values():
    records = [
        event(5, 1.0, histogram_value("h")),
        event(300, 1.0, image_value("i", plugin="images")),
        event(0, 0.0, image_value("i")),
        event(5, 1.0, histogram_value("h"), simple_value("lr", 0.5)),  # two values
        event(5, 1.0, simple_value("lr", 0.5)),
        event(5, 1.0, tensor_value("t", 0.5)),
    ]
    data = [record.SerializeToString() for record in records]
    buf = np.frombuffer(b"".join(data) + bytes(64), np.uint8)
    lengths = np.array([len(d) for d in data], np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    heads = es.value_heads(buf, starts, lengths)
    assert heads.never_point.tolist() == [True, True, True, False, False, False]
    assert heads.single.tolist() == [True, True, True, False, True, True]
    where = zip(heads.tag_pos.tolist(), heads.tag_len.tolist(), strict=True)
    tags = [buf[p : p + n].tobytes() for p, n in where]
    assert [tag for tag, single in zip(tags, heads.single.tolist(), strict=True) if single] == [
        b"h", b"i", b"i", b"lr", b"t"]


def test_verify_crc_on_clean_file_changes_nothing(tmp_path):
    path = write_events(tmp_path / "train", _keras_like(200, 20))
    checked, warnings = _points(path, verify_crc=True)
    assert checked == reference_points(path) and warnings == []


def test_bulk_crc_matches_the_scalar_crc():
    rng = np.random.default_rng(0)
    buf = rng.integers(0, 256, 4096, dtype=np.uint8)
    starts = np.array([0, 17, 1000, 2047], dtype=np.int64)
    for length in (1, 4, 7, 52, 301):
        bulk = tfr.masked_crc32c_equal_length(buf, starts, length)
        single = [tfr.masked_crc32c(buf[s : s + length].tobytes()) for s in starts.tolist()]
        assert bulk.tolist() == single
    # the reference value TFRecord readers check: masked crc of an 8-byte length
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    assert tfr.length_crc(52) == masked_crc32c(np.array([52], "<u8").tobytes())


VALUE_MAKERS = {
    "sv": simple_value,
    "f32": lambda tag, v: tensor_value(tag, v, "f32"),
    "f64": lambda tag, v: tensor_value(tag, v, "f64"),
    "f32val": lambda tag, v: tensor_value(tag, v, "f32val"),
    "f16": lambda tag, v: tensor_value(tag, v, "f16"),
    "histo": lambda tag, v: histogram_value(tag, buckets=3),  # never a point: skipped by its header
    "image": lambda tag, v: image_value(tag, 40),
}
TAGS = ["lr", "loss", "epoch_lr", "batch_loss", "epoch_loss", "batch_lxss", "a/b"]


@st.composite
def event_lists(draw):
    base = draw(st.lists(
        st.tuples(
            st.sampled_from(sorted(VALUE_MAKERS)),
            st.sampled_from(TAGS),
            st.one_of(st.integers(0, 300), st.sampled_from([127, 128, 16383, 16384, 2**35, -5])),
            st.sampled_from([0.0, 1.5, 1.7e9]),
            st.floats(width=32, allow_nan=True, allow_infinity=True),
        ),
        min_size=1, max_size=12,
    ))
    repeats = draw(st.integers(1, 30))  # repeated patterns exercise the periodic-run path
    tail = draw(st.lists(st.sampled_from(range(len(base))), max_size=10))
    chosen = [base[i % len(base)] for i in range(len(base) * repeats)] + [base[i] for i in tail]
    return [event(step, wall, VALUE_MAKERS[maker](tag, value)) for maker, tag, step, wall, value in chosen]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=event_lists(), block=st.sampled_from([600, 4096, tfr.DEFAULT_BLOCK_BYTES]))
def test_random_files_equal_reference(tmp_path_factory, events, block):
    path = write_events(tmp_path_factory.mktemp("h"), events)
    points, warnings = _points(path, block_bytes=block)
    assert points == reference_points(path)
    assert warnings == []


# --- progress bar ------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_stays_silent_off_a_terminal_and_for_short_reads():
    piped = io.StringIO()
    with ByteProgress(100, "reading", stream=piped, show_after=0.0) as bar:
        bar.update(50)
    assert piped.getvalue() == "" and not bar.shown
    terminal = _Terminal()
    with ByteProgress(100, "reading", stream=terminal, show_after=3600.0) as bar:
        bar.update(50)
    assert not bar.shown and terminal.getvalue() == ""


def test_progress_bar_appears_on_a_terminal_after_the_delay():
    terminal = _Terminal()
    with ByteProgress(1000, "reading big.tfevents", stream=terminal, show_after=0.0) as bar:
        bar.update(400)
        assert bar.shown
        bar.update(1000)
    assert not bar.shown  # stopped on exit
    assert bar.done == 1000


@pytest.mark.parametrize("enabled", [True, False])
def test_reader_reports_progress_only_when_enabled(tmp_path, monkeypatch, enabled):
    seen = []
    monkeypatch.setattr(ByteProgress, "update", lambda self, done: seen.append(done))
    path = write_events(tmp_path / "t", [event(s, 1.0, simple_value("lr", 0.1)) for s in range(100)])
    list(tfevents.EventScalarReader(path, block_bytes=1024, progress=enabled).chunks())
    assert seen and seen[-1] == path.stat().st_size and seen == sorted(seen)


def test_bfloat16_scalars_fast_and_protobuf_agree(tmp_path):
    """tensorboard's tensor_util cannot decode bfloat16; both our paths do (high half of a float32)."""
    from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2
    from tfevents_helpers import scalars_metadata

    def bf16(value: float):
        bits = int(np.array([value], dtype=np.float32).view(np.uint32)[0]) >> 16
        tensor = tensor_pb2.TensorProto(
            dtype=14, tensor_shape=tensor_shape_pb2.TensorShapeProto(), tensor_content=struct.pack("<H", bits)
        )
        return summary_pb2.Summary.Value(tag="epoch_lr", tensor=tensor, metadata=scalars_metadata())

    values = [0.5, 1.0, 0.25, 3.0, -2.0] * 10
    path = write_events(tmp_path / "t", [event(i, 1.0 + i, bf16(v)) for i, v in enumerate(values)])
    fast = tfevents.read(path).scalars
    slow, _ = _points(path, fast=False)
    assert fast["value"].tolist() == values
    assert frame_points(fast) == slow


@pytest.mark.slow  # 30 damaged files, each read twice (~8 s)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.floats(0.0, 1.0, exclude_max=True), bit=st.integers(0, 7), cut=st.booleans())
def test_any_flipped_bit_or_cut_gives_the_reference_prefix(tmp_path_factory, where, bit, cut):
    """With verify_crc every damaged file reads exactly like tensorboard's loader (which stops
    at the first bad CRC or truncation); without it, reading never raises."""
    folder = tmp_path_factory.mktemp("damage")
    events = _keras_like(120, 30, lambda step: [event(step, 3.0, histogram_value("w"))])
    path = write_events(folder / "train", events)
    data = bytearray(path.read_bytes())
    position = int(where * len(data))
    if cut:
        data = data[:position]
    else:
        data[position] ^= 1 << bit
    path.write_bytes(bytes(data))
    checked, warnings = _points(path, verify_crc=True)
    assert checked == reference_points(path)
    assert len(warnings) <= 1
    _points(path)  # the default mode reads without raising too


@pytest.mark.slow  # a large generated file
def test_tensor_scalars_with_metadata_on_the_first_value_only_decode_in_bulk(tmp_path, monkeypatch):
    """TF1's FileWriter keeps a tag's plugin metadata on its first value only: the later values
    (same bytes but no metadata) are scalars, learnt once; values before the declaration are not."""
    events = [event(step, 10.0 + step, tensor_value("loss", step / 7, metadata=False))
              for step in range(1, 40)]
    events.append(event(40, 50.0, tensor_value("loss", 0.5)))
    for step in range(41, 3000):
        events.append(event(step, 10.0 + step, tensor_value("loss", step / 7, metadata=False)))
        events.append(event(step, 10.5 + step, tensor_value("acc", 1 / step, metadata=step == 41)))
    path = write_events(tmp_path / "train", events)
    points = _assert_same_as_protobuf_and_reference(path)
    assert len(points) == 1 + 2 * 2959
    calls = []
    real = es.protobuf_points
    monkeypatch.setattr(es, "protobuf_points", lambda *args: calls.append(1) or real(*args))
    reader = tfevents.EventScalarReader(path, progress=False)
    assert sum(table.num_rows for table in reader.tables()) == len(points)
    assert len(calls) < 200  # learnt layouts, not one protobuf decode per record
