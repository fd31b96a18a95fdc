"""Kill the PostgreSQL primary under load (shared by the test and the benchmark).

``sovra up`` runs on the libpq multi-host URL of a pg_auto_failover pair
(``tests.cluster.pg_ha``); ``CLIENTS`` threads create principals without pause; once
``KILL_AFTER`` writes are acknowledged the primary's keeper and PostgreSQL are SIGKILLed
together. The clients keep writing through the failover (a failed write is retried, as a
careful client does) until each has ``AFTER`` acknowledged writes past the kill.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.cluster.pg_ha import HaPostgres, ha_postgres
from tests.e2e.server import Server, sovra_up

CLIENTS = 4
KILL_AFTER = 20
AFTER = 5
DEADLINE_S = 120.0


@dataclass
class Outcome:
    """What the clients saw; times are ``time.monotonic()``."""

    acked: list[str] = field(default_factory=list)
    recorded_unacked: list[str] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (status, body)
    transport_errors: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    killed_at: float | None = None
    first_success_after_kill: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def failover_s(self) -> float | None:
        if self.killed_at is None or self.first_success_after_kill is None:
            return None
        return self.first_success_after_kill - self.killed_at


def _client(server: Server, tag: str, outcome: Outcome, stop: threading.Event) -> None:
    after = 0
    with httpx.Client(base_url=server.url, timeout=30,
                      headers={"Authorization": f"Bearer {server.admin_key}"}) as http:
        i = 0
        while not stop.is_set() and after < AFTER:
            principal, i = f"ha-{tag}-{i}", i + 1
            for attempt in range(200):
                started = time.monotonic()
                try:
                    answer = http.post("/identity/principals", json={
                        "principal_id": principal, "clearance": "internal"})
                except httpx.TransportError as exc:
                    with outcome.lock:
                        outcome.transport_errors.append(f"{principal}: {exc!r}")
                    time.sleep(0.1)
                    continue
                with outcome.lock:
                    if answer.status_code == 201:
                        outcome.acked.append(principal)
                        killed = outcome.killed_at
                        if killed is not None and started > killed:
                            after += 1
                            if outcome.first_success_after_kill is None:
                                outcome.first_success_after_kill = time.monotonic()
                        break
                    if answer.status_code == 409 and attempt > 0:
                        # An earlier try was committed but its answer was lost.
                        outcome.recorded_unacked.append(principal)
                        break
                    if answer.status_code < 500:
                        outcome.lost.append(f"{principal}: {answer.status_code} {answer.text}")
                        break
                    outcome.refused.append((answer.status_code, answer.text))
                time.sleep(0.1)
            else:
                outcome.lost.append(f"{principal}: no success in 200 tries")
                return


@contextlib.contextmanager
def failover_under_load(data_dir: Path) -> Iterator[tuple[HaPostgres, str, Server, Outcome]]:
    """Run the scenario; yields (the pair, Sovra's database URL, the server, outcome)
    with everything still running, so the caller can inspect the database."""
    with ha_postgres() as pair:
        database_url = pair.create_database("sovra")
        with sovra_up(data_dir, extra_env={"SOVRA_DATABASE_URL": database_url}) as server:
            outcome = Outcome()
            stop = threading.Event()
            clients = [threading.Thread(target=_client, args=(server, str(c), outcome, stop))
                       for c in range(CLIENTS)]
            for client in clients:
                client.start()
            deadline = time.monotonic() + DEADLINE_S
            while len(outcome.acked) < KILL_AFTER and time.monotonic() < deadline:
                time.sleep(0.05)
            victim = pair.primary()
            with outcome.lock:
                outcome.killed_at = time.monotonic()
            victim.kill()
            for client in clients:
                client.join(max(1.0, deadline - time.monotonic()))
            stop.set()
            for client in clients:
                client.join(30)
            yield pair, database_url, server, outcome
