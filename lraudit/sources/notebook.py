"""Jupyter notebooks (``.ipynb``, nbformat 3 and 4): every code cell's outputs, read as console text.

A notebook is recognised by content (the JSON keys ``nbformat``/``cells``/``cell_type``, in
whatever order Jupyter, JupyterLab, Colab, Kaggle or VS Code wrote them) and read with
``nbformat`` (version 3 is converted to 4). What Keras printed is in the outputs of code cells:

* ``stream`` outputs (stdout/stderr). A front end may store one print split over several
  outputs, even mid-line (Colab: ``acc: 0.5416`` then ``1563/1563 ...``), so consecutive
  outputs of the same stream are joined before the text is cut into lines;
* ``execute_result``/``display_data`` as ``text/plain`` (or the text of short HTML when that is
  all there is: KerasTuner prints its trial separators as HTML);
* ``error`` tracebacks (ANSI colours removed by the console parser).

Progress bars are stored either raw (``\\r``/``\\b`` kept) or already collapsed by the front end
(one line per epoch); the console parser reads both. Cells are read in execution order where
``execution_count`` tells it; code cells with outputs but no count (``null``/``0``: outputs
from an earlier session, or a Colab export) come first, in document order, and are named in a
warning. Every value, event and fit carries the location
``notebook.ipynb:cell N:line M``: N is the cell's 1-based index in the document (markdown cells
count), M the line within that cell's output text.

Code cells are returned too (:attr:`SourceData.code_cells`) for static readers; the only thing
read from code here is whether a cell calls ``compile(`` (parsed with ``ast``, never executed):
a compile between two fits starts a new training (a fresh optimizer).
"""
from __future__ import annotations

import ast
import bisect
import json
import re
import warnings as pywarnings
from pathlib import Path
from typing import Any

from lraudit.sources.base import Source, SourceData, SourceFacts, scalars_frame
from lraudit.sources.console import ConsoleText
from lraudit.sources.text import decode, looks_like_text

KIND = "notebook"

#: a cell's output text beyond this many characters is cut (its end kept: final bars are there)
MAX_OUTPUT_CHARS = 32 * 1024 * 1024

# keys only a notebook has, at the top level or in its cells
_NOTEBOOK_KEY = re.compile(r'"(?:nbformat|nbformat_minor|cell_type|worksheets)"\s*:')
_OPENS_OBJECT = re.compile(r'^\s*\{\s*"')
_HTML_TAG = re.compile(r"<[^>]+>")
_HTML_BREAK = re.compile(r"(?i)<br\s*/?>|</(?:p|div|h\d|tr|li|pre)>")
#: HTML outputs longer than this are tables/widgets, not messages
_HTML_TEXT_LIMIT = 4096
#: a piece of stream text that starts a progress-bar redraw: "1563/1563 [", " 704/1563 -", "12/Unknown"
_BAR_START = re.compile(r"^[ \t]*\d+/(?:\d+|Unknown)(?: \[| -|\s*\u2501)")
_MAGIC_LINE = re.compile(r"^\s*[%!?]")


def sniff(prefix: bytes, path: Path) -> bool:
    """True when ``prefix`` opens a JSON object with notebook keys (any key order)."""
    text, _ = decode(prefix)
    if not looks_like_text(text) or not _OPENS_OBJECT.match(text):
        return False
    return _NOTEBOOK_KEY.search(text) is not None


