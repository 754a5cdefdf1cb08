"""Option types shared by several commands, and the translation into :class:`RunOptions`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from lraudit.options import RunOptions


PathsArg = Annotated[list[Path], typer.Argument(help="Run directories or single log files.", metavar="PATH")]
OptimizerOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--optimizer",
        metavar="EXPR|FILE",
        help=(
            'Optimizer when the logs hold no config: "Adam(lr=1e-3, decay=1e-2)" or a JSON/model file. '
            'Repeatable for a re-compile between fits: "2:Adam(learning_rate=1e-5)" is a fresh optimizer '
            "compiled before fit 2 (fits numbered from 1 in log order)."
        ),
    ),
]
CallbackOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--callback",
        metavar="EXPR",
        help="Repeatable: \"ReduceLROnPlateau(monitor='val_loss', factor=0.75, patience=3)\".",
    ),
]
SchedulerOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--scheduler",
        metavar="EXPR",
        help="PyTorch runs, repeatable: a torch.optim.lr_scheduler in PyTorch syntax, "
        "\"CosineAnnealingLR(T_max=30)\"; replaces the schedulers the training script builds. "
        "audit also takes an address, tcp://HOST:PORT: the runs are audited on that "
        "dask.distributed scheduler.",
    ),
]
KerasOpt = Annotated[
    str,
    typer.Option(
        "--keras",
        metavar="2|3|auto|VERSION",
        help="Keras semantics: 2, 3, auto, or the version that ran (e.g. 2.1.5: callbacks of that release).",
    ),
]
BackendOpt = Annotated[
    str,
    typer.Option(
        "--backend",
        metavar="NAME",
        help="Keras 3 backend that ran the train step (decides schedule arithmetic bit for bit): "
        "tensorflow, jax, torch or auto (from the logs).",
    ),
]
StepsOpt = Annotated[
    int | None,
    typer.Option("--steps-per-epoch", help="Steps per epoch when the logs do not show it."),
]
#: the table a command writes (``parse``, ``timeline``): the suffix picks the format unless given
TableOutputOpt = Annotated[
    Path, typer.Option("-o", "--output", metavar="FILE", help="Output file (.csv, .parquet, .json).")
]
TableFormatOpt = Annotated[
    str | None,
    typer.Option("--format", metavar="FORMAT", help="csv, parquet or json (default: from the suffix)."),
]


def split_scheduler_option(values: list[str] | None) -> tuple[list[str], list[str]]:
    """``--scheduler`` values split into dask scheduler addresses (``tcp://HOST:PORT``) and PyTorch
    scheduler expressions (they always call a class: ``StepLR(step_size=3)``); more than one address
    is a usage error."""
    from lraudit.errors import UsageError

    addresses = [v for v in values or [] if "(" not in v]
    expressions = [v for v in values or [] if "(" in v]
    if len(addresses) > 1:
        raise UsageError(f"--scheduler: one dask scheduler address at most, not {', '.join(addresses)}")
    return addresses, expressions


def run_options(
    optimizer: list[str] | str | None,
    callback: list[str] | None,
    keras: str = "auto",
    steps_per_epoch: int | None = None,
    backend: str = "auto",
    scheduler: list[str] | None = None,
) -> RunOptions:
    """The shared options as the library takes them (validated and resolved by
    :func:`lraudit.api.run_options`; its errors name the argument, the CLI shows the flag)."""
    from lraudit.api import run_options as library_options

    return library_options(
        optimizer=optimizer,
        callbacks=list(callback or []),
        keras=keras,
        steps_per_epoch=steps_per_epoch,
        backend=backend,
        schedulers=list(scheduler or []),
    )
