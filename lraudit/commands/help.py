"""Help text that reads the same under every Typer/Click version the project allows.

Recent Typer versions print the Python type of each parameter in help (``<bool>``,
``<list[Path]>``) and wrap required arguments in braces (``{paths}...``). lraudit's commands
render their own plain, Click-style help from the parameters instead: ``PATH...`` for the
arguments, a metavar for each option that takes a value (``--jobs N``), nothing after a flag,
``[default: ...]`` and ``[required]`` as Click writes them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

from typer.core import TyperCommand

# Parameters are read by their interface (opts, metavar, nargs, is_flag, ...), never checked
# against Click classes: newer Typer versions bring a Click of their own.

#: metavars by Click type name or Python annotation, for options that name none of their own
_METAVARS = {"integer": "N", "float": "NUMBER", "path": "PATH", "text": "TEXT", "choice": "CHOICE",
             int: "N", float: "NUMBER", Path: "PATH", str: "TEXT"}


def is_argument(param: Any) -> bool:
    """True for a positional argument (Click's ``param_type_name``)."""
    return getattr(param, "param_type_name", "") == "argument"


def _type_metavar(param: Any) -> str:
    kind = getattr(param, "type", None)
    if kind is not None and getattr(kind, "name", None):
        return _METAVARS.get(kind.name, str(kind.name).upper())
    descriptor = getattr(param, "type_descriptor", None)
    annotation = getattr(descriptor, "annotation", None)
    while get_args(annotation):  # list[str], Optional[...]: the element type
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    return _METAVARS.get(annotation, "VALUE")


def argument_metavar(param: Any) -> str:
    """``PATH...`` for a repeatable argument, ``CODE`` for a single one."""
    name = param.metavar or (param.name or "arg").upper()
    name = name.rstrip(".")
    repeated = param.nargs != 1
    return f"{name}..." if repeated else name


def option_metavar(param: Any) -> str:
    """The value an option takes (``N``, ``FILE``), empty for a flag."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    if param.metavar:
        return param.metavar
    return _type_metavar(param)


def _extras(param: Any) -> str:
    """``[default: auto]`` / ``[required]``, as Click prints them."""
    if param.required:
        return "[required]"
    default = param.default
    if getattr(param, "is_flag", False):
        secondary = getattr(param, "secondary_opts", [])
        if secondary and isinstance(default, bool):
            return f"[default: {param.opts[0] if default else secondary[0]}]"
        return ""
    if default is None or default == [] or default == () or callable(default):
        return ""
    return f"[default: {default}]"


def help_record(param: Any) -> tuple[str, str]:
    """One line of the Arguments/Options list: the names with the metavar, and the help."""
    text = " ".join(str(getattr(param, "help", None) or "").split())
    extras = _extras(param)
    text = f"{text}  {extras}".strip() if extras else text
    if is_argument(param):
        return argument_metavar(param), text
    names = ", ".join(sorted(param.opts, key=lambda o: (o.startswith("--"), o)))
    if getattr(param, "secondary_opts", None):
        names += " / " + ", ".join(param.secondary_opts)
    metavar = option_metavar(param)
    return (f"{names} {metavar}" if metavar else names), text


class PlainHelpCommand(TyperCommand):
    """A Typer command whose usage line and help are rendered by :func:`help_record`."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """``[OPTIONS] PATH...``."""
        pieces = ["[OPTIONS]"]
        for param in self.get_params(ctx):
            if is_argument(param):
                shown = argument_metavar(param)
                pieces.append(shown if param.required else f"[{shown}]")
        return pieces

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        """The usage line."""
        formatter.write_usage(ctx.command_path, " ".join(self.collect_usage_pieces(ctx)))

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """Usage, description, then the arguments and options lists."""
        self.format_usage(ctx, formatter)
        self.format_help_text(ctx, formatter)
        params = [p for p in self.get_params(ctx) if not getattr(p, "hidden", False)]
        arguments = [help_record(p) for p in params if is_argument(p)]
        options = [help_record(p) for p in params if not is_argument(p)]
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)
        self.format_epilog(ctx, formatter)
