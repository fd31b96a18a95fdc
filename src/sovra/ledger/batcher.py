"""Group commit: one writer thread turns queued appends into one transaction per batch.

Callers announce themselves (``arriving``), prepare their entry, enqueue a ``Pending``
and block on it. The writer takes up to ``batch_max`` items, waiting at most
``batch_wait_ms`` after the oldest one arrived for more to join, but only while other
callers are still preparing, and hands the batch to ``commit``; while that transaction
syncs, new arrivals queue up and form the next batch, so throughput grows with
concurrency. The writer never
resolves an item as successful unless ``commit`` returned normally.

A ``Pending`` is a one-shot result guarded by a pre-acquired lock rather than a
``concurrent.futures.Future``: releasing a lock is the cheapest wake-up CPython has, and
with hundreds of waiters per batch the difference shows (benchmarks/ledger_append.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar, cast

from sovra.errors import LedgerUnavailableError

log = logging.getLogger(__name__)

R = TypeVar("R")


class Pending(Generic[R]):
    """One queued append: the prepared entry, and the slot its caller waits on."""

    __slots__ = ("_done", "_error", "_value", "action", "actor", "enqueued", "joined",
                 "on_done", "prefix", "resource")

    def __init__(self, prefix: bytes, actor: str, action: str, resource: str) -> None:
        self.prefix, self.actor, self.action, self.resource = prefix, actor, action, resource
        self.enqueued = time.monotonic()
        self.on_done: Callable[[Pending[R]], None] | None = None
        self.joined = False  # the next queued item must go into the same batch
        self._value: R | None = None
        self._error: BaseException | None = None
        self._done = threading.Lock()
        self._done.acquire()

    @property
    def done(self) -> bool:
        return not self._done.locked()

    def set_result(self, value: R) -> None:
        self._value = value
        self._finish()

    def set_exception(self, error: BaseException) -> None:
        self._error = error
        self._finish()

    def _finish(self) -> None:
        self._done.release()
        if self.on_done is not None:
            try:
                self.on_done(self)
            except Exception:  # a waiter that went away must not fail the batch
                log.exception("ledger waiter callback failed")

    def result(self) -> R:
        """Block until the writer resolved this item; return or raise its outcome."""
        with self._done:
            pass
        return self.outcome()

    def outcome(self) -> R:
        """The outcome of a resolved item."""
        if self._error is not None:
            raise self._error
        return cast(R, self._value)


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
        self._arriving = 0  # callers between ``arriving`` and ``submit``
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def arriving(self) -> None:
        """A caller started preparing an append: worth waiting for it to join a batch."""
        with self._cond:
            self._arriving += 1

    def submit(self, item: Pending[R], *, announced: bool = False) -> Pending[R]:
        """Queue a prepared append (``announced``: its caller called ``arriving``)."""
        with self._cond:
            if announced:
                self._arriving -= 1
            if self._closed:
                raise LedgerUnavailableError("the ledger is closed; nothing was recorded")
            self._queue.append(item)
            if (len(self._queue) == 1 or len(self._queue) >= self._batch_max
                    or self._arriving == 0):
                self._cond.notify()
        return item

    def submit_many(self, items: list[Pending[R]], *, announced: bool = False) -> None:
        """Queue prepared appends that must be committed in one batch (one transaction),
        in order: the writer never splits them, even past ``batch_max``."""
        with self._cond:
            if announced:
                self._arriving -= len(items)
            if self._closed:
                raise LedgerUnavailableError("the ledger is closed; nothing was recorded")
            for item in items[:-1]:
                item.joined = True
            was_empty = not self._queue
            self._queue.extend(items)
            if was_empty or len(self._queue) >= self._batch_max or self._arriving == 0:
                self._cond.notify()

    def abandon(self) -> None:
        """An announced caller gave up before submitting (its input was invalid)."""
        with self._cond:
            self._arriving -= 1
            self._cond.notify()

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
            # Wait for more only while other callers are still preparing theirs: a lone
            # writer pays no batching delay, a crowd fills the batch.
            deadline = self._queue[0].enqueued + self._batch_wait_s
            while (len(self._queue) < self._batch_max and self._arriving > 0
                   and not self._closed):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            count = min(len(self._queue), self._batch_max)
            while count < len(self._queue) and self._queue[count - 1].joined:
                count += 1  # never split a group queued by ``submit_many``
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
                log.exception("ledger batch of %d failed", len(batch))
                for item in batch:
                    if not item.done:
                        item.set_exception(_unavailable(exc))
            self._run_idle()

    def _run_idle(self) -> None:
        if self._idle is None:
            return
        try:
            self._idle()
        except Exception:  # periodic work must never stop the writer
            log.exception("ledger periodic task failed")


def _unavailable(exc: BaseException) -> LedgerUnavailableError:
    if isinstance(exc, LedgerUnavailableError):
        return LedgerUnavailableError(str(exc))
    return LedgerUnavailableError(f"the ledger could not record: {exc}")
