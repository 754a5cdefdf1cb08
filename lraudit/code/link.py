"""Which ``fit`` call in the code produced which fit in the logs.

In a notebook the output of a ``fit`` is the output of its cell: a fit the logs show at
``nb.ipynb:cell 12:line 3`` belongs to the code's ``fit`` calls in ``nb.ipynb:cell 12``, in
order (a loop in one cell makes several). Beside a script, the logs' fits follow the script's
``fit`` calls in execution order. A fit without a match stays unlinked (None), and the notes say
why, so a value is never taken from a ``fit`` that did not produce the logged output.
"""
from __future__ import annotations

from collections.abc import Sequence

from lraudit.code.model import CodeFacts, CodeFit

#: what separates a notebook cell label from the line inside its output
_LINE_SEPARATOR = ":line "


def cell_of(location: str | None) -> str | None:
    """``nb.ipynb:cell 12`` of a location ``nb.ipynb:cell 12:line 3`` (None for other locations)."""
    if not location or ":cell " not in location:
        return None
    return location.split(_LINE_SEPARATOR, 1)[0]


def link_fits(
    locations: Sequence[str | None], facts: CodeFacts, by_cell: bool, first: int = 0
) -> tuple[list[CodeFit | None], list[str]]:
    """The code's ``fit`` for each logged fit (given by where its output starts), and notes.

    ``by_cell``: the logs and the code come from one notebook, so cells decide; otherwise the
    logged fits are matched to the code's fits in execution order, from the code's fit ``first``
    (the logs' part of a file holding several trainings starts there).
    """
    trainings = list(facts.trainings)[first:] if not by_cell else list(facts.trainings)
    if not trainings or not locations:
        return [None] * len(locations), []
    if by_cell:
        return _link_by_cell(locations, trainings)
    linked: list[CodeFit | None] = [*trainings[: len(locations)], *[None] * (len(locations) - len(trainings))]
    notes = []
    if len(trainings) < len(locations):
        notes.append(
            f"the code has {len(trainings)} fit call(s) and the logs show {len(locations)} fit(s): "
            "they were matched in order"
        )
    return linked, notes


def _link_by_cell(
    locations: Sequence[str | None], trainings: list[CodeFit]
) -> tuple[list[CodeFit | None], list[str]]:
    remaining: dict[str, list[CodeFit]] = {}
    for training in trainings:
        remaining.setdefault(training.cell, []).append(training)
    linked: list[CodeFit | None] = []
    unmatched = []
    for location in locations:
        cell = cell_of(location)
        queue = remaining.get(cell or "", [])
        if queue:
            # the last fit call of a cell takes every further logged fit of it (a loop)
            linked.append(queue.pop(0) if len(queue) > 1 else queue[0])
        else:
            linked.append(None)
            unmatched.append(location or "?")
    notes = []
    if unmatched:
        notes.append(
            f"no fit call in the code produced the output at {', '.join(unmatched[:3])}"
            f"{' ...' if len(unmatched) > 3 else ''}: its optimizer and callbacks are not taken from the code"
        )
    return linked, notes
