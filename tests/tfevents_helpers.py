"""Event files written in the tests with tensorboard's TF-free writer, and an independent reference.

The reference is tensorboard's ``event_file_loader.EventFileLoader`` (which migrates TF1
``simple_value`` to a scalars-plugin tensor) + protobuf + ``tensor_util.make_ndarray``: a value
is a point when its plugin is ``scalars`` (or it has no plugin metadata and its tag was declared
``scalars`` earlier in the file) and its tensor has one element.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util import tensor_util

DT_FLOAT, DT_DOUBLE, DT_STRING, DT_HALF = 1, 2, 7, 19


def scalars_metadata() -> summary_pb2.SummaryMetadata:
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
    )


def tensor_value(tag: str, value: float, encoding: str = "f32", metadata: bool = True):
    """A TF2 scalar ``Summary.Value``: ``f32``/``f64``/``f16`` as tensor_content (what TF writes),
    ``f32val``/``f64val`` as float_val/double_val."""
    shape = tensor_shape_pb2.TensorShapeProto()
    if encoding == "f32":
        content = struct.pack("<f", value)
        tensor = tensor_pb2.TensorProto(dtype=DT_FLOAT, tensor_shape=shape, tensor_content=content)
    elif encoding == "f64":
        content = struct.pack("<d", value)
        tensor = tensor_pb2.TensorProto(dtype=DT_DOUBLE, tensor_shape=shape, tensor_content=content)
    elif encoding == "f16":
        with np.errstate(over="ignore"):  # large values become inf, as float16 does
            content = np.float16(value).tobytes()
        tensor = tensor_pb2.TensorProto(dtype=DT_HALF, tensor_shape=shape, tensor_content=content)
    elif encoding == "f32val":
        tensor = tensor_pb2.TensorProto(dtype=DT_FLOAT, tensor_shape=shape, float_val=[value])
    elif encoding == "f64val":
        tensor = tensor_pb2.TensorProto(dtype=DT_DOUBLE, tensor_shape=shape, double_val=[value])
    else:
        raise ValueError(encoding)
    if not metadata:
        return summary_pb2.Summary.Value(tag=tag, tensor=tensor)
    return summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=scalars_metadata())


def simple_value(tag: str, value: float):
    """A TF1 ``simple_value`` (standalone Keras, tensorboardX)."""
    return summary_pb2.Summary.Value(tag=tag, simple_value=value)


def histogram_value(tag: str, buckets: int = 30):
    histo = summary_pb2.HistogramProto(
        min=0.0, max=1.0, num=float(buckets), sum=1.0, sum_squares=1.0,
        bucket_limit=list(np.linspace(0, 1, buckets)), bucket=[1.0] * buckets,
    )
    return summary_pb2.Summary.Value(tag=tag, histo=histo)


def image_value(tag: str, size: int = 300, plugin: str | None = None):
    """A TF1 ``Summary.Image`` (optionally with plugin metadata after it)."""
    png = b"\x89PNG" * (size // 4)
    image = summary_pb2.Summary.Image(height=4, width=4, colorspace=3, encoded_image_string=png)
    if plugin is None:
        return summary_pb2.Summary.Value(tag=tag, image=image)
    plugin_data = summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin)
    metadata = summary_pb2.SummaryMetadata(plugin_data=plugin_data)
    return summary_pb2.Summary.Value(tag=tag, image=image, metadata=metadata)


def text_value(tag: str, size: int):
    """A text-plugin string tensor of ``size`` bytes (a record larger than 64 KiB when big)."""
    tensor = tensor_pb2.TensorProto(
        dtype=DT_STRING, tensor_shape=tensor_shape_pb2.TensorShapeProto(), string_val=[b"x" * size]
    )
    plugin = summary_pb2.SummaryMetadata.PluginData(plugin_name="text")
    metadata = summary_pb2.SummaryMetadata(plugin_data=plugin)
    return summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=metadata)


def event(step: int, wall: float, *values) -> event_pb2.Event:
    return event_pb2.Event(step=step, wall_time=wall, summary=summary_pb2.Summary(value=list(values)))


def write_events(folder: Path, events) -> Path:
    """Write ``events`` with tensorboard's EventFileWriter into ``folder``; the file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    before = set(folder.iterdir())
    writer = EventFileWriter(str(folder))
    for item in events:
        writer.add_event(item)
    writer.close()
    (path,) = set(folder.iterdir()) - before
    return path


def record_offsets(path: Path) -> list[tuple[int, int]]:
    """(offset, data length) of every record, by walking the length prefixes."""
    data = path.read_bytes()
    found, pos = [], 0
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        found.append((pos, length))
        pos += 16 + length
    return found


def reference_points(path: Path) -> list[tuple[str, int, bytes, bytes]]:
    """(tag, step, wall-time bytes, value bytes) of every scalar point, by the reference loader.

    Floats are compared as their float64 bytes so NaNs compare too.
    """
    points, declared = [], set()
    for item in event_file_loader.EventFileLoader(str(path)).Load():
        for value in item.summary.value:
            if value.WhichOneof("value") != "tensor":
                continue
            plugin = value.metadata.plugin_data.plugin_name
            if plugin == "scalars" or (not plugin and value.tag in declared):
                array = tensor_util.make_ndarray(value.tensor)
                if array.size == 1 and array.dtype.kind in "fiub":
                    points.append(_point(value.tag, item.step, item.wall_time, float(array.reshape(-1)[0])))
            if plugin == "scalars":
                declared.add(value.tag)
    return points


def _point(tag: str, step: int, wall: float, value: float) -> tuple[str, int, bytes, bytes]:
    return tag, int(step), struct.pack("<d", wall), struct.pack("<d", value)


def frame_points(frame) -> list[tuple[str, int, bytes, bytes]]:
    """The same tuples from one of our scalar tables (``name`` without its train/validation dir)."""
    names = [name.split("/", 1)[1] if name.startswith(("train/", "validation/")) else name
             for name in frame["name"].astype(str)]
    return [
        _point(name, step, wall, value)
        for name, step, wall, value in zip(
            names, frame["step"].astype("int64"), frame["wall_time"], frame["value"], strict=True
        )
    ]
