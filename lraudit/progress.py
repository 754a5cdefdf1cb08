"""A progress bar on stderr for long reads: shown only on a terminal and only after ~1 s.

Short reads and piped/CI runs print nothing. ``rich`` is imported only when a bar is shown.
"""
from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any, TextIO

#: a read must last this long before a bar appears
SHOW_AFTER_SECONDS = 1.0


class ByteProgress:
    """Context manager tracking bytes done out of ``total``; call :meth:`update` with the position."""

    def __init__(
        self,
        total: int,
        description: str,
        enabled: bool = True,
        stream: TextIO | None = None,
        show_after: float = SHOW_AFTER_SECONDS,
    ) -> None:
        self.total = max(int(total), 1)
        self.description = description
        self.stream = stream if stream is not None else sys.stderr
        self.show_after = show_after
        self.enabled = enabled and _is_terminal(self.stream)
        self.done = 0
        self._started = time.monotonic()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> ByteProgress:
        self._started = time.monotonic()
        return self

    def update(self, done: int) -> None:
        """Set the number of bytes done; shows the bar once the read has lasted long enough."""
        self.done = min(int(done), self.total)
        if not self.enabled:
            return
        if self._bar is None:
            if time.monotonic() - self._started < self.show_after:
                return
            self._start_bar()
        self._bar.update(self._task, completed=self.done)

    @property
    def shown(self) -> bool:
        """Whether the bar has been displayed."""
        return self._bar is not None

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(file=self.stream),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(self.description, total=self.total, completed=self.done)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class RunsProgress:
    """A bar on stderr counting audited runs: only on a terminal, only for two or more runs, and
    only once the audit has lasted :data:`SHOW_AFTER_SECONDS`; it disappears when done.

    Pass :meth:`update` as ``progress=`` to :func:`lraudit.api.audit`.
    """

    def __init__(self, stream: TextIO | None = None, show_after: float = SHOW_AFTER_SECONDS) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.show_after = show_after
        self.enabled = _is_terminal(self.stream)
        self._started = time.monotonic()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> RunsProgress:
        self._started = time.monotonic()
        return self

    def update(self, done: int, total: int) -> None:
        """``done`` of ``total`` runs audited."""
        if not self.enabled or total < 2:
            return
        if self._bar is None:
            if time.monotonic() - self._started < self.show_after:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("auditing runs"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), console=Console(file=self.stream), transient=True)
            self._bar.start()
            self._task = self._bar.add_task("runs", total=total)
        self._bar.update(self._task, completed=done, total=total)

    @property
    def shown(self) -> bool:
        """Whether the bar has been displayed."""
        return self._bar is not None

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
