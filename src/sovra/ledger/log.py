"""The ledger service: durable group-committed appends, tree heads and proofs.

``Ledger.open`` rebuilds the subtree-hash cache from the leaf hashes in the database and
starts the single writer thread. ``append`` returns only after the entry's batch is
committed; if the database fails, every caller of that batch gets
``LedgerUnavailableError`` and the in-memory tree does not advance (fail closed: no
record, no access).
"""

from __future__ import annotations

import asyncio
import logging
import operator
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from sovra.config import Settings
from sovra.errors import (
    CheckpointError,
    LedgerUnavailableError,
    NotFoundError,
    ProofError,
    StorageError,
)
from sovra.ledger import entry as entries
from sovra.ledger.archive import ArchivedCheckpoint, ArchivedCosignature, write_archive
from sovra.ledger.batcher import Batcher, Pending
from sovra.ledger.checkpoints import Checkpointer
from sovra.ledger.merkle import leaf_hash_list
from sovra.ledger.note import parse_vkey
from sovra.ledger.storage import EntryRow, LedgerStore, SeqConflictError
from sovra.ledger.tree import HashTree

log = logging.getLogger(__name__)

Clock = Callable[[], float]
# The columns stored beside each entry, read off a queued item.
_COLUMNS = operator.attrgetter("action", "actor", "resource")
# (actor, action, resource, outcome, details): the arguments of ``append``.
EntryFields = tuple[str, str, str, str, Mapping[str, object] | None]
# Tries per batch: the first optimistic one, then under the sequence lock, where only a
# process still on its optimistic path can clash, once, before it takes the lock too.
_ATTEMPTS = 8
# Backwards steps smaller than this are NTP slewing, not a jump worth an entry.
_CLOCK_JITTER_S = 1.0


@dataclass(frozen=True)
class EntryProof:
    """An entry as stored, with its inclusion proof against ``tree_size``."""

    seq: int
    body: bytes
    leaf_hash: bytes
    tree_size: int
    proof: list[bytes]


@dataclass(frozen=True)
class Receipt:
    """Proof of durable recording: the entry's sequence number (leaf index) and hash."""

    seq: int
    leaf_hash: bytes


