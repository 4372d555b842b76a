"""Progress reporting: a rich bar on a terminal, plain log lines otherwise (CI, files, pipes)."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class ProgressBar:
    """Progress of one loop of ``total`` steps.

        On a terminal this is a live rich bar; otherwise a line is printed every ``log_every``
        steps and at the end, so logs stay readable and greppable. Without a console, or off a
    terminal with ``lines=False``, it is silent.
    """

    def __init__(
        self, console: Console | None, description: str, total: int, log_every: int = 50, lines: bool = True
    ) -> None:
        self.console = console if console is not None and (lines or console.is_terminal) else None
        self.description = description
        self.total = total
        self.log_every = max(1, log_every)
        self.live = console is not None and console.is_terminal
        self._progress: Progress | None = None
        self._task = None
        self._start = 0.0
        self._step = 0
        self._info = ""

    def __enter__(self) -> ProgressBar:
        self._start = time.perf_counter()
        if self.live:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"),
                console=self.console,
                transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self.description, total=self.total, info="")
        return self

    def update(self, step: int, info: str | None = None) -> None:
        """Mark ``step`` steps done; ``info`` (e.g. the current loss) is shown beside the bar."""
        self._step = step
        if info is not None:
            self._info = info
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=step, info=self._info)
        elif step % self.log_every == 0 and step < self.total:
            self._line()

    def _line(self) -> None:
        if self.console is None:
            return
        elapsed = time.perf_counter() - self._start
        info = f"  {self._info}" if self._info else ""
        self.console.print(f"{self.description} {self._step}/{self.total} [{elapsed:.0f}s]{info}", highlight=False)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)
        elif exc_type is None:
            self._line()
