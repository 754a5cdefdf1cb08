"""Input sources: each kind of file is a :class:`~lraudit.sources.base.Source` class, recognised
by content (never by name), with the facts the rest of lraudit reads about it.

:mod:`lraudit.sources.registry` is the one list of kinds, in the order files are tried.
:func:`sniff_file` gives the first source class whose ``sniff`` accepts a file's first
:data:`~lraudit.sources.base.SNIFF_BYTES` bytes.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lraudit.sources.base import SNIFF_BYTES

if TYPE_CHECKING:
    from lraudit.sources.base import Source


def source_classes() -> tuple[type[Source], ...]:
    """The source classes, in the order they are tried (:data:`lraudit.sources.registry.SOURCES`)."""
    from lraudit.sources.registry import SOURCES  # imported late: it imports every source module

    return SOURCES


def read_prefix(path: Path) -> bytes:
    """The first :data:`SNIFF_BYTES` of a file (what a sniff may look at)."""
    with open(path, "rb") as handle:
        return handle.read(SNIFF_BYTES)


def sniff_prefix(prefix: bytes, path: Path) -> type[Source] | None:
    """The first source class that recognises ``prefix``, or None."""
    for source in source_classes():
        try:
            if source.sniff(prefix, path):
                return source
        except Exception:  # a sniff must not take the run down: treat as "not this kind"
            continue
    return None


def sniff_file(path: Path) -> type[Source] | None:
    """The source class that reads ``path``, or None when nothing recognises its content."""
    try:
        prefix = read_prefix(path)
    except OSError:
        return None
    if not prefix:
        return None
    return sniff_prefix(prefix, Path(path))
