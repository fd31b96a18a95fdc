"""Two ledgers on one database (two processes' worth of writers) append at once.

Unlike tests/cluster/test_ledger_sequence.py this drives ``Ledger`` directly, on SQLite
and PostgreSQL, so the sequence lock (ADR 0108) is exercised in seconds: before it, a
writer that kept losing the race gave up with "sequence numbers kept conflicting".
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from sovra.config import Settings
from sovra.errors import LedgerUnavailableError
from sovra.ledger import Ledger
from sovra.store import make_engine, upgrade

THREADS = 8
APPENDS = 40


@pytest.fixture
def engines(settings: Settings) -> Iterator[list[Engine]]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    made = [make_engine(settings.effective_database_url) for _ in range(2)]
    upgrade(made[0])
    yield made
    for engine in made:
        engine.dispose()


def test_two_ledgers_on_one_database_keep_one_gapless_sequence(
        engines: list[Engine], settings: Settings) -> None:
    ledgers = [Ledger.open(engine, settings) for engine in engines]
    failures: list[str] = []

    def write(ledger: Ledger, tag: str) -> None:
        for i in range(APPENDS):
            try:
                ledger.append("tester", "test.write", f"item:{tag}-{i}", "success")
            except LedgerUnavailableError as exc:
                failures.append(str(exc))

    threads = [threading.Thread(target=write, args=(ledger, f"{n}-{t}"))
               for n, ledger in enumerate(ledgers) for t in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        total = 2 * THREADS * APPENDS
        sizes = [ledger.refresh() for ledger in ledgers]
        roots = {ledger.root(total) for ledger in ledgers}
        # Each signs its own view; the same tree size is stored once, with one root.
        notes = [ledger.sign_checkpoint() for ledger in ledgers]
    finally:
        for ledger in ledgers:
            ledger.close()
    assert failures == [], failures[:5]
    assert sizes == [total, total]
    assert len(roots) == 1, "the two writers forked the log"
    assert notes[0] == notes[1]
    with engines[0].connect() as conn:
        seqs = list(conn.execute(text("SELECT seq FROM ledger_entries ORDER BY seq"))
                    .scalars())
        resources = set(conn.execute(text("SELECT resource FROM ledger_entries")).scalars())
        checkpoints = list(conn.execute(text("SELECT tree_size FROM ledger_checkpoints"))
                           .scalars())
    assert seqs == list(range(total))
    assert len(resources) == total
    assert checkpoints == [total]
