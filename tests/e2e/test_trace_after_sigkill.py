"""Issue 13 / ADR 0608: SIGKILL the real server while it answers chats, start it again on
the same database, and every chat it acknowledged (a 200 with the answer) is traced, with
the prompt and answer text its collection asked to keep. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from sovra.ai.rag import DECLINE_ANSWER
from sovra.store.local_postgres import LocalPostgres
from tests.e2e.fake_upstream import ANSWER, FakeUpstream
from tests.e2e.server import Server, approve_upstream_models, sovra_up

pytestmark = pytest.mark.e2e
CLIENTS = 6
ACKNOWLEDGED_BEFORE_KILL = 60


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
                 ) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        yield {}
        return
    server: LocalPostgres = request.getfixturevalue("postgres_server")
    env = {"SOVRA_DATABASE_URL": server.create_database()}
    # Also for the CLI the helpers run beside the server (first_approver_key).
    monkeypatch.setenv("SOVRA_DATABASE_URL", env["SOVRA_DATABASE_URL"])
    yield env


def _prepare(server: Server, upstream: FakeUpstream) -> None:
    approve_upstream_models(server, upstream.port, ("fake-instant",))
    admin = server.headers()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        http.post("/data/collections", headers=admin, json={
            "id": "kept", "owner": "tests", "purpose": "kept chat text",
            "subject_categories": ["staff"], "data_categories": ["questions"],
            "retention_days": 30, "jurisdiction": "EU"}).raise_for_status()
        http.put("/v1/sovra/collections/kept/ai-policy", headers=admin,
                 json={"keep_text": True}).raise_for_status()


def _load(server: Server, stop: threading.Event, acknowledged: dict[str, str],
          lock: threading.Lock, worker: int) -> None:
    """Chat until stopped (or the server dies); note every 200 and what it asked."""
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=30) as http:
        n = 0
        while not stop.is_set():
            n += 1
            prompt = f"worker {worker} question {n}"
            body: dict[str, object] = {
                "model": "fake-instant", "max_tokens": 8,
                "messages": [{"role": "user", "content": prompt}]}
            if n % 2:
                body["sovra"] = {"collections": ["kept"]}
            try:
                answered = http.post("/v1/chat/completions", json=body)
            except httpx.HTTPError:
                return  # killed
            if answered.status_code == 200:
                # The "kept" collection holds no document: Sovra itself says so (ADR 0610).
                assert answered.json()["choices"][0]["message"]["content"] == (
                    DECLINE_ANSWER if n % 2 else ANSWER)
                with lock:
                    acknowledged[answered.json()["id"]] = prompt if n % 2 else ""


def test_every_acknowledged_chat_is_traced_after_sigkill(
        tmp_path: Path, e2e_upstream: FakeUpstream, database_env: dict[str, str]) -> None:
    data_dir = tmp_path / "data"
    acknowledged: dict[str, str] = {}
    lock = threading.Lock()
    stop = threading.Event()
    with sovra_up(data_dir, extra_env=database_env) as first:
        _prepare(first, e2e_upstream)
        key = first.admin_key
        with ThreadPoolExecutor(CLIENTS) as pool:
            runs = [pool.submit(_load, first, stop, acknowledged, lock, w)
                    for w in range(CLIENTS)]
            while len(acknowledged) < ACKNOWLEDGED_BEFORE_KILL:
                if any(r.done() for r in runs):
                    raise AssertionError("a client stopped:\n" + "".join(first.output[-20:]))
                stop.wait(0.05)
            first.process.send_signal(signal.SIGKILL)  # mid-load: requests in flight
            first.process.wait(10)
            stop.set()
            for run in runs:
                run.result()
    with lock:
        answered = dict(acknowledged)
    assert sum(1 for p in answered.values() if p) >= ACKNOWLEDGED_BEFORE_KILL // 3
    with sovra_up(data_dir, extra_env=database_env, admin_key=key) as second, \
            httpx.Client(base_url=second.url, headers=second.headers(), timeout=60) as http:
        missing, lost_text = [], []
        for request_id, prompt in answered.items():
            found = http.get(f"/v1/sovra/trace/{request_id}")
            if found.status_code != 200 or found.json()["outcome"] is None:
                missing.append((request_id, found.status_code))
                continue
            trace = found.json()
            if prompt and (trace["answer_text"] != DECLINE_ANSWER
                           or prompt not in (trace["prompt_text"] or "")):
                lost_text.append(request_id)
    assert missing == [], f"{len(missing)} of {len(answered)} acknowledged chats lost"
    assert lost_text == [], f"{len(lost_text)} acknowledged chats lost their kept text"
