"""Benchmark of the console reader on a generated multi-gigabyte-class log.

Generates a realistic Keras console log of ``--size`` bytes (default 1 GB) into
``benchmarks/data/`` (git-ignored): alternating Keras 2 fits (``[====>...]`` bars redrawn with
long ``\\b`` runs, RLR messages landing mid-bar) and Keras 3 fits (ANSI-coloured ``━`` bars),
with a few thousand redraws per epoch so each bar line is megabytes long. Then it runs
``lraudit.sources.console.read`` in a child process and prints wall time and peak RSS.

    python benchmarks/bench_console.py --size 100M
    python benchmarks/bench_console.py --size 1G
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"


def parse_size(text: str) -> int:
    """``100M``, ``1G``, ``512K`` or a plain byte count."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper()
    if text[-1:] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def keras2_bar_redraws(
    steps: int, redraws: int, loss_text: Callable[[int, int], str]
) -> tuple[list[bytes], int]:
    """A Keras 2 progress bar redrawn ``redraws`` times, each redraw erasing the last with ``\\b``.

    ``loss_text(k, current)`` is the loss shown at redraw ``k`` (batch ``current``). Returns the
    redraws and how many characters the final bar must erase. Shared with ``bench_audit`` so
    both benchmarks feed the reader the same bar shape Keras 2 prints.
    """
    out: list[bytes] = []
    previous = 0
    width = len(str(steps))
    for k in range(redraws):
        current = 1 + (k * (steps - 1)) // max(redraws, 1)
        filled = 30 * current // steps
        bar = "=" * max(filled - 1, 0) + ">" + "." * (30 - filled)
        text = f"\r{current:>{width}}/{steps} [{bar}] - ETA: 0s - loss: {loss_text(k, current)}".encode()
        out.append(b"\x08" * previous + text)
        previous = len(text) - 1
    return out, previous


def _keras2_epoch(epoch: int, epochs: int, steps: int, redraws: int, reduce: bool) -> bytes:
    out = [f"Epoch {epoch + 1}/{epochs}\r\n".encode()]
    bars, previous = keras2_bar_redraws(steps, redraws, lambda k, _: f"{1.5 - k * 1e-6:.4f}")
    out.extend(bars)
    if reduce:
        out.append(f"\r\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to 0.0005.\r\n".encode())
    final = f"\r{steps}/{steps} [{'=' * 30}] - 1s 2ms/step - loss: 1.2345 - val_loss: 1.3456 - lr: 0.0010\r\n"
    out.append(b"\x08" * previous + final.encode())
    return b"".join(out)


def _keras3_epoch(epoch: int, epochs: int, steps: int, redraws: int) -> bytes:
    out = [f"Epoch {epoch + 1}/{epochs}\r\n".encode()]
    previous = 0
    for k in range(redraws):
        current = 1 + (k * (steps - 1)) // max(redraws, 1)
        done = 20 * current // steps
        text = (
            f"\r\x1b[1m{current:>{len(str(steps))}}/{steps}\x1b[0m \x1b[32m{'━' * done}\x1b[0m"
            f"\x1b[37m{'━' * (20 - done)}\x1b[0m \x1b[1m0s\x1b[0m 2ms/step - loss: {2.5 - k * 1e-6:.4f}"
        ).encode()
        out.append(b"\x08" * previous + text)
        previous = 60
    final = (
        f"\r\x1b[1m{steps}/{steps}\x1b[0m \x1b[32m{'━' * 20}\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 2ms/step"
        " - loss: 2.2053 - val_loss: 1.1482 - learning_rate: 0.0020  \r\n"
    )
    out.append(b"\x08" * previous + final.encode())
    return b"".join(out)


def generate(path: Path, size: int, redraws: int = 8000) -> dict:
    """Write a log of about ``size`` bytes; return what a correct reader must find."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    fits = epochs_total = reductions = 0
    with path.open("wb") as handle:
        handle.write(
            b"<venv>/keras/src/optimizers/legacy/adam.py:118: UserWarning: "
            b"The `lr` argument is deprecated, use `learning_rate` instead.\r\n"
        )
        while written < size:
            keras3 = fits % 2 == 1
            epochs = 5
            for epoch in range(epochs):
                if keras3:
                    block = _keras3_epoch(epoch, epochs, 400, redraws)
                else:
                    reduce = epoch % 2 == 1
                    reductions += reduce
                    block = _keras2_epoch(epoch, epochs, 500, redraws, reduce)
                handle.write(block)
                written += len(block)
                epochs_total += 1
            fits += 1
    return {"fits": fits, "epochs": epochs_total, "reductions": reductions, "bytes": path.stat().st_size}


_CHILD = """
import json, resource, sys, time
from pathlib import Path
from lraudit.sources import console
start = time.perf_counter()
data = console.read(Path(sys.argv[1]))
wall = time.perf_counter() - start
rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"wall": wall, "rss_mb": rss_kb / 1024, "fits": len(data.fits),
                  "epochs": sum(len(f.epochs_seen) for f in data.fits), "rows": len(data.scalars),
                  "reductions": sum(e.kind == "plateau_reduction" for e in data.events),
                  "warnings": data.warnings[:3]}))
"""

_BASELINE = "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="1G", help="log size, e.g. 100M, 1G (default 1G)")
    parser.add_argument("--redraws", type=int, default=8000, help="bar redraws per epoch (line length)")
    parser.add_argument("--keep", action="store_true", help="reuse an existing generated file of that size")
    args = parser.parse_args()
    size = parse_size(args.size)
    path = DATA_DIR / f"console_{args.size}.log"
    if args.keep and path.exists():
        expected = json.loads(path.with_suffix(".json").read_text())
    else:
        start = time.perf_counter()
        expected = generate(path, size, args.redraws)
        path.with_suffix(".json").write_text(json.dumps(expected))
        print(f"generated {path} ({expected['bytes'] / 1e6:.0f} MB) in {time.perf_counter() - start:.1f} s")
    baseline = float(subprocess.run([sys.executable, "-c", _BASELINE], capture_output=True, text=True).stdout)
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, check=True
    )
    result = json.loads(child.stdout)
    mb = expected["bytes"] / 1e6
    print(
        f"{'file MB':>8} {'wall s':>7} {'MB/s':>7} {'peak RSS MB':>11} {'interp. RSS':>11} "
        f"{'fits':>5} {'epochs':>6} {'rows':>6} {'RLR msgs':>8}"
    )
    print(
        f"{mb:8.0f} {result['wall']:7.2f} {mb / result['wall']:7.0f} {result['rss_mb']:11.0f} "
        f"{baseline:11.0f} {result['fits']:>5} {result['epochs']:>6} {result['rows']:>6} "
        f"{result['reductions']:>8}"
    )
    ok = (result["fits"], result["epochs"], result["reductions"]) == (
        expected["fits"],
        expected["epochs"],
        expected["reductions"],
    )
    print("content check:", "ok" if ok else f"MISMATCH expected {expected}", result["warnings"])


if __name__ == "__main__":
    main()