def _as_text(value: Any) -> str:
    """Notebook text fields are a string or a list of strings (nbformat's multiline form)."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "".join(str(item) for item in value)
    return str(value)


def _html_text(html: str) -> str:
    text = _HTML_BREAK.sub("\n", html)
    text = _HTML_TAG.sub("", text)
    return text.replace("&nbsp;", " ").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _rich_text(output: dict) -> str:
    """The text of an ``execute_result``/``display_data``: text/plain, or short HTML if plain says nothing."""
    data = output.get("data") or {}
    plain = _as_text(data.get("text/plain"))
    html = _as_text(data.get("text/html"))
    if html and len(html) <= _HTML_TEXT_LIMIT and (not plain or plain.startswith("<IPython.core.display")):
        return _html_text(html)
    return plain


def cell_output_text(outputs: list) -> str:
    """All outputs of one code cell as one text, consecutive same-stream pieces joined first.

    A stream output interrupted by another output (a stderr warning between stdout pieces, a
    display) ends its line: what follows starts on a new line.
    """
    pieces: list[str] = []
    open_stream: str | None = None
    for output in outputs or []:
        kind = output.get("output_type")
        if kind == "stream":
            name = output.get("name", "stdout")
            text = _as_text(output.get("text"))
            if pieces and not pieces[-1].endswith("\n"):
                if open_stream != name:
                    pieces.append("\n")
                elif _BAR_START.match(text):
                    # Colab stores a redrawn bar as a new output where the \r/\b were: a redraw
                    pieces.append("\r")
            pieces.append(text)
            open_stream = name
            continue
        if pieces and not pieces[-1].endswith("\n"):
            pieces.append("\n")
        open_stream = None
        if kind in ("execute_result", "display_data", "pyout"):
            text = _rich_text(output)
        elif kind in ("error", "pyerr"):
            text = "\n".join(_as_text(line) for line in output.get("traceback") or [])
            if not text:
                text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        else:
            text = ""
        if text:
            pieces.append(text if text.endswith("\n") else text + "\n")
    return "".join(pieces)


def calls_compile(source: str) -> bool:
    """True when the cell's code calls ``compile(...)`` (a model's or a bare name), read with ``ast``.

    IPython magics and shell lines are blanked first; a cell that does not parse is searched for
    ``.compile(`` in its text instead (a notebook may hold Python 2 or broken code).
    """
    code = "\n".join("" if _MAGIC_LINE.match(line) else line for line in source.splitlines())
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return re.search(r"\.compile\s*\(", code) is not None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Attribute) and func.attr == "compile") or (
                isinstance(func, ast.Name) and func.id == "compile"
            ):
                return True
    return False


def _load(path: Path, warnings: list[str]) -> dict | None:
    """The notebook as an nbformat-4 dict (None and a warning when it is not a notebook)."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        warnings.append(f"{path}: cannot read: {error.strerror or error}")
        return None
    text, _ = decode(raw)
    try:
        parsed = json.loads(text)
    except ValueError as error:
        warnings.append(f"{path}: not valid JSON ({error}); nothing read from the notebook")
        return None
    if not isinstance(parsed, dict):
        warnings.append(f"{path}: not a notebook (JSON {type(parsed).__name__}); nothing read")
        return None
    import nbformat

    try:
        with pywarnings.catch_warnings():
            # nbformat warns on missing cell ids, unknown keys: not the user's training problem
            pywarnings.simplefilter("ignore")
            node = nbformat.from_dict(parsed)
            major = int(parsed.get("nbformat", 4) or 4)
            if major < 4 and "worksheets" in parsed:
                node = nbformat.convert(node, 4)
    except Exception as error:  # nbformat raises several kinds on malformed content
        warnings.append(f"{path}: notebook could not be converted ({error}); read as found")
        node = parsed
    return node


def _code_cells(notebook: dict) -> list[dict[str, Any]]:
    """Code cells with their 1-based document index, source, execution_count and outputs."""
    cells = notebook.get("cells")
    if cells is None:  # nbformat 3 that conversion did not handle
        cells = [cell for sheet in notebook.get("worksheets") or [] for cell in sheet.get("cells") or []]
    found = []
    for index, cell in enumerate(cells or [], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        count = cell.get("execution_count", cell.get("prompt_number"))
        found.append(
            {
                "index": index,
                "source": _as_text(cell.get("source", cell.get("input"))),
                "execution_count": count if isinstance(count, int) and count > 0 else None,
                "outputs": cell.get("outputs") or [],
            }
        )
    return found


def execution_order(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cells without an execution count first (document order), then the others by count.

    An output without a count was not made by the numbered executions of the session that saved
    the notebook (an earlier session, or an export that reset the counts), so it came before
    them. Ties (a restarted kernel counts from 1 again) keep document order.
    """
    stale = [cell for cell in cells if cell["execution_count"] is None]
    executed = [cell for cell in cells if cell["execution_count"] is not None]
    executed.sort(key=lambda cell: (cell["execution_count"], cell["index"]))
    return stale + executed


def read(path: Path) -> SourceData:
    """Read every code cell's outputs with the console parser; never raises on bad content."""
    path = Path(path)
    name = str(path)
    warnings: list[str] = []
    notebook = _load(path, warnings)
    if notebook is None:
        return SourceData(path=name, kind=KIND, scalars=scalars_frame([]), warnings=warnings)
    cells = _code_cells(notebook)
    # running line number of the concatenated outputs -> (cell label, line in the cell)
    starts: list[int] = []
    labels: list[tuple[str, int]] = []

    def where(number: int) -> tuple[str, int]:
        slot = bisect.bisect_right(starts, number) - 1
        if slot < 0:
            return name, number
        label, first = labels[slot]
        return label, number - first + 1

    parser = ConsoleText(name, where, kind=KIND, summary_is_new_model=False)
    stale = []
    for cell in execution_order(cells):
        label = f"{name}:cell {cell['index']}"
        if cell["execution_count"] is None and cell["outputs"]:
            stale.append(cell["index"])
        if calls_compile(cell["source"]):
            parser.mark_new_training(f"compile() in {label}")
        text = cell_output_text(cell["outputs"])
        if not text:
            continue
        if len(text) > MAX_OUTPUT_CHARS:
            warnings.append(
                f"{label}: output of {len(text):,} characters; only its last {MAX_OUTPUT_CHARS:,} were read"
            )
            text = text[-MAX_OUTPUT_CHARS:]
        starts.append(parser.next_line)
        labels.append((label, parser.next_line))
        parser.feed(text)
        parser.end_block()
    data = parser.result()
    if not cells:
        warnings.append(f"{name}: notebook has no code cells")
    elif not starts:
        warnings.append(f"{name}: notebook has no outputs (never run, or saved without outputs)")
    if stale:
        shown = ", ".join(str(index) for index in stale[:10]) + (" ..." if len(stale) > 10 else "")
        warnings.append(
            f"{name}: {len(stale)} cell(s) with outputs but no execution count (stale outputs or an export): "
            f"cells {shown}; read first, in document order"
        )
    data.warnings = warnings + data.warnings
    data.code_cells = [
        {"index": cell["index"], "source": cell["source"], "execution_count": cell["execution_count"]}
        for cell in cells
    ]
    data.code_facts = _read_code(name, cells, data.warnings)
    data.torch = _read_torch(name, cells, data.warnings)
    return data


def _read_torch(name: str, cells: list[dict[str, Any]], warnings: list[str]):
    """The notebook's PyTorch-ecosystem training facts (None when its code trains no torch model)."""
    from lraudit.code import CodeCell
    from lraudit.sources.script import read_torch_facts

    code = [
        CodeCell(cell["source"], f"{name}:cell {cell['index']}", cell["execution_count"])
        for cell in cells
        if cell["source"].strip()
    ]
    if not code or not any(re.search(r"\b(?:torch|transformers|lightning)\b", c.text) for c in code):
        return None
    return read_torch_facts(code, warnings)


def _read_code(name: str, cells: list[dict[str, Any]], warnings: list[str]):
    """The notebook's code read statically (labels as in output locations: ``nb.ipynb:cell N``)."""
    from lraudit.code import CodeCell, read_code

    code = [
        CodeCell(cell["source"], f"{name}:cell {cell['index']}", cell["execution_count"])
        for cell in cells
        if cell["source"].strip()
    ]
    if not code:
        return None
    try:
        facts = read_code(code)
    except Exception as exc:  # the code reader must not take the notebook's outputs down
        warnings.append(f"{name}: its code could not be read statically ({type(exc).__name__}: {exc})")
        return None
    warnings.extend(facts.warnings)
    return facts


class NotebookSource(Source):
    """The registered face of this module (see :mod:`lraudit.sources.registry`)."""

    facts = SourceFacts(
        kind=KIND,
        label="notebook",
        tells=frozenset({"lr", "metrics", "steps_per_epoch", "callback_events", "backend", "optimizer"}),
        epoch_values="rounded-text",  # its outputs are console text: the bar prints a few digits
        epoch_numbering="1-based",  # "Epoch N/M"
        names="keras-keys",
        located_by="line",  # "nb.ipynb:cell N:line M"
        value_rank=4,
        fit_rank=0,  # its "Epoch N/M" headers tell every fit(), as a console log's do
        hint_rank=2,
        several_trainings=True,  # cell after cell: fine-tuning, a second model, a sweep
    )
    sniff = staticmethod(sniff)
    read = staticmethod(read)


__all__ = [
    "KIND", "NotebookSource", "calls_compile", "cell_output_text", "execution_order", "read", "sniff",
]
