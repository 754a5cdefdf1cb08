"""Benchmark of ``lraudit audit`` over thousands of small runs: ms per run and peak memory.

Builds (once) ``benchmarks/data/many_<n>/`` from copies of the bundled ``fixtures/runs``
(hard links, so 2,000 runs take no disk), then times in a child process, side by side:

* ``lraudit audit TREE --format jsonl --jobs 1`` and ``--jobs 2`` over all ``--runs``;
* the first ``--dask-runs`` runs (own tree) through a local ``dask.distributed`` cluster
  (2 worker processes, 1 thread each) with ``--scheduler``, when the ``scale`` extra is there.

Peak memory is the largest sum of RSS over the whole process tree (the CLI and its workers),
sampled from ``/proc`` every 50 ms; "ms/run/core" is wall x workers / runs.

    python benchmarks/bench_many.py                  # 2,000 runs, dask on 200
    python benchmarks/bench_many.py --runs 400 --dask-runs 100
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(__file__).parent / "data"
FIXTURES = ROOT / "fixtures" / "runs"


def make_tree(runs: int) -> Path:
    """``runs`` run folders, cycling through the bundled fixtures (hard-linked files)."""
    tree = DATA_DIR / f"many_{runs}"
    if tree.exists() and len(list(tree.iterdir())) == runs:
        return tree
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    sources = sorted(path for path in FIXTURES.iterdir() if path.is_dir())
    for index in range(runs):
        shutil.copytree(sources[index % len(sources)], tree / f"run_{index:05d}", copy_function=os.link)
    return tree


def _tree_rss(pid: int) -> int:
    """Sum of RSS in bytes of ``pid`` and all its descendants."""
    total, stack = 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/statm") as handle:
                total += int(handle.read().split()[1]) * page
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    stack.extend(int(child) for child in handle.read().split())
        except (OSError, ValueError):
            continue
    return total


def timed(args: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak tree RSS in MB and exit code of ``python -m lraudit ARGS``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "lraudit", *args], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = process.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if process.returncode not in (0, 1):
        print(err.decode(errors="replace")[-2000:], file=sys.stderr)
    return wall, peak / 1e6, process.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--dask-runs", type=int, default=200)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    options = parser.parse_args()
    rows = []
    tree = make_tree(options.runs)
    out = DATA_DIR / "many.jsonl"
    jsonl = ["--format", "jsonl", "-o", str(out)]
    for jobs in options.jobs:
        wall, peak, code = timed(["audit", str(tree), *jsonl, "--jobs", str(jobs)])
        lines = sum(1 for _ in out.open())
        per_run = wall * jobs / options.runs * 1000
        rows.append((f"--jobs {jobs}", options.runs, lines, wall, per_run, peak, code))
    if options.dask_runs:
        try:
            from distributed import LocalCluster
        except ImportError:
            print("dask: skipped (pip install -e '.[scale]')")
        else:
            # the scheduler and workers unpickle the per-run function: they import this lraudit
            os.environ["PYTHONPATH"] = str(ROOT)
            sys.path.insert(0, str(ROOT))  # the scheduler runs in this process
            small = make_tree(options.dask_runs)
            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=None, silence_logs=40) as cluster:
                local_wall, _, _ = timed(["audit", str(small), *jsonl, "--jobs", "2"])
                address = cluster.scheduler_address
                wall, peak, code = timed(["audit", str(small), *jsonl, "--scheduler", address])
                lines = sum(1 for _ in out.open())
                rows.append(("--jobs 2 (same runs)", options.dask_runs, lines, local_wall,
                             local_wall * 2 / options.dask_runs * 1000, float("nan"), 0))
                per_run = wall * 2 / options.dask_runs * 1000
                rows.append(("dask 2 workers", options.dask_runs, lines, wall, per_run, peak, code))
    print("| how | runs | results | wall s | ms/run/core | peak RSS MB (tree) | exit |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for how, runs, lines, wall, per_run, peak, code in rows:
        print(f"| {how} | {runs} | {lines} | {wall:.1f} | {per_run:.0f} | {peak:.0f} | {code} |")


if __name__ == "__main__":
    main()