class Ledger:
    """The tamper-evident event log of one instance."""

    def __init__(self, *, store: LedgerStore, tree: HashTree, checkpointer: Checkpointer,
                 settings: Settings, clock: Clock, problem: str | None) -> None:
        self._store = store
        self._tree = tree
        self._clock = clock
        self._problem = problem
        self._stale = False
        # Set once another process was seen appending: batches then take the sequence
        # lock (ADR 0108); a process alone on its database never pays for it.
        self._contended = False
        # The latest clock reading and the latest time stamped: entry times never go
        # backwards, and a backwards step of the clock is recorded (issue 17).
        self._clock_seen: float | None = None
        self._stamped = float("-inf")
        self._format_time = entries.TimeFormatter()  # this ledger's, not a module's
        self._write_lock = threading.Lock()
        self.checkpoints = checkpointer
        self._batcher: Batcher[Receipt] = Batcher(
            self._commit_batch, batch_max=settings.ledger_batch_max,
            batch_wait_s=settings.ledger_batch_wait_ms / 1000.0,
            idle=self._periodic if settings.checkpoint_interval_s > 0 else None,
            idle_every_s=settings.checkpoint_interval_s)

    @classmethod
    def open(cls, engine: Engine, settings: Settings, *, clock: Clock = time.time) -> Ledger:
        """Load the tree from the database, load or create the log key, start the writer."""
        store = LedgerStore(engine)
        tree, problem = _load_tree(store)
        checkpointer = Checkpointer.open(store, tree, settings, clock=clock)
        if problem is None:
            problem = checkpointer.integrity_problem()
        if problem is not None:
            log.error("ledger refuses appends: %s", problem)
        return cls(store=store, tree=tree, checkpointer=checkpointer, settings=settings,
                   clock=clock, problem=problem)

    # -- appending ------------------------------------------------------------------

    def append(self, actor: str, action: str, resource: str, outcome: str,
               details: Mapping[str, object] | None = None) -> Receipt:
        """Record one event; returns once it is committed. Raises LedgerUnavailableError."""
        item = self._prepare(actor, action, resource, outcome, details, relay=True)
        return self._batcher.submit(item, announced=True).result()

    def _prepare(self, actor: str, action: str, resource: str, outcome: str,
                 details: Mapping[str, object] | None, *,
                 relay: bool = False) -> Pending[Receipt]:
        self._batcher.arriving()
        try:
            prefix = entries.prepare(actor, action, resource, outcome, details)
        except BaseException:
            self._batcher.abandon()
            raise
        return Pending(prefix, actor, action, resource, relay=relay)

    async def append_async(self, actor: str, action: str, resource: str, outcome: str,
                           details: Mapping[str, object] | None = None) -> Receipt:
        """``append`` for async code: awaits the batch without blocking the event loop.

        Cancelling the await does not withdraw the entry: once submitted it is recorded
        (record first, then act), only the answer is lost.
        """
        item = self._prepare(actor, action, resource, outcome, details)
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()

        def wake(_: Pending[Receipt]) -> None:
            loop.call_soon_threadsafe(_resolve, waiter)

        item.on_done = wake  # set before submitting: the writer cannot resolve it earlier
        self._batcher.submit(item, announced=True)
        await waiter
        return item.outcome()

    async def append_many_async(self, records: Sequence[EntryFields]) -> list[Receipt]:
        """Record several events in one batch, in order: one transaction, so either all
        are durable or none is (``LedgerUnavailableError``). Returns their receipts.

        For a caller that must not act before several records exist (the AI gateway's
        policy decision and request entry): they share one commit instead of paying one
        each in sequence. Cancelling the await does not withdraw them.
        """
        if not records:
            return []
        items: list[Pending[Receipt]] = []
        try:
            # extend keeps the items prepared before one that failed validation
            items.extend(self._prepare(*fields) for fields in records)
        except BaseException:
            for _ in items:  # announced but never submitted
                self._batcher.abandon()
            raise
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()

        def wake(_: Pending[Receipt]) -> None:
            loop.call_soon_threadsafe(_resolve, waiter)

        # The writer resolves a batch's items in queue order, so the last one resolving
        # means every one has.
        items[-1].on_done = wake
        self._batcher.submit_many(items, announced=True)
        await waiter
        return [item.outcome() for item in items]

    def _commit_batch(self, batch: list[Pending[Receipt]]) -> list[Receipt]:
        with self._write_lock:
            if self._problem is not None:
                raise LedgerUnavailableError(f"ledger storage is inconsistent: {self._problem}")
            for _attempt in range(_ATTEMPTS):
                before = self._tree.size
                try:
                    seqs, hashes = self._insert(batch)
                    break
                except SeqConflictError as exc:
                    # Another process appended: catch up, and from now on serialize every
                    # batch through the sequence lock (ADR 0108). If nobody did, the
                    # database refused for another reason: fail closed.
                    self._resync()
                    if self._tree.size == before:
                        raise LedgerUnavailableError(
                            f"the ledger database refused the write ({exc}); nothing in "
                            "this batch was recorded") from exc
                    if not self._contended:
                        log.info("another process appends to this ledger: appends now "
                                 "take the sequence lock")
                    self._contended = True
                except LedgerUnavailableError:
                    # The commit may or may not have reached the disk (a lost connection
                    # during COMMIT): re-read the tail before the next batch.
                    self._stale = True
                    raise
            else:
                raise LedgerUnavailableError("sequence numbers kept conflicting with "
                                             "another writer; nothing was recorded")
            self._tree.extend(hashes)
        # A recorded clock jump comes first in the batch and has no caller waiting.
        return list(map(Receipt, seqs, hashes[len(hashes) - len(seqs):]))

    def _insert(self, batch: list[Pending[Receipt]]) -> tuple[range, list[bytes]]:
        """Seal and insert one batch at the tail; (seqs, leaf hashes) once committed.

        Alone on its database a process inserts optimistically in one statement (the
        sequence number is the primary key, so a clash cannot fork the log, only fail).
        Once it has seen another writer it reads the tail and inserts under the
        sequence lock, so its batches stop clashing (ADR 0108).
        """
        if not self._contended:
            if self._stale:
                self._resync()
            return self._seal_and_insert(batch)
        with self._store.sequenced(self._tree.size) as tail:
            self._catch_up(tail)
            return self._seal_and_insert(batch)

    def _seal_and_insert(self, batch: list[Pending[Receipt]]) -> tuple[range, list[bytes]]:
        """(seqs of ``batch``, leaf hashes of every row inserted, a clock jump's first)."""
        now = self._clock()
        stamp = max(now, self._stamped)
        jump = self._clock_jump(now)
        rows_of = batch if jump is None else [jump, *batch]
        first = self._tree.size
        seqs = range(first + len(rows_of) - len(batch), first + len(rows_of))
        bodies = entries.seal_many([p.prefix for p in rows_of], first,
                                   self._format_time(stamp))
        # C-level pipelines, not per-item Python: this runs under the GIL that every
        # appending thread also wants (ADR 0104).
        hashes = leaf_hash_list(bodies)
        rows = list(zip(range(first, first + len(rows_of)), hashes, bodies,
                        *zip(*map(_COLUMNS, rows_of), strict=True), strict=True))
        self._store.insert_entries(rows)
        self._clock_seen, self._stamped = now, stamp  # only once the rows are committed
        return seqs, hashes

    def _clock_jump(self, now: float) -> Pending[Receipt] | None:
        """An entry recording that the clock stepped back since the last batch, if it did.

        Entry times stay monotonic (the batch is stamped with the latest time already
        used), and the step itself is evidence an auditor needs: a backwards jump can
        hide the order of events (issue 17, "the clock jumping backwards").
        """
        seen = self._clock_seen
        if seen is None or now >= seen - _CLOCK_JITTER_S:
            return None
        details = {"observed": entries.format_time(now), "previous": entries.format_time(seen),
                   "delta_s": round(now - seen, 6),
                   "stamped": entries.format_time(self._stamped)}
        prefix = entries.prepare("sovra", "clock.jump_backwards", "ledger/clock", "success",
                                 details)
        return Pending(prefix, "sovra", "clock.jump_backwards", "ledger/clock")

    def _resync(self) -> None:
        try:
            self._catch_up(self._store.leaf_hashes_from(self._tree.size))
        except StorageError as exc:
            raise LedgerUnavailableError(f"cannot read the ledger tail: {exc}") from exc

    def _catch_up(self, tail: Iterable[tuple[int, bytes]]) -> None:
        """Extend the tree with entries other processes appended; a gap fails closed."""
        for seq, leaf in tail:
            if seq != self._tree.size:
                self._problem = f"entry {self._tree.size} is missing (next is {seq})"
                raise LedgerUnavailableError(f"ledger storage is inconsistent: "
                                             f"{self._problem}")
            self._tree.extend([leaf])
        self._stale = False

    def refresh(self) -> int:
        """Catch up with entries other processes appended; returns the tree size."""
        with self._write_lock:
            try:
                self._resync()
            except LedgerUnavailableError as exc:
                raise StorageError(str(exc)) from exc
        return self._tree.size

    def _periodic(self) -> None:
        if self._problem is None:
            self.checkpoints.maybe_sign_periodic()

    # -- reading --------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self._tree.size

    @property
    def queue_depth(self) -> int:
        """Appends waiting for the writer (for ``/metrics``)."""
        return self._batcher.depth

    @property
    def integrity_problem(self) -> str | None:
        """Why the ledger refuses appends (storage inconsistent with signed state)."""
        return self._problem

    def root(self, size: int | None = None) -> bytes:
        return self._tree.root(size)

    def entry(self, seq: int) -> EntryRow:
        row = self._store.entry(seq)
        if row is None:
            raise NotFoundError(f"ledger entry {seq} does not exist")
        return row

    def tail(self, count: int) -> list[EntryRow]:
        start = max(0, self._tree.size - count)
        return list(self._store.entries(start, self._tree.size))

    def entry_with_proof(self, seq: int, tree_size: int | None = None) -> EntryProof:
        """The stored entry and its inclusion proof (``ProofError`` if out of range)."""
        size = self._sized(tree_size)
        proof = self._tree.inclusion_proof(seq, size)
        row = self.entry(seq)
        return EntryProof(seq, row.body, row.leaf_hash, size, proof)

    def sign_checkpoint(self) -> str:
        """Sign the current tree head now (CheckpointError if inconsistent); the note."""
        if self._problem is not None:
            raise CheckpointError(f"refusing to sign: {self._problem}")
        return self.checkpoints.sign().note

    def latest_checkpoint(self) -> str:
        """The newest checkpoint note with every stored witness cosignature."""
        return self.checkpoints.latest()

    def add_cosignature(self, cosigned_note: str, witness_vkey: str) -> tuple[int, str]:
        """Store a witness cosignature; returns (tree size, witness name)."""
        witness = parse_vkey(witness_vkey)
        return self.checkpoints.add_cosignature(cosigned_note, witness), witness.name

    def inclusion_proof(self, seq: int, tree_size: int | None = None) -> list[bytes]:
        size = self._sized(tree_size)
        return self._tree.inclusion_proof(seq, size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        size = self._sized(new_size)
        return self._tree.consistency_proof(old_size, size)

    def _sized(self, tree_size: int | None) -> int:
        if tree_size is None:
            return self._tree.size
        if tree_size > self._tree.size:
            self.refresh()
        if not 0 <= tree_size <= self._tree.size:
            raise ProofError(f"tree size {tree_size} is larger than the log "
                             f"({self._tree.size})")
        return tree_size

    def export(self, path: Path, *, sign: bool = True) -> int:
        """Write entries, checkpoints, cosignatures and the log key to an archive.

        With ``sign`` (and healthy storage) a fresh checkpoint is signed first and the
        entries it covers are exported, so the archive is fully provable. Otherwise (or
        with ``sign=False``) every stored row is exported as it is, tampered or not, for
        forensics. The last checkpoint the log signed is always included, so an auditor
        sees any difference between storage and what was signed. Returns the count.
        """
        end = None
        if sign and self._problem is None:
            end = self.checkpoints.sign().checkpoint.size
        rows = list(self._store.entries(0, end))
        checkpoints = {c.tree_size: ArchivedCheckpoint(c.tree_size, c.note)
                       for c in self._store.checkpoints()}
        last = self.checkpoints.last_signed
        if last is not None and last.checkpoint.size not in checkpoints:
            checkpoints[last.checkpoint.size] = ArchivedCheckpoint(last.checkpoint.size,
                                                                   last.note)
        cosignatures = [ArchivedCosignature(c.tree_size, c.witness, c.signature_line)
                        for c in self._store.cosignatures()]
        verifier = self.checkpoints.verifier
        try:
            return write_archive(
                path, log_vkey=verifier.vkey, origin=verifier.name,
                entries=(r.body for r in rows), leaf_hashes=(r.leaf_hash for r in rows),
                checkpoints=[checkpoints[k] for k in sorted(checkpoints)],
                cosignatures=cosignatures)
        except OSError as exc:
            raise StorageError(f"cannot write the archive {path}: {exc}") from exc

    def close(self) -> None:
        """Commit what is queued and stop the writer; further appends raise."""
        self._batcher.close()
        self._store.close()


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _load_tree(store: LedgerStore) -> tuple[HashTree, str | None]:
    """Rebuild the cache from stored leaf hashes; report a gap instead of hiding it."""
    hashes: list[bytes] = []
    problem = None
    try:
        for seq, leaf in store.leaf_hashes_from(0):
            if seq != len(hashes):
                problem = f"entry {len(hashes)} is missing from storage (next is {seq})"
                break
            hashes.append(leaf)
    except StorageError as exc:
        raise LedgerUnavailableError(f"cannot open the ledger: {exc}") from exc
    return HashTree.from_leaf_hashes(hashes), problem
