"""``History.history`` JSON: ``{"loss": [...], "lr": [...], ...}``, one list entry per epoch.

Accepted layouts (recognised by content):

* one fit: a JSON object whose values are lists of numbers, ``{"loss": [0.9, 0.7], "lr": [...]}``;
* several fits, in order: a JSON list of such objects, ``[{"loss": [...]}, {"loss": [...]}]``, or
  an object whose values are all such objects, ``{"fit1": {...}, "fit2": {...}}`` (key order).

Values may be numbers (``NaN``/``Infinity`` as Python's ``json`` writes them) or strings of
floats (Keras 3 writes some as strings); ``null`` is "not logged". A history holds no epoch
numbers, so ``epoch`` is the index within its fit; the Run builder aligns fits to global epochs.
Each value carries the line of its list entry when the file is laid out one entry per line
(as ``json.dump(..., indent=...)`` writes it) and its text exactly as written.
"""
from __future__ import annotations

import json
import math
import re
from bisect import bisect_right
from pathlib import Path
from typing import Any

from lraudit.sources.base import SNIFF_BYTES, FitInfo, Source, SourceData, SourceFacts, scalars_frame
from lraudit.sources.text import decode, looks_like_text, read_json

KIND = "history"

# a key whose value opens a list of scalars: "loss": [  (first or after "{" of a nested fit)
_KEY = r'"(?:[^"\\]|\\.)*"\s*:\s*'
_FIRST_KEY_LIST = re.compile(r"^\s*(?:\[\s*)?\{\s*(?:" + _KEY + r"\{\s*)?" + _KEY + r"\[")
_SCALAR_TOKEN = re.compile(
    r'\s*(?P<tok>"(?:[^"\\]|\\.)*"|-?(?:NaN|Infinity)|null|true|false|-?[0-9][0-9.eE+-]*)\s*(?P<end>[,\]])'
)


def sniff(prefix: bytes, path: Path) -> bool:
    """True when the text opens a JSON object (or list of objects) whose first key holds a list."""
    text, _ = decode(prefix)
    if not looks_like_text(text):
        return False
    if not _FIRST_KEY_LIST.match(text):
        return False
    if len(prefix) < SNIFF_BYTES:  # the whole file: decide by parsing it
        try:
            return bool(_fits_of(json.loads(text)))
        except ValueError:
            return True  # a truncated/corrupt history is still a history: read() says what is wrong
    return True


def _is_history_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, list) for v in obj.values())


def _fits_of(obj: Any) -> list[dict[str, list]]:
    """The fits in a parsed History JSON (empty when the layout is not a history)."""
    if _is_history_dict(obj):
        return [obj]
    if isinstance(obj, list) and obj and all(_is_history_dict(item) for item in obj):
        return list(obj)
    if isinstance(obj, dict) and obj and all(_is_history_dict(v) for v in obj.values()):
        return list(obj.values())
    return []


def _value_of(item: Any) -> float | None:
    if isinstance(item, bool) or item is None:
        return None
    if isinstance(item, (int, float)):
        return float(item)
    if isinstance(item, str):
        try:
            return float(item.strip())
        except ValueError:
            return None
    return None


def _locate_lists(text: str) -> list[tuple[str, list[tuple[int, str]]]]:
    """Every ``"key": [scalars]`` in file order, with (offset, raw text) of each entry."""
    found = []
    key_pattern = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*\[')
    for match in key_pattern.finditer(text):
        position = match.end()
        entries: list[tuple[int, str]] = []
        if re.match(r"\s*\]", text[position:]):
            found.append((json.loads(f'"{match.group(1)}"'), entries))
            continue
        while True:
            token = _SCALAR_TOKEN.match(text, position)
            if token is None:
                entries = []
                break
            entries.append((token.start("tok"), token.group("tok")))
            position = token.end()
            if token.group("end") == "]":
                break
        if entries:
            found.append((json.loads(f'"{match.group(1)}"'), entries))
    return found


def read(path: Path) -> SourceData:
    """Read a History JSON file; never raises on bad content (warnings instead)."""
    data = SourceData(path=str(path), kind=KIND)
    data.scalars = scalars_frame([])
    loaded = read_json(path, data.warnings, "nothing read from it")
    if loaded is None:
        return data
    text, parsed = loaded
    fits = _fits_of(parsed)
    if not fits:
        data.warnings.append(f"{path}: JSON is not a History.history layout; nothing read from it")
        return data

    line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    located = _locate_lists(text)
    cursor = 0
    rows: list[tuple] = []
    for fit_index, history in enumerate(fits):
        length = 0
        for name, values in history.items():
            length = max(length, len(values))
            # the raw entries of this key, in file order (keys repeat across fits)
            entries: list[tuple[int, str]] | None = None
            for probe in range(cursor, len(located)):
                if located[probe][0] == name and len(located[probe][1]) == len(values):
                    entries = located[probe][1]
                    cursor = probe + 1
                    break
            for index, item in enumerate(values):
                value = _value_of(item)
                if value is None:
                    if item is not None:
                        data.warnings.append(f"{path}: {name}[{index}] = {item!r} is not a number")
                    continue
                if entries is not None:
                    offset, token = entries[index]
                    line = bisect_right(line_starts, offset)
                    cell_text = token[1:-1] if token.startswith('"') else token
                else:
                    line = None
                    cell_text = item if isinstance(item, str) else repr(item)
                if isinstance(item, str) and math.isnan(value) and "nan" not in item.lower():
                    continue
                rows.append((KIND, str(path), line, name, index, None, fit_index, value, cell_text))
        data.fits.append(
            FitInfo(
                index=fit_index,
                first_epoch=0,
                end_epoch=length,
                epochs_seen=list(range(length)),
                location=f"{path}:fit {fit_index}",
            )
        )
    data.scalars = scalars_frame(rows)
    return data


class HistorySource(Source):
    """The registered face of this module (see :mod:`lraudit.sources.registry`)."""

    facts = SourceFacts(
        kind=KIND,
        label="History JSON",
        tells=frozenset({"lr", "metrics"}),
        epoch_values="exact",
        epoch_numbering="position",  # lists only: the run builder places each fit
        names="keras-keys",
        located_by="key",
        value_rank=0,
        fit_rank=3,
        hint_rank=5,
    )
    sniff = staticmethod(sniff)
    read = staticmethod(read)
