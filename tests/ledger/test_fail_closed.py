"""Fail closed: when the ledger cannot write durably, ``append`` raises
``LedgerUnavailableError`` to every waiter of the failed batch, never reports success,
and the in-memory tree does not advance; once storage is back, appends continue."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine

from sovra.config import Settings, load_settings
from sovra.errors import LedgerUnavailableError
from sovra.ledger import Ledger, Receipt, verify_archive
from sovra.store import make_engine, upgrade
from sovra.store.local_postgres import _as_server_user, _find_binary, local_postgres
from tests.ledger.conftest import allow_ledger_inserts, deny_ledger_inserts, fill


def test_refused_batch_fails_every_waiter(ledger: Ledger, engine: Engine,
                                          tmp_path: Path) -> None:
    fill(ledger, 5)
    root = ledger.root()
    deny_ledger_inserts(engine)
    outcomes: list[object] = []
    lock = threading.Lock()

    def writer() -> None:
        try:
            got: object = ledger.append("user:a", "keys.unseal", "keyring:k", "success")
        except LedgerUnavailableError as exc:
            got = exc
        with lock:
            outcomes.append(got)

    threads = [threading.Thread(target=writer) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 20
    assert all(isinstance(o, LedgerUnavailableError) for o in outcomes), outcomes
    assert not any(isinstance(o, Receipt) for o in outcomes)
    assert ledger.size == 5 and ledger.root() == root  # the tree did not advance
    allow_ledger_inserts(engine)
    assert ledger.append("user:a", "keys.unseal", "keyring:k", "success").seq == 5
    archive = tmp_path / "after.tar"
    ledger.export(archive)
    assert verify_archive(archive).valid


def test_refused_group_records_none_of_it(ledger: Ledger, engine: Engine) -> None:
    fill(ledger, 3)
    root = ledger.root()
    deny_ledger_inserts(engine)

    async def group() -> list[Receipt]:
        return await ledger.append_many_async([
            ("user:a", "policy.decision", 'Model::"*"', "allowed", None),
            ("user:a", "ai.chat", "model/m", "allowed", {"request_id": "r"})])

    with pytest.raises(LedgerUnavailableError):
        asyncio.run(group())
    assert ledger.size == 3 and ledger.root() == root
    allow_ledger_inserts(engine)
    assert [r.seq for r in asyncio.run(group())] == [3, 4]


def test_read_only_sqlite_refuses_appends(sqlite_settings: Settings, tmp_path: Path) -> None:
    sqlite_settings.data_dir.mkdir(parents=True)
    writable = make_engine(sqlite_settings.effective_database_url)
    upgrade(writable)
    first = Ledger.open(writable, sqlite_settings)
    fill(first, 3)
    first.close()
    writable.dispose()
    db = sqlite_settings.data_dir / "sovra.db"
    read_only = make_engine(f"sqlite:///file:{db}?mode=ro&uri=true")
    ledger = Ledger.open(read_only, sqlite_settings)
    try:
        assert ledger.size == 3
        with pytest.raises(LedgerUnavailableError, match="refused"):
            ledger.append("user:a", "keys.unseal", "keyring:k", "success")
        assert ledger.size == 3
    finally:
        ledger.close()
        read_only.dispose()


def _pg_ctl(data_dir: Path, *args: str) -> None:
    subprocess.run(_as_server_user([_find_binary("pg_ctl"), "-D", str(data_dir), *args]),
                   check=True, capture_output=True, timeout=90)


@pytest.mark.postgres
def test_stopped_postgresql_refuses_appends(tmp_path: Path) -> None:
    with local_postgres() as server:
        settings = load_settings(data_dir=tmp_path / "data",
                                 database_url=server.create_database(),
                                 checkpoint_interval_s=0.0)
        settings.data_dir.mkdir(parents=True)
        engine = make_engine(settings.effective_database_url)
        upgrade(engine)
        ledger = Ledger.open(engine, settings)
        try:
            fill(ledger, 4)
            _pg_ctl(server.data_dir, "-m", "immediate", "-w", "stop")
            with pytest.raises(LedgerUnavailableError):
                ledger.append("user:a", "keys.unseal", "keyring:k", "success")
            assert ledger.size == 4
            options = (f"-c listen_addresses=127.0.0.1 -p {server.port} "
                       f"-k {server.data_dir.parent}")
            _pg_ctl(server.data_dir, "-o", options, "-l", str(server.data_dir.parent / "log"),
                    "-w", "start")
            assert ledger.append("user:a", "keys.unseal", "keyring:k", "success").seq == 4
        finally:
            ledger.close()
            engine.dispose()
