"""The engine of ``lraudit audit`` over many runs: plan once, audit each run on its own, stream.

* :func:`plan_tasks` walks the given folders (local, or remote through fsspec) once and groups
  the files into run folders (:mod:`lraudit.sources.discovery`); nothing is read beyond the
  first bytes of each file.
* :func:`audit_task` is the per-run function: read that folder's files, build its run(s),
  reconstruct, apply the rules. It never raises: a run that cannot be read comes back as one
  :class:`~lraudit.auditing.RunAudit` with :attr:`~lraudit.auditing.RunAudit.error` set, so the
  others go on. Timelines are dropped unless asked for, so a result is a few kB.
* :func:`iter_task_audits` runs it in this process (``jobs=1``), in ``jobs`` worker processes,
  or on a ``dask.distributed`` cluster (``scheduler="tcp://host:port"``), with a bounded number
  of runs in flight, and yields results as they complete.
"""
from __future__ import annotations

import dataclasses
import enum
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lraudit.auditing import RunAudit, audit_run
from lraudit.errors import InputError, LrauditError, UsageError
from lraudit.scale.remote import EXTRA_HINT, RemoteStore, is_remote, local_copy, local_path, plan_remote_runs

if TYPE_CHECKING:
    from lraudit.options import RunOptions
    from lraudit.sources.discovery import RunPlan

#: runs in flight per worker: enough to keep workers busy, few enough to bound memory
IN_FLIGHT_PER_WORKER = 2
#: how long to try reaching a Dask scheduler before saying it is not there
CONNECT_TIMEOUT = "5s"


@dataclasses.dataclass(frozen=True)
class RunTask:
    """One run folder to audit: its planned files, local or inside ``store``."""

    plan: RunPlan
    store: RemoteStore | None = None

    @property
    def name(self) -> str:
        """The run as reports name it: its local path or its URL."""
        if self.store is None:
            return str(self.plan.root)
        return self.store.to_url("", self.plan.root)


def plan_tasks(paths: Sequence[str | os.PathLike[str]]) -> list[RunTask]:
    """One :class:`RunTask` per run folder under ``paths`` (local paths, ``file://`` or remote URLs).

    Raises :class:`~lraudit.errors.InputError` when a path does not exist or holds no log, and
    :class:`~lraudit.errors.UsageError` for a remote URL when the ``scale`` extra is missing.
    """
    from lraudit.sources.discovery import plan_runs

    if not paths:
        raise UsageError("no path given")
    local = [local_path(path) for path in paths if not is_remote(path)]
    tasks = [RunTask(plan) for plan in plan_runs(local)] if local else []
    for url in (os.fspath(path) for path in paths if is_remote(path)):
        store = RemoteStore(url.rstrip("/"))
        tasks.extend(RunTask(plan, store) for plan in plan_remote_runs(store))
    return tasks


def _replace_text(value: Any, old: str, new: str) -> Any:
    """``value`` with ``old`` replaced by ``new`` in every string of it (dataclasses, lists)."""
    if isinstance(value, enum.Enum):  # str-valued enums (Severity) stay what they are
        return value
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace_text(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: _replace_text(item, old, new) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            field.name: _replace_text(getattr(value, field.name), old, new)
            for field in dataclasses.fields(value)
            if isinstance(getattr(value, field.name), (str, list, dict))
        }
        return dataclasses.replace(value, **changes)
    return value


def _audit_plan(plan: RunPlan, options: RunOptions | None, codes: Sequence[str]) -> list[RunAudit]:
    from lraudit.api import runs_of_plan

    return [audit_run(run, options, codes) for run in runs_of_plan(plan)]


def _audit_remote(task: RunTask, options: RunOptions | None, codes: Sequence[str]) -> list[RunAudit]:
    assert task.store is not None
    with local_copy(task.store, task.plan) as (plan, local_root):
        audits = _audit_plan(plan, options, codes)
    url = task.name
    rewritten = []
    for audit in audits:
        timeline, audit.timeline = audit.timeline, None  # never copied: it holds no path
        audit = _replace_text(audit, local_root, url)
        audit.timeline = timeline
        rewritten.append(audit)
    return rewritten


