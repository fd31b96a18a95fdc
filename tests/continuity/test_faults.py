"""Faults with real file systems and processes: a full disk, a read-only destination, a
backup process killed half-way. Each fails closed, keeps nothing half-written, is
recorded, and the next attempt works once the cause is gone.

The small file systems are real tmpfs mounts (root only; skipped, saying why, elsewhere).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sovra.continuity import create_backup, list_backups, restore, verify_backup
from sovra.errors import StorageError
from tests.continuity.conftest import Source
from tests.e2e.server import sovra_command

FILLER_MB = 6


def _mount(path: Path, size_mb: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs",
                           str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip()}): the full-disk "
                    "and read-only tests need root")


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB file system: smaller than the backup of ``source`` with its filler file."""
    mount = tmp_path / "small"
    _mount(mount, 4)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _filler(source: Source) -> Path:
    path = source.settings.data_dir / "transfer" / "policies" / ("ef" * 32) / "big.bin"
    path.parent.mkdir(parents=True)
    path.write_bytes(os.urandom(FILLER_MB << 20))
    return path


def _last_bodies(source: Source, n: int = 2) -> bytes:
    return b"".join(bytes(r.body) for r in source.instance.ledger.tail(n))


def test_backup_onto_a_full_disk_fails_closed_and_resumes_when_space_returns(
        source: Source, small_fs: Path) -> None:
    filler = _filler(source)
    with pytest.raises(StorageError, match="No space left on device"):
        create_backup(source.instance, actor="test", dest=small_fs)
    assert list(small_fs.iterdir()) == []  # nothing half-written, not even hidden
    assert b'"failure"' in _last_bodies(source) and b"No space left" in _last_bodies(source)
    filler.unlink()  # space returns (the backup is smaller now)
    made = create_backup(source.instance, actor="test", dest=small_fs)
    assert verify_backup(made.path, source.instance.ledger.checkpoints.verifier).valid


def test_backup_onto_a_read_only_destination_fails_closed(source: Source,
                                                          small_fs: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    with pytest.raises(StorageError, match="Read-only file system"):
        create_backup(source.instance, actor="test", dest=small_fs)
    assert list(small_fs.iterdir()) == []
    assert b'"continuity.backup"' in _last_bodies(source, 1)
    subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
    assert create_backup(source.instance, actor="test", dest=small_fs).path.is_dir()


def test_restore_onto_a_full_disk_keeps_nothing(source: Source, small_fs: Path,
                                                tmp_path: Path) -> None:
    _filler(source)
    made = create_backup(source.instance, actor="test", dest=tmp_path / "backups")
    target = small_fs / "restored"
    with pytest.raises(StorageError, match="nothing of it was kept"):
        restore(made.path, target, trusted=source.instance.ledger.checkpoints.verifier,
                shares=source.share_texts[:2], checkpoint=None, actor="test")
    assert list(small_fs.iterdir()) == []


@pytest.mark.slow
def test_a_backup_killed_half_way_leaves_no_backup_and_the_next_one_works(
        source: Source, tmp_path: Path) -> None:
    big = source.settings.data_dir / "transfer" / "policies" / ("ef" * 32) / "big.bin"
    big.parent.mkdir(parents=True)
    big.write_bytes(os.urandom(256 << 20))  # long enough to be caught half-way
    identity = source.instance.identity
    identity.create_principal("test", "ops", roles=("admin",))
    api_key = identity.create_api_key("test", "ops").token  # the CLI asks the policy
    source.instance.close()  # the CLI process opens the data directory itself
    dest = tmp_path / "backups"
    env = {**os.environ, "SOVRA_DATA_DIR": str(source.settings.data_dir),
           "SOVRA_API_KEY": api_key}
    shares = [a for t, i in zip(source.share_texts[:2], range(2), strict=True)
              for a in ("--share-file", str(_share_file(tmp_path, i, t)))]
    process = subprocess.Popen([*sovra_command(), "backup", "create", "--dest", str(dest),
                                *shares], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if dest.is_dir() and any(dest.glob(".*.partial/files/*.enc")):
            break
        time.sleep(0.01)
    assert process.poll() is None, "the backup finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert list_backups(dest) == []  # a killed backup never looks whole
    done = subprocess.run([*sovra_command(), "backup", "create", "--dest", str(dest), *shares],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    (made,) = list_backups(dest)
    log_key = subprocess.run([*sovra_command(), "ledger", "key"], env=env, capture_output=True,
                             text=True, check=True).stdout.strip()
    verified = subprocess.run([*sovra_command(), "backup", "verify", str(made.path),
                               "--log-key", log_key], env=env, capture_output=True, text=True,
                              check=False)
    assert verified.returncode == 0 and "valid" in verified.stdout, verified.stderr


def _share_file(folder: Path, index: int, text: str) -> Path:
    path = folder / f"share-{index}.txt"
    path.write_text(text + "\n")
    return path
