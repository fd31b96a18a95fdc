"""Several real ``sovra up`` processes on one PostgreSQL database (the cluster profile).

The processes share one data directory, as nodes share a secrets volume: the log key,
the development seal and the first admin key are made once, by the first process.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.e2e.server import Server, sovra_command, sovra_up


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
