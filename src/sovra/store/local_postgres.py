"""Start a throwaway PostgreSQL server on loopback (tests and benchmarks).

The server binaries come from the system (Debian's ``postgresql`` package, installed by
``scripts/install-system-deps.sh``). PostgreSQL refuses to run as root, so when we are
root the server runs as the ``postgres`` system user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sovra.errors import ConfigError, StorageError


def _find_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    if candidates:
        return str(candidates[0])
    raise ConfigError(
        f"PostgreSQL's {name} was not found; run scripts/install-system-deps.sh "
        "(it installs Debian's postgresql package)"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


@dataclass(frozen=True)
class LocalPostgres:
    """A running server; ``url(db)`` names a database on it."""

    port: int
    data_dir: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "sovra") -> str:
        """Create a fresh, empty database and return its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextlib.contextmanager
def local_postgres(*, fsync: bool = True) -> Iterator[LocalPostgres]:
    """Run a PostgreSQL server for the duration of the ``with`` block, then remove it.

    ``fsync`` stays on by default: durability figures measured with it off would lie.
    """
    initdb, pg_ctl = _find_binary("initdb"), _find_binary("pg_ctl")
    root = Path(tempfile.mkdtemp(prefix="sovra-pg-"))
    data_dir = root / "data"
    data_dir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data_dir, "postgres")
    port = _free_port()
    log = root / "server.log"
    try:
        subprocess.run(  # noqa: S603 - fixed argv of binaries we located; no shell
            _as_server_user([initdb, "-D", str(data_dir), "-U", "postgres", "-A", "trust",
                             "--no-sync", "-E", "UTF8"]),
            check=True, capture_output=True, timeout=120,
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c max_connections=300"
        if not fsync:
            options += " -c fsync=off -c synchronous_commit=off"
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
        subprocess.run(  # noqa: S603 - fixed argv of binaries we located; no shell
            _as_server_user([pg_ctl, "-D", str(data_dir), "-o", options, "-l", str(log),
                             "-w", "-t", "60", "start"]),
            check=True, capture_output=True, timeout=90,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise StorageError(f"could not start PostgreSQL: {exc}; {detail}") from exc
    server = LocalPostgres(port=port, data_dir=data_dir)
    try:
        _wait_ready(port)
        yield server
    finally:
        subprocess.run(  # noqa: S603 - fixed argv of binaries we located; no shell
            _as_server_user([pg_ctl, "-D", str(data_dir), "-m", "immediate", "-w", "stop"]),
            check=False, capture_output=True, timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise StorageError(f"PostgreSQL did not accept connections on port {port}")
