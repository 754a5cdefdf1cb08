"""Benchmark of ``lraudit audit`` end to end on a synthetic 1 M-step Keras 2 run.

Generates (once, into ``benchmarks/data/audit_<steps>/``, git-ignored) what a long Keras 2 run
leaves behind:

* ``console.log``: ``--epochs`` x ``--steps`` steps of Keras 2 output through a pseudo-terminal
  (``\\r\\n``), each epoch a progress bar redrawn ``--redraws`` times with ``\\b`` runs, the final
  bar with ``loss``/``val_loss``/``lr``; ReduceLROnPlateau(monitor='val_loss', factor=0.5,
  patience=10, min_lr=1e-7, verbose=1) simulated exactly as Keras 2 runs it on the generated
  ``val_loss`` (its message lands mid-bar, as in real logs);
* ``tb/train/events...v2``: per-batch TensorBoard output (``update_freq='batch'``) written with
  tensorboard's TF-free record writer and ``summary_pb2`` tensor scalars: ``batch_loss`` at the
  1-based global batch counter, ``epoch_loss`` and ``epoch_lr`` at the epoch;
  ``tb/validation/events...v2``: ``epoch_loss`` per epoch and ``evaluation_loss_vs_iterations``;
* ``optimizer.json``: ``keras.optimizers.legacy`` Adam, ``learning_rate=0.001``, ``decay=1e-4``.

Then it times ``lraudit audit DIR --format json`` in a child process (wall, peak RSS, exit code)
and prints a cProfile top-20 (cumulative) of the same audit run in-process.

    python benchmarks/bench_audit.py                 # 1000 epochs x 1000 steps
    python benchmarks/bench_audit.py --epochs 100    # quick
    python benchmarks/bench_audit.py --no-profile
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from bench_console import keras2_bar_redraws

DATA_DIR = Path(__file__).parent / "data"
WALL_START = 1_700_000_000.0


# --- the run ------------------------------------------------------------------------------------


def simulate(epochs: int, steps: int, seed: int = 0) -> dict[str, np.ndarray | list]:
    """Losses and the ReduceLROnPlateau decisions of a run, exactly as Keras 2 takes them."""
    rng = np.random.default_rng(seed)
    trend = 0.3 + 0.7 * np.exp(-np.arange(epochs) / (epochs / 8))
    val_loss = (trend + rng.normal(0, 0.01, epochs)).astype(np.float32)
    loss = (trend * 0.9 + rng.normal(0, 0.01, epochs)).astype(np.float32)
    batch_loss = (np.repeat(loss, steps) + rng.normal(0, 0.05, epochs * steps)).astype(np.float32)
    lr = np.float32(0.001)
    factor, patience, min_lr, min_delta = 0.5, 10, 1e-7, 1e-4
    best, wait = np.inf, 0
    epoch_lr, reductions = [], []
    for epoch in range(epochs):
        epoch_lr.append(lr)  # logs["lr"]: the variable before this epoch's reduction
        current = val_loss[epoch]
        if np.less(current, best - min_delta):
            best, wait = current, 0
        else:
            wait += 1
            if wait >= patience:
                if lr > np.float32(min_lr):
                    new_lr = max(float(lr) * factor, min_lr)
                    reductions.append((epoch, new_lr))
                    lr = np.float32(new_lr)
                wait = 0
    return {
        "loss": loss,
        "val_loss": val_loss,
        "batch_loss": batch_loss,
        "epoch_lr": np.array(epoch_lr, dtype=np.float32),
        "reductions": reductions,
    }


def _metric(value: float) -> str:
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def write_console(path: Path, sim: dict, epochs: int, steps: int, redraws: int) -> None:
    """Keras 2 console output: ``\\b``-redrawn bars, RLR messages mid-bar, ``\\r\\n`` line ends."""
    reductions = dict(sim["reductions"])
    batch_loss = sim["batch_loss"]
    with open(path, "wb") as handle:
        handle.write(b"2024-01-01 00:00:00.000000: I tensorflow/core/platform/cpu_feature_guard.cc:182] "
                     b"This TensorFlow binary is optimized to use available CPU instructions.\r\n")
        for epoch in range(epochs):
            out = [f"Epoch {epoch + 1}/{epochs}\r\n".encode()]
            first = epoch * steps - 1
            bars, previous = keras2_bar_redraws(
                steps, redraws, lambda _, current, first=first: _metric(float(batch_loss[first + current]))
            )
            out.extend(bars)
            if epoch in reductions:
                out.append(
                    f"\r\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                    f"{reductions[epoch]}.\r\n".encode()
                )
            final = (
                f"\r{steps}/{steps} [{'=' * 30}] - 1s 1ms/step - loss: {_metric(float(sim['loss'][epoch]))}"
                f" - val_loss: {_metric(float(sim['val_loss'][epoch]))}"
                f" - lr: {_metric(float(sim['epoch_lr'][epoch]))}\r\n"
            )
            out.append(b"\x08" * previous + final.encode())
            handle.write(b"".join(out))


def _scalar_event(tag: str):
    """A template Event with one float32 tensor scalar of the scalars plugin."""
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2

    event = event_pb2.Event()
    value = event.summary.value.add(tag=tag)
    value.metadata.CopyFrom(
        summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
            data_class=summary_pb2.DATA_CLASS_SCALAR,
        )
    )
    value.tensor.CopyFrom(tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT))
    return event


def _write_events(path: Path, records) -> None:
    """``records``: (wall_time, step, tag, float32 value); written with tensorboard's TF-free writer."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    templates: dict[str, object] = {}
    with open(path, "wb") as handle:
        writer = RecordWriter(handle)
        header = event_pb2.Event(wall_time=WALL_START, file_version="brain.Event:2")
        writer.write(header.SerializeToString())
        for wall, step, tag, value in records:
            event = templates.get(tag)
            if event is None:
                event = templates[tag] = _scalar_event(tag)
            event.wall_time = wall
            event.step = step
            event.summary.value[0].tensor.tensor_content = np.float32(value).tobytes()
            writer.write(event.SerializeToString())
        writer.flush()


