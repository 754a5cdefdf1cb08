"""``lraudit rules [CODE]``: the rule catalogue, printed from the rules' own docstrings."""
from __future__ import annotations

import json
from typing import Annotated

import typer

from lraudit.errors import UsageError


def rule_record(rule) -> dict:
    """A rule as plain data (the ``--format json`` output)."""
    return {
        "code": rule.code,
        "name": rule.name,
        "severity": rule.severity.value,
        "summary": rule.doc.summary,
        **{title.lower().replace(" ", "_"): text for title, text in rule.doc.sections.items()},
    }


def rule_text(rule) -> str:
    """A rule's full description as text."""
    lines = [f"{rule.code} {rule.name} ({rule.severity.value})", "", rule.doc.summary]
    for title, text in rule.doc.sections.items():
        lines += ["", f"{title}:", *(f"    {line}" if line else "" for line in text.splitlines())]
    return "\n".join(lines) + "\n"


def rules(
    code: Annotated[str | None, typer.Argument(help="A rule code (LRA001) or name (hidden-decay).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """The rule catalogue, or one rule's full description."""
    from lraudit.rules import REGISTRY

    if fmt not in ("text", "json"):
        raise UsageError(f"--format must be text or json, not {fmt!r}")
    chosen = [REGISTRY.get(code)] if code else REGISTRY.all()
    if fmt == "json":
        records = [rule_record(r) for r in chosen]
        typer.echo(json.dumps(records[0] if code else records, indent=2, ensure_ascii=False))
    elif code:
        typer.echo(rule_text(chosen[0]), nl=False)
    else:
        for rule in chosen:
            typer.echo(f"{rule.code}  {rule.severity.value:<7}  {rule.name:<30}  {rule.doc.summary}")
