"""Benchmark: TensorBoard event files -> parquet, lraudit vs tbparse vs tensorboard's loader.

Usage (from the repository root, venv active)::

    python benchmarks/bench_tfevents.py                 # make data if missing, run the table
    python benchmarks/bench_tfevents.py --sizes 1M      # only the 1 M-scalar files
    python benchmarks/bench_tfevents.py --tbparse-10m   # also tbparse on 10 M (~13 min, ~15 GB)
    python benchmarks/bench_tfevents.py --profile       # cProfile of our 10 M TF2 run

Data (``benchmarks/data/``, git-ignored): Keras-like files of 1 M and 10 M scalars with 20 tags,
TF2 (``tf.summary.scalar`` tensor scalars in ``train/``, as tf.keras/Keras 3 write them) and TF1
(``simple_value`` plain tags, as standalone Keras writes them). Records are built in bulk from
templates serialised by protobuf and checked byte for byte against tensorboard's TF-free
``EventFileWriter`` on a sample. Every measurement runs in a child process; its wall time and
peak RSS (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` in a fresh wrapper process) are
reported, with ratios to our time.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
sys.path.insert(0, str(HERE.parent))

STEPS_PER_EPOCH = 1000
BATCH_SIZE = 32
METRICS = ["loss", "accuracy", "mae", "mse", "precision", "recall", "auc", "top_k", "kl", "hinge"]
SIZES = {"1M": 1_000_000, "10M": 10_000_000}


# --- data --------------------------------------------------------------------------------------


def _plan(total: int, era: str):
    """(tag names, per-record tag index, step, wall_time, value) in file order, Keras-like.

    TF2: every batch writes ``batch_<m>`` (step = 1-based batch counter), every epoch end
    ``epoch_<m>`` for 9 metrics + ``epoch_learning_rate`` (step = epoch). TF1: plain tags, batch
    writes with step = samples seen, epoch-end writes ``val_<m>`` + ``lr`` with step = epoch.
    """
    if era == "tf2":
        batch_tags = [f"batch_{m}" for m in METRICS]
        epoch_tags = [f"epoch_{m}" for m in METRICS[:9]] + ["epoch_learning_rate"]
    else:
        batch_tags = list(METRICS)
        epoch_tags = [f"val_{m}" for m in METRICS[:9]] + ["lr"]
    tags = batch_tags + epoch_tags
    per_epoch = STEPS_PER_EPOCH * len(batch_tags) + len(epoch_tags)
    epochs = -(-total // per_epoch)
    # one epoch's pattern: batch b writes the 10 batch tags, then the epoch tags
    tag_in_epoch = np.concatenate([np.tile(np.arange(len(batch_tags)), STEPS_PER_EPOCH),
                                   np.arange(len(batch_tags), len(tags))])
    batch_in_epoch = np.concatenate([np.repeat(np.arange(STEPS_PER_EPOCH), len(batch_tags)),
                                     np.full(len(epoch_tags), -1)])
    tag = np.tile(tag_in_epoch, epochs)[:total].astype(np.int64)
    epoch = np.repeat(np.arange(epochs), per_epoch)[:total]
    batch = np.tile(batch_in_epoch, epochs)[:total]
    global_batch = epoch * STEPS_PER_EPOCH + batch + 1
    if era == "tf2":
        step = np.where(batch >= 0, global_batch, epoch)
    else:
        step = np.where(batch >= 0, global_batch * BATCH_SIZE, epoch)
    wall = 1.7e9 + np.arange(total) * 1e-4 + np.random.default_rng(0).random(total) * 1e-5
    value = np.random.default_rng(1).random(total).astype(np.float32)
    return tags, tag, step.astype(np.int64), wall, value


def _event_bytes(era: str, tag: str, step: int, wall: float, value: float) -> bytes:
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2

    if era == "tf2":
        summary_value = summary_pb2.Summary.Value(
            tag=tag,
            tensor=tensor_pb2.TensorProto(
                dtype=1,  # DT_FLOAT
                tensor_shape=tensor_shape_pb2.TensorShapeProto(),
                tensor_content=struct.pack("<f", value),
            ),
            metadata=summary_pb2.SummaryMetadata(
                plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
            ),
        )
    else:
        summary_value = summary_pb2.Summary.Value(tag=tag, simple_value=value)
    event = event_pb2.Event(wall_time=wall, step=step, summary=summary_pb2.Summary(value=[summary_value]))
    return event.SerializeToString()


def _template(era: str, tag: str, step_bytes: int):
    """Serialised record of ``tag`` with a step varint of ``step_bytes`` bytes, and where its parts are."""
    step = 0 if step_bytes == 0 else 1 << (7 * (step_bytes - 1))
    sentinel = 1.2345678e-5
    data = _event_bytes(era, tag, step, 1.5, sentinel)
    value_pos = data.index(struct.pack("<f", sentinel))
    return np.frombuffer(data, dtype=np.uint8), value_pos


def _varint_bytes(step: np.ndarray) -> np.ndarray:
    size = np.ones(step.shape, dtype=np.int64)
    for k in range(1, 10):
        size += step >= (1 << (7 * k))
    return np.where(step == 0, 0, size)


def write_records(path: Path, era: str, total: int, chunk: int = 1_000_000, prefix_events=()) -> None:
    """Write a Keras-like event file of ``total`` scalars (templates + vectorised fill + CRCs)."""
    from lraudit.sources import _tfrecord as tfr

    tags, tag, step, wall, value = _plan(total, era)
    templates: dict[tuple[int, int], tuple[np.ndarray, int]] = {}
    with open(path, "wb") as out:
        out.write(_frame_one(_file_version()))
        for data in prefix_events:
            out.write(_frame_one(data))
        for start in range(0, total, chunk):
            sl = slice(start, min(total, start + chunk))
            t, s, w, v = tag[sl], step[sl], wall[sl], value[sl]
            nbytes = _varint_bytes(s)
            key = t * 16 + nbytes
            lengths = np.empty(t.shape, dtype=np.int64)
            for k in np.unique(key).tolist():
                if (k // 16, k % 16) not in templates:
                    templates[(k // 16, k % 16)] = _template(era, tags[k // 16], k % 16)
                lengths[key == k] = templates[(k // 16, k % 16)][0].shape[0]
            record = lengths + 16
            offsets = np.concatenate(([0], np.cumsum(record)[:-1]))
            buf = np.zeros(int(record.sum()), dtype=np.uint8)
            for k in np.unique(key).tolist():
                rows = np.flatnonzero(key == k)
                data, value_pos = templates[(k // 16, k % 16)]
                size = data.shape[0]
                base = offsets[rows]
                buf[base[:, None] + np.arange(8)] = np.frombuffer(
                    np.full(rows.size, size, dtype="<u8").tobytes(), dtype=np.uint8
                ).reshape(-1, 8)
                crc = np.uint32(tfr.length_crc(size))
                buf[base[:, None] + 8 + np.arange(4)] = np.frombuffer(
                    np.full(rows.size, crc, dtype="<u4").tobytes(), dtype=np.uint8
                ).reshape(-1, 4)
                dstart = base + 12
                buf[dstart[:, None] + np.arange(size)] = data
                buf[dstart[:, None] + 1 + np.arange(8)] = w[rows].astype("<f8").view(np.uint8).reshape(-1, 8)
                nb = k % 16
                if nb:
                    sv = s[rows].astype(np.uint64)
                    for j in range(nb):
                        byte = (sv >> np.uint64(7 * j)) & np.uint64(0x7F)
                        if j < nb - 1:
                            byte |= np.uint64(0x80)
                        buf[dstart + 10 + j] = byte.astype(np.uint8)
                buf[dstart[:, None] + value_pos + np.arange(4)] = (
                    v[rows].astype("<f4").view(np.uint8).reshape(-1, 4)
                )
                footer = tfr.masked_crc32c_equal_length(buf, dstart, size)
                footer_bytes = footer.astype("<u4").view(np.uint8).reshape(-1, 4)
                buf[(dstart + size)[:, None] + np.arange(4)] = footer_bytes
            out.write(buf.tobytes())


def _file_version() -> bytes:
    from tensorboard.compat.proto import event_pb2

    return event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString()


def _frame_one(data: bytes) -> bytes:
    from lraudit.sources import _tfrecord as tfr

    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", tfr.masked_crc32c(header)) + data + struct.pack(
        "<I", tfr.masked_crc32c(data)
    )


def check_identical(era: str, count: int = 25_000) -> None:
    """Our bulk writer == tensorboard's EventFileWriter, byte for byte, on the first ``count`` records."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    tags, tag, step, wall, value = _plan(count, era)
    with tempfile.TemporaryDirectory() as tmp:
        writer = EventFileWriter(tmp)
        for i in range(count):
            writer.add_event(event_pb2.Event.FromString(
                _event_bytes(era, tags[tag[i]], int(step[i]), float(wall[i]), float(value[i]))
            ))
        writer.close()
        (reference,) = Path(tmp).iterdir()
        ours = Path(tmp) / "ours"
        write_records(ours, era, count)
        ref_bytes, our_bytes = reference.read_bytes(), ours.read_bytes()
    # skip each file's file_version record (its wall time is the writer's clock)
    skip_ref = 16 + struct.unpack_from("<Q", ref_bytes)[0]
    skip_ours = 16 + struct.unpack_from("<Q", our_bytes)[0]
    if ref_bytes[skip_ref:] != our_bytes[skip_ours:]:
        raise SystemExit(f"{era}: bulk writer differs from EventFileWriter")


