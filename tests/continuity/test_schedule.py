"""Scheduled backups: inside `sovra up` when configured, recorded, missed runs visible."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from sovra.continuity import list_backups, verify_backup
from sovra.continuity.schedule import BackupSchedule
from tests.continuity.conftest import Source
from tests.e2e.server import sovra_command, sovra_up


def test_a_run_backs_up_and_prunes_and_a_sealed_run_is_recorded_as_missed(
        source: Source) -> None:
    inst = source.instance
    schedule = BackupSchedule(inst, 3600.0)
    made = schedule.run_once()
    assert made is not None
    assert verify_backup(made.path, inst.ledger.checkpoints.verifier).valid
    tail = b"".join(bytes(r.body) for r in inst.ledger.tail(3))
    assert b'"system:schedule"' in tail and b'"continuity.backup.prune"' in tail
    inst.keys.seal(actor="test")
    assert schedule.run_once() is None
    last = bytes(inst.ledger.tail(1)[0].body)
    assert b'"continuity.backup.missed"' in last and b"SealedError" in last


@pytest.mark.e2e
def test_sovra_up_makes_backups_on_its_schedule(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with sovra_up(data, extra_env={"SOVRA_BACKUP_INTERVAL_S": "1"}):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list_backups(data / "backups"):
            time.sleep(0.5)
    found = list_backups(data / "backups")
    assert found, "no scheduled backup appeared within 60 s"
    log_key = subprocess.run([*sovra_command(), "--data-dir", str(data), "ledger", "key"],
                             capture_output=True, text=True, check=True).stdout.strip()
    verified = subprocess.run([*sovra_command(), "backup", "verify", str(found[-1].path),
                               "--log-key", log_key], capture_output=True, text=True,
                              check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
