"""Start the real ``sovra up`` process on a free loopback port with a fresh data directory."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    data_dir: Path
    admin_key: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    # The settings ``sovra up`` was started with; a CLI command on this machine needs them
    # too (on PostgreSQL, SOVRA_DATABASE_URL names the database the data directory uses).
    env: dict[str, str] = field(default_factory=dict)

    def cli_env(self, **more: str) -> dict[str, str]:
        return {**os.environ, **self.env, **more}

    @property
    def v1(self) -> str:
        return self.url + "/v1"

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin_key}"}


def sovra_command() -> list[str]:
    """The installed console script beside this interpreter (what a user runs)."""
    return [str(Path(sys.executable).parent / "sovra")]


@contextlib.contextmanager
def sovra_up(data_dir: Path, *, extra_env: dict[str, str] | None = None,
             args: tuple[str, ...] = (), start_timeout_s: float = 90.0,
             admin_key: str | None = None) -> Iterator[Server]:
    """``admin_key``: the key the first start printed, for a restart (which prints none)."""
    port = free_port()
    env = {**os.environ, "SOVRA_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1",
           "COLUMNS": "200", **(extra_env or {})}
    process = subprocess.Popen(
        [*sovra_command(), "up", "--port", str(port), *args], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "API on" in line or "Sovra on http" in line:  # before/after issue 13
                ready.set()

    threading.Thread(target=drain, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + start_timeout_s
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("sovra up exited:\n" + "".join(output))
            try:
                if ready.is_set() and httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("sovra up did not start:\n" + "".join(output))
        key = admin_key or next(line.strip() for line in output
                                if line.strip().startswith("sk-sovra-"))
        yield Server(url, data_dir, key, process, output, dict(extra_env or {}))
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
            print("sovra up did not stop within 20 s:\n" + "".join(output[-30:]),
                  file=sys.stderr)


def first_approver_key(server: Server, principal_id: str = "approver") -> str:
    """Create an approver and its key with the CLI on the instance's machine.

    Over the API an admin alone cannot do this (issue 13: granting the approver role and
    handing over someone else's key need a second approver); the first approver is made
    by the instance's owner on its own machine, as ``sovra up`` made the first admin.
    """
    env = server.cli_env(SOVRA_API_KEY=server.admin_key, COLUMNS="200")
    base = [*sovra_command(), "--data-dir", str(server.data_dir)]
    subprocess.run([*base, "principal", "create", principal_id, "--role", "approver",
                    "--clearance", "secret"], env=env, check=True, capture_output=True)
    made = subprocess.run([*base, "apikey", "create", principal_id], env=env, check=True,
                          capture_output=True, text=True)
    return next(line.strip() for line in made.stdout.splitlines()
                if line.strip().startswith("sk-sovra-") and "_" in line)


def approve_upstream_models(server: Server, port: int, models: tuple[str, ...], *,
                            ceiling: str = "internal") -> None:
    """Register FakeUpstream models as the admin and approve them as a second person."""
    admin = server.headers()
    approver = server.headers(first_approver_key(server))
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for model in models:
            http.post("/v1/sovra/models", headers=admin, json={
                "id": model, "locality": "on_premises", "sha256": "cd" * 32,
                "source": "FakeUpstream on loopback", "licence": "test-only",
                "ceiling": ceiling, "upstream_url": f"http://127.0.0.1:{port}/v1",
            }).raise_for_status()
            http.post(f"/v1/sovra/models/{model}/approve", headers=approver,
                      json={}).raise_for_status()
