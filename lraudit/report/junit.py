"""``--format junit``: one test suite per run, one test case per rule, a failure per finding."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from lraudit.report._common import finding_where, notes_of, plain_code

if TYPE_CHECKING:
    from lraudit.auditing import AuditResult


def render(result: AuditResult) -> str:
    """JUnit XML (``testsuites`` root) that CI systems show as test results."""
    root = ET.Element("testsuites", name="lraudit")
    total = failures = 0
    for run in result.runs:
        suite = ET.SubElement(root, "testsuite", name=run.path)
        by_code: dict[str, list] = {}
        for finding in run.findings:
            by_code.setdefault(finding.code, []).append(finding)
        for rule in result.rules:
            case = ET.SubElement(suite, "testcase", classname=run.path, name=f"{rule.code} {rule.name}")
            found = by_code.get(rule.code, [])
            if found:
                failure = ET.SubElement(
                    case, "failure", message=plain_code(found[0].message), type=found[0].severity.value
                )
                failure.text = "\n\n".join(
                    f"[{f.severity.value}] {_where(f, run.epochs)}{plain_code(f.message)}\n"
                    f"source: {f.source or '-'}\nfix: {plain_code(f.fix)}" for f in found
                )
        notes = notes_of(run)
        if notes:
            ET.SubElement(suite, "system-out").text = "\n".join(notes)
        suite.set("tests", str(len(result.rules)))
        suite.set("failures", str(len(by_code)))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        total += len(result.rules)
        failures += len(by_code)
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _where(finding, epochs: int) -> str:
    where = finding_where(finding, epochs)
    return f"({where}) " if where else ""
