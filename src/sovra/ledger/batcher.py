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

Waking a committed batch is a relay, not a broadcast (ADR 0104): the writer releases the
first waiting thread only, and each woken thread releases the next one as soon as it
runs. Releasing every waiter at once makes all of them runnable while only one can hold
the GIL: each wakes, finds the GIL taken, sleeps on the GIL's condition variable and is
woken again, about three context switches per append instead of one, and with 256
writers that churn, not the database, was the ceiling. Waiters that cannot take part in
the relay are released by the writer directly: async callers (woken through their event
loop) and the main thread (a signal can interrupt its wait, and an interrupted waiter
would never pass the relay on).
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

    __slots__ = ("_done", "_error", "_next", "_resolved", "_value", "action", "actor",
                 "enqueued", "joined", "on_done", "prefix", "relay", "resource")

    def __init__(self, prefix: bytes, actor: str, action: str, resource: str, *,
                 relay: bool = False) -> None:
        self.prefix, self.actor, self.action, self.resource = prefix, actor, action, resource
        self.enqueued = time.monotonic()
        self.on_done: Callable[[Pending[R]], None] | None = None
        self.joined = False  # the next queued item must go into the same batch
        # ``relay``: the caller will block in ``result`` and then wake the next waiter.
        self.relay = relay and threading.get_ident() != threading.main_thread().ident
        self._next: Pending[R] | None = None  # the waiter this one wakes (relay)
        self._resolved = False
        self._value: R | None = None
        self._error: BaseException | None = None
        self._done = threading.Lock()
        self._done.acquire()

    @property
    def done(self) -> bool:
        return self._resolved

    def result(self) -> R:
        """Block until the writer resolved this item; return or raise its outcome."""
        self._done.acquire()
        try:
            nxt = self._next
            if nxt is not None:
                nxt._done.release()  # pass the relay on before doing anything else
        finally:
            self._done.release()
        return self.outcome()

    def outcome(self) -> R:
        """The outcome of a resolved item."""
        if self._error is not None:
            raise self._error
        return cast(R, self._value)


def resolve(batch: list[Pending[R]], values: list[R] | None,
            error: BaseException | None = None) -> None:
    """Set every item's outcome (``values`` in batch order, or ``error`` for all), then
    wake the relay's first waiter and every waiter outside the relay."""
    head: Pending[R] | None = None
    last: Pending[R] | None = None
    direct: list[Pending[R]] = []
    for i, item in enumerate(batch):
        if values is not None:
            item._value = values[i]
        else:
            item._error = error
        item._resolved = True
        if item.relay:
            if last is None:
                head = item
            else:
                last._next = item  # linked before anyone is woken
            last = item
        else:
            direct.append(item)
    if head is not None:
        head._done.release()
    for item in direct:
        item._done.release()
        if item.on_done is not None:
            try:
                item.on_done(item)
            except Exception:  # a waiter that went away must not fail the batch
                log.exception("ledger waiter callback failed")


class Batcher(Generic[R]):
    """The queue and the single writer thread."""

    def __init__(self, commit: Callable[[list[Pending[R]]], list[R]], *, batch_max: int,
                 batch_wait_s: float, idle: Callable[[], None] | None = None,
                 idle_every_s: float = 0.0, name: str = "sovra-ledger-writer") -> None:
        self._commit = commit
        self._batch_max = batch_max
        self._batch_wait_s = batch_wait_s
        self._idle = idle
        self._idle_every_s = idle_every_s
        self._queue: deque[Pending[R]] = deque()
        self._arriving = 0  # callers between ``arriving`` and ``submit``
        # Callers take the plain lock (a C-level ``with``); only the writer waits on the
        # condition built on it.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        """Appends queued and not yet taken by the writer (a metric; read without the lock,
        a moment's stale value is fine)."""
        return len(self._queue)

    def arriving(self) -> None:
        """A caller started preparing an append: worth waiting for it to join a batch."""
        with self._lock:
            self._arriving += 1

    def submit(self, item: Pending[R], *, announced: bool = False) -> Pending[R]:
        """Queue a prepared append (``announced``: its caller called ``arriving``)."""
        with self._lock:
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
        with self._lock:
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
        with self._lock:
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
                values = self._commit(batch)
            except BaseException as exc:  # the writer must outlive any one batch
                log.exception("ledger batch of %d failed", len(batch))
                resolve(batch, None, _unavailable(exc))
            else:
                resolve(batch, values)
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
