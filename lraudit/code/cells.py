"""Turning notebooks and scripts into :class:`CodeCell` lists, in the order their code ran.

Notebook cells are ordered by ``execution_count`` when all have one, else in document order
(:func:`execution_order`). IPython syntax (``%magic``,
``!shell``, ``x = !cmd``, ``obj?``) is blanked to ``pass`` so the rest of the cell parses with
the same line numbers. Python 2 ``print x`` statements are read as ``print(x)`` with a warning.
"""
from __future__ import annotations

import ast
import re
from typing import Any

from lraudit.code.model import CodeCell

#: cell magics whose body is still Python
_PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "tensorflow_version"})
_IPYTHON_LINE = re.compile(r"^(\s*)(?:[%!]|\w+\s*=\s*[%!])")
_HELP_LINE = re.compile(r"^(\s*)[\w.]+\?{1,2}\s*$")
_PY2_PRINT = re.compile(r"^(\s*)print(?:\s+(?![\s(=.,])(.*?)|\s*)$")


def notebook_code_cells(notebook: dict[str, Any], name: str) -> list[CodeCell]:
    """The code cells of a parsed ``.ipynb`` (nbformat 4, or 3's worksheets), labelled ``name:cell N``.

    ``N`` is the 0-based index among all cells, as a reader counting cells in the file sees it.
    """
    cells = notebook.get("cells")
    if cells is None:  # nbformat 3
        cells = [cell for sheet in notebook.get("worksheets", []) for cell in sheet.get("cells", [])]
    result = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", cell.get("input", ""))
        text = "".join(source) if isinstance(source, list) else str(source or "")
        count = cell.get("execution_count", cell.get("prompt_number"))
        result.append(CodeCell(text, f"{name}:cell {index}", count if isinstance(count, int) else None))
    return result


def execution_order(cells: list[CodeCell]) -> list[CodeCell]:
    """Cells in the order they ran.

    By execution count (ties in document order) when every non-empty cell has one. When some
    have none (None, or Colab's 0), the saved counts mix sessions: a cell without a count may
    have run before or after the counted ones, so the document order is the only consistent
    guess (a kernel that runs the notebook top to bottom).
    """
    counted = [cell for cell in cells if cell.text.strip()]
    if not counted or not all(cell.executed for cell in counted):
        return list(cells)
    keyed = sorted(enumerate(cells), key=lambda item: (int(item[1].execution_count or 0), item[0]))
    return [cell for _, cell in keyed]


def clean_ipython(text: str) -> str | None:
    """The cell with IPython-only lines blanked to ``pass``; None for a non-Python cell magic."""
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].lstrip()[2:].split(maxsplit=1)
        if not magic or magic[0] not in _PYTHON_CELL_MAGICS:
            return None
        lines[first] = ""
    for index, line in enumerate(lines):
        match = _IPYTHON_LINE.match(line) or _HELP_LINE.match(line)
        if match:
            lines[index] = f"{match.group(1)}pass"
    return "\n".join(lines)


def parse_cell(cell: CodeCell, warnings: list[str]) -> ast.Module | None:
    """The cell's module ``ast``; None (with one warning) when it cannot be read as Python 3."""
    text = clean_ipython(cell.text.replace("\r\n", "\n"))
    if text is None:
        return None
    try:
        return ast.parse(text)
    except SyntaxError as exc:
        first_error = exc
    except ValueError as exc:  # NUL bytes
        warnings.append(f"{cell.label}: cannot be parsed ({exc}); skipped")
        return None
    rewritten = "\n".join(_PY2_PRINT.sub(_print_call, line) for line in text.split("\n"))
    if rewritten != text:
        try:
            tree = ast.parse(rewritten)
        except SyntaxError:
            warnings.append(
                f"{cell.label}: Python 2 code that does not parse even with print statements "
                f"read as calls (line {first_error.lineno}: {first_error.msg}); skipped"
            )
            return None
        warnings.append(f"{cell.label}: Python 2 print statements read as print(...) calls")
        return tree
    warnings.append(
        f"{cell.label}: does not parse as Python (line {first_error.lineno}: {first_error.msg}); "
        "skipped, the other cells are read"
    )
    return None


def _print_call(match: re.Match[str]) -> str:
    return f"{match.group(1)}print({match.group(2) or ''})"
