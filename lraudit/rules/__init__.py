"""The rule catalogue: importing this package registers every rule (LRA001–LRA025)."""
from __future__ import annotations

from lraudit.rules import contradictions, decay, logged, plateau, resume, values, writers  # noqa: F401  (registration)
from lraudit.rules.base import (
    DOC_SECTIONS,
    REGISTRY,
    Finding,
    Rule,
    RuleDefinitionError,
    RuleRegistry,
    Severity,
)
from lraudit.rules.registry import markdown_table, parse_codes

__all__ = [
    "DOC_SECTIONS",
    "REGISTRY",
    "Finding",
    "Rule",
    "RuleDefinitionError",
    "RuleRegistry",
    "Severity",
    "markdown_table",
    "parse_codes",
]
