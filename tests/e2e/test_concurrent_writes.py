"""Issue 13: every writing route at once through the real server, then a clean stop.

Before the fix the data room opened the file through pysqlite3's own SQLite while the
rest of the process used CPython's: two SQLite libraries drop each other's POSIX locks
(sqlite.org, "How To Corrupt An SQLite Database File" §2.2.1), and a few concurrent
collection creates left ``integrity_check`` failing. Now the file must stay intact, the
ledger must verify offline, and every acknowledged write must be there after a restart.
Runs on SQLite and PostgreSQL (issue 14).
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.e2e.load import (
    Acked,
    hammer,
    integrity_problems,
    missing_writes,
    serving,
    unrecorded,
    verify_ledger,
    wait_all,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROUNDS = 2


def test_concurrent_writes_in_every_room_leave_an_intact_file(
        tmp_path: Path, load_database: str | None) -> None:
    data_dir = tmp_path / "data"
    db = load_database
    acked = Acked()
    with serving(data_dir, database_url=db) as server:
        admin_key = server.admin_key
        wait_all(hammer(server, acked, rounds=ROUNDS))
    # uvicorn re-raises SIGTERM after its graceful shutdown: -15 is a clean stop.
    assert server.process.returncode in {0, -signal.SIGTERM}, "".join(server.output[-30:])
    assert any("Application shutdown complete" in line for line in server.output)

    assert acked.failures == [], "\n".join(acked.failures)
    assert len(acked.collections) == 8 * ROUNDS and len(acked.proposals) == 8 * ROUNDS
    assert integrity_problems(data_dir, db) == []
    assert unrecorded(data_dir, acked, db) == []
    verified = verify_ledger(data_dir, tmp_path / "ledger.tar", db)
    assert verified["valid"] is True and verified["problems"] == []

    with serving(data_dir, admin_key, database_url=db) as restarted:
        assert missing_writes(restarted, acked, db) == []
    assert integrity_problems(data_dir, db) == []
