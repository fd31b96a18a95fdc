"""Group commit: one writer thread turns queued appends into one transaction per batch.

Callers enqueue a ``Pending`` and block on its future. The writer takes up to
``batch_max`` items, waiting at most ``batch_wait_ms`` after the oldest one arrived for
more to join, and hands the batch to ``commit``; while that transaction syncs, new
arrivals queue up and form the next batch, so throughput grows with concurrency. The
writer never resolves a future as successful unless ``commit`` returned normally.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sovra.errors import LedgerUnavailableError

log = logging.getLogger(__name__)

R = TypeVar("R")


@dataclass
class Pending(Generic[R]):
    """One queued append: the prepared entry prefix, and the future its caller awaits."""

    prefix: bytes
    actor: str
    action: str
    resource: str
    enqueued: float = field(default_factory=time.monotonic)
    future: Future[R] = field(default_factory=Future)


class Batcher(Generic[R]):
    """The queue and the single writer thread."""

    def __init__(self, commit: Callable[[list[Pending[R]]], None], *, batch_max: int,
                 batch_wait_s: float, idle: Callable[[], None] | None = None,
                 idle_every_s: float = 0.0, name: str = "sovra-ledger-writer") -> None:
        self._commit = commit
        self._batch_max = batch_max
        self._batch_wait_s = batch_wait_s
        self._idle = idle
        self._idle_every_s = idle_every_s
        self._queue: deque[Pending[R]] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Pending[R]) -> Future[R]:
        with self._cond:
            if self._closed:
                raise LedgerUnavailableError("the ledger is closed; nothing was recorded")
            self._queue.append(item)
            if len(self._queue) == 1 or len(self._queue) >= self._batch_max:
                self._cond.notify()
        return item.future

    def close(self) -> None:
        """Stop taking appends, commit what is queued, and stop the writer."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()

    def _take(self) -> list[Pending[R]] | None:
        with self._cond:
            next_idle = time.monotonic() + self._idle_every_s
            while not self._queue and not self._closed:
                timeout = next_idle - time.monotonic() if self._idle_every_s > 0 else None
                if timeout is not None and timeout <= 0:
                    return []
                self._cond.wait(timeout)
            if not self._queue:
                return None  # closed and drained
            deadline = self._queue[0].enqueued + self._batch_wait_s
            while len(self._queue) < self._batch_max and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            count = min(len(self._queue), self._batch_max)
            return [self._queue.popleft() for _ in range(count)]

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            if not batch:
                self._run_idle()
                continue
            try:
                self._commit(batch)
            except BaseException as exc:  # the writer must outlive any one batch
                log.exception("ledger batch failed")
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(
                            LedgerUnavailableError(f"the ledger could not record: {exc}"))
            self._run_idle()

    def _run_idle(self) -> None:
        if self._idle is None:
            return
        try:
            self._idle()
        except Exception:  # periodic work must never stop the writer
            log.exception("ledger periodic task failed")
