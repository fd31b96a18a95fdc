"""Issue 13: SIGKILL the real server while it writes in every room, a few times over.

Each round starts ``sovra up`` on the same data directory, lets eight workers write in
every room (identity, data, keys, policy, AI, and the ledger behind each of them), kills
the process mid-load, and checks the file before anything else opens it: integrity_check
ok, then after a restart every acknowledged write present. A final clean stop exports the
ledger and verifies it offline. Bounded (three rounds on SQLite, two on PostgreSQL: its
server process is shared and each start migrates a fresh database) so CI stays fast.
Runs on both profiles (issue 14).
"""

from __future__ import annotations

import random
import signal
import threading
import time
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
ROUNDS = {"sqlite": 3, "postgresql": 2}


def _kill_mid_load(acked: Acked, server_process: object, rng: random.Random) -> None:
    """Wait until the load has made some progress, at a random point, then SIGKILL."""
    want = acked.writes + rng.randrange(40, 120)
    deadline = time.monotonic() + 120
    while acked.writes < want and time.monotonic() < deadline:
        time.sleep(0.05)
    assert acked.writes >= want, "the load made no progress before the kill"
    server_process.send_signal(signal.SIGKILL)  # type: ignore[attr-defined]


@pytest.mark.timeout(900)
def test_sigkill_under_load_in_every_room_loses_no_acknowledged_write(
        tmp_path: Path, load_database: str | None) -> None:
    data_dir = tmp_path / "data"
    db = load_database
    rounds = ROUNDS["sqlite" if db is None else "postgresql"]
    rng = random.Random(1313)
    acked = Acked()
    with serving(data_dir, database_url=db) as first:
        admin_key = first.admin_key
    for round_ in range(rounds):
        with serving(data_dir, admin_key, database_url=db) as server:
            assert missing_writes(server, acked, db) == [], f"before round {round_}"
            stop = threading.Event()
            workers = hammer(server, acked, rounds=50, prefix=f"r{round_}k", stop=stop)
            _kill_mid_load(acked, server.process, rng)
            stop.set()
            wait_all(workers)
            server.process.wait(30)
        assert server.process.returncode == -signal.SIGKILL
        # Answers cut off by the kill are not acknowledged; anything else is a failure.
        assert acked.failures == []
        assert integrity_problems(data_dir, db) == [], f"after kill {round_}"
        assert unrecorded(data_dir, acked, db) == [], f"after kill {round_}"

    with serving(data_dir, admin_key, database_url=db) as last:
        assert missing_writes(last, acked, db) == []
    assert integrity_problems(data_dir, db) == []
    verified = verify_ledger(data_dir, tmp_path / "ledger.tar", db)
    assert verified["valid"] is True and verified["problems"] == []
    assert len(acked.collections) >= rounds and len(acked.principals) >= rounds
