"""Helpers over the rule registry (:data:`lraudit.rules.base.REGISTRY`): code lists, the README table."""
from __future__ import annotations

from collections.abc import Iterable

from lraudit.rules.base import REGISTRY, Rule, RuleRegistry

__all__ = ["REGISTRY", "RuleRegistry", "markdown_table", "parse_codes"]


def parse_codes(text: str | Iterable[str] | None) -> list[str]:
    """Split ``"LRA001,LRA007"`` (or a list of such strings) into codes."""
    if text is None:
        return []
    parts = [text] if isinstance(text, str) else list(text)
    return [p.strip() for part in parts for p in str(part).split(",") if p.strip()]


def markdown_table(rules: Iterable[type[Rule]] | None = None) -> str:
    """The README's rule table (code, name, severity, what), from the rules' docstrings."""
    rows = ["| code | name | severity | what it detects |", "| --- | --- | --- | --- |"]
    for rule in rules if rules is not None else REGISTRY.all():
        what = rule.doc.summary.replace("|", "/")
        rows.append(f"| {rule.code} | {rule.name} | {rule.severity.value} | {what} |")
    return "\n".join(rows)
