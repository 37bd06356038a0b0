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
    """Counts ``unit`` ("documents", or "bytes" of input) towards ``total`` (None: unknown),
    and the documents done, with their rate."""

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
                amount = (MofNCompleteColumn(),)
            self._progress = Progress(
                TextColumn(self.verb),
                BarColumn(),
                TaskProgressColumn(),
                *amount,
                TextColumn("{task.fields[items]:,} documents, {task.fields[rate]}/s"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.verb, total=self.total, rate="-", items=0)
        return self

    def advance(self, amount: int, items: int = 1) -> None:
        if self._progress is not None and self._task is not None:
            task = self._progress.tasks[0]
            done = task.fields["items"] + items
            seconds = task.elapsed or 0.0
            rate = f"{done / seconds:,.0f}" if seconds > 0.5 else "-"
            self._progress.update(self._task, advance=amount, rate=rate, items=done)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
