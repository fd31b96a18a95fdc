"""Several real ``sovra up`` processes on one PostgreSQL database (the cluster profile).

The processes share one data directory, as nodes share a secrets volume: the log key,
the development seal and the first admin key are made once, by the first process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.e2e.server import Server, free_port, sovra_command, sovra_up

CONFIG = Path(__file__).parents[2] / "deploy" / "haproxy" / "sovra.cfg"


@contextlib.contextmanager
def sovra_cluster(data_dir: Path, database_url: str, count: int = 3,
                  extra_env: dict[str, str] | None = None) -> Iterator[list[Server]]:
    """``count`` processes on ``database_url``; every one stopped (SIGTERM) on exit."""
    env = {"SOVRA_DATABASE_URL": database_url, **(extra_env or {})}
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(sovra_up(data_dir, extra_env=env))
        servers = [first]
        for _ in range(count - 1):
            servers.append(stack.enter_context(
                sovra_up(data_dir, extra_env=env, admin_key=first.admin_key)))
        yield servers


def cli(data_dir: Path, database_url: str, *args: str, api_key: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    """A ``sovra`` command against the cluster's database, as an operator runs it."""
    env = {**os.environ, "SOVRA_DATA_DIR": str(data_dir), "SOVRA_DATABASE_URL": database_url,
           "COLUMNS": "200", **({"SOVRA_API_KEY": api_key} if api_key else {})}
    return subprocess.run([*sovra_command(), *args], env=env, capture_output=True, text=True,
                          timeout=180, check=False)


@contextlib.contextmanager
def haproxy(nodes: list[Server]) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "SOVRA_LB_BIND": f"127.0.0.1:{port}",
           "SOVRA_LB_STATS": f"127.0.0.1:{free_port()}",
           **{f"SOVRA_NODE{i + 1}": node.url.removeprefix("http://")
              for i, node in enumerate(nodes)}}
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    process = subprocess.Popen([binary, "-db", "-f", str(CONFIG)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError("haproxy did not start")
        yield url
    finally:
        process.terminate()
        process.wait(10)
