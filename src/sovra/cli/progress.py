"""Progress for the CLI's long steps (issue 15): ingest, exports, verification.

A bar goes to stderr, so stdout stays the command's answer (piped into a file or
``jq``, it is unchanged), and only when stderr is a terminal: in a script, a CI log or
with ``--quiet`` nothing is drawn. Rich's progress module is imported only when a bar is
drawn (it costs a third of a second to import here).

``Meter`` keeps the count whether or not a bar is drawn, so the same callback a service
receives is checked by the tests (the totals a bar would have shown).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

Quiet = Annotated[bool, typer.Option(
    "--quiet", "-q", help="Draw no progress bar (none is drawn when stderr is not a "
    "terminal either).")]


def stderr_console() -> Console:
    return Console(stderr=True)


class Meter:
    """What a long step reports: how much is done of how much (``total`` None while
    unknown). Draws on a Rich bar when there is one."""

    def __init__(self, bar: Progress | None, task: TaskID | None,
                 total: int | None) -> None:
        self._bar = bar
        self._task = task
        self.total = total
        self.done = 0
        self.label = ""

    def advance(self, amount: int, label: str | None = None) -> None:
        self.done += amount
        if label is not None:
            self.label = label
        self._draw()

    def file_done(self, name: str, size: int) -> None:
        """One file finished (ingested, unchanged or failed): the ingest callback."""
        self.advance(size, name)

    def update(self, done: int, total: int | None, label: str | None = None) -> None:
        """Absolute progress, for services that report (done, total)."""
        self.done, self.total = done, total
        if label is not None:
            self.label = label
        self._draw()

    def _draw(self) -> None:
        if self._bar is None or self._task is None:
            return
        fields: dict[str, Any] = {"completed": self.done, "total": self.total}
        if self.label:
            fields["description"] = self.label[:40]
        self._bar.update(self._task, **fields)
        if not self._bar.live.auto_refresh:  # no thread redraws it
            self._bar.refresh()


@contextmanager
def progress(description: str, total: int | None = None, *, quiet: bool = False,
             unit: str = "items", console: Console | None = None,
             thread: bool = True) -> Iterator[Meter]:
    """A transient bar on stderr for one step; ``unit`` "bytes" shows sizes and speed.
    ``total`` None draws a pulsing bar with the elapsed time: a sign of life where the
    step cannot say how far it is. ``thread=False`` draws without Rich's refresh thread
    (redrawn on each update only), for a step that forks worker processes only while
    it is the process's one thread (``sovra.ledger.parallel``)."""
    target = console or stderr_console()
    if quiet or not target.is_terminal:
        yield Meter(None, None, total)
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    counts: list[Any] = ([DownloadColumn(), TransferSpeedColumn()] if unit == "bytes"
                         else [MofNCompleteColumn()])
    columns = [TextColumn("{task.description}"), BarColumn(),
               *(counts if total is not None else []), TimeElapsedColumn()]
    with Progress(*columns, console=target, transient=True, auto_refresh=thread) as bar:
        task = bar.add_task(description, total=total)
        yield Meter(bar, task, total)


def bytes_of(files: Iterable[Path]) -> int:
    """What a bar over these files counts to: their sizes (a file gone meanwhile is 0)."""
    total = 0
    for path in files:
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total


_COPY_CHUNK = 1 << 20


def copy_with_progress(source: Path, dest: Path, meter: Meter) -> None:
    """A file copy in 1 MiB steps, each reported to ``meter`` (removable media are slow)."""
    with source.open("rb") as reader, dest.open("wb") as writer:
        while chunk := reader.read(_COPY_CHUNK):
            writer.write(chunk)
            meter.advance(len(chunk))


__all__ = ["Meter", "Quiet", "bytes_of", "copy_with_progress", "progress", "stderr_console"]