def data_file(era: str, size: str) -> Path:
    folder = DATA / f"{era}_{size}" / ("train" if era == "tf2" else "")
    return folder / "events.out.tfevents.1700000000.bench.1.v2"


def make_data(sizes: list[str]) -> None:
    for era in ("tf2", "tf1"):
        check_identical(era)
        for size in sizes:
            path = data_file(era, size)
            if path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            write_records(path, era, SIZES[size])
            seconds = time.perf_counter() - started
            print(f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB) in {seconds:.0f} s")


# --- workers (run in child processes) ----------------------------------------------------------


def work_ours(path: str, out: str, frames: bool = False) -> int:
    """lraudit: stream chunks to parquet; the writer runs in a thread, overlapping the decoding.

    ``frames``: go through the DataFrame chunks (``iter_scalar_chunks``) instead of Arrow tables.
    """
    import queue
    import threading

    import pyarrow as pa
    import pyarrow.parquet as pq

    from lraudit.sources.tfevents import DICTIONARY_COLUMNS, EventScalarReader

    tables: queue.Queue = queue.Queue(maxsize=4)
    rows = 0

    def write() -> None:
        writer = None
        while (table := tables.get()) is not None:
            if writer is None:
                # dictionary-encode only the categorical columns: trying it on random floats costs
                # more than the whole decode (measured 2.3 s vs 1.0 s for 10 M rows)
                writer = pq.ParquetWriter(out, table.schema, use_dictionary=list(DICTIONARY_COLUMNS))
            writer.write_table(table)
        if writer is not None:
            writer.close()

    thread = threading.Thread(target=write)
    thread.start()
    reader = EventScalarReader(path, progress=False)
    if frames:
        for chunk in reader.chunks():
            rows += len(chunk)
            tables.put(pa.Table.from_pandas(chunk, preserve_index=False))
    else:
        for table in reader.tables():
            rows += table.num_rows
            tables.put(table)
    tables.put(None)
    thread.join()
    return rows


