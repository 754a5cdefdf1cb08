"""Decoding the bytes of text logs whatever their encoding (UTF-8, UTF-16/32 with or without BOM, latin-1).

Shared by the text sources (CSVLogger, History JSON, optimizer configs) for sniffing a bounded
prefix and for reading whole files (:func:`read_text`, :func:`read_json`: one place decides what
an unreadable or malformed file warns, so every source says it the same way). A prefix may end
in the middle of a multi-byte character, so prefix decoding tolerates a cut tail.
"""
from __future__ import annotations

import codecs
import json
import re
from pathlib import Path
from typing import Any

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def detect_encoding(data: bytes) -> tuple[str, int]:
    """The encoding of ``data`` and the length of its byte-order mark (0 when none).

    Without a BOM, UTF-16 is recognised by its zero bytes (ASCII text in UTF-16 has a zero in
    every other byte); otherwise UTF-8 when it decodes, else latin-1 (which decodes anything).
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name, len(bom)
    head = data[:512]
    if len(head) >= 4:
        even_zeros = head[0::2].count(0)
        odd_zeros = head[1::2].count(0)
        half = len(head) // 2
        if odd_zeros > 0.4 * half and even_zeros < 0.1 * half:
            return "utf-16-le", 0
        if even_zeros > 0.4 * half and odd_zeros < 0.1 * half:
            return "utf-16-be", 0
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a prefix cut inside a multi-byte character is still UTF-8
        if exc.start < len(data) - 3:
            return "latin-1", 0
    return "utf-8", 0


def decode(data: bytes) -> tuple[str, str]:
    """Decode ``data`` (a whole file or a prefix) to text; returns ``(text, encoding)``."""
    encoding, bom = detect_encoding(data)
    return data[bom:].decode(encoding, errors="replace"), encoding


def looks_like_text(text: str) -> bool:
    """True when decoded text has no NUL and few control characters (i.e. it is not binary)."""
    if not text or "\x00" in text:
        return False
    sample = text[:4096]
    # one regex pass, not a Python loop per character: every file is sniffed by ~10 kinds
    return len(_CONTROL_CHARACTERS.findall(sample)) <= len(sample) // 100


#: characters below 32 other than \b \t \n \v \f \r and ESC (progress bars and colours use them)
_CONTROL_CHARACTERS = re.compile("[\x00-\x07\x0e-\x1a\x1c-\x1f]")


def read_text(path: Path, warnings: list[str]) -> str | None:
    """The decoded text of the file at ``path``; None (and a warning) when it cannot be read."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        warnings.append(f"{path}: cannot read: {exc.strerror or exc}")
        return None
    return decode(raw)[0]


def read_json(path: Path, warnings: list[str], unread: str) -> tuple[str, Any] | None:
    """``(text, parsed value)`` of a JSON file; None (and a warning) when unreadable or invalid.

    ``unread`` ends the invalid-JSON warning with what the caller then leaves unread. The text is
    returned too because sources locate values in it (line numbers for findings).
    """
    text = read_text(path, warnings)
    if text is None:
        return None
    try:
        return text, json.loads(text)
    except ValueError as exc:
        warnings.append(f"{path}: not valid JSON ({exc}); {unread}")
        return None
