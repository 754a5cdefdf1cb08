"""``--format sarif``: SARIF 2.1.0, rules described from their docstrings."""
from __future__ import annotations

import json
import math
from pathlib import PurePath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from lraudit import __version__
from lraudit.report._common import finding_where, notes_of, plain_code

if TYPE_CHECKING:
    from lraudit.auditing import AuditResult
    from lraudit.rules import Rule

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def rule_descriptor(rule: type[Rule]) -> dict[str, Any]:
    """``reportingDescriptor`` of a rule: short/full description and help from its docstring."""
    doc = rule.doc
    sections = "\n\n".join(f"{title}:\n{plain_code(text)}" for title, text in doc.sections.items())
    markdown = "\n\n".join(f"**{title}**\n\n{plain_code(text)}" for title, text in doc.sections.items())
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": plain_code(doc.summary)},
        "fullDescription": {"text": plain_code(doc.sections["What it detects"])},
        "help": {"text": sections, "markdown": markdown},
        "defaultConfiguration": {"level": _LEVEL[rule.severity.value]},
        "properties": {"severity": rule.severity.value},
    }


def _uri(path: str) -> str:
    return quote(PurePath(path).as_posix(), safe="/:")


def _number(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else str(value)


def _message(finding, epochs: int) -> str:
    """The finding's message, led by where it is as the console numbers it (``epoch 8/8, step 140``);
    the ``epoch`` property stays 0-based, as in the JSON report."""
    where = finding_where(finding, epochs)
    return f"{where}: {plain_code(finding.message)}" if where else plain_code(finding.message)


def render(result: AuditResult) -> str:
    """The SARIF log: one SARIF run per audited run."""
    rules = [rule_descriptor(rule) for rule in result.rules]
    index = {rule.code: i for i, rule in enumerate(result.rules)}
    sarif_runs = []
    for run in result.runs:
        results = []
        for f in run.findings:
            entry: dict[str, Any] = {
                "ruleId": f.code,
                "ruleIndex": index[f.code],
                "level": _LEVEL[f.severity.value],
                "message": {"text": _message(f, run.epochs)},
                "properties": {
                    "name": f.name, "epoch": f.epoch, "step": f.step,
                    "logged": _number(f.logged), "effective": _number(f.effective), "fix": plain_code(f.fix),
                    "run": f.run,
                },
            }
            file, line = f.location
            if file:
                physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(file)}}
                if line:
                    physical["region"] = {"startLine": line}
                entry["locations"] = [{"physicalLocation": physical}]
            results.append(entry)
        notifications = [
            {"level": "note" if note.startswith("note: ") else "warning", "message": {"text": note}}
            for note in notes_of(run)
        ]
        sarif_runs.append(
            {
                "tool": {
                    "driver": {
                        "name": "lraudit",
                        "version": __version__,
                        "informationUri": "https://pypi.org/project/keras-lraudit/",
                        "rules": rules,
                    }
                },
                "invocations": [
                    {"executionSuccessful": True, "toolExecutionNotifications": notifications}
                ],
                "results": results,
                "properties": {"run": run.path},
            }
        )
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": sarif_runs}
    return json.dumps(log, indent=2, allow_nan=False) + "\n"
