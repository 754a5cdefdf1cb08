"""The command line: a thin Typer layer over the library API.

Exit codes: 0 nothing at or above ``--fail-on``; 1 findings at or above it;
2 bad usage or unreadable input (one line on stderr, never a traceback); 130 interrupted (Ctrl-C).
``lraudit`` alone prints the usage (exit 0).
Heavy modules (pandas, matplotlib) are imported inside the commands, so ``--help`` is fast.
"""
from __future__ import annotations

import os
import re
import sys
from typing import Annotated

import typer

from lraudit.commands import audit as audit_cmd
from lraudit.commands import explain as explain_cmd
from lraudit.commands import parse as parse_cmd
from lraudit.commands import plot as plot_cmd
from lraudit.commands import rules as rules_cmd
from lraudit.commands import solve_decay as solve_decay_cmd
from lraudit.commands import timeline as timeline_cmd
from lraudit.commands.help import PlainHelpCommand
from lraudit.errors import LrauditError
from lraudit.exit_codes import EXIT_ERROR, EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_SUCCESS

__all__ = ["EXIT_ERROR", "EXIT_FINDINGS", "EXIT_SUCCESS", "app", "cli_message", "main"]

app = typer.Typer(
    name="lraudit",
    help="Audit the learning rate Keras or PyTorch really applied at every optimizer step.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)



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
    """Audit the learning rate Keras or PyTorch really applied at every optimizer step."""


# every command renders its own plain help (lraudit.commands.help): the same text under every
# Typer version the project allows, without Typer's type labels (<bool>, {paths})
app.command("audit", cls=PlainHelpCommand)(audit_cmd.audit)
app.command("timeline", cls=PlainHelpCommand)(timeline_cmd.timeline)
app.command("parse", cls=PlainHelpCommand)(parse_cmd.parse)
app.command("explain", cls=PlainHelpCommand)(explain_cmd.explain)
app.command("solve-decay", cls=PlainHelpCommand)(solve_decay_cmd.solve_decay)
app.command("plot", cls=PlainHelpCommand)(plot_cmd.plot)
app.command("rules", cls=PlainHelpCommand)(rules_cmd.rules)


#: options whose name is not the library argument's with ``-`` for ``_``
_FLAGS = {"callbacks": "--callback"}


def cli_message(exc: LrauditError) -> str:
    """The library's message with the argument it names spelt as the command-line option.

    The library says ``optimizer='x.json': no such file`` or ``steps_per_epoch must be ...``;
    the command line says ``--optimizer 'x.json': ...`` and ``--steps-per-epoch must be ...``.
    """
    text = str(exc)
    argument = getattr(exc, "argument", None)
    if not argument:
        return text
    flag = _FLAGS.get(argument, "--" + argument.replace("_", "-"))
    name = re.escape(argument)
    text = re.sub(rf"(?<![\w-]){name}=", flag + " ", text)
    return re.sub(rf"(?<![\w-]){name}\b(?![=\w])", flag, text, count=1)


def main() -> None:
    """Entry point of the ``lraudit`` console script."""
    try:
        # one program name in usage lines, however it was started (script, python -m, a test)
        code = app(standalone_mode=False, prog_name="lraudit")
    except SystemExit as exc:
        if exc.code == EXIT_INTERRUPTED:  # newer Typer turns Ctrl-C into Exit(130) itself
            typer.echo("lraudit: interrupted", err=True)
        raise
    except LrauditError as exc:
        typer.echo(f"lraudit: error: {cli_message(exc)}", err=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        typer.echo("lraudit: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except typer.Abort as exc:  # click turns Ctrl-C (and an EOF at a prompt) into Abort
        interrupted = isinstance(exc.__cause__, KeyboardInterrupt)
        typer.echo("lraudit: interrupted" if interrupted else "lraudit: aborted", err=True)
        sys.exit(EXIT_INTERRUPTED if interrupted else EXIT_ERROR)
    except Exception as exc:  # a click usage error or an unexpected failure: still one line
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `lraudit`: the usage, not an error
            typer.echo(exc.ctx.get_help())  # type: ignore[attr-defined]
            sys.exit(EXIT_SUCCESS)
        # typer vendors click, so its exceptions are recognised by their interface
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            typer.echo(f"lraudit: error: {exc.format_message()}", err=True)
            sys.exit(EXIT_ERROR)
        if os.environ.get("LRAUDIT_DEBUG"):
            raise
        typer.echo(f"lraudit: error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    if code == EXIT_INTERRUPTED:  # newer Typer turns Ctrl-C into Exit(130) itself
        typer.echo("lraudit: interrupted", err=True)
    sys.exit(code if isinstance(code, int) else EXIT_SUCCESS)
