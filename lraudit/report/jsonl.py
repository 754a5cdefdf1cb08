"""``--format jsonl``: one JSON object per line, one line per run, written as each run completes.

Each line is exactly a run of the JSON report (:func:`lraudit.report.json_report.run_dict`,
NaN/inf as strings), plus ``"error"`` when the run could not be audited. Lines come in the order
runs complete, so a consumer keys them by ``path``.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from lraudit.report.json_report import _clean, run_dict

if TYPE_CHECKING:
    from lraudit.auditing import AuditResult, RunAudit


def run_line(run: RunAudit) -> str:
    """One run as one line of JSON (with its trailing newline)."""
    return json.dumps(_clean(run_dict(run)), allow_nan=False) + "\n"


def render(result: AuditResult) -> str:
    """Every run of ``result``, one line each."""
    return "".join(run_line(run) for run in result.runs)