def write_events(root: Path, sim: dict, epochs: int, steps: int) -> None:
    """Keras 2 TensorBoard(update_freq='batch') files of the run."""
    name = f"events.out.tfevents.{int(WALL_START)}.bench.1.v2"
    batch_loss = sim["batch_loss"]

    def train():
        for epoch in range(epochs):
            base = epoch * steps
            for batch in range(steps):
                step = base + batch + 1
                yield WALL_START + step * 1e-3, step, "batch_loss", batch_loss[step - 1]
            wall = WALL_START + (base + steps) * 1e-3
            yield wall, epoch, "epoch_loss", sim["loss"][epoch]
            yield wall, epoch, "epoch_lr", sim["epoch_lr"][epoch]

    def validation():
        for epoch in range(epochs):
            wall = WALL_START + (epoch + 1) * steps * 1e-3
            yield wall, (epoch + 1) * steps, "evaluation_loss_vs_iterations", sim["val_loss"][epoch]
            yield wall, epoch, "epoch_loss", sim["val_loss"][epoch]

    _write_events(root / "tb" / "train" / name, train())
    _write_events(root / "tb" / "validation" / name.replace(".1.v2", ".2.v2"), validation())


def generate(root: Path, epochs: int, steps: int, redraws: int) -> None:
    """Write the run's console log, event files and optimizer config under ``root``."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    sim = simulate(epochs, steps)
    write_console(root / "console.log", sim, epochs, steps, redraws)
    write_events(root, sim, epochs, steps)
    config = {
        "name": "Adam", "learning_rate": 0.001, "decay": 0.0001, "beta_1": 0.9, "beta_2": 0.999,
        "epsilon": 1e-07, "amsgrad": False,
    }
    optimizer = {"class_name": "Adam", "module": "keras.optimizers.legacy", "config": config}
    (root / "optimizer.json").write_text(json.dumps(optimizer, indent=2))


# --- measuring ----------------------------------------------------------------------------------


def time_cli(args: list[str]) -> tuple[float, float, int, str]:
    """Wall seconds, peak RSS (MB), exit code and stdout of ``lraudit ARGS`` in a child process."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True)\n"
        "w = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "sys.stderr.write(f'{w} {rss} {p.returncode}\\n')\n"
        "sys.stdout.buffer.write(p.stdout)\n"
    )
    lraudit = [sys.executable, "-m", "lraudit", *args]
    proc = subprocess.run([sys.executable, "-c", wrapper, *lraudit], capture_output=True)
    wall, rss, code = proc.stderr.decode().strip().splitlines()[-1].split()
    return float(wall), float(rss), int(code), proc.stdout.decode()


def profile_audit(root: Path, top: int = 20) -> str:
    """cProfile of the audit (library call + JSON rendering) in this process; top entries."""
    from lraudit.api import audit
    from lraudit.report.formats import Format, render

    profiler = cProfile.Profile()
    profiler.enable()
    result = audit([root])
    render(result, Format.parse("json"), color=False)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    out.write("\n--- by own time ---\n")
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=1000, help="steps per epoch")
    parser.add_argument("--redraws", type=int, default=40, help="bar redraws per epoch")
    parser.add_argument("--regenerate", action="store_true", help="write the data even if it exists")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="time the CLI this many times")
    args = parser.parse_args()

    total = args.epochs * args.steps
    label = f"{total // 1_000_000}M" if total % 1_000_000 == 0 else str(total)
    root = DATA_DIR / f"audit_{label}"
    marker = DATA_DIR / f"audit_{label}.json"  # outside the run: it would be an input
    wanted = {"epochs": args.epochs, "steps": args.steps, "redraws": args.redraws}
    if args.regenerate or not marker.exists() or json.loads(marker.read_text()) != wanted:
        started = time.perf_counter()
        generate(root, args.epochs, args.steps, args.redraws)
        marker.write_text(json.dumps(wanted))
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6
        print(f"generated {root} ({size:.0f} MB) in {time.perf_counter() - started:.0f} s")

    for _ in range(args.repeat):
        wall, rss, code, stdout = time_cli(["audit", str(root), "--format", "json"])
        report = json.loads(stdout) if stdout.strip() else {}
        runs = report.get("runs", [])
        findings = sum(len(run.get("findings", [])) for run in runs)
        steps = runs[0].get("steps") if runs else None
        print(f"lraudit audit {root.name} --format json: {wall:.2f} s, peak RSS {rss:.0f} MB, "
              f"exit {code}, steps {steps}, findings {findings}")
    if not args.no_profile:
        print(profile_audit(root))


if __name__ == "__main__":
    main()
