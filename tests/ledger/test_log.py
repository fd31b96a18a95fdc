"""The ledger service on real databases: durable appends, group commit, proofs,
checkpoints, reopening. Every test runs on SQLite and PostgreSQL (``settings``)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import stat
import threading
import time
from typing import cast

import pytest
from sqlalchemy import Engine, delete, select, update

from sovra.config import Settings
from sovra.errors import CheckpointError, InvalidInputError, LedgerUnavailableError, ProofError
from sovra.ledger import Ledger, Receipt, merkle
from sovra.ledger import note as notes
from sovra.ledger.checkpoints import STATE_FILE
from sovra.ledger.keyfile import LOG_KEY_FILE
from sovra.store.tables.ledger import ledger_checkpoints, ledger_entries
from tests.ledger.conftest import OpenLedger, fill


def _stored(engine: Engine) -> list[tuple[int, bytes, bytes]]:
    with engine.connect() as conn:
        rows = conn.execute(select(ledger_entries.c.seq, ledger_entries.c.leaf_hash,
                                   ledger_entries.c.body).order_by(ledger_entries.c.seq))
        return [(int(s), bytes(h), bytes(b)) for s, h, b in rows]


def test_append_is_committed_when_it_returns(ledger: Ledger, settings: Settings) -> None:
    receipt = ledger.append("user:alice", "keys.unseal", "keyring:main", "success", {"n": 1})
    assert receipt.seq == 0
    # A separate engine (a separate connection) sees the committed row.
    from sovra.store import make_engine
    other = make_engine(settings.effective_database_url)
    try:
        [(seq, leaf, body)] = _stored(other)
    finally:
        other.dispose()
    assert seq == 0 and leaf == receipt.leaf_hash
    assert leaf == hashlib.sha256(b"\x00" + body).digest()
    assert b'"action":"keys.unseal"' in body and b'"seq":0,' in body


def test_concurrent_appends_get_unique_contiguous_seqs(ledger: Ledger, engine: Engine) -> None:
    receipts: list[int] = []
    lock = threading.Lock()

    def writer(w: int) -> None:
        for i in range(25):
            r = ledger.append(f"user:w{w}", "data.ingest", "c", "success", {"i": i})
            with lock:
                receipts.append(r.seq)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(receipts) == list(range(400))
    assert [s for s, _, _ in _stored(engine)] == list(range(400))
    assert ledger.root() == merkle.root_of([h for _, h, _ in _stored(engine)])


def test_append_async_resolves_after_commit(ledger: Ledger, engine: Engine) -> None:
    async def many() -> list[int]:
        got = await asyncio.gather(*(ledger.append_async("svc:api", "ai.chat", "model:m",
                                                         "allowed") for _ in range(50)))
        return [r.seq for r in got]

    assert sorted(asyncio.run(many())) == list(range(50))
    assert len(_stored(engine)) == 50


def test_group_commit_batches_concurrent_appends(settings: Settings, engine: Engine) -> None:
    slow = settings.model_copy(update={"ledger_batch_wait_ms": 50.0, "ledger_batch_max": 64})
    ledger = Ledger.open(engine, slow)
    try:
        threads = [threading.Thread(target=ledger.append,
                                    args=("u", "data.ingest", "c", "success")) for _ in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        ledger.close()
    times = {body.rsplit(b'"time":', 1)[1] for _, _, body in _stored(engine)}
    # One batch shares one timestamp: 32 appends arriving together need few transactions.
    assert len(times) < 32


def test_reopen_rebuilds_the_same_tree(open_ledger: OpenLedger) -> None:
    first = open_ledger()
    fill(first, 37)
    root, proof = first.root(), first.inclusion_proof(5, 37)
    first.close()
    again = open_ledger()
    assert again.size == 37 and again.root() == root
    assert again.inclusion_proof(5, 37) == proof
    assert again.append("u", "data.ingest", "c", "success").seq == 37


def test_inclusion_proof_verifies_against_signed_checkpoint(ledger: Ledger) -> None:
    fill(ledger, 21)
    signed = ledger.sign_checkpoint()
    checkpoint, _, _ = notes.open_checkpoint(signed, ledger.checkpoints.verifier)
    fill(ledger, 5)
    for seq in (0, 7, 20):
        found = ledger.entry_with_proof(seq, checkpoint.size)
        assert found.leaf_hash == merkle.leaf_hash(found.body)
        merkle.verify_inclusion(seq, checkpoint.size, found.leaf_hash, found.proof,
                                checkpoint.root_hash)
    with pytest.raises(ProofError):
        ledger.entry_with_proof(21, 21)
    with pytest.raises(ProofError):
        ledger.entry_with_proof(0, 1000)


def test_consistency_proof_links_two_checkpoints(ledger: Ledger) -> None:
    fill(ledger, 13)
    old, _, _ = notes.open_checkpoint(ledger.sign_checkpoint(), ledger.checkpoints.verifier)
    fill(ledger, 30)
    new, _, _ = notes.open_checkpoint(ledger.sign_checkpoint(), ledger.checkpoints.verifier)
    proof = ledger.consistency_proof(old.size, new.size)
    merkle.verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)


def test_signing_twice_without_new_entries_returns_the_same_checkpoint(ledger: Ledger) -> None:
    fill(ledger, 3)
    assert ledger.sign_checkpoint() == ledger.sign_checkpoint()


def test_log_refuses_to_sign_a_checkpoint_inconsistent_with_its_last(
        open_ledger: OpenLedger, engine: Engine) -> None:
    first = open_ledger()
    fill(first, 10)
    first.sign_checkpoint()
    first.close()
    with engine.begin() as conn:  # an administrator rewrites entry 4 and its leaf hash
        conn.execute(update(ledger_entries).where(ledger_entries.c.seq == 4)
                     .values(leaf_hash=hashlib.sha256(b"forged").digest()))
    tampered = open_ledger()
    assert tampered.integrity_problem is not None
    with pytest.raises(CheckpointError):
        tampered.sign_checkpoint()
    with pytest.raises(CheckpointError, match="no longer matches"):
        tampered.checkpoints.sign()
    with pytest.raises(LedgerUnavailableError, match="inconsistent"):
        tampered.append("u", "data.ingest", "c", "success")


def test_state_file_guards_against_deleted_checkpoints(open_ledger: OpenLedger, engine: Engine,
                                                       settings: Settings) -> None:
    first = open_ledger()
    fill(first, 10)
    first.sign_checkpoint()
    first.close()
    assert (settings.secrets_dir / STATE_FILE).exists()
    with engine.begin() as conn:  # remove the tail and every stored checkpoint
        conn.execute(delete(ledger_entries).where(ledger_entries.c.seq >= 6))
        conn.execute(delete(ledger_checkpoints))
    tampered = open_ledger()
    assert "deleted" in (tampered.integrity_problem or "")
    with pytest.raises(CheckpointError):
        tampered.sign_checkpoint()


def test_periodic_checkpoints_are_signed_and_stored(settings: Settings, engine: Engine) -> None:
    timed = settings.model_copy(update={"checkpoint_interval_s": 0.2})
    ledger = Ledger.open(engine, timed)
    try:
        fill(ledger, 5)
        deadline = time.monotonic() + 10
        while ledger.checkpoints.last_signed is None and time.monotonic() < deadline:
            time.sleep(0.05)
        last = ledger.checkpoints.last_signed
        assert last is not None and last.checkpoint.size == 5
        assert "\n5\n" in ledger.latest_checkpoint()
    finally:
        ledger.close()


def test_log_key_is_private_and_stable(open_ledger: OpenLedger, settings: Settings) -> None:
    first = open_ledger()
    vkey = first.checkpoints.verifier.vkey
    first.close()
    path = settings.secrets_dir / LOG_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert open_ledger().checkpoints.verifier.vkey == vkey


def test_closed_ledger_refuses_appends(ledger: Ledger) -> None:
    ledger.close()
    with pytest.raises(LedgerUnavailableError, match="closed"):
        ledger.append("u", "data.ingest", "c", "success")


def test_second_process_appends_are_picked_up(open_ledger: OpenLedger) -> None:
    one, two = open_ledger(), open_ledger()  # two writers on one database
    a = one.append("u", "data.ingest", "c", "success")
    b = two.append("u", "data.ingest", "c", "success")
    c = one.append("u", "data.ingest", "c", "success")
    assert (a.seq, b.seq, c.seq) == (0, 1, 2)
    assert two.refresh() == 3 and two.root() == one.root()



def test_cancelled_async_append_is_still_recorded(ledger: Ledger, engine: Engine) -> None:
    async def submit_then_cancel() -> None:
        task = asyncio.ensure_future(ledger.append_async("u", "data.ingest", "c", "success"))
        await asyncio.sleep(0)  # runs until it awaits the batch
        task.cancel()

    asyncio.run(submit_then_cancel())  # the loop is closed before the writer wakes it
    assert ledger.append("u", "data.ingest", "c", "success").seq == 1
    assert [s for s, _, _ in _stored(engine)] == [0, 1]


def test_replaced_log_key_is_refused_at_open(open_ledger: OpenLedger, settings: Settings) -> None:
    first = open_ledger()
    fill(first, 3)
    first.sign_checkpoint()
    first.close()
    # Someone swaps the key file: the stored checkpoints no longer verify.
    other = notes.Signer.generate("sovra.local/ledger/other")
    (settings.secrets_dir / LOG_KEY_FILE).write_text(other.skey + "\n")
    with pytest.raises(CheckpointError, match="signed by this log's key"):
        open_ledger()


def test_entry_time_comes_from_the_injected_clock(engine: Engine, settings: Settings) -> None:
    ledger = Ledger.open(engine, settings, clock=lambda: 1_700_000_000.0)
    try:
        ledger.append("u", "data.ingest", "c", "success")
    finally:
        ledger.close()
    [(_, _, body)] = _stored(engine)
    assert body.endswith(b'"seq":0,"time":"2023-11-14T22:13:20.000000Z"}')


def test_append_many_async_commits_a_group_in_one_batch(settings: Settings,
                                                         engine: Engine) -> None:
    # batch_max 2 with groups of 3 racing single appends: a group is never split.
    small = settings.model_copy(update={"ledger_batch_max": 2, "ledger_batch_wait_ms": 5.0})
    ledger = Ledger.open(engine, small)
    try:
        async def run() -> list[list[int]]:
            groups = [ledger.append_many_async([("u", "policy.decision", f"r{i}", "allowed",
                                                 None),
                                                ("u", "ai.chat", f"r{i}", "allowed", {"i": i}),
                                                ("u", "ai.chat.outcome", f"r{i}", "success",
                                                 None)])
                      for i in range(20)]
            singles = [ledger.append_async("u", "data.ingest", "c", "success")
                       for _ in range(20)]
            # One gather: the singles race the groups for the same batches.
            got: list[object] = list(await asyncio.gather(*groups, *singles))
            return [[r.seq for r in cast(list[Receipt], g)] for g in got[:20]]

        groups = asyncio.run(run())
    finally:
        ledger.close()
    stored = {s: b for s, _, b in _stored(engine)}
    assert len(stored) == 80
    for seqs in groups:
        assert seqs == list(range(seqs[0], seqs[0] + 3))  # in order, consecutive
        stamps = {json.loads(stored[s])["time"] for s in seqs}
        assert len(stamps) == 1  # one batch: the writer stamps each batch once
        assert [json.loads(stored[s])["action"] for s in seqs] == [
            "policy.decision", "ai.chat", "ai.chat.outcome"]


def test_append_many_async_invalid_entry_records_nothing(ledger: Ledger,
                                                         engine: Engine) -> None:
    async def run() -> None:
        await ledger.append_many_async([("u", "policy.decision", "r", "allowed", None),
                                        ("u", "Not An Action", "r", "allowed", None)])

    with pytest.raises(InvalidInputError):
        asyncio.run(run())
    assert _stored(engine) == []
    # The abandoned announcements do not hold the writer back.
    assert ledger.append("u", "data.ingest", "c", "success").seq == 0
