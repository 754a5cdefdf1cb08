"""Benchmark of ``lraudit parse`` (the CLI, in a child process) on the benchmark data.

Inputs (made by the other benchmarks, under ``benchmarks/data/``; missing ones are skipped):

* ``tf2_1M``, ``tf1_1M``, ``tf2_10M``, ``tf1_10M``: Keras-like TensorBoard event files of 1 M /
  10 M scalars (``python benchmarks/bench_tfevents.py`` writes them);
* ``console_100M.log``, ``console_1G.log``: Keras 2/3 console logs (``python
  benchmarks/bench_console.py --size 100M`` / ``--size 1G``).

Each is parsed with ``lraudit parse INPUT -o OUT.parquet`` (``--formats`` adds csv/json) in a
fresh child process: wall time and peak RSS (``RUSAGE_CHILDREN`` of a wrapper process),
interpreter start and imports included. The rows written are counted from the parquet footer.

For the event files the ratio to tensorboard's loader and tbparse (file -> parquet, measured by
``bench_tfevents.py`` on this machine, see ``benchmarks/README.md``) is printed;
``--rerun-reference`` measures tensorboard's loader again on the 1 M files (~40-60 s each).

    python benchmarks/bench_parse.py
    python benchmarks/bench_parse.py --inputs tf2_1M tf1_1M --formats parquet csv
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
INPUTS = ("tf2_1M", "tf1_1M", "tf2_10M", "tf1_10M", "console_100M", "console_1G")

#: seconds / peak RSS MB of other tools, file -> parquet, from bench_tfevents.py (README table)
REFERENCE = {
    "tf2_1M": {"tensorboard": (36.45, 428), "tbparse": (36.88, 1687)},
    "tf1_1M": {"tensorboard": (55.88, 416), "tbparse": (20.56, 455)},
}

_WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"wall": wall, "rss_mb": rss, "code": proc.returncode, "stderr": proc.stderr[-500:]}))
"""


def input_path(name: str) -> Path:
    """The file or folder of a benchmark input."""
    return DATA_DIR / (f"{name}.log" if name.startswith("console") else name)


def measure(command: list[str]) -> dict:
    """Wall seconds, peak RSS (MB) and exit code of ``command`` in a child process."""
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, *command], capture_output=True, text=True)
    return json.loads(proc.stdout)


def rows_written(path: Path, fmt: str) -> int | None:
    """Rows in the output (parquet: from the footer; other formats are not re-read)."""
    if fmt != "parquet":
        return None
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def parse_cli(source: Path, output: Path) -> list[str]:
    """The ``lraudit parse`` command line, run by this interpreter."""
    return [sys.executable, "-m", "lraudit", "parse", str(source), "-o", str(output)]


def rerun_tensorboard(name: str, out_dir: Path) -> tuple[float, float] | None:
    """tensorboard's loader on one event file again (``bench_tfevents.work_tensorboard``)."""
    files = sorted(p for p in input_path(name).rglob("events.out.tfevents.*") if p.is_file())
    if not files:
        return None
    child = (
        "import sys; sys.path.insert(0, sys.argv[1]); import bench_tfevents as b; "
        "b.work_tensorboard(sys.argv[2], sys.argv[3])"
    )
    result = measure([sys.executable, "-c", child, str(Path(__file__).parent), str(files[0]),
                      str(out_dir / f"{name}.tensorboard.parquet")])
    return (result["wall"], result["rss_mb"]) if result["code"] == 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inputs", nargs="+", default=list(INPUTS), choices=INPUTS)
    parser.add_argument("--formats", nargs="+", default=["parquet"], choices=["parquet", "csv", "json"])
    parser.add_argument("--rerun-reference", action="store_true",
                        help="measure tensorboard's loader again on the 1 M files")
    args = parser.parse_args()

    reference = {name: dict(tools) for name, tools in REFERENCE.items()}
    print("| input | MB | format | rows | seconds | peak RSS MB | tensorboard / lraudit"
          " | tbparse / lraudit |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory(prefix="bench_parse.", dir=DATA_DIR) as scratch:
        out_dir = Path(scratch)
        for name in args.inputs:
            source = input_path(name)
            if not source.exists():
                print(f"| {name} | - | - | - | skipped: {source} missing | | | |")
                continue
            size = sum(p.stat().st_size for p in ([source] if source.is_file() else source.rglob("*"))
                       if p.is_file()) / 1e6
            if args.rerun_reference and name in reference:
                rerun = rerun_tensorboard(name, out_dir)
                if rerun is not None:
                    reference[name]["tensorboard"] = rerun
            for fmt in args.formats:
                output = out_dir / f"{name}.{fmt}"
                result = measure(parse_cli(source, output))
                if result["code"] != 0:
                    print(f"| {name} | {size:.0f} | {fmt} | failed: {result['stderr'].strip()} | | | | |")
                    continue
                rows = rows_written(output, fmt)
                ratios = [
                    f"{reference[name][tool][0] / result['wall']:.0f}x"
                    if tool in reference.get(name, {}) else "-"
                    for tool in ("tensorboard", "tbparse")
                ]
                print(f"| {name} | {size:.0f} | {fmt} | {'-' if rows is None else f'{rows:,}'} "
                      f"| {result['wall']:.2f} | {result['rss_mb']:.0f} | {ratios[0]} | {ratios[1]} |")
                output.unlink()


if __name__ == "__main__":
    main()
