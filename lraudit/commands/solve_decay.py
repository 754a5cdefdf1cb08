"""``lraudit solve-decay``: the legacy ``decay`` for a per-epoch factor, and the schedule that keeps it."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from lraudit.errors import UsageError


def solve_decay(
    factor: Annotated[float, typer.Option("--factor", help="Intended lr factor per epoch, 0 < F < 1.")],
    steps_per_epoch: Annotated[
        int, typer.Option("--steps-per-epoch", help="Optimizer updates (batches) per epoch.")
    ],
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs in the factor table.")] = 10,
    lr: Annotated[float | None, typer.Option("--lr", help="Initial learning rate (adds lr columns).")] = None,
    keras: Annotated[str, typer.Option("--keras", help="Keras era of the code shown: 2 or 3.")] = "2",
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """The legacy decay giving xF after the first epoch, why it cannot keep xF, and the schedule that does."""
    from lraudit.report.workflow_text import print_document
    from lraudit.solve_decay import solution_document
    from lraudit.solve_decay import solve_decay as solve

    if fmt not in ("text", "json"):
        raise UsageError(f"--format must be text or json, not {fmt!r}")
    solution = solve(factor, steps_per_epoch, epochs=epochs, lr=lr, keras=keras)
    if fmt == "json":
        typer.echo(json.dumps(solution.to_dict(), indent=2))
    else:
        print_document(solution_document(solution))
