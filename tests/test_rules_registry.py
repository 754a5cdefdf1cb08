"""The rule catalogue: validated identity, one docstring per rule, README and CLI from the same source."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import run_lraudit

from lraudit.errors import UsageError
from lraudit.rules import DOC_SECTIONS, REGISTRY, Rule, RuleDefinitionError, RuleRegistry, Severity
from lraudit.rules.registry import markdown_table

README = Path(__file__).resolve().parent.parent / "README.md"
#: DESIGN.md §4: the catalogue's codes, names and severities are a contract
CATALOGUE = {
    "LRA001": ("hidden-decay", "warning"), "LRA002": ("logged-effective-mismatch", "error"),
    "LRA003": ("plateau-unexpected-reduction", "error"), "LRA004": ("plateau-missed-reduction", "warning"),
    "LRA005": ("plateau-value-mismatch", "error"), "LRA006": ("monitor-not-found", "error"),
    "LRA007": ("decay-per-batch", "info"), "LRA008": ("weight-decay-is-not-lr-decay", "warning"),
    "LRA009": ("decay-unsupported", "error"), "LRA010": ("schedule-not-logged", "warning"),
    "LRA011": ("iterations-carried-over", "info"), "LRA012": ("min-lr-floor", "info"),
    "LRA013": ("lr-collapse", "warning"), "LRA014": ("lr-writer-conflict", "warning"),
    "LRA015": ("plateau-on-schedule", "error"), "LRA016": ("plateau-mode-inferred", "info"),
    "LRA017": ("iterations-reset-on-resume", "warning"), "LRA018": ("decay-steps-look-like-epochs", "info"),
    "LRA019": ("warmup-decreases", "warning"), "LRA020": ("zero-lr-update", "warning"),
    "LRA021": ("logged-lr-shifted", "info"), "LRA022": ("log-downsampled", "info"),
    "LRA023": ("invalid-lr", "error"), "LRA024": ("unused-lr-change", "info"),
    "LRA025": ("settings-contradict-logs", "error"), "LRA026": ("custom-lr-writer", "warning"),
    "LRA027": ("scheduler-before-optimizer", "warning"), "LRA028": ("schedule-length-mismatch", "warning"),
    "LRA029": ("logged-lr-not-applied", "warning"), "LRA030": ("replay-contradicts-logs", "warning"),
    "LRA031": ("only-first-param-group-logged", "warning"), "LRA032": ("torch-plateau-semantics", "info"),
    "LRA033": ("optimizer-lr-never-applied", "info"),
}


def test_catalogue_matches_the_contract():
    assert {r.code: (r.name, r.severity.value) for r in REGISTRY.all()} == CATALOGUE


@pytest.mark.parametrize("rule", REGISTRY.all(), ids=lambda r: r.code)
def test_docstring_has_every_section_and_a_reference(rule):
    assert list(rule.doc.sections) == list(DOC_SECTIONS)
    references = rule.doc.section("References")
    assert re.search(r"keras|tensorflow|pytorch|transformers|lightning|reference §", references)
    assert rule.doc.summary.endswith(".")


FULL_DOC = "Summary.\n\n" + "\n".join(f"{s}:\n    text" for s in DOC_SECTIONS)


def lraudit(*args: str) -> subprocess.CompletedProcess:
    return run_lraudit(*args)


def _define(code: str, name: str, doc: str | None = None):
    body = {
        "code": code, "name": name, "severity": Severity.INFO,
        "__doc__": doc if doc is not None else FULL_DOC,
        "check": classmethod(lambda cls, run, timeline: iter(())),
    }
    return REGISTRY.register(type("Throwaway", (Rule,), body))


@pytest.mark.parametrize(
    ("code", "name", "doc", "message"),
    [
        ("LRA1", "ok-name", None, "does not match"),
        ("XYZ900", "ok-name", None, "does not match"),
        ("LRA900", "Not_Kebab", None, "kebab-case"),
        ("LRA900", "ok-name", "Summary only.", "lacks section"),
        ("LRA001", "another-name", None, "duplicate rule code"),
        ("LRA900", "hidden-decay", None, "duplicate rule name"),
    ],
)
def test_invalid_rules_are_rejected_at_definition(code, name, doc, message):
    with pytest.raises(RuleDefinitionError, match=message):
        _define(code, name, doc)
    assert REGISTRY.get("LRA001").name == "hidden-decay"
    with pytest.raises(UsageError):
        REGISTRY.get("LRA900")


def test_a_valid_rule_registers_and_can_be_removed():
    rule = _define("LRA999", "throwaway-rule")
    try:
        assert REGISTRY.get("LRA999") is rule and REGISTRY.get("throwaway-rule") is rule
    finally:
        REGISTRY.unregister("LRA999")


def test_registration_is_explicit():
    """Subclassing validates; only ``REGISTRY.register`` makes a rule (as sqlfluff's RuleSet)."""
    body = {
        "code": "LRA998", "name": "helper-class", "severity": Severity.INFO, "__doc__": FULL_DOC,
        "check": classmethod(lambda cls, run, timeline: iter(())),
    }
    helper = type("Helper", (Rule,), body)
    with pytest.raises(UsageError):
        REGISTRY.get("LRA998")
    registry = RuleRegistry()
    assert registry.register(helper) is helper and registry.all() == [helper]
    with pytest.raises(RuleDefinitionError, match="duplicate rule code"):
        registry.register(helper)


def test_select_and_ignore_by_code_name_and_prefix():
    assert [r.code for r in REGISTRY.select(["LRA00"], ["LRA005", "hidden-decay"])] == [
        "LRA002", "LRA003", "LRA004", "LRA006", "LRA007", "LRA008", "LRA009"]
    assert len(REGISTRY.select([], [])) == len(CATALOGUE)
    with pytest.raises(UsageError, match="LRA777"):
        REGISTRY.select(["LRA777"], [])


def test_readme_rule_table_equals_the_registry():
    text = README.read_text(encoding="utf-8")
    section = text.split("<!-- rules:start -->", 1)[1].split("<!-- rules:end -->", 1)[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|"))
    assert table == markdown_table()


def test_rules_command_prints_the_docstrings():
    proc = lraudit("rules", "LRA007", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    rule = REGISTRY.get("LRA007")
    assert record["name"] == "decay-per-batch" and record["fix"] == rule.doc.section("Fix")
    listing = lraudit("rules")
    assert listing.returncode == 0
    assert [line.split()[0] for line in listing.stdout.splitlines()] == sorted(CATALOGUE)
    text = lraudit("rules", "hidden-decay")
    assert text.stdout.startswith("LRA001 hidden-decay (warning)") and "Why it matters:" in text.stdout


def test_unknown_rule_code_is_a_usage_error():
    proc = lraudit("rules", "LRA404")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "LRA404" in proc.stderr and "Traceback" not in proc.stderr
