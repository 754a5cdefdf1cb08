"""``--format github``: GitHub Actions workflow commands (``::warning file=...::message``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from lraudit.report._common import finding_where, notes_of, plain_code, summary_line

if TYPE_CHECKING:
    from lraudit.auditing import AuditResult

_COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    """Escape a message the way the Actions runner unescapes it (``%``, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value (``file=``, ``title=``): also ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(kind: str, message: str, **properties: object) -> str:
    """One workflow command line."""
    props = ",".join(f"{k}={escape_property(str(v))}" for k, v in properties.items() if v is not None)
    return f"::{kind}{' ' + props if props else ''}::{escape_data(message)}"


def render(result: AuditResult) -> str:
    """One annotation per finding, a notice per skipped input or warning, then the summary."""
    lines: list[str] = []
    for run in result.runs:
        for f in run.findings:
            file, line = f.location
            lines.append(
                command(_COMMAND[f.severity.value], _message(f, run.path, run.epochs),
                        file=file, line=line, title=f"{f.code} {f.name}")
            )
        for note in notes_of(run):
            lines.append(command("notice", note, title=f"lraudit {run.path}"))
    lines.append(f"lraudit: {summary_line(result.counts(), len(result.runs))}")
    return "\n".join(lines) + "\n"


def _message(finding, run_path: str, epochs: int) -> str:
    """An annotation's text: the message, then the run, where in it (as the console numbers
    epochs) and the fix."""
    where = finding_where(finding, epochs)
    return (
        f"{plain_code(finding.message)} (run {run_path}{f', {where}' if where else ''}; "
        f"fix: {plain_code(' '.join(finding.fix.split()))})"
    )
