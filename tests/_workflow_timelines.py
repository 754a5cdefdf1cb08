"""Small synthetic Timelines for the explain/plot tests, computed here from closed forms."""
from __future__ import annotations

import numpy as np
import pandas as pd

from lraudit.reconstruction import LrChange, Timeline
from lraudit.run import Fit, Run
from lraudit.semantics.specs import OptimizerSpec


def decay_plateau_timeline(
    *,
    path: str = "runs/decay_plateau",
    steps_per_epoch: int = 20,
    epochs: int = 8,
    lr0: float = 1e-3,
    decay: float = 1e-2,
    reductions: tuple[int, ...] = (4, 5),
    factor: float = 0.75,
    invalid_from: int | None = None,
    fits: tuple[int, ...] = (0,),
    counter_restarts: bool = False,
) -> Timeline:
    """Legacy decay + ReduceLROnPlateau: variable cut by ``factor`` at the end of ``reductions``
    (0-based epochs), applied lr = variable / (1 + decay*step). ``fits`` are the first epochs of
    each fit; with ``counter_restarts`` the counter starts at 0 again at each fit."""
    n = steps_per_epoch * epochs
    index = np.arange(n)
    epoch = index // steps_per_epoch
    batch = index % steps_per_epoch
    fit = np.searchsorted(np.array(fits), epoch, side="right") - 1
    step = index.copy()
    if counter_restarts:
        for first_epoch in fits[1:]:
            start = first_epoch * steps_per_epoch
            step[start:] = index[start:] - start
    variable = np.full(n, np.float32(lr0), dtype=np.float32)
    changes = []
    current = np.float32(lr0)
    for e in reductions:
        new = np.float32(current * np.float32(factor))
        variable[epoch > e] = new
        used = (e + 1) * steps_per_epoch
        changes.append(
            LrChange(
                "ReduceLROnPlateau", e, float(current), float(new), printed=float(current) * factor,
                location=f"console.log:{10 + e}", effective_from_step=int(step[used]) if used < n else None,
            )
        )
        current = new
    effective = (variable / (np.float32(1) + np.float32(decay) * step.astype(np.float32))).astype(np.float32)
    if invalid_from is not None:
        effective[invalid_from:] = np.nan
    frame = pd.DataFrame(
        {
            "step": step, "epoch": epoch, "batch": batch, "lr_base": variable, "lr_effective": effective,
            "logged_lr": np.nan, "logged_source": None, "fit": fit, "lr_variable": variable,
            "decay_factor": (effective / variable).astype(np.float32),
        }
    )
    first = np.arange(epochs) * steps_per_epoch
    logged = pd.DataFrame(
        {
            "source": "csvlogger", "name": "lr", "location": [f"history.csv:{e + 2}" for e in range(epochs)],
            "epoch": np.arange(epochs), "step": step[first], "value": variable[first].astype(np.float64),
            "lr_base": variable[first], "lr_effective": effective[first], "relation": "base",
        }
    )
    run = Run(
        path=path, epochs=epochs, steps_per_epoch=steps_per_epoch,
        fits=[Fit(k, f, (*fits, epochs)[k + 1]) for k, f in enumerate(fits)],
    )
    spec = OptimizerSpec("Adam", "k2-legacy", lr0, decay=decay, source="optimizer.json")
    return Timeline(run=run, frame=frame, logged=logged, optimizer=spec, changes=changes, keras="2")
