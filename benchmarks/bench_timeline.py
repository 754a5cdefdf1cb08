"""Time ``build_timeline`` on a synthetic 1 M-step run (no files: a Run built in memory).

Usage: ``python benchmarks/bench_timeline.py [--epochs 1000] [--steps-per-epoch 1000]``.
Two runs are timed: legacy Adam with ``decay`` + ReduceLROnPlateau reductions and a per-epoch
History ``lr`` column, and Keras 3 SGD with a CosineDecayRestarts schedule.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from lraudit.reconstruction import build_timeline
from lraudit.run import Fit, Run
from lraudit.sources.base import CallbackEvent, scalars_frame


def synthetic_run(epochs: int, spe: int, schedule: bool) -> Run:
    """A run of ``epochs`` x ``spe`` steps: Keras 2 decay + plateau, or Keras 3 + a schedule."""
    events, rows = [], []
    if schedule:
        optimizer = {
            "module": "keras.optimizers",
            "class_name": "SGD",
            "config": {
                "name": "sgd",
                "learning_rate": {
                    "module": "keras.optimizers.schedules",
                    "class_name": "CosineDecayRestarts",
                    "config": {"initial_learning_rate": 0.1, "first_decay_steps": 5000, "t_mul": 2.0,
                               "m_mul": 0.9, "alpha": 0.01},
                },
                "gradient_accumulation_steps": None,
            },
        }
        keras = "3"
    else:
        optimizer = {"class_name": "Adam", "config": {"name": "Adam", "learning_rate": 1e-3, "decay": 1e-4}}
        keras = "2"
        lr = np.float32(1e-3)
        for epoch in range(epochs):
            rows.append(("history", "history.json", None, "lr", epoch, None, 0, float(lr), None))
            if epoch % 50 == 49:
                printed = float(lr) * 0.75
                events.append(CallbackEvent("plateau_reduction", epoch, printed, repr(printed),
                                            f"console.log:{epoch}", "ReduceLROnPlateau"))
                lr = np.float32(printed)
    frame = scalars_frame(rows)
    return Run(
        path="synthetic",
        scalars=frame.assign(global_epoch=frame["epoch"]),
        events=events,
        fits=[Fit(index=0, first_epoch=0, end_epoch=epochs, steps_per_epoch=spe)],
        epochs=epochs,
        steps_per_epoch=spe,
        optimizer_initial=optimizer,
        keras=keras,
        backend="tensorflow",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--steps-per-epoch", type=int, default=1000)
    args = parser.parse_args()
    for schedule in (False, True):
        run = synthetic_run(args.epochs, args.steps_per_epoch, schedule)
        start = time.perf_counter()
        timeline = build_timeline(run)
        elapsed = time.perf_counter() - start
        kind = "Keras 3 CosineDecayRestarts" if schedule else "Keras 2 Adam decay + plateau + History lr"
        print(f"{kind}: {len(timeline.frame):,} steps, {len(timeline.logged):,} logged values, "
              f"{elapsed:.2f} s")


if __name__ == "__main__":
    main()
