"""The event-file reader on every realistic layout, against the reference NumPy reader.

Generates (once, into ``benchmarks/data/layouts/``, git-ignored) ~1 M-scalar Keras-like event
files in the layouts real runs have, every record serialised exactly as protobuf does it
(templates from ``summary_pb2`` objects; plugin metadata on every TF2 value as ``tf.summary``
writes it, on a tag's first value only through TF1's ``FileWriter``):

==================  ===========================================================================
layout              what is in it
==================  ===========================================================================
tf2-e20 ... e5000   TF2 tensor scalars: 3 ``batch_*`` tags every step, 3 ``epoch_*`` every N steps
tf2-mixed-e100      + per epoch 4 histograms (30x3 float64), 2 PNG images, 1 text summary
tf2-trainval-e100   ``train/`` (batch + epoch) and ``validation/`` (epoch + evaluation_*) files
tf2-writers-e100    three files in ``train/`` (restarts: three writers, each a third of the run)
tf1-e100            TF1 ``simple_value``: ``loss``/``acc`` per step (step = samples), epoch tags
tf1-mixed-e100      + per epoch 4 ``HistogramProto`` and 2 ``Summary.Image`` values
tf1-tensor-e100     TF2-style tensor scalars through TF1's ``FileWriter`` (metadata on the first only)
==================  ===========================================================================

Each tool reads all the layout's files in a fresh child process (imports and first calls
excluded from the time: both first read a small fixture file; best of ``--repeat`` (5), the two
tools alternating so that a change of load hits both; peak RSS):
``lraudit`` streams
:class:`lraudit.sources.tfevents.EventScalarReader` tables, ``fastread`` is
``../shared/bench/fastread.py``'s ``read_np`` (``pip install crc32c``). Prints the ratio
lraudit / fastread per layout (goal: <= 0.8x, <= 300 MB).

    python benchmarks/bench_layouts.py
    python benchmarks/bench_layouts.py --layouts tf2-e20 tf1-e100 --scalars 300000
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(__file__).parent / "data" / "layouts"
FASTREAD = ROOT.parent / "shared" / "bench"
if not FASTREAD.exists():
    FASTREAD = Path("/work/shared/bench")

#: layout -> (era, steps per epoch, extras, split into train/validation, writers)
LAYOUTS = {
    "tf2-e20": ("tf2", 20, False, False, 1),
    "tf2-e100": ("tf2", 100, False, False, 1),
    "tf2-e1000": ("tf2", 1000, False, False, 1),
    "tf2-e5000": ("tf2", 5000, False, False, 1),
    "tf2-mixed-e100": ("tf2", 100, True, False, 1),
    "tf2-trainval-e100": ("tf2", 100, False, True, 1),
    "tf2-writers-e100": ("tf2", 100, False, False, 3),
    "tf1-e100": ("tf1", 100, False, False, 1),
    "tf1-mixed-e100": ("tf1", 100, True, False, 1),
    "tf1-tensor-e100": ("tf1-tensor", 100, False, False, 1),
}
BATCH_SIZE = 32


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class Summaries:
    """Serialised ``Summary`` messages: scalars as (prefix, suffix) around the value bytes."""

    def __init__(self, era: str, metadata_once: bool = False) -> None:
        from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2

        self.pb, self.tensor_pb2 = summary_pb2, tensor_pb2
        self.shape_pb2, self.types = tensor_shape_pb2, types_pb2
        self.era = "tf2" if era.startswith("tf2") or era == "tf1-tensor" else "tf1"
        #: TF1's FileWriter keeps a tag's plugin metadata only on its first value; TF2 writes it always
        self.metadata_once = metadata_once
        self.seen: set[str] = set()
        self.cache: dict[tuple[str, bool], tuple[bytes, bytes]] = {}

    def _metadata(self, tag: str, plugin: str):
        if self.era != "tf2" or (self.metadata_once and tag in self.seen):
            return None
        self.seen.add(tag)
        return self.pb.SummaryMetadata(plugin_data=self.pb.SummaryMetadata.PluginData(plugin_name=plugin))

    def _serialise(self, value) -> bytes:
        return self.pb.Summary(value=[value]).SerializeToString()

    def scalar(self, tag: str, number: float) -> bytes:
        first = self.era == "tf2" and (not self.metadata_once or tag not in self.seen)
        key = (tag, first)
        if key not in self.cache:
            sentinel = struct.pack("<f", 1.2345678e-5)
            if self.era == "tf2":
                value = self.pb.Summary.Value(tag=tag, tensor=self.tensor_pb2.TensorProto(
                    dtype=self.types.DT_FLOAT, tensor_shape=self.shape_pb2.TensorShapeProto(),
                    tensor_content=sentinel))
                metadata = self._metadata(tag, "scalars")
                if metadata is not None:
                    value.metadata.CopyFrom(metadata)
            else:
                value = self.pb.Summary.Value(tag=tag, simple_value=1.2345678e-5)
            data = self._serialise(value)
            at = data.index(sentinel)
            self.cache[key] = (data[:at], data[at + 4:])
        elif first:
            self.seen.add(tag)
        prefix, suffix = self.cache[key]
        return prefix + struct.pack("<f", number) + suffix

    def histogram(self, tag: str) -> bytes:
        import numpy as np

        edges = np.linspace(-1, 1, 31)
        if self.era == "tf2":
            content = np.stack([edges[:-1], edges[1:], np.arange(30.0)], axis=1).astype("<f8").tobytes()
            shape = self.shape_pb2.TensorShapeProto(dim=[self.shape_pb2.TensorShapeProto.Dim(size=s)
                                                         for s in (30, 3)])
            value = self.pb.Summary.Value(tag=tag, tensor=self.tensor_pb2.TensorProto(
                dtype=self.types.DT_DOUBLE, tensor_shape=shape, tensor_content=content))
            metadata = self._metadata(tag, "histograms")
            if metadata is not None:
                value.metadata.CopyFrom(metadata)
        else:
            value = self.pb.Summary.Value(tag=tag, histo=self.pb.HistogramProto(
                min=-1, max=1, num=435, sum=3.0, sum_squares=100.0,
                bucket_limit=edges[1:].tolist(), bucket=list(range(30))))
        return self._serialise(value)

    def image(self, tag: str) -> bytes:
        png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2
        if self.era == "tf2":
            shape = self.shape_pb2.TensorShapeProto(dim=[self.shape_pb2.TensorShapeProto.Dim(size=3)])
            value = self.pb.Summary.Value(tag=tag, tensor=self.tensor_pb2.TensorProto(
                dtype=self.types.DT_STRING, tensor_shape=shape, string_val=[b"16", b"16", png]))
            metadata = self._metadata(tag, "images")
            if metadata is not None:
                value.metadata.CopyFrom(metadata)
        else:
            value = self.pb.Summary.Value(tag=tag, image=self.pb.Summary.Image(
                height=16, width=16, colorspace=3, encoded_image_string=png))
        return self._serialise(value)

    def text(self, tag: str, epoch: int) -> bytes:
        value = self.pb.Summary.Value(tag=tag, tensor=self.tensor_pb2.TensorProto(
            dtype=self.types.DT_STRING, tensor_shape=self.shape_pb2.TensorShapeProto(),
            string_val=[f"epoch {epoch}: notes".encode()]))
        metadata = self._metadata(tag, "text")
        if metadata is not None:
            value.metadata.CopyFrom(metadata)
        return self._serialise(value)


class Writer:
    """TFRecord framing of serialised ``Event`` messages (masked CRC32C of length and data)."""

    def __init__(self, path: Path, wall: float) -> None:
        from tensorboard.compat.proto import event_pb2

        path.parent.mkdir(parents=True, exist_ok=True)
        self.out = path.open("wb")
        self.frame(event_pb2.Event(wall_time=wall, file_version="brain.Event:2").SerializeToString())

    @staticmethod
    def _masked(data: bytes) -> int:
        import crc32c

        crc = crc32c.crc32c(data)
        return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF

    def frame(self, data: bytes) -> None:
        header = struct.pack("<Q", len(data))
        self.out.write(header + struct.pack("<I", self._masked(header)) + data
                       + struct.pack("<I", self._masked(data)))

    def event(self, wall: float, step: int, summary: bytes) -> None:
        step_bytes = b"\x10" + _varint(step) if step else b""
        self.frame(b"\x09" + struct.pack("<d", wall) + step_bytes + b"\x2a" + _varint(len(summary)) + summary)

    def close(self) -> None:
        self.out.close()


def generate(name: str, scalars: int) -> Path:
    """The layout's folder (made once): ~``scalars`` scalar points over its files."""
    import numpy as np

    era, per_epoch, extras, split, writers = LAYOUTS[name]
    folder = DATA_DIR / f"{name}-{scalars}"
    done = folder / "done"
    if done.exists():
        return folder
    tf2 = era == "tf2"
    batch_tags = ["batch_loss", "batch_accuracy", "batch_learning_rate"] if tf2 else ["loss", "acc", "lr"]
    epoch_tags = ["epoch_loss", "epoch_accuracy", "epoch_learning_rate"] if era == "tf2" else [
        "val_loss", "val_acc", "lr_epoch"]
    per_epoch_scalars = per_epoch * len(batch_tags) + len(epoch_tags) * (2 if split else 1)
    epochs = max(1, scalars // per_epoch_scalars)
    rng = np.random.default_rng(0)
    once = era == "tf1-tensor"
    train_summaries, val_summaries = Summaries(era, once), Summaries(era, once)
    era = "tf2" if once else era  # tags and steps as TF2 Keras names them
    wall = 1.7e9
    per_writer = -(-epochs // writers)
    train = val = None
    for epoch in range(epochs):
        if epoch % per_writer == 0:
            if train is not None:
                train.close()
            part = epoch // per_writer
            sub = "train/" if (split or era == "tf2") else ""
            train = Writer(folder / f"{sub}events.out.tfevents.{1700000000 + part}.host.{part}.v2", wall)
            if split and val is None:
                val = Writer(folder / "validation/events.out.tfevents.1700000000.host.9.v2", wall)
        values = rng.random(per_epoch * len(batch_tags)).astype(np.float32).tolist()
        for batch in range(per_epoch):
            wall += 0.01
            seen = epoch * per_epoch + batch + 1
            step = seen if era == "tf2" else seen * BATCH_SIZE
            for k, tag in enumerate(batch_tags):
                train.event(wall, step, train_summaries.scalar(tag, values[batch * len(batch_tags) + k]))
        for tag in epoch_tags:
            train.event(wall, epoch, train_summaries.scalar(tag, float(rng.random())))
        if split:
            for tag in epoch_tags[:2]:
                val.event(wall, epoch, val_summaries.scalar(tag, float(rng.random())))
            val.event(wall, epoch * per_epoch, val_summaries.scalar("evaluation_loss_vs_iterations", 0.5))
        if extras:
            for layer in range(4):
                train.event(wall, epoch, train_summaries.histogram(f"dense_{layer}/kernel_0"))
            for layer in range(2):
                train.event(wall, epoch, train_summaries.image(f"dense_{layer}/kernel_0/image/0"))
            if era == "tf2":
                train.event(wall, epoch, train_summaries.text("notes/text_summary", epoch))
    for writer in (train, val):
        if writer is not None:
            writer.close()
    done.write_text("ok")
    return folder


CHILD = r"""
import json, resource, sys, time
from pathlib import Path
tool, files = sys.argv[1], sys.argv[2:]
from tensorboard.compat.proto import event_pb2, summary_pb2  # both fall back to protobuf: not timed
if tool == "lraudit":
    import lraudit.progress
    from lraudit.sources.tfevents import EventScalarReader
    def work(path):
        return sum(t.num_rows for t in EventScalarReader(path, progress=False).tables())
else:
    sys.path.insert(0, {fastread!r})
    import fastread
    def work(path):
        return len(fastread.read_np(path).step)
work({warm!r})  # lazy imports and first calls happen on a small fixture file, not timed
start = time.perf_counter()
rows = sum(work(path) for path in files)
seconds = time.perf_counter() - start
print(json.dumps({{"rows": rows, "seconds": seconds,
                   "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def run_child(tool: str, files: list[Path]) -> dict:
    """One read of ``files`` by ``tool`` in a fresh child process: rows, seconds, peak RSS."""
    warm = str(next(iter(sorted((ROOT / "fixtures" / "runs").glob("*/tb/train/events.out.tfevents.*")))))
    script = CHILD.format(fastread=str(FASTREAD), warm=warm)
    done = subprocess.run([sys.executable, "-c", script, tool, *map(str, files)],
                          capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT),
                                                                         "PATH": "/usr/bin:/bin"})
    if done.returncode:
        raise SystemExit(f"{tool} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(files: list[Path], repeat: int) -> tuple[dict, dict]:
    """Best of ``repeat`` runs of each tool, alternating lraudit and fastread (side by side: a
    change of load on this shared machine hits both), each in a fresh child process."""
    best: dict[str, dict] = {}
    for _ in range(repeat):
        for tool in ("lraudit", "fastread"):
            result = run_child(tool, files)
            if tool not in best or result["seconds"] < best[tool]["seconds"]:
                best[tool] = result
    return best["lraudit"], best["fastread"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=list(LAYOUTS))
    parser.add_argument("--scalars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    print("| layout | MB | rows | lraudit s | fastread s | ratio | lraudit RSS MB | fastread RSS MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in options.layouts:
        folder = generate(name, options.scalars)
        files = sorted(folder.rglob("events.out.tfevents.*"))
        size = sum(path.stat().st_size for path in files) / 1e6
        ours, theirs = measure(files, options.repeat)
        print(f"| {name} | {size:.0f} | {ours['rows']:,} | {ours['seconds']:.3f} | {theirs['seconds']:.3f} | "
              f"{ours['seconds'] / theirs['seconds']:.2f}x | {ours['rss_mb']:.0f} | {theirs['rss_mb']:.0f} |",
              flush=True)
    print(f"load average (1/5/15 min) at the end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
