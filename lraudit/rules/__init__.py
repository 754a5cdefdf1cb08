"""The rule catalogue: importing this package registers every rule (LRA001–LRA034)."""
from __future__ import annotations

from lraudit.rules import (  # noqa: F401  (registration)
    contradictions,
    decay,
    logged,
    plateau,
    resume,
    torch,
    values,
    writers,
)
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
