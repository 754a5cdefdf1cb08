"""Files lraudit writes: checked before any work, written atomically with the umask's permissions.

Every command checks its output paths first (:func:`check_output`), so a missing folder is one
line and exit 2 at once, not after minutes of reading. Files are written to a temporary file in
the target's folder and renamed over the target only when complete (:func:`atomic_write_text`,
:func:`atomic_target`): an interrupted run never leaves half a file. ``tempfile.mkstemp`` makes
files private (0600); they get the mode a normal ``open()`` would give (0644 under umask 022).
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lraudit.errors import UsageError


def check_output(path: str | os.PathLike[str], flag: str) -> Path:
    """``path`` when a file can be written there; otherwise a one-line UsageError naming ``flag``."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise UsageError(f"{flag} {str(target)!r} is a folder, not a file")
    if not folder.is_dir():
        raise UsageError(f"{flag} {str(target)!r}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {str(target)!r}: folder {str(folder)!r} is not writable")
    return target


def check_output_folder(path: str | os.PathLike[str], flag: str) -> Path:
    """A folder to write several files into: created when its parent exists, else a UsageError."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{flag} {str(folder)!r} is a file, not a folder")
    parent = folder.parent if str(folder.parent) else Path(".")
    if not folder.exists() and not parent.is_dir():
        raise UsageError(f"{flag} {str(folder)!r}: folder {str(parent)!r} does not exist")
    folder.mkdir(exist_ok=True)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {str(folder)!r} is not writable")
    return folder


def file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file under the current umask (0o644 under 022)."""
    current = os.umask(0o022)
    os.umask(current)
    return 0o666 & ~current


@contextmanager
def atomic_target(path: str | os.PathLike[str]) -> Iterator[str]:
    """A temporary path beside ``path`` to write; renamed over ``path`` when the block succeeds,
    deleted when it fails or is interrupted."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"cannot write {str(target)!r}: folder {str(folder)!r} does not exist")
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=target.suffix or ".tmp", dir=folder
    )
    os.close(handle)
    try:
        yield temporary
        os.chmod(temporary, file_mode())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, with the umask's permissions."""
    with atomic_target(path) as temporary, open(temporary, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    return Path(path)
