"""``sovra up`` on a fresh data directory prints the first admin key once, and the real
server process then refuses requests without it and serves them with it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

KEY = re.compile(r"sk-sovra-[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_up(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    sovra = Path(sys.executable).parent / "sovra"
    env = {**os.environ, "SOVRA_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    with log.open("wb") as out:
        return subprocess.Popen([str(sovra), "up", "--port", str(port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def _wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, "sovra up exited early"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError("sovra up did not become healthy")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.mark.e2e
def test_sovra_up_prints_the_first_admin_key_once(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", _free_port()
    first = _run_up(data_dir, port, tmp_path / "first.log")
    try:
        _wait_healthy(port, first)
        keys = KEY.findall((tmp_path / "first.log").read_text())
        assert len(keys) == 1
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/policy").status_code == 401
        shown = httpx.get(f"{base}/policy", headers={"Authorization": f"Bearer {keys[0]}"})
        assert shown.status_code == 200 and shown.json()["version"] == 1
    finally:
        _stop(first)
    second = _run_up(data_dir, port, tmp_path / "second.log")
    try:
        _wait_healthy(port, second)
        assert KEY.findall((tmp_path / "second.log").read_text()) == []
    finally:
        _stop(second)
