"""The group-commit queue on its own: a batch's waiters are woken by relay (each woken
thread wakes the next), async and main-thread waiters directly, and every waiter of a
batch gets the batch's outcome, success or failure. The commit step is a plain function
here (the database side is covered by test_log.py and test_fail_closed.py)."""

from __future__ import annotations

import threading

import pytest

from sovra.errors import LedgerUnavailableError
from sovra.ledger.batcher import Batcher, Pending

_WAITERS = 40


class _Commit:
    """Records each batch; answers every item, or fails the whole batch."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.batches: list[list[bytes]] = []

    def __call__(self, batch: list[Pending[str]]) -> list[str]:
        self.batches.append([p.prefix for p in batch])
        if self.fail:
            raise OSError("disk full")
        return [p.prefix.decode() + "-done" for p in batch]


def _run_batch(commit: _Commit) -> tuple[dict[str, object], Pending[str], list[str]]:
    # Every caller announces itself before any submits, and the writer waits while
    # announced callers are still preparing: all of them land in one batch.
    batcher: Batcher[str] = Batcher(commit, batch_max=10_000, batch_wait_s=10.0)
    outcomes: dict[str, object] = {}
    callbacks: list[str] = []
    ready = threading.Barrier(_WAITERS + 1)

    def waiter(name: str) -> None:
        batcher.arriving()
        ready.wait()
        item: Pending[str] = Pending(name.encode(), "a", "x.y", "r", relay=True)
        try:
            outcomes[name] = batcher.submit(item, announced=True).result()
        except LedgerUnavailableError as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=waiter, args=(f"t{i}",)) for i in range(_WAITERS)]
    for t in threads:
        t.start()
    # The main thread asks for the relay too, but must be woken directly.
    batcher.arriving()
    main: Pending[str] = Pending(b"main", "a", "x.y", "r", relay=True)
    assert not main.relay
    batcher.arriving()
    async_like: Pending[str] = Pending(b"cb", "a", "x.y", "r")
    async_like.on_done = lambda p: callbacks.append(p.prefix.decode())
    batcher.submit(async_like, announced=True)
    ready.wait()
    batcher.submit(main, announced=True)
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive(), "a waiter was never woken"
    batcher.close()
    return outcomes, main, callbacks


def test_every_waiter_of_a_batch_is_woken_with_its_own_result() -> None:
    commit = _Commit()
    outcomes, main, callbacks = _run_batch(commit)
    assert len(commit.batches) == 1
    assert outcomes == {f"t{i}": f"t{i}-done" for i in range(_WAITERS)}
    assert main.result() == "main-done"
    assert callbacks == ["cb"]
    assert sorted(p for batch in commit.batches for p in batch) == sorted(
        [f"t{i}".encode() for i in range(_WAITERS)] + [b"main", b"cb"])


def test_a_failed_batch_fails_every_waiter_through_the_relay() -> None:
    commit = _Commit(fail=True)
    outcomes, main, callbacks = _run_batch(commit)
    assert len(commit.batches) == 1
    assert len(outcomes) == _WAITERS
    assert all(isinstance(o, LedgerUnavailableError) and "disk full" in str(o)
               for o in outcomes.values())
    with pytest.raises(LedgerUnavailableError, match="disk full"):
        main.result()
    assert callbacks == ["cb"]


def test_result_can_be_read_again_after_the_relay_passed() -> None:
    batcher: Batcher[str] = Batcher(lambda batch: ["ok"] * len(batch), batch_max=8,
                                    batch_wait_s=0.0)
    box: list[Pending[str]] = []

    def worker() -> None:
        item: Pending[str] = Pending(b"x", "a", "x.y", "r", relay=True)
        box.append(item)
        assert batcher.submit(item).result() == "ok"

    t = threading.Thread(target=worker)
    t.start()
    t.join(timeout=30)
    batcher.close()
    assert box[0].relay and box[0].done
    assert box[0].result() == "ok"  # the own lock was released again after the relay
