"""Console output of PyTorch, Transformers and Lightning runs (a kind of its own: the Keras console
parser, :mod:`lraudit.sources.console`, is untouched and the two sniffs exclude each other).

Recognised by content: a line (after splitting on ``\\r``/``\\n`` and dropping ANSI codes) with a
PyTorch-ecosystem marker (:data:`_MARKERS`: the scheduler warnings, ``reducing learning rate of
group N``, a native loop's ``epoch N/M - key: value`` line, a Trainer log dict, Lightning's
banners) and nothing only Keras prints (:data:`_KERAS_STRONG`: an ``Epoch N/M`` header alone on
its line, a Keras progress bar). Registered before the Keras console, so a torch log whose
plateau message also matches a Keras marker (``Epoch 00005: reducing learning rate``) is
read here. What is read:

* scalars (``name`` the key as printed, ``text`` the value exactly as printed, ``line`` 1-based):
  - a native loop's per-epoch line ``epoch 3/8 - loss: 0.1234 - val_loss: ... - lr: 0.0500``:
    every ``key: number`` with ``epoch`` = N - 1 (0-based), ``step`` <NA>; the printed ``text``
    tells the format and precision (``0.0500`` = ``.4f``, ``0.04000000000000001`` = ``repr``);
  - a Trainer log dict ``{'loss': 0.69, 'grad_norm': 1.2, 'learning_rate': 0.000125, 'epoch': 0.08}``
    (4.x prints floats, 5.x ``'.4g'`` strings): every number, ``epoch`` = ceil(float epoch) - 1,
    ``step`` <NA> (the console does not print it: the k-th training dict, in line order, is
    step ``k * logging_steps``, see :func:`hf_dict_steps`);
* events (:class:`~lraudit.sources.base.CallbackEvent`, kinds listed in its docstring):
  ``torch_scheduler_order``, ``torch_get_lr_called``, ``torch_epoch_arg_deprecated``,
  ``torch_plateau_reduction`` (every torch version's format: ``Epoch     5:`` (``{:5d}``),
  ``Epoch 00005:`` (``%.5d``), ``Epoch 5:``, ``Epoch 5.00:``), ``torch_train_summary`` (the
  Trainer's ``{'train_runtime': ...}``), ``torch_fit_stopped`` (Lightning's
  ```Trainer.fit` stopped: `max_epochs=3` reached.``);
* ``SourceData.torch``: ``framework`` from what the text shows (Trainer dicts -> transformers,
  Lightning banners/progress -> lightning, else pytorch), ``batches_per_epoch`` from Lightning's
  ``Epoch N: ...| k/K`` bar, ``epochs`` from a ``max_epochs=`` stop message or the ``epoch N/M``
  lines. Paths such as ``<venv>/lib/python3.11/site-packages/torch/...`` are not versions: no
  version is read from this text.
"""
from __future__ import annotations

import ast
import math
import re
from pathlib import Path
from typing import Any

from lraudit.sources.base import CallbackEvent, Source, SourceData, SourceFacts, scalars_frame
from lraudit.sources.text import decode, looks_like_text, read_text
from lraudit.torchfacts import TorchFacts

KIND = "torch_console"

#: CallbackEvent kinds this module emits
EVENT_KINDS = (
    "torch_scheduler_order",
    "torch_get_lr_called",
    "torch_epoch_arg_deprecated",
    "torch_plateau_reduction",
    "torch_train_summary",
    "torch_fit_stopped",
)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ORDER = re.compile(r"Detected call of `lr_scheduler\.step\(\)` before `optimizer\.step\(\)`")
_GET_LR = re.compile(r"To get the last learning rate computed by the scheduler, please use `get_last_lr\(\)`")
_EPOCH_ARG = re.compile(
    r"The epoch parameter in `scheduler\.step\(\)` was not necessary and is being deprecated"
)
_PLATEAU = re.compile(
    r"Epoch\s+(\d+(?:\.\d+)?):\s+reducing learning rate of group (\d+) to ([-+0-9.eEinfa]+?)\.?\s*$"
)
_EPOCH_LINE = re.compile(r"^\s*epoch\s+(\d+)\s*/\s*(\d+)\s*(?:[-:,|]\s*)(.*)$", re.IGNORECASE)
_NUMBER = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf)"
_KEY_VALUE = re.compile(rf"([A-Za-z_][\w/\-.]*)\s*[:=]\s*({_NUMBER})")
_HF_DICT = re.compile(r"(\{'[A-Za-z_][\w/]*': [^{}]*\})")
_LIGHTNING_BANNER = re.compile(
    r"^(?:GPU available: |TPU available: |HPU available: |LOCAL_RANK: |`Trainer\.fit` stopped|Seed set to "
    r"|\s*\| Name\s+\| Type\s+\| Params)"
)
_LIGHTNING_BAR = re.compile(r"^Epoch (\d+):\s+\d+%\|[^|]*\|\s*(\d+)/(\d+) ")
_FIT_STOPPED = re.compile(r"`Trainer\.fit` stopped: `max_epochs=(\d+)` reached")
_MARKERS = re.compile(
    r"(?m)^(?:\s*epoch\s+\d+\s*/\s*\d+\s*[-:,|]|\{'(?:loss|learning_rate|train_runtime|eval_loss)': "
    r"|GPU available: |`Trainer\.fit` stopped|LOCAL_RANK: "
    r"|Epoch\s+\d+(?:\.\d+)?: reducing learning rate of group)"
    r"|Detected call of `lr_scheduler\.step\(\)`|please use `get_last_lr\(\)`"
    r"|The epoch parameter in `scheduler\.step\(\)`",
    re.IGNORECASE,
)


