"""Crash safety: SIGKILL a process appending under load, again and again.

After every kill the parent reopens the log and checks that every acknowledged entry
is stored with the acknowledged leaf hash, that an export verifies, and that appends
continue (the next child picks up where the last left off). The child also signs
checkpoints on a short timer, so kills land in checkpoint signing too. This shows
durability across process crashes; power loss additionally relies on the fsync
settings (SQLite WAL with synchronous=FULL, PostgreSQL fsync on).
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sovra.config import Settings
from sovra.ledger import Ledger, verify_archive
from sovra.store import make_engine, upgrade

ROUNDS = 4
REPO = Path(__file__).resolve().parents[2]


def _run_and_kill(settings: Settings, rng: random.Random) -> dict[int, str]:
    env = dict(os.environ, SOVRA_DATA_DIR=str(settings.data_dir),
               SOVRA_DATABASE_URL=settings.effective_database_url,
               SOVRA_CHECKPOINT_INTERVAL_S="0.05", SOVRA_LEDGER_BATCH_WAIT_MS="1")
    child = subprocess.Popen([sys.executable, "-m", "tests.ledger.crash_child"], cwd=REPO,
                             env=env, stdout=subprocess.PIPE)
    assert child.stdout is not None
    fd = child.stdout.fileno()
    data = bytearray()
    acked = 0
    want = rng.randrange(50, 250)
    deadline = time.monotonic() + 20
    try:
        while acked < want and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                data += chunk
                acked = data.count(b"\n") - 1
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    data += child.stdout.read()  # acknowledgements written before the kill
    child.stdout.close()
    lines = data.decode().split("\n")
    assert lines[0] == "ready", lines[:3]
    complete = lines[1:-1]  # the last element is '' or a torn line
    return {int(seq): leaf for seq, leaf in (line.split(" ") for line in complete)}


@pytest.mark.slow
def test_sigkill_under_load_loses_no_acknowledged_entry(settings: Settings,
                                                        tmp_path: Path) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    rng = random.Random(1122)
    acknowledged: dict[int, str] = {}
    try:
        for round_no in range(ROUNDS):
            got = _run_and_kill(settings, rng)
            assert got, f"round {round_no}: the child acknowledged nothing"
            assert not set(got) & set(acknowledged), "a seq was acknowledged twice"
            acknowledged.update(got)
            ledger = Ledger.open(engine, settings)
            try:
                assert ledger.integrity_problem is None
                assert ledger.size > max(acknowledged)
                for seq, leaf in acknowledged.items():
                    assert ledger.entry(seq).leaf_hash.hex() == leaf, f"seq {seq} lost"
                archive = tmp_path / f"round{round_no}.tar"
                ledger.export(archive)
                result = verify_archive(archive, log_key=ledger.checkpoints.verifier.vkey)
                assert result.valid, result.problems
                assert ledger.append("test", "data.ingest", "c", "success").seq == ledger.size - 1
            finally:
                ledger.close()
    finally:
        engine.dispose()
    assert len(acknowledged) >= ROUNDS * 50
