"""``--format markdown``: a job summary with one table per run (e.g. ``$GITHUB_STEP_SUMMARY``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from lraudit.report._common import notes_of, number, summary_line

if TYPE_CHECKING:
    from lraudit.auditing import AuditResult

_ICON = {"error": "🔴 error", "warning": "🟠 warning", "info": "🔵 info"}


def cell(text: object) -> str:
    """Text safe inside a Markdown table cell (pipes escaped, one line)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def render(result: AuditResult) -> str:
    """The Markdown text."""
    out = ["# lraudit", "", f"**{summary_line(result.counts(), len(result.runs))}**", ""]
    for run in result.runs:
        out.append(f"## `{run.path}`")
        out.append("")
        out.append(f"Keras {run.keras or '?'} · {run.epochs} epochs · {run.steps} steps")
        out.append("")
        if run.findings:
            out.append("| severity | rule | epoch | step | logged | effective | source | message |")
            out.append("| --- | --- | ---: | ---: | ---: | ---: | --- | --- |")
            for f in run.findings:
                out.append(
                    f"| {_ICON[f.severity.value]} | {f.code} {f.name} | "
                    f"{'' if f.epoch is None else f.epoch} | "
                    f"{'' if f.step is None else f.step} | {number(f.logged)} | {number(f.effective)} | "
                    f"{cell(f.source or '')} | {cell(f.message)} |"
                )
        else:
            out.append("No findings.")
        notes = notes_of(run)
        if notes:
            out.append("")
            out += [f"- {cell(note)}" for note in notes]
        out.append("")
    return "\n".join(out)
