"""Continuous WAL archiving and point-in-time recovery on the cluster profile (issue 17,
RPO; ADR 0801), with the settings of ``sovra.continuity.pg_archive`` that the operator
guide prints: a real PostgreSQL server archiving to a folder, a base backup, ledger
entries before and after a moment, and a recovered server that holds exactly those
before it. Also measures the archive's lag behind an acknowledged entry (the RPO).

Runs its own PostgreSQL (archive mode needs a server setting); root only, as the other
file-system fault tests, and skipped saying why elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from sovra.config import load_settings
from sovra.continuity.pg_archive import archiving_settings, conf_lines, recovery_settings
from sovra.instance import open_instance
from sovra.ledger import merkle
from tests.e2e.server import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _binary(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    if not found or os.geteuid() != 0:
        pytest.skip("needs root and PostgreSQL's server binaries (scripts/install-system-deps.sh)")
    return str(found[0])


def _as_postgres(*argv: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True,
                   capture_output=True, timeout=180, stdin=subprocess.DEVNULL)


@contextmanager
def _server(data: Path, port: int) -> Iterator[str]:
    log = data.parent / f"{data.name}.log"
    _as_postgres(_binary("pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "120",
                 "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {data.parent}", "start")
    try:
        yield f"host=127.0.0.1 port={port} user=postgres"
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", _binary("pg_ctl"), "-D",
                        str(data), "-m", "fast", "-w", "stop"], check=False,
                       capture_output=True, timeout=120)


def _leaves(dsn: str, database: str) -> list[bytes]:
    with psycopg.connect(f"{dsn} dbname={database}") as conn:
        return [bytes(r[0]) for r in conn.execute(
            "SELECT leaf_hash FROM ledger_entries ORDER BY seq")]


def _archived_since(dsn: str, since: datetime) -> bool:
    with psycopg.connect(f"{dsn} dbname=postgres") as conn:
        row = conn.execute("SELECT last_archived_time FROM pg_stat_archiver").fetchone()
    return row is not None and row[0] is not None and row[0] >= since


@pytest.fixture
def pg_root() -> Iterator[Path]:
    """A folder the postgres user can reach (pytest's tmp_path is root's, mode 0700)."""
    root = Path(tempfile.mkdtemp(prefix="sovra-pg-archive-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_point_in_time_recovery_from_the_wal_archive_holds_exactly_the_earlier_entries(
        tmp_path: Path, pg_root: Path) -> None:
    root = pg_root
    primary, archive, base = root / "primary", root / "wal-archive", root / "base"
    archive.mkdir()
    shutil.chown(root, "postgres")
    shutil.chown(archive, "postgres")
    _as_postgres(_binary("initdb"), "-D", str(primary), "-U", "postgres", "-A", "trust",
                 "--no-sync", "-E", "UTF8")
    with (primary / "postgresql.auto.conf").open("a") as conf:
        conf.write(conf_lines(archiving_settings(archive, timeout_s=1)))
    port = free_port()
    with _server(primary, port) as dsn:
        with psycopg.connect(f"{dsn} dbname=postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE sovra")
        _as_postgres(_binary("pg_basebackup"), "-h", "127.0.0.1", "-p", str(port), "-U",
                     "postgres", "-D", str(base), "-X", "stream", "--no-sync",
                     "--checkpoint=fast")
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/sovra"
        inst = open_instance(load_settings(data_dir=tmp_path / "data", database_url=url,
                                           checkpoint_interval_s=0.0))
        try:
            for i in range(3):
                inst.ledger.append("test", "test.before", f"thing/{i}", "success")
            before = inst.ledger.size
            root_before = inst.ledger.root(before)
            time.sleep(1.2)
            mark = datetime.now(UTC)
            time.sleep(1.2)
            for i in range(3):
                inst.ledger.append("test", "test.after", f"thing/{i}", "success")
            acked_at, acked = datetime.now(UTC), time.monotonic()
            deadline = acked + 60
            while not _archived_since(dsn, acked_at):  # archive_timeout forces a segment
                assert time.monotonic() < deadline, "the WAL was not archived in time"
                time.sleep(0.05)
            rpo_s = time.monotonic() - acked
        finally:
            inst.close()
    assert any(archive.iterdir())
    with (base / "postgresql.auto.conf").open("a") as conf:
        conf.write(conf_lines(recovery_settings(archive, mark)))
    (base / "recovery.signal").touch()
    shutil.chown(base / "recovery.signal", "postgres")
    with _server(base, free_port()) as recovered:
        deadline = time.monotonic() + 120
        while True:  # recovery replays, then promotes
            try:
                leaves = _leaves(recovered, "sovra")
                break
            except psycopg.Error:
                assert time.monotonic() < deadline, "recovery did not finish"
                time.sleep(0.2)
    assert len(leaves) == before  # exactly the entries committed before the moment
    assert merkle.root_of(leaves) == root_before
    print(f"pg WAL archive lag after an acknowledged entry (RPO): {rpo_s:.2f} s")
