"""``--format json``: the report described by the JSON Schema ``report.schema.json`` beside this
module (also in docs/report.schema.json), with ``schema_version``. ``epoch``/``step`` are 0-based."""
from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from lraudit import __version__

if TYPE_CHECKING:
    from lraudit.auditing import AuditResult, RunAudit

#: bumped when a field changes meaning or disappears (adding fields keeps it)
SCHEMA_VERSION = "1"


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: they become strings, so the file stays valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def run_dict(run: RunAudit) -> dict[str, Any]:
    """One run of the report."""
    return {
        "path": run.path,
        "inputs": [
            {"path": i.path, "kind": i.kind, "status": i.status, **({"reason": i.reason} if i.reason else {})}
            for i in run.inputs
        ],
        "keras": run.keras,
        "framework": run.framework,
        "versions": dict(run.versions),
        "optimizer": run.optimizer,
        "steps": run.steps,
        "epochs": run.epochs,
        "steps_per_epoch": run.steps_per_epoch,
        "findings": [f.to_dict() for f in run.findings],
        "warnings": list(run.warnings),
        "notes": list(run.notes),
        **({"error": run.error} if run.error is not None else {}),
    }


def report_dict(result: AuditResult) -> dict[str, Any]:
    """The whole report as plain data."""
    return _clean(
        {
            "schema_version": SCHEMA_VERSION,
            "lraudit_version": __version__,
            "runs": [run_dict(run) for run in result.runs],
            "summary": {"runs": len(result.runs), **result.counts()},
        }
    )


def render(result: AuditResult) -> str:
    """The JSON text (indented, one trailing newline)."""
    return json.dumps(report_dict(result), indent=2, allow_nan=False) + "\n"
