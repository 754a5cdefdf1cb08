"""Rules about the number of steps per epoch the reconstruction used: LRA025."""
from __future__ import annotations

import math
from collections.abc import Iterator
from functools import reduce
from typing import TYPE_CHECKING

from lraudit.rules._facts import frame
from lraudit.rules.base import REGISTRY, Finding, Rule, Severity

if TYPE_CHECKING:
    import pandas as pd

    from lraudit.reconstruction import Timeline
    from lraudit.run import Run


def steps_per_epoch_used(table: pd.DataFrame) -> dict[int, int]:
    """Steps per epoch the reconstruction laid out, per fit index (the largest epoch of each fit)."""
    if table.empty:
        return {}
    keys = table["fit"].fillna(0).astype(int) if "fit" in table else 0
    sizes = table.groupby([keys, table["epoch"]]).size()
    return {int(fit): int(size) for fit, size in sizes.groupby(level=0).max().items()}


def unexplained_counters(run: Run, table: pd.DataFrame) -> list[tuple[str, int]]:
    """Saved optimizer counters that are not the counter at the end of any reconstructed epoch."""
    if table.empty or not run.saved_counters:
        return []
    ends = set((table.groupby("epoch")["step"].max() + 1).astype(int).tolist())
    return [
        (c.path, int(c.iterations)) for c in run.saved_counters if c.iterations and c.iterations not in ends
    ]


@REGISTRY.register
class StepsPerEpochContradiction(Rule):
    """The steps per epoch the audit used contradict the progress bars or a saved counter.

    What it detects:
        Every per-step number of a report comes from one reconstruction laid out with N steps
        per epoch. The rule names both numbers when N differs from what the logs show: a
        progress bar's ``M/M`` (when ``--steps-per-epoch`` overrode it), or a saved optimizer
        counter (``iterations`` in an ``.h5``/``.keras`` checkpoint) that is not the counter at
        the end of any reconstructed epoch (e.g. a sample-count bar ``10000/10000`` read as
        10000 steps while checkpoints hold 79, 632, 1580 = 79 per epoch). Counter evidence alone
        is a warning (the checkpoint may belong to another execution); a contradicted bar is
        an error.
    Why it matters:
        The legacy ``decay`` factor, schedule values and step numbers of every finding depend on
        the steps per epoch: with the wrong count they describe a run that did not happen.
    Example:
        ``--steps-per-epoch 100`` on a log whose bars end at ``1562/1562``: the audit says
        "100 given, 1562 in the progress bars" instead of silently preferring one.
    Fix:
        Drop ``--steps-per-epoch`` when the bars show it, or give the number the optimizer really
        counted (``ceil(samples / batch_size)``, or a saved ``iterations`` divided by the epochs).
    References:
        keras ``keras/src/trainers/epoch_iterator.py`` @ v3.15.1 (steps per epoch);
        reference §1.1 (legacy ``decay`` counts ``iterations``), §8.3.
    """

    code = "LRA025"
    name = "steps-per-epoch-contradiction"
    severity = Severity.ERROR

    @classmethod
    def check(cls, run: Run, timeline: Timeline) -> Iterator[Finding]:
        table = frame(timeline)
        if table.empty or int(timeline.extra.get("gradient_accumulation_steps", 1) or 1) != 1:
            return
        used = steps_per_epoch_used(table)
        # what the logs show per fit (a bar's M/M), the run's own count where a fit tells none
        shown = {f.index: f.steps_per_epoch or run.steps_per_epoch for f in run.fits}
        shown = shown or {0: run.steps_per_epoch}
        for fit, steps in sorted(used.items()):
            logged = shown.get(fit)
            if logged and steps != logged:
                yield cls.finding(
                    run,
                    f"the audit laid out {steps} steps per epoch (--steps-per-epoch) but the progress bars "
                    f"of fit {fit + 1} show {logged}: every per-step number of this report uses {steps}",
                    epoch=int(table.loc[table["fit"] == fit, "epoch"].min()) if "fit" in table else None,
                )
                return
        counters = unexplained_counters(run, table)
        if not counters:
            return
        steps = max(used.values())
        divisor = reduce(math.gcd, (n for _, n in counters))
        hint = f"; they are multiples of {divisor}" if divisor > 1 and divisor != steps else ""
        listed = ", ".join(f"{n} ({path})" for path, n in counters)
        yield cls.finding(
            run,
            f"saved optimizer counter(s) {listed} are not the counter at the end of any epoch with the "
            f"{steps} steps per epoch the audit used{hint}: the steps per epoch (or these files' run) "
            "differ, and every per-step number of this report uses "
            f"{steps}",
            severity=Severity.WARNING,
            source=counters[0][0],
        )