def _error_message(exc: BaseException) -> str:
    """One line: the problem, never a multi-line dump."""
    text = exc.message if isinstance(exc, LrauditError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def audit_task(
    task: RunTask, options: RunOptions | None, codes: Sequence[str], keep_timeline: bool = False
) -> list[RunAudit]:
    """Read, rebuild and audit one run folder (the function workers run); never raises.

    Returns one :class:`RunAudit` per training the folder holds, or one with ``error`` set.
    """
    try:
        if task.store is None:
            audits = _audit_plan(task.plan, options, codes)
        else:
            audits = _audit_remote(task, options, codes)
    except Exception as exc:
        if os.environ.get("LRAUDIT_DEBUG"):
            raise
        from lraudit.errors import UsageError

        return [
            RunAudit(path=task.name, error=_error_message(exc), usage_error=isinstance(exc, UsageError))
        ]
    if not keep_timeline:
        for audit in audits:
            audit.timeline = None  # the per-step frame is the bulk of a result: not shipped back
    return audits


def _lost(task: RunTask, exc: BaseException) -> list[RunAudit]:
    """The result of a run whose worker failed (died, or the result could not come back)."""
    return [RunAudit(path=task.name, error=f"worker failed: {_error_message(exc)}")]


def _iter_local(tasks: Sequence[RunTask], run: Callable[[RunTask], list[RunAudit]], jobs: int):
    if jobs <= 1 or len(tasks) <= 1:
        for index, task in enumerate(tasks):
            yield index, run(task)
        return
    window = IN_FLIGHT_PER_WORKER * jobs
    queue = deque(enumerate(tasks))
    retried: set[int] = set()
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)))
    broken = False
    try:
        running: dict[Future[list[RunAudit]], tuple[int, RunTask]] = {}
        while queue or running:
            if broken and not running:  # every run of the dead pool is back: a fresh pool
                pool.shutdown(wait=False, cancel_futures=True)
                pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)))
                broken = False
            while queue and len(running) < window and not broken:
                if queue[0][0] in retried and running:
                    break  # a run retried after a worker died goes alone: only it can fail
                index, task = queue.popleft()
                running[pool.submit(run, task)] = (index, task)
                if index in retried:
                    break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                index, task = running.pop(future)
                try:
                    yield index, future.result()
                except BrokenProcessPool as exc:
                    broken = True
                    # a worker died (killed, out of memory): the runs it took down with it are
                    # tried once more in a fresh pool; a run that fails twice is reported
                    if index in retried:
                        yield index, _lost(task, exc)
                    else:
                        retried.add(index)
                        queue.appendleft((index, task))
                except Exception as exc:  # the result could not come back (pickling...)
                    yield index, _lost(task, exc)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _dask_client(scheduler: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise UsageError(f"--scheduler needs the 'scale' extra: {EXTRA_HINT}") from None
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None


def _iter_dask(tasks: Sequence[RunTask], run: Callable[[RunTask], list[RunAudit]], scheduler: str):
    client = _dask_client(scheduler)
    from distributed import as_completed

    try:
        workers = max(1, sum(client.nthreads().values()))
        window = IN_FLIGHT_PER_WORKER * workers
        queue = deque(enumerate(tasks))
        owner: dict[str, tuple[int, RunTask]] = {}
        pending = as_completed(loop=client.loop)

        def submit() -> None:
            index, task = queue.popleft()
            future = client.submit(run, task, pure=False)
            owner[future.key] = (index, task)
            pending.add(future)

        while queue and len(owner) < window:
            submit()
        for future in pending:
            index, task = owner.pop(future.key)
            try:
                yield index, future.result()
            except Exception as exc:  # KilledWorker, a lost connection...
                yield index, _lost(task, exc)
            future.release()
            if queue:
                submit()
    finally:
        client.close()


class _TaskRunner:
    """``audit_task`` with the run options bound; picklable for processes and Dask."""

    def __init__(self, options: RunOptions | None, codes: Sequence[str], keep_timeline: bool) -> None:
        self.options = options
        self.codes = list(codes)
        self.keep_timeline = keep_timeline

    def __call__(self, task: RunTask) -> list[RunAudit]:
        return audit_task(task, self.options, self.codes, self.keep_timeline)


def iter_task_audits(
    tasks: Sequence[RunTask],
    options: RunOptions | None,
    codes: Sequence[str],
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    keep_timeline: bool = False,
) -> Iterator[tuple[int, list[RunAudit]]]:
    """``(task index, its audits)`` for every task, in completion order.

    ``scheduler`` (``tcp://host:port``) sends each task to that ``dask.distributed`` scheduler;
    else ``jobs`` local processes (``1``: this process). A worker that fails gives that run an
    error result; the others go on.
    """
    runner = _TaskRunner(options, codes, keep_timeline)
    if scheduler:
        yield from _iter_dask(tasks, runner, scheduler)
    else:
        yield from _iter_local(tasks, runner, jobs)


def audit_stream(
    paths: Sequence[str | Path],
    options: RunOptions | None = None,
    codes: Sequence[str] | None = None,
    *,
    jobs: int = 1,
    scheduler: str | None = None,
) -> Iterator[RunAudit]:
    """Every run under ``paths`` audited, yielded as it completes (see :func:`iter_task_audits`)."""
    from lraudit.rules import REGISTRY

    chosen = list(codes) if codes is not None else [rule.code for rule in REGISTRY.select([], [])]
    tasks = plan_tasks(list(paths))
    for _, audits in iter_task_audits(tasks, options, chosen, jobs=jobs, scheduler=scheduler):
        yield from audits
