"""PostgreSQL restarted under `sovra up` mid-load (issue 17, "Faults survived"): requests
fail cleanly (503, never 500) while it is down, then succeed again without restarting
Sovra, and nothing acknowledged is lost.

Uses its own PostgreSQL server, so restarting it disturbs no other test. The scenario
runs once (module fixture); each promise is its own test.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sovra.store.local_postgres import local_postgres
from tests.e2e.server import free_port, sovra_command

pytestmark = [pytest.mark.postgres, pytest.mark.e2e, pytest.mark.slow]


@dataclass
class Outcome:
    statuses: list[int]
    acked: list[str]
    acked_after_restart: int
    missing: list[str]
    transport_errors: list[str]
    log: str


def _pg_ctl(data_dir: Path, *args: str) -> None:
    pg_ctl = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)),
                  Path("pg_ctl"))
    argv = [str(pg_ctl), "-D", str(data_dir), *args]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    # The restarted server must not inherit a pipe we wait on: it logs to a file.
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=120)


def _wait_healthy(base: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("sovra up did not start")


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    tmp = tmp_path_factory.mktemp("pg-restart")
    with local_postgres() as pg:
        log = tmp / "up.log"
        port = free_port()
        env = {**os.environ, "SOVRA_DATA_DIR": str(tmp / "data"), "PYTHONUNBUFFERED": "1",
               "SOVRA_DATABASE_URL": pg.create_database(), "COLUMNS": "200"}
        with log.open("wb") as out:
            process = subprocess.Popen([*sovra_command(), "up", "--port", str(port)],
                                       env=env, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(base)
            key = next(line.strip() for line in log.read_text().splitlines()
                       if line.strip().startswith("sk-sovra-"))
            headers = {"Authorization": f"Bearer {key}"}
            statuses: list[int] = []
            acked: list[str] = []
            errors: list[str] = []
            stop = threading.Event()

            def load() -> None:
                n = 0
                with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                    while not stop.is_set():
                        name = f"p-{n}"
                        n += 1
                        try:
                            answer = client.post("/identity/principals",
                                                 json={"principal_id": name})
                        except httpx.HTTPError as exc:  # recorded, and the load goes on
                            errors.append(f"{type(exc).__name__}: {exc}")
                            continue
                        statuses.append(answer.status_code)
                        if answer.status_code == 201:
                            acked.append(name)

            worker = threading.Thread(target=load)
            worker.start()
            time.sleep(1.5)
            _pg_ctl(pg.data_dir, "-m", "fast", "-w", "-l",
                    str(pg.data_dir.parent / "restart.log"), "restart")
            restarted = len(acked)
            time.sleep(5.0)
            stop.set()
            worker.join(60)
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                missing = [p for p in acked
                           if client.get(f"/identity/principals/{p}").status_code != 200]
            yield Outcome(statuses, acked, len(acked) - restarted, missing, errors,
                          log.read_text())
        finally:
            process.terminate()
            process.wait(30)


def test_requests_succeed_again_without_restarting_sovra(outcome: Outcome) -> None:
    assert outcome.acked_after_restart > 0, outcome.log[-3000:]


def test_nothing_acknowledged_is_lost(outcome: Outcome) -> None:
    assert outcome.acked and outcome.missing == []


def test_requests_during_the_outage_fail_cleanly(outcome: Outcome) -> None:
    failed = sorted({s for s in outcome.statuses if s != 201})
    assert outcome.transport_errors == [], outcome.transport_errors[:5]
    assert set(failed) <= {503}, failed
