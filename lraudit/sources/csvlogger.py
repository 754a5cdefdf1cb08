"""Placeholder source (replaced by the real reader of this kind)."""
from __future__ import annotations

from pathlib import Path

from lraudit.sources.base import SourceData

KIND = "csvlogger"


def sniff(prefix: bytes, path: Path) -> bool:
    """Not implemented yet: recognises nothing."""
    return False


def read(path: Path) -> SourceData:
    """Not implemented yet."""
    return SourceData(path=str(path), kind=KIND)
