"""A runs-done progress bar on stderr while many runs are audited: only on a terminal.

Piped and CI output stays clean; ``rich`` is imported only when a bar is shown.
"""
from __future__ import annotations

import sys
from types import TracebackType
from typing import Any, TextIO


class RunProgress:
    """Context manager counting audited runs out of ``total``; call :meth:`advance` per run."""

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = enabled and total > 1 and bool(isatty and isatty())
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> RunProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("auditing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                console=Console(file=self.stream), transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("runs", total=self.total)
        return self

    def advance(self, runs: int = 1) -> None:
        """Count ``runs`` more folders as done."""
        if self._bar is not None:
            self._bar.advance(self._task, runs)

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
