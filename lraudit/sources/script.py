"""Training scripts (``.py`` text): the optimizer, callbacks and ``fit`` arguments, read with ``ast``.

Recognised by content, not by name: Python text that imports Keras/TensorFlow (``keras``,
``tensorflow``, ``tf_keras``) and calls ``.fit(``/``.fit_generator(`` or ``.compile(``, or that
imports ``torch``/``transformers``/``lightning``/``pytorch_lightning`` and builds an optimizer,
a ``Trainer`` or a LightningModule (PyTorch-ecosystem training, read by
:func:`lraudit.code.torch_reader.read_torch_code` into :attr:`SourceData.torch`). Any
other ``.py`` file stays unrecognised (skipped). A file importing both is read both ways: Keras
facts only when it imports Keras and calls fit/compile (as before), torch facts only when it builds
a torch optimizer/Trainer/LightningModule (a Keras 3 script on the torch backend imports torch
but builds ``keras.optimizers``: no torch facts). Each reader answers for what it recognises.
The script is never imported or executed:
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
_TORCH_IMPORT = re.compile(
    r"^[ \t]*(?:import|from)[ \t]+(?:torch|transformers|lightning|pytorch_lightning|trl)\b", re.MULTILINE
)
#: an optimizer, a scheduler, a Trainer/TrainingArguments or a LightningModule being built
_TORCH_TRAINING = re.compile(
    r"\b(?:optim\.\w+|SGD|Adam|AdamW|RMSprop|Adagrad|Adadelta|Adamax|NAdam|RAdam|Trainer|TrainingArguments"
    r"|\w+Config)[ \t]*\(|LightningModule|configure_optimizers"
)


def sniff(prefix: bytes, path: Path) -> bool:
    """True for Python text importing Keras/TensorFlow and calling fit/compile (never JSON, never binary)."""
    text, _ = decode(prefix)
    if not looks_like_text(text) or text.lstrip().startswith(("{", "[")):
        return False
    keras = _KERAS_IMPORT.search(text) and _TRAINING_CALL.search(text)
    torch = _TORCH_IMPORT.search(text) and _TORCH_TRAINING.search(text)
    if not (keras or torch):
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
    cell = CodeCell(text, str(path))
    if _KERAS_IMPORT.search(text) and _TRAINING_CALL.search(text):
        facts = read_code([cell])
        data.code_facts = facts
        data.warnings.extend(facts.warnings)
    if _TORCH_IMPORT.search(text):
        data.torch = read_torch_facts([cell], data.warnings)
    return data


def read_torch_facts(cells: list, warnings: list[str]):
    """:func:`~lraudit.code.torch_reader.read_torch_code` of ``cells``; never takes the source down."""
    from lraudit.code.torch_reader import read_torch_code

    try:
        facts = read_torch_code(cells)
    except Exception as exc:  # a reader bug must not lose the file's other facts
        warnings.append(f"the PyTorch code could not be read statically ({type(exc).__name__}: {exc})")
        return None
    if facts is not None:
        warnings.extend(facts.warnings)
    return facts


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
