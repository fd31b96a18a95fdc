"""A highly available PostgreSQL on loopback: pg_auto_failover (ADR 0109).

One monitor and two data nodes, each a real ``pg_autoctl`` keeper with its own
PostgreSQL; the second node is cloned from the first with ``pg_basebackup`` by
``pg_autoctl create postgres``, and replicates synchronously (pg_auto_failover's
default for a primary with one standby: ``synchronous_standby_names = 'ANY 1 (...)'``).

The monitor's health checks are tightened from their defaults (a node is declared
unhealthy after 20 s, the old primary is given 30 s to demote) to seconds, so one
failover fits a bounded test; ``MONITOR_SETTINGS`` are the values the failover
benchmark measured with, and docs/cluster.md gives them to operators.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.e2e.server import free_port

# pgautofailover.* on the monitor (milliseconds): how fast a dead primary is noticed
# and how long the monitor waits for it to demote itself before promoting the standby.
MONITOR_SETTINGS = {
    "health_check_period": 1000,
    "health_check_timeout": 1000,
    "health_check_max_retries": 1,
    "health_check_retry_delay": 500,
    "node_considered_unhealthy_timeout": 2000,
    "primary_demote_timeout": 2000,
}


def _bin_dir() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    if not candidates:
        raise RuntimeError("PostgreSQL is not installed; run scripts/install-system-deps.sh")
    return candidates[0].parent


def available() -> bool:
    """Whether pg_auto_failover (Debian's pg-auto-failover-cli) is installed."""
    return shutil.which("pg_autoctl") is not None


def _as_postgres(argv: list[str]) -> list[str]:
    # PostgreSQL and its keeper refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class Node:
    name: str
    port: int
    pgdata: Path
    process: subprocess.Popen[bytes] | None = None

    def kill(self) -> None:
        """SIGKILL the keeper and its PostgreSQL at once (its own process group),
        as a machine that loses power: nothing is shut down cleanly."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        # The postmaster survives its keeper's death when it is not in the group.
        pid_file = self.pgdata / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGKILL)


@dataclass
class HaPostgres:
    monitor_port: int
    nodes: list[Node]
    root: Path
    env: dict[str, str] = field(default_factory=dict)

    def sovra_url(self, database: str) -> str:
        """The libpq multi-host URL Sovra is given: it connects to whichever node
        accepts writes (``target_session_attrs=read-write``), so a reconnect after a
        promotion finds the new primary."""
        hosts = ",".join("127.0.0.1" for _ in self.nodes)
        ports = ",".join(str(node.port) for node in self.nodes)
        return (f"postgresql+psycopg://postgres@/{database}?host={hosts}&port={ports}"
                "&target_session_attrs=read-write&connect_timeout=2")

    def states(self) -> dict[str, tuple[str, str]]:
        """Each node's (reported, assigned) state, as the monitor has them."""
        with psycopg.connect(f"host=127.0.0.1 port={self.monitor_port} user=postgres "
                             "dbname=pg_auto_failover connect_timeout=2",
                             autocommit=True) as conn:
            rows = conn.execute("SELECT nodename, reportedstate::text, goalstate::text "
                                "FROM pgautofailover.node").fetchall()
        return {str(name): (str(reported), str(goal)) for name, reported, goal in rows}

    def primary(self) -> Node:
        states = self.states()
        for node in self.nodes:
            if states.get(node.name) == ("primary", "primary"):
                return node
        raise RuntimeError(f"no primary: {states}")

    def wait_for(self, expected: dict[str, str], timeout_s: float = 90) -> None:
        """Wait until every named node reports and is assigned the expected state."""
        deadline = time.monotonic() + timeout_s
        states: dict[str, tuple[str, str]] = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(psycopg.Error):
                states = self.states()
                if all(states.get(name) == (state, state) for name, state in expected.items()):
                    return
            time.sleep(0.2)
        raise RuntimeError(f"pg_auto_failover did not reach {expected}: {states}")

    def create_database(self, name: str) -> str:
        primary = self.primary()
        with psycopg.connect(f"host=127.0.0.1 port={primary.port} user=postgres "
                             "dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.sovra_url(name)


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(_as_postgres(argv), env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _wait_port(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(psycopg.Error), psycopg.connect(
                f"host=127.0.0.1 port={port} user=postgres dbname=postgres connect_timeout=1"):
            return
        time.sleep(0.2)
    raise RuntimeError(f"PostgreSQL on port {port} did not start")


@contextlib.contextmanager
def ha_postgres() -> Iterator[HaPostgres]:
    """A monitor, a primary and a synchronous standby; all stopped and removed on exit."""
    root = Path(tempfile.mkdtemp(prefix="sovra-pgaf-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    env = {**os.environ, "PATH": f"{_bin_dir()}:{os.environ.get('PATH', '')}",
           "XDG_CONFIG_HOME": str(root / "config"), "XDG_DATA_HOME": str(root / "share"),
           "XDG_RUNTIME_DIR": str(root / "run"), "PGCONNECT_TIMEOUT": "2"}
    common = ["--hostname", "127.0.0.1", "--auth", "trust", "--no-ssl"]
    monitor_port = free_port()
    cluster = HaPostgres(monitor_port, [Node(f"node{i}", free_port(), root / f"node{i}")
                                        for i in (1, 2)], root, env)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run(_as_postgres([
            "pg_autoctl", "create", "monitor", "--pgdata", str(root / "monitor"),
            "--pgport", str(monitor_port), *common]),
            env=env, check=True, capture_output=True, timeout=120)
        processes.append(_start(["pg_autoctl", "run", "--pgdata", str(root / "monitor")],
                                env, root / "monitor.log"))
        _wait_port(monitor_port)
        with psycopg.connect(f"host=127.0.0.1 port={monitor_port} user=postgres "
                             "dbname=pg_auto_failover", autocommit=True) as conn:
            for name, value in MONITOR_SETTINGS.items():
                conn.execute(f"ALTER SYSTEM SET pgautofailover.{name} = {value:d}")
            conn.execute("SELECT pg_reload_conf()")
        monitor = (f"postgres://autoctl_node@127.0.0.1:{monitor_port}/pg_auto_failover"
                   "?sslmode=disable")
        for node in cluster.nodes:
            node.process = _start(
                ["pg_autoctl", "create", "postgres", "--pgdata", str(node.pgdata),
                 "--pgport", str(node.port), "--name", node.name, "--monitor", monitor,
                 *common, "--run"], env, root / f"{node.name}.log")
            processes.append(node.process)
            # One at a time: the second is cloned (pg_basebackup) from the first.
            if node is cluster.nodes[0]:
                cluster.wait_for({node.name: "single"})
        cluster.wait_for({"node1": "primary", "node2": "secondary"})
        yield cluster
    except Exception:
        for log in sorted(root.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        for node in cluster.nodes:
            node.kill()
        _kill_postmaster(root / "monitor")
        shutil.rmtree(root, ignore_errors=True)


def _kill_postmaster(pgdata: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        os.kill(int((pgdata / "postmaster.pid").read_text().splitlines()[0]), signal.SIGKILL)
