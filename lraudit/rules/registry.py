"""The rule registry: every rule class, by code, validated and unique."""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from lraudit.errors import UsageError

if TYPE_CHECKING:
    from lraudit.rules.base import Rule


class RuleRegistry:
    """Rules by code; :meth:`register` rejects a second rule with the same code or name."""

    def __init__(self) -> None:
        self._by_code: dict[str, type[Rule]] = {}

    def register(self, rule: type[Rule]) -> type[Rule]:
        """Add a rule class (called by ``Rule.__init_subclass__``)."""
        from lraudit.rules.base import RuleDefinitionError

        if rule.code in self._by_code:
            other = self._by_code[rule.code]
            raise RuleDefinitionError(
                f"duplicate rule code {rule.code}: {other.__qualname__}, {rule.__qualname__}"
            )
        for other in self._by_code.values():
            if other.name == rule.name:
                raise RuleDefinitionError(f"duplicate rule name {rule.name}: {other.code}, {rule.code}")
        self._by_code[rule.code] = rule
        return rule

    def unregister(self, code: str) -> None:
        """Remove a rule (for tests that define throw-away rules)."""
        self._by_code.pop(code, None)

    def all(self) -> list[type[Rule]]:
        """Every registered rule, ordered by code."""
        return [self._by_code[c] for c in sorted(self._by_code)]

    def get(self, code: str) -> type[Rule]:
        """The rule with this code or name; unknown -> :class:`UsageError`."""
        key = code.strip()
        rule = self._by_code.get(key.upper())
        if rule is None:
            rule = next((r for r in self._by_code.values() if r.name == key.lower()), None)
        if rule is None:
            raise UsageError(f"unknown rule {code!r} (see 'lraudit rules')")
        return rule

    def select(self, select: Iterable[str] = (), ignore: Iterable[str] = ()) -> list[type[Rule]]:
        """Rules chosen by ``--select``/``--ignore`` codes, names or prefixes (``LRA01``)."""
        chosen = self._expand(select) if list(select) else set(self._by_code)
        chosen -= self._expand(ignore)
        return [self._by_code[c] for c in sorted(chosen)]

    def _expand(self, selectors: Iterable[str]) -> set[str]:
        codes: set[str] = set()
        for raw in selectors:
            key = raw.strip()
            if not key:
                continue
            if key.upper() == "ALL":
                codes.update(self._by_code)
                continue
            if re.fullmatch(r"LRA\d{0,2}", key.upper()) and key.upper() not in self._by_code:
                matched = {c for c in self._by_code if c.startswith(key.upper())}
                if matched:
                    codes.update(matched)
                    continue
            codes.add(self.get(key).code)
        return codes


#: the one registry every rule module registers into
REGISTRY = RuleRegistry()


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
