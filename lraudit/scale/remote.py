"""Run folders in object storage or over HTTP, read through fsspec, read-only.

Any URL fsspec understands (``s3://``, ``gs://``, ``az://``, ``http(s)://``...) names a folder
of runs like a local path does; credentials come from each backend's standard chain (for S3:
environment, ``~/.aws``, instance roles; ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` for an
S3-compatible server). ``file://`` URLs are plain local paths.

Design: discovery lists the remote tree once (``find``) and fetches only the first bytes of
every file (``cat_ranges``, concurrent on async backends) to recognise logs by content, exactly
as local discovery does, then groups files into runs with the same rules. Each run is then
audited on a worker by copying *its* recognised files into a temporary folder, running the
normal local readers, deleting the folder, and writing the remote URL back into every path of
the result. A copy costs one sequential download per file (the readers seek, mmap and re-open
files freely; a file-like adapter would turn each of those into a ranged request) and keeps one
code path for every reader; disk use is bounded by the largest run a worker holds at a time.
Nothing is ever written to the store: only ``find``, ``cat_ranges`` and ``get_file`` are used.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath, PurePosixPath
from typing import Any

from lraudit.errors import InputError, UsageError

#: what to install for remote paths and --scheduler
EXTRA_HINT = "pip install 'lraudit[scale]'"


def is_remote(path: str | os.PathLike[str]) -> bool:
    """True for a URL with a scheme other than ``file`` (``s3://bucket/runs``)."""
    text = os.fspath(path)
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.isidentifier() and scheme.lower() != "file"


def local_path(path: str | os.PathLike[str]) -> Path:
    """A local path, with a ``file://`` prefix removed."""
    text = os.fspath(path)
    return Path(text[len("file://"):]) if text.lower().startswith("file://") else Path(text)


def _fsspec() -> Any:
    try:
        import fsspec
    except ImportError:
        raise UsageError(f"remote paths need the 'scale' extra: {EXTRA_HINT}") from None
    return fsspec


def _storage_options(protocol: str) -> dict[str, Any]:
    """Backend options beyond the standard chains: the S3 endpoint of an S3-compatible server."""
    if protocol in ("s3", "s3a"):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            return {"client_kwargs": {"endpoint_url": endpoint}}
    return {}


@dataclasses.dataclass(frozen=True)
class RemoteStore:
    """A folder of runs at ``url``; picklable, so a worker process or a Dask worker reopens it."""

    url: str

    @property
    def protocol(self) -> str:
        """The URL scheme (``s3``)."""
        return self.url.partition("://")[0].lower()

    def filesystem(self) -> tuple[Any, str]:
        """The fsspec filesystem and the root path inside it (no scheme)."""
        fsspec = _fsspec()
        try:
            fs, root = fsspec.core.url_to_fs(self.url, **_storage_options(self.protocol))
        except ImportError as exc:  # e.g. gcsfs/adlfs missing for gs:// or az://
            raise UsageError(f"{self.url}: this storage needs another package ({exc})") from None
        except ValueError as exc:
            raise UsageError(f"{self.url}: not a storage URL fsspec knows ({exc})") from None
        return fs, root.rstrip("/")

    def to_url(self, root: str, path: PurePath | str) -> str:
        """The URL of ``path`` (a path inside the store, as :meth:`filesystem` names it)."""
        return f"{self.protocol}://{str(path).lstrip('/')}" if self.protocol else str(path)


def _listing(fs: Any, root: str, url: str) -> dict[str, int]:
    """``path -> size`` of every file under ``root`` (hidden folders skipped)."""
    try:
        if fs.isfile(root):
            return {root: int(fs.size(root) or 0)}
        entries = fs.find(root, detail=True)
    except FileNotFoundError:
        raise InputError(f"no such file or directory: {url}") from None
    except PermissionError as exc:
        raise InputError(f"{url}: access denied ({exc})") from None
    except OSError as exc:
        raise InputError(f"{url}: cannot list ({exc})") from None
    except Exception as exc:  # botocore/aiohttp errors do not share a base class with OSError
        raise InputError(f"{url}: cannot list ({type(exc).__name__}: {exc})") from None
    files = {}
    for path, info in entries.items():
        relative = PurePosixPath(path).relative_to(root) if path != root else PurePosixPath(".")
        if info.get("type", "file") != "file" or any(part.startswith(".") for part in relative.parts):
            continue
        files[path] = int(info.get("size") or 0)
    return files


def _prefixes(fs: Any, files: dict[str, int], url: str) -> dict[str, bytes | Exception]:
    """The first bytes of each file (what the sniffers look at), fetched concurrently."""
    from lraudit.sources import SNIFF_BYTES

    paths = [path for path, size in files.items() if size > 0]
    out: dict[str, bytes | Exception] = {path: b"" for path, size in files.items() if size == 0}
    if not paths:
        return out
    ends = [min(files[path], SNIFF_BYTES) for path in paths]
    try:
        blobs = fs.cat_ranges(paths, [0] * len(paths), ends, on_error="return")
    except Exception as exc:
        raise InputError(f"{url}: cannot read ({type(exc).__name__}: {exc})") from None
    out.update(zip(paths, blobs, strict=True))
    return out


def plan_remote_runs(store: RemoteStore) -> list[Any]:
    """The runs under ``store.url`` as :class:`~lraudit.sources.discovery.RunPlan` objects whose
    paths are :class:`PurePosixPath` inside the store (see :meth:`RemoteStore.to_url`)."""
    from lraudit.sources import sniff_prefix
    from lraudit.sources.base import InputFile
    from lraudit.sources.discovery import Found, group_runs, unrecognised_reason

    fs, root = store.filesystem()
    files = _listing(fs, root, store.url)
    prefixes = _prefixes(fs, files, store.url)
    found, skipped = [], []
    for path in sorted(files):
        prefix = prefixes[path]
        source = sniff_prefix(prefix, PurePosixPath(path)) if isinstance(prefix, bytes) and prefix else None
        if source is not None:
            found.append(Found(PurePosixPath(path), source))
            continue
        reason = f"cannot read: {prefix}" if isinstance(prefix, Exception) else unrecognised_reason(prefix)
        skipped.append(InputFile(path=path, kind=None, status="skipped", reason=reason))
    if not found:
        raise InputError(f"no training log found in {store.url} ({len(skipped)} files skipped)")
    root_is_file = root in files  # a URL naming one log file: a run of that file
    return group_runs([PurePosixPath(root)], found, skipped, lambda path: not root_is_file)


def _local_name(name: str, root: PurePath, local_root: Path) -> Path:
    path = PurePosixPath(name)
    return local_root / path.relative_to(root) if root in path.parents else local_root / path.name


@contextmanager
def local_copy(store: RemoteStore, plan: Any) -> Iterator[tuple[Any, str]]:
    """The run of ``plan`` copied into a temporary folder: a local plan, and the local root.

    The folder is deleted on exit, so a worker holds at most one run on disk at a time.
    """
    from lraudit.sources.discovery import Found, RunPlan

    fs, _ = store.filesystem()
    folder = Path(tempfile.mkdtemp(prefix="lraudit-run-"))
    try:
        single = len(plan.found) == 1 and plan.found[0].path == plan.root
        local_root = folder / (plan.root.name or "run")
        found = []
        for item in plan.found:
            target = local_root if single else local_root / item.path.relative_to(plan.root)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                fs.get_file(str(item.path), str(target))
            except Exception as exc:
                url = store.to_url("", item.path)
                raise InputError(f"{url}: cannot download ({type(exc).__name__}: {exc})") from None
            found.append(Found(target, item.source))
        # skipped files are named as if copied, so the result names them by URL like the rest
        skipped = [
            dataclasses.replace(entry, path=str(_local_name(entry.path, plan.root, local_root)))
            for entry in plan.skipped
        ]
        yield RunPlan(root=local_root, found=found, skipped=skipped), str(local_root)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