def work_ours_frames(path: str, out: str) -> int:
    """lraudit through pandas DataFrame chunks (what ``iter_scalar_chunks`` yields)."""
    return work_ours(path, out, frames=True)


def work_tensorboard(path: str, out: str) -> int:
    """tensorboard's event_file_loader + protobuf, plain loop (every scalar, no sampling)."""
    import pandas as pd
    from tensorboard.backend.event_processing import event_file_loader
    from tensorboard.util import tensor_util

    tags, steps, walls, values = [], [], [], []
    for event in event_file_loader.EventFileLoader(path).Load():
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name == "scalars":
                tags.append(value.tag)
                steps.append(event.step)
                walls.append(event.wall_time)
                values.append(float(tensor_util.make_ndarray(value.tensor).item()))
    pd.DataFrame({"tag": tags, "step": steps, "wall_time": walls, "value": values}).to_parquet(out)
    return len(tags)


def work_tbparse(path: str, out: str) -> int:
    """tbparse: TF1 simple_value points are its ``scalars``, TF2 tensor scalars its ``tensors``."""
    import pandas as pd
    from tbparse import SummaryReader

    reader = SummaryReader(path, pivot=False, extra_columns={"wall_time"})
    frame = pd.concat([reader.scalars, reader.tensors], ignore_index=True)
    frame["value"] = frame["value"].astype("float64")
    frame.to_parquet(out)
    return len(frame)


