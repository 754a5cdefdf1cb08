"""Finding the training logs in the paths a user gives, by content, and grouping them into runs.

A directory is walked recursively (symbolic links followed, loops guarded by device and inode),
hidden directories (``.git``, ``.ipynb_checkpoints``, ...) skipped; every regular file is
recognised by its first bytes (:func:`lraudit.sources.sniff_prefix`). Nothing is imported or
executed: a ``.py`` file is just text that no source recognises. A file nothing recognises is
kept as a skipped :class:`InputFile` with the reason, never an error. A path that does not
exist, or paths holding no training log at all, are an :class:`InputError` (exit 2).

Runs (:func:`discover_runs`, for "a folder of runs"): a folder that directly holds a training
log is one run, with everything below it (e.g. its ``tb/train`` event files). A folder holding
only TensorBoard's per-mode subfolders (``train``, ``validation``, ...) with event files is one
run too. Any other folder is a collection: each child is examined the same way.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from lraudit.errors import InputError
from lraudit.sources import read_prefix, sniff_prefix
from lraudit.sources.base import InputFile, Source, SourceFacts
from lraudit.sources.text import decode, looks_like_text

#: subfolders the Keras TensorBoard callback writes per mode (they belong to the run above them)
TENSORBOARD_MODE_DIRS = frozenset({"train", "validation", "eval", "evaluation", "test", "validate"})


@dataclass
class Found:
    """A recognised file and the source class that reads it."""

    path: PurePath  # a local Path, or a PurePosixPath inside a remote store
    source: type[Source]

    @property
    def kind(self) -> str:
        """The source kind (:attr:`SourceFacts.kind`)."""
        return self.source.facts.kind

    @property
    def facts(self) -> SourceFacts:
        """What its kind is (:class:`SourceFacts`)."""
        return self.source.facts


@dataclass
class RunPlan:
    """The files of one run: its root folder, what will be read, what was skipped."""

    root: PurePath
    found: list[Found] = field(default_factory=list)
    skipped: list[InputFile] = field(default_factory=list)


def _walk_files(directory: Path) -> list[Path]:
    """Regular files under ``directory`` (sorted), following links without looping."""
    files: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for current, dirnames, filenames in os.walk(directory, followlinks=True):
        try:
            stat = os.stat(current)
        except OSError:
            dirnames[:] = []
            continue
        key = (stat.st_dev, stat.st_ino)
        if key in seen:  # a link back up the tree
            dirnames[:] = []
            continue
        seen.add(key)
        dirnames[:] = sorted(name for name in dirnames if not name.startswith("."))
        for name in sorted(filenames):
            path = Path(current) / name
            if path.is_file():
                files.append(path)
    return files


def unrecognised_reason(prefix: bytes) -> str:
    """Why a file with these first bytes is not read (empty, binary, or its first text line)."""
    if not prefix:
        return "empty file"
    text, _ = decode(prefix)
    if not looks_like_text(text):
        return "not a recognised training log: binary data"
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first.startswith("version https://git-lfs.github.com/spec/"):
        # a repository that stores its files with Git LFS commits this pointer, not the content
        return "a Git LFS pointer: the file's content is not in the repository (run `git lfs pull`)"
    if len(first) > 60:
        first = first[:57] + "..."
    return f"not a recognised training log: text starting {first!r}"


def classify(path: Path) -> tuple[type[Source] | None, str | None]:
    """The source class for ``path``, or None and the reason nothing reads it."""
    try:
        prefix = read_prefix(path)
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"
    source = sniff_prefix(prefix, path) if prefix else None
    if source is None:
        return None, unrecognised_reason(prefix)
    return source, None


def _check_exists(paths: list[Path]) -> None:
    for path in paths:
        if not Path(path).exists():
            raise InputError(f"no such file or directory: {path}")


def _scan(paths: list[Path]) -> tuple[list[Found], list[InputFile]]:
    _check_exists(paths)
    found: list[Found] = []
    skipped: list[InputFile] = []
    seen: set[Path] = set()
    for given in paths:
        files = _walk_files(Path(given)) if Path(given).is_dir() else [Path(given)]
        for path in files:
            resolved = path.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            source, reason = classify(path)
            if source is None:
                skipped.append(InputFile(path=str(path), kind=None, status="skipped", reason=reason))
            else:
                found.append(Found(path, source))
    return found, skipped


def _no_log_error(paths: list[Path], skipped: list[InputFile]) -> InputError:
    where = " ".join(str(path) for path in paths)
    pointers = sum(1 for entry in skipped if "Git LFS pointer" in (entry.reason or ""))
    lfs = (f"; {pointers} of them are Git LFS pointers, whose content is not in the repository "
           "(`git lfs pull` fetches it)") if pointers else ""
    return InputError(f"no training log found in {where} ({len(skipped)} files skipped{lfs})")


def discover_sources(paths: list[Path]) -> tuple[list[Found], list[InputFile]]:
    """Every recognised file under ``paths`` with its source class, and the skipped files.

    Raises :class:`InputError` when a path does not exist or nothing is a training log.
    """
    paths = [Path(path) for path in paths]
    found, skipped = _scan(paths)
    if not found:
        raise _no_log_error(paths, skipped)
    return found, skipped


def discover(paths: list[Path]) -> tuple[list[Path], list[InputFile]]:
    """The training logs under ``paths`` (recognised by content) and the skipped files."""
    found, skipped = discover_sources(paths)
    return [item.path for item in found], skipped


def _is_within(path: PurePath, root: PurePath) -> bool:
    return path == root or root in path.parents


def _roots(directory: PurePath, found: list[Found]) -> list[PurePath]:
    """The run roots in ``directory`` given the recognised files below it.

    Files are bucketed by their first folder below ``directory`` once per level, so a tree of
    thousands of runs is grouped in time linear in its files (not runs x files).
    """
    direct: list[Found] = []
    by_child: dict[PurePath, list[Found]] = {}
    for item in found:
        if item.path.parent == directory:
            direct.append(item)
        else:
            child = directory / item.path.relative_to(directory).parts[0]
            by_child.setdefault(child, []).append(item)
    is_mode_dir = directory.name.lower() in TENSORBOARD_MODE_DIRS
    if any(not item.facts.in_mode_folders for item in direct) or (direct and not is_mode_dir):
        return [directory]
    children = sorted(by_child)
    if not children:
        return [directory] if direct else []
    if all(
        child.name.lower() in TENSORBOARD_MODE_DIRS
        and all(item.facts.in_mode_folders for item in by_child[child])
        for child in children
    ):
        return [directory]  # tb/{train,validation}: one run's event files
    roots: list[PurePath] = []
    for child in children:
        roots.extend(_roots(child, by_child[child]))
    return roots


def group_runs(
    paths: list[PurePath], found: list[Found], skipped: list[InputFile], is_dir: Callable[[PurePath], bool]
) -> list[RunPlan]:
    """Group recognised files into runs (see the module docstring); works on local and remote paths.

    Files given explicitly (not directories) form one run together, rooted at their common
    folder. Skipped files go to the run whose root holds them (else the first run).
    """
    roots: list[PurePath] = []
    loose = [path for path in paths if not is_dir(path)]
    for given in paths:
        if is_dir(given):
            roots.extend(_roots(given, [item for item in found if _is_within(item.path, given)]))
    plans = [RunPlan(root) for root in dict.fromkeys(roots)]
    by_root = {plan.root: plan for plan in plans}
    loose_plan = None
    loose_set = set(loose)
    if loose:
        common = type(loose[0])(os.path.commonpath([str(path.parent) for path in loose]))
        loose_plan = RunPlan(loose[0] if len(loose) == 1 else common)
        plans.insert(0, loose_plan)

    def owner(path: PurePath) -> RunPlan | None:
        if loose_plan is not None and path in loose_set:
            return loose_plan
        for folder in (path, *path.parents):  # the deepest run root holding it
            if folder in by_root:
                return by_root[folder]
        return None

    for item in found:
        plan = owner(item.path)
        if plan is not None:
            plan.found.append(item)
    for entry in skipped:
        plan = owner(type(paths[0])(entry.path)) or plans[0]
        plan.skipped.append(entry)
    return [plan for plan in plans if plan.found]


def plan_runs(paths: list[Path]) -> list[RunPlan]:
    """Group the files under ``paths`` into runs (see the module docstring and :func:`group_runs`)."""
    paths = [Path(path) for path in paths]
    found, skipped = _scan(paths)
    if not found:
        raise _no_log_error(paths, skipped)
    return group_runs(list(paths), found, skipped, lambda path: Path(path).is_dir())


def discover_runs(paths: list[Path]) -> list[Path]:
    """The run roots under ``paths``: each folder that is one run (see the module docstring)."""
    return [plan.root for plan in plan_runs(paths)]
