"""The command line: a thin Typer layer over the library API.

Exit codes (DESIGN.md §1): 0 nothing at or above ``--fail-on``; 1 findings at or above it;
2 bad usage or unreadable input (one line on stderr, never a traceback).
Heavy modules (pandas, matplotlib) are imported inside the commands, so ``--help`` is fast.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from lraudit.errors import LrauditError
from lraudit.options import RunOptions

EXIT_SUCCESS = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

app = typer.Typer(
    name="lraudit",
    help="Audit the learning rate Keras really applied at every optimizer step.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

PathsArg = Annotated[list[Path], typer.Argument(help="Run directories or single log files.")]
OptimizerOpt = Annotated[
    Optional[str],
    typer.Option(
        "--optimizer",
        help='Optimizer when the logs hold no config: "Adam(lr=1e-3, decay=1e-2)" or a JSON/model file.',
    ),
]
CallbackOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--callback",
        help="Repeatable: \"ReduceLROnPlateau(monitor='val_loss', factor=0.75, patience=3)\".",
    ),
]
KerasOpt = Annotated[str, typer.Option("--keras", help="Keras semantics: 2, 3 or auto.")]
StepsOpt = Annotated[
    Optional[int], typer.Option("--steps-per-epoch", help="Steps per epoch when logs do not show it.")
]


def _version(value: bool) -> None:
    if value:
        from lraudit import __version__

        typer.echo(f"lraudit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Audit the learning rate Keras really applied at every optimizer step."""


def _run_options(
    optimizer: str | None, callback: list[str] | None, keras: str, steps_per_epoch: int | None
) -> RunOptions:
    if keras not in ("2", "3", "auto"):
        raise LrauditError(f"--keras must be 2, 3 or auto, not {keras!r}")
    if steps_per_epoch is not None and steps_per_epoch <= 0:
        raise LrauditError(f"--steps-per-epoch must be a positive integer, not {steps_per_epoch}")
    return RunOptions(
        optimizer=optimizer,
        callbacks=list(callback or []),
        keras=keras,
        steps_per_epoch=steps_per_epoch,
    )


@app.command()
def parse(
    paths: PathsArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Output file (.csv, .parquet, .json).")],
    fmt: Annotated[
        Optional[str], typer.Option("--format", help="csv, parquet or json (default: from the suffix).")
    ] = None,
) -> None:
    """Every logged scalar and callback event, normalised, in long format, with its source."""
    from lraudit.api import parse_paths
    from lraudit.report.tables import write_table

    frame = parse_paths(paths)
    write_table(frame, output, fmt)


def main() -> None:
    """Entry point of the ``lraudit`` console script."""
    try:
        code = app(standalone_mode=False)
    except SystemExit:
        raise
    except LrauditError as exc:
        typer.echo(f"lraudit: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("lraudit: aborted", err=True)
        sys.exit(EXIT_ERROR)
    except Exception as exc:  # a click usage error or an unexpected failure: still one line
        import click

        if isinstance(exc, click.exceptions.UsageError):
            typer.echo(f"lraudit: error: {exc.format_message()}", err=True)
            sys.exit(EXIT_ERROR)
        if isinstance(exc, click.exceptions.ClickException):
            typer.echo(f"lraudit: error: {exc.format_message()}", err=True)
            sys.exit(EXIT_ERROR)
        if os.environ.get("LRAUDIT_DEBUG"):
            raise
        typer.echo(f"lraudit: error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(code if isinstance(code, int) else EXIT_SUCCESS)