WORKERS = {
    "lraudit": work_ours,
    "lraudit-frames": work_ours_frames,
    "tensorboard": work_tensorboard,
    "tbparse": work_tbparse,
}


def measure(tool: str, path: Path) -> dict:
    """Run one worker in a fresh wrapper process; wall time and the child's peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, __file__, "_wrap", tool, str(path), str(Path(tmp) / "out.parquet")]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        return {"tool": tool, "error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _wrap(tool: str, path: str, out: str) -> None:
    started = time.perf_counter()
    command = [sys.executable, __file__, "_work", tool, path, out]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise SystemExit(1)
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rows = int(done.stdout.strip().splitlines()[-1])
    print(json.dumps({"tool": tool, "seconds": elapsed, "rss_mb": rss_mb, "rows": rows}))


def _tbparse_available() -> bool:
    try:
        import tbparse  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_wrap":
        _wrap(*argv[1:4])
        return
    if argv and argv[0] == "_work":
        print(WORKERS[argv[1]](argv[2], argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1M", "10M"], choices=sorted(SIZES))
    parser.add_argument("--eras", nargs="+", default=["tf2", "tf1"], choices=["tf2", "tf1"])
    parser.add_argument("--tbparse-10m", action="store_true", help="also run tbparse on 10 M (slow)")
    parser.add_argument("--tensorboard-10m", action="store_true", help="also run the loader on 10 M")
    parser.add_argument("--profile", action="store_true", help="profile our run on the largest file")
    args = parser.parse_args(argv)
    make_data(args.sizes)
    if args.profile:
        profile(data_file(args.eras[0], args.sizes[-1]))
        return
    has_tbparse = _tbparse_available()
    print("| file | MB | tool | rows | seconds | peak RSS MB | time / lraudit |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for era in args.eras:
        for size in args.sizes:
            path = data_file(era, size)
            mb = path.stat().st_size / 1e6
            ours = measure("lraudit", path)
            rows = [ours, measure("lraudit-frames", path)]
            big = size != "1M"
            if not big or args.tensorboard_10m:
                rows.append(measure("tensorboard", path))
            if not has_tbparse:
                rows.append({"tool": "tbparse", "error": "skipped (not installed: pip install .[bench])"})
            elif not big or args.tbparse_10m:
                rows.append(measure("tbparse", path))
            for row in rows:
                if "error" in row:
                    print(f"| {era} {size} | {mb:.0f} | {row['tool']} | | {row['error']} | | |")
                    continue
                ratio = row["seconds"] / ours["seconds"] if "seconds" in ours else float("nan")
                print(
                    f"| {era} {size} | {mb:.0f} | {row['tool']} | {row['rows']:,} | {row['seconds']:.2f} "
                    f"| {row['rss_mb']:.0f} | {ratio:.1f}x |"
                )


def profile(path: Path) -> None:
    import cProfile
    import pstats

    with tempfile.TemporaryDirectory() as tmp:
        profiler = cProfile.Profile()
        profiler.enable()
        work_ours(str(path), str(Path(tmp) / "out.parquet"))
        profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(18)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
