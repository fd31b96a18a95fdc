"""Issue 13: one entry the database cannot store must never fail the batch it shares.

PostgreSQL's ``text`` cannot hold NUL; the actor and resource of an entry are stored in
text columns, so one entry carrying NUL there used to make PostgreSQL refuse the whole
group-committed INSERT ("nothing in this batch was recorded") and every concurrent
caller got ``LedgerUnavailableError``. The entry is now refused when it is prepared, in
its caller's thread, on both profiles alike; everyone else's entries are recorded. A NUL
in ``details`` is stored escaped inside the JSON body (bytes) and is valid on both.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from sovra.errors import InvalidInputError
from sovra.ledger import Ledger, Receipt
from sovra.ledger import entry as entries


@pytest.mark.parametrize(("actor", "resource"), [
    ("user:a\x00", "Document::\"d\""),
    ("user:a", "Document::\"\x00\""),
    ("user:\ud800", "Document::\"d\""),
    ("user:a", "Document::\"\udfff\""),
])
def test_entry_with_a_value_one_backend_cannot_store_is_refused_at_prepare(
        actor: str, resource: str) -> None:
    with pytest.raises(InvalidInputError, match=r"NUL|canonical"):
        entries.prepare(actor, "policy.decision", resource, "denied", {})


def test_nul_in_details_is_escaped_in_the_body(ledger: Ledger) -> None:
    receipt = ledger.append("user:a", "data.read", "Document::\"d\"", "success",
                            {"name": "a\x00b"})
    row = ledger.entry(receipt.seq)
    assert b"\\u0000" in row.body and b"\x00" not in row.body
    assert entries.decode(row.body).details["name"] == "a\x00b"


def test_nul_entries_among_concurrent_appends_fail_only_their_callers(ledger: Ledger) -> None:
    """Twenty threads append; every third entry names a resource with NUL. The
    ordinary ones are all recorded, the NUL ones all refused with InvalidInputError."""
    outcomes: dict[int, object] = {}
    lock = threading.Lock()
    start = threading.Barrier(20)

    def writer(i: int) -> None:
        resource = f"Document::\"d{i}\x00\"" if i % 3 == 0 else f"Document::\"d{i}\""
        start.wait()
        for _ in range(10):
            try:
                got: object = ledger.append("user:a", "policy.decision", resource, "allowed")
            except InvalidInputError as exc:
                got = exc
            with lock:
                outcomes.setdefault(i, got)
                if not isinstance(got, type(outcomes[i])):
                    outcomes[i] = AssertionError(f"writer {i} got mixed outcomes")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 20
    for i, got in outcomes.items():
        if i % 3 == 0:
            assert isinstance(got, InvalidInputError), (i, got)
        else:
            assert isinstance(got, Receipt), (i, got)
    assert ledger.size == 13 * 10  # 13 ordinary writers, ten entries each


def test_async_group_with_a_nul_entry_records_none_and_others_go_on(ledger: Ledger) -> None:
    async def run() -> tuple[object, list[Receipt]]:
        poisoned = ledger.append_many_async([
            ("user:a", "policy.decision", "Model::\"m\"", "allowed", {}),
            ("user:a", "ai.request", "Model::\"m\x00\"", "success", {}),
        ])
        others = [ledger.append_async("user:b", "policy.decision", f"Model::\"m{i}\"",
                                      "allowed") for i in range(8)]
        results = await asyncio.gather(poisoned, *others, return_exceptions=True)
        return results[0], [r for r in results[1:] if isinstance(r, Receipt)]

    refused, recorded = asyncio.run(run())
    assert isinstance(refused, InvalidInputError)
    assert len(recorded) == 8
    assert ledger.size == 8  # nothing of the refused group was recorded
