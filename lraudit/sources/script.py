"""Training scripts (``.py`` text): the optimizer, callbacks and ``fit`` arguments, read with ``ast``.

Recognised by content, not by name: Python text that imports Keras/TensorFlow (``keras``,
``tensorflow``, ``tf_keras``) and calls ``.fit(``/``.fit_generator(`` or ``.compile(``. Any
other ``.py`` file stays unrecognised (skipped). The script is never imported or executed:
:func:`lraudit.code.read_code` reads its syntax tree, and the result is
:attr:`SourceData.code_facts <lraudit.sources.base.SourceData.code_facts>`; a script that does
not parse still yields a SourceData, with the warning.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

from lraudit.sources.base import SNIFF_BYTES, Source, SourceData, SourceFacts
from lraudit.sources.text import decode, looks_like_text, read_text

KIND = "script"

_KERAS_IMPORT = re.compile(r"^[ \t]*(?:import|from)[ \t]+(?:keras|tensorflow|tf_keras)\b", re.MULTILINE)
_TRAINING_CALL = re.compile(r"\.(?:fit|fit_generator|compile)[ \t]*\(")


def sniff(prefix: bytes, path: Path) -> bool:
    """True for Python text importing Keras/TensorFlow and calling fit/compile (never JSON, never binary)."""
    text, _ = decode(prefix)
    if not looks_like_text(text) or text.lstrip().startswith(("{", "[")):
        return False
    if not (_KERAS_IMPORT.search(text) and _TRAINING_CALL.search(text)):
        return False
    return _parses_as_python(text, complete=len(prefix) < SNIFF_BYTES)


def _parses_as_python(text: str, complete: bool) -> bool:
    """True when the text is Python (a README quoting code in fences is not).

    A prefix cut mid-file is parsed up to its last top-level statement. IPython magics would
    not parse, but a script file holds none.
    """
    if not complete:
        starts = [m.start() for m in re.finditer(r"^\S", text, re.MULTILINE)]
        text = text[: starts[-1]] if len(starts) > 1 else text
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def read(path: Path) -> SourceData:
    """Read the script's trainings statically; never raises on bad content."""
    from lraudit.code import CodeCell, read_code

    data = SourceData(path=str(path), kind=KIND)
    text = read_text(Path(path), data.warnings)
    if text is None:
        return data
    facts = read_code([CodeCell(text, str(path))])
    data.code_facts = facts
    data.warnings.extend(facts.warnings)
    return data


class ScriptSource(Source):
    """The registered face of this module (see :mod:`lraudit.sources.registry`)."""

    facts = SourceFacts(
        kind=KIND,
        label="training script",
        tells=frozenset({"optimizer"}),  # and the callbacks and fit arguments, read statically
        epoch_values=None,
        epoch_numbering=None,
        names=None,
        located_by=None,
        value_rank=None,
        fit_rank=None,
        hint_rank=6,  # the code says which module it imports, not which Keras ran it
    )
    sniff = staticmethod(sniff)
    read = staticmethod(read)
