"""``sovra up`` binds its port before it changes anything (issue 15): on a port that is
taken it fails at once with a clear message, and the data directory is not created, or
not touched when it exists."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sovra.cli.commands.up import bind_port
from sovra.errors import ConfigError
from tests.e2e.server import sovra_command


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port that something else is listening on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield int(holder.getsockname()[1])


def _up(data_dir: Path, port: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOVRA_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    return subprocess.run([*sovra_command(), "up", "--port", str(port), "--demo"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_up_on_a_taken_port_fails_before_creating_the_data_dir(tmp_path: Path,
                                                               taken_port: int) -> None:
    data_dir = tmp_path / "data"
    result = _up(data_dir, taken_port)
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join((result.stderr + result.stdout).split())
    assert f"cannot listen on 127.0.0.1:{taken_port}" in message
    assert "--port" in message
    assert not data_dir.exists()
    assert "FIRST ADMIN API KEY" not in result.stdout


def test_up_on_a_taken_port_leaves_an_existing_instance_untouched(
        tmp_path: Path, taken_port: int) -> None:
    data_dir = tmp_path / "data"
    env = {**os.environ, "SOVRA_DATA_DIR": str(data_dir)}
    made = subprocess.run([*sovra_command(), "ledger", "checkpoint"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stderr
    before = _snapshot(data_dir)
    assert before  # the database and the secrets exist
    result = _up(data_dir, taken_port)
    assert result.returncode == 2, result.stdout + result.stderr
    assert _snapshot(data_dir) == before  # no entry, key or demo document written


def test_bind_port_names_the_address_and_the_fix(taken_port: int) -> None:
    with pytest.raises(ConfigError, match=rf"127\.0\.0\.1:{taken_port}.*--port"):
        bind_port("127.0.0.1", taken_port)
    free = bind_port("127.0.0.1", 0)  # a free port binds, and is handed over bound
    try:
        assert free.getsockname()[0] == "127.0.0.1"
    finally:
        free.close()