#: what only Keras prints: the epoch header alone on its line, its progress bars
_KERAS_STRONG = re.compile(
    r"(?m)^\s*(?:Epoch \d+/\d+\s*$|\d+/(?:\d+|Unknown) (?:\[[=>.]*\]|\u2501)|\d+/\d+ - \d+m?s - )"
)


def _pieces(text: str) -> list[str]:
    return re.split(r"[\r\n]+", _ANSI.sub("", text))


def sniff(prefix: bytes, path: Path) -> bool:
    """True for text with a PyTorch-ecosystem marker that the Keras console sniff refuses."""
    if prefix.startswith((b"\x89HDF", b"PK\x03\x04", b"\x1f\x8b")):
        return False
    if prefix.count(b"\x00") > len(prefix) // 100:
        return False
    text, _ = decode(prefix)
    if not looks_like_text(text) or text.lstrip().startswith(("{\"", "[")):
        return False
    if _MARKERS.search("\n".join(_pieces(text))) is None:
        return False
    # a Keras header ("Epoch 3/8" alone) or progress bar makes it a Keras console, whatever else
    return _KERAS_STRONG.search("\n".join(_pieces(text))) is None


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value


def _epoch_of(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return 0 if value <= 0 else max(0, math.ceil(value - 1e-9) - 1)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[tuple] = []
        self.events: list[CallbackEvent] = []
        self.facts = TorchFacts(framework="pytorch")
        self.hf = False
        self.lightning = False
        self.warned: set[str] = set()
        self.seen_dicts: set[tuple[int, str]] = set()
        #: the first ``epoch N/M`` line's 0-based epoch: above 0 in a resumed process' console
        self.first_epoch: int | None = None

    def where(self, line: int) -> str:
        return f"{self.path}:{line}"

    def event(self, kind: str, line: int, text: str, **fields: Any) -> None:
        self.events.append(CallbackEvent(kind=kind, text=text.strip(), location=self.where(line), **fields))

    def piece(self, line: int, text: str) -> None:
        if _ORDER.search(text):
            self.event("torch_scheduler_order", line, text, epoch=None, value=None, callback="lr_scheduler")
        if _GET_LR.search(text):
            self.event("torch_get_lr_called", line, text, epoch=None, value=None, callback="lr_scheduler")
        if _EPOCH_ARG.search(text):
            self.event(
                "torch_epoch_arg_deprecated", line, text, epoch=None, value=None, callback="lr_scheduler"
            )
        if (match := _PLATEAU.search(text)) is not None:
            self.plateau(line, text, match)
        if (match := _EPOCH_LINE.match(text)) is not None:
            self.epoch_line(line, match)
        for dict_text in _HF_DICT.findall(text):
            self.hf_dict(line, dict_text)
        self.lightning_piece(line, text)

    def plateau(self, line: int, text: str, match: re.Match) -> None:
        printed = float(match.group(1))
        # ReduceLROnPlateau prints last_epoch after counting this step() call (1 for the first):
        # the reduction happens at the end of 0-based epoch N - 1 and applies from epoch N
        epoch = int(printed) - 1 if printed == int(printed) else None
        self.event(
            "torch_plateau_reduction", line, text, epoch=epoch, value=_number(match.group(3)),
            callback="ReduceLROnPlateau",
            detail={"group": int(match.group(2)), "printed_epoch": match.group(1)},
        )

    def epoch_line(self, line: int, match: re.Match) -> None:
        epoch, total = int(match.group(1)) - 1, int(match.group(2))
        self.facts.epochs = max(self.facts.epochs or 0, total)
        if self.first_epoch is None:
            self.first_epoch = epoch
        for key, value_text in _KEY_VALUE.findall(match.group(3)):
            value = _number(value_text)
            if value is not None:
                self.rows.append((KIND, str(self.path), line, key, epoch, None, None, value, value_text))

    def hf_dict(self, line: int, text: str) -> None:
        if (line, text) in self.seen_dicts:
            return
        self.seen_dicts.add((line, text))
        try:
            values = ast.literal_eval(text)  # a literal only: never evaluated as code
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return
        if not isinstance(values, dict):
            return
        self.hf = True
        numbers = {key: (_number(str(value)), str(value)) for key, value in values.items()}
        epoch = _epoch_of(numbers.get("epoch", (None, ""))[0])
        if any(str(key).startswith("train_runtime") for key in values):
            detail = {key: number for key, (number, _) in numbers.items()}
            self.event(
                "torch_train_summary", line, text, epoch=epoch, value=None, callback="Trainer", detail=detail
            )
            return
        for key, (number, printed) in numbers.items():
            if number is not None:
                self.rows.append((KIND, str(self.path), line, str(key), epoch, None, None, number, printed))

    def lightning_piece(self, line: int, text: str) -> None:
        if _LIGHTNING_BANNER.match(text):
            self.lightning = True
        if (match := _FIT_STOPPED.search(text)) is not None:
            self.lightning = True
            self.facts.epochs = int(match.group(1))
            self.event("torch_fit_stopped", line, match.group(0), epoch=None, value=None, callback="Trainer",
                       detail={"max_epochs": int(match.group(1))})
        if (match := _LIGHTNING_BAR.match(text)) is not None and match.group(2) == match.group(3):
            self.lightning = True
            self.facts.batches_per_epoch = int(match.group(3))

    def result(self, warnings: list[str]) -> SourceData:
        if self.hf:
            self.facts.framework = "transformers"
        elif self.lightning:
            self.facts.framework = "lightning"
        self.facts.evidence.append(f"console: {self.path}")
        if self.first_epoch:
            # a console whose epochs start past the first: a second process that resumed there
            self.facts.resume["epoch"] = self.first_epoch
        data = SourceData(
            path=str(self.path), kind=KIND, scalars=scalars_frame(self.rows), events=self.events
        )
        data.warnings = warnings
        data.torch = self.facts
        return data


def read(path: Path) -> SourceData:
    """Read a PyTorch-ecosystem console log; never raises on content."""
    path = Path(path)
    warnings: list[str] = []
    text = read_text(path, warnings)
    reader = _Reader(path)
    if text is None:
        return reader.result(warnings)
    for number, line in enumerate(text.split("\n"), start=1):
        for piece in _pieces(line):
            if piece.strip():
                reader.piece(number, piece)
    return reader.result(warnings)


def hf_dict_steps(scalars: Any, logging_steps: int, first_step: bool = False) -> Any:
    """The global step of each Trainer log-dict row: the k-th training dict (1-based, in line
    order; dicts holding ``eval_*`` keys are not counted) logged at step ``k * logging_steps``;
    with ``logging_first_step`` (``first_step``) the Trainer logs step 1 as well, first.

    Returns a copy of ``scalars`` with ``step`` filled for this kind's dict rows (epoch-line rows
    keep <NA>). Only right when the Trainer logged every ``logging_steps`` from the start.
    """
    import pandas as pd

    frame = scalars.copy()
    mine = frame["source"] == KIND
    rows = frame.loc[mine, ["file", "line", "name", "epoch"]]
    train = rows[~rows["name"].astype(str).str.startswith("eval_")].dropna(subset=["line"])
    # a resumed run prints its dicts in a second console file: files in the order of the epochs
    # they show, the count going on from one to the next
    first_epoch = train.groupby("file")["epoch"].min()
    file_rank = {name: rank for rank, name in enumerate(
        sorted(first_epoch.index, key=lambda name: (_sort_key(first_epoch[name]), str(name))))}
    keys = sorted({(file_rank[f], int(line)) for f, line in zip(train["file"], train["line"], strict=True)})
    extra = 1 if first_step and logging_steps > 1 else 0
    order = {key: index + 1 - extra for index, key in enumerate(keys)}
    steps = []
    for name, line in zip(rows["file"], rows["line"], strict=True):
        key = (file_rank.get(name), None if pd.isna(line) else int(line))
        steps.append((order[key] * logging_steps or 1) if key in order else None)
    frame.loc[mine, "step"] = steps
    return frame


def _sort_key(epoch: Any) -> float:
    """An epoch for sorting (a file without one goes first)."""
    try:
        value = float(epoch)
    except (TypeError, ValueError):
        return -1.0
    return -1.0 if math.isnan(value) else value


class TorchConsoleSource(Source):
    """The registered face of this module (see :mod:`lraudit.sources.registry`)."""

    facts = SourceFacts(
        kind=KIND,
        label="PyTorch console output",
        tells=frozenset({"lr", "metrics", "callback_events", "torch_facts"}),
        epoch_values="rounded-text",  # printed with the script's or the Trainer's format
        epoch_numbering="1-based",  # "epoch N/M" (converted to 0-based when read)
        names="log-keys",
        located_by="line",
        value_rank=4,
        fit_rank=9,  # no fit() structure of its own: last
        hint_rank=5,
    )
    sniff = staticmethod(sniff)
    read = staticmethod(read)
