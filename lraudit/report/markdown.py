"""``--format markdown``: a job summary with one table per run (e.g. ``$GITHUB_STEP_SUMMARY``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from lraudit.numfmt import epoch_text
from lraudit.report._common import notes_of, number, plain_code, plural, summary_line

if TYPE_CHECKING:
    from lraudit.auditing import AuditResult

_ICON = {"error": "🔴 error", "warning": "🟠 warning", "info": "🔵 info"}


def cell(text: object) -> str:
    """Text safe inside a Markdown table cell (pipes escaped, one line)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def render(result: AuditResult) -> str:
    """The Markdown text."""
    out = ["# lraudit", "", f"**{summary_line(result.counts(), len(result.runs))}**", "",
           "Epochs are numbered as Keras prints them (`Epoch 1/N` is the first).", ""]
    for run in result.runs:
        out.append(f"## `{run.path}`")
        out.append("")
        out.append(f"Keras {run.keras or '?'} · {plural(run.epochs, 'epoch')} · {plural(run.steps, 'step')}")
        out.append("")
        if run.findings:
            out.append("| severity | rule | epoch | step | logged | effective | source | message |")
            out.append("| --- | --- | ---: | ---: | ---: | ---: | --- | --- |")
            for f in run.findings:
                out.append(
                    f"| {_ICON[f.severity.value]} | {f.code} {f.name} | "
                    f"{'' if f.epoch is None else epoch_text(f.epoch, run.epochs or None)[6:]} | "
                    f"{'' if f.step is None else f.step} | {number(f.logged)} | {number(f.effective)} | "
                    f"{cell(f.source or '')} | {cell(plain_code(f.message))} |"
                )
        else:
            out.append("No findings.")
        notes = notes_of(run)
        if notes:
            out.append("")
            out += [f"- {cell(note)}" for note in notes]
        out.append("")
    return "\n".join(out)
