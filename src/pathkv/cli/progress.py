"""Progress of a long command on stderr, when stderr is a terminal (rich); silent otherwise,
so a pipe or a log receives only the summary."""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


class Meter:
    """Counts ``unit`` ("documents" or "bytes") towards ``total`` (None: unknown)."""

    def __init__(self, verb: str, unit: str, shown: bool | None = None) -> None:
        self.verb, self.unit = verb, unit
        self.shown = sys.stderr.isatty() if shown is None else shown
        self.total: int | None = None
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> Meter:
        if self.shown:
            amount: tuple[ProgressColumn, ...]
            if self.unit == "bytes":
                amount = (DownloadColumn(), TransferSpeedColumn())
            else:
                amount = (
                    MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]} documents/s"),
                )
            self._progress = Progress(
                TextColumn(self.verb),
                BarColumn(),
                TaskProgressColumn(),
                *amount,
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.verb, total=self.total, rate="-")
        return self

    def advance(self, amount: int) -> None:
        if self._progress is not None and self._task is not None:
            speed = self._progress.tasks[0].speed
            rate = f"{speed:,.0f}" if speed else "-"
            self._progress.update(self._task, advance=amount, rate=rate)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
