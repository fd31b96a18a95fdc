"""Structured JSON logs with the request id, and no request text in logs or metrics
(issue 22, "Operations"), on a real ``sovra up`` with ``SOVRA_LOG_FORMAT=json``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sovra.api.request_log import accept_request_id
from tests.e2e.server import Server, sovra_up

pytestmark = [pytest.mark.e2e]

MARKER = "quokka-marker-prompt-text-93127"
SMOL = "SmolLM2-135M-Instruct"


@pytest.fixture(scope="module")
def json_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir: Path = tmp_path_factory.mktemp("json-logs") / "data"
    with sovra_up(data_dir, extra_env={"SOVRA_LOG_FORMAT": "json",
                                       "SOVRA_ACCESS_LOG": "1"}) as server:
        yield server


def _log_records(server: Server) -> list[dict[str, object]]:
    records = []
    for line in server.output:
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


def test_a_request_id_sent_is_echoed_and_in_its_log_line(json_server: Server) -> None:
    answer = httpx.get(json_server.url + "/readyz", headers={"X-Request-ID": "lb-7f3a:01"})
    assert answer.headers["x-request-id"] == "lb-7f3a:01"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [r for r in _log_records(json_server) if r.get("request_id") == "lb-7f3a:01"]
        if lines:
            break
        time.sleep(0.1)
    assert lines, "no log line carries the request id"
    assert lines[0]["route"] == "/readyz" and lines[0]["status"] == 200
    assert lines[0]["logger"] == "sovra.access" and lines[0]["level"] == "INFO"


def test_a_request_without_an_id_or_with_a_forged_one_gets_a_fresh_one(
        json_server: Server) -> None:
    plain = httpx.get(json_server.url + "/livez")
    forged = httpx.get(json_server.url + "/livez",
                       headers={"X-Request-ID": 'x"} {"level":"ERROR'})
    ids = {plain.headers["x-request-id"], forged.headers["x-request-id"]}
    assert len(ids) == 2 and all(len(i) == 32 for i in ids)
    assert accept_request_id("a" * 129) != "a" * 129


def test_a_chat_and_a_document_leave_no_text_in_logs_or_metrics(json_server: Server
                                                                ) -> None:
    auth = {"Authorization": f"Bearer {json_server.admin_key}"}
    with httpx.Client(base_url=json_server.url, headers=auth, timeout=120) as http:
        chat = http.post("/v1/chat/completions", headers={"X-Request-ID": "chat-1"}, json={
            "model": SMOL, "max_tokens": 4, "temperature": 0,
            "messages": [{"role": "user", "content": f"Repeat {MARKER}"}]})
        assert chat.status_code == 200, chat.text
        assert chat.headers["x-request-id"] == "chat-1"
        refused = http.post("/v1/chat/completions", json={
            "model": f"no-such-model-{MARKER}",
            "messages": [{"role": "user", "content": MARKER}]})
        assert refused.status_code >= 400
        made = http.post("/data/collections", json={
            "id": "logs", "owner": "ops", "purpose": "log scan",
            "subject_categories": ["staff"], "data_categories": ["hr"],
            "retention_days": 30, "jurisdiction": "EU", "ceiling": "confidential"})
        assert made.status_code == 201, made.text
        doc = http.post("/data/collections/logs/documents",
                        files={"file": ("note.txt", f"{MARKER} in a document.\n".encode(),
                                        "text/plain")},
                        data={"classification": "internal"})
        assert doc.status_code == 201, doc.text
        metrics = http.get("/metrics").text
    time.sleep(0.5)  # let the last access lines reach the pipe
    records = _log_records(json_server)
    chat_lines = [r for r in records if r.get("request_id") == "chat-1"]
    assert chat_lines and chat_lines[-1]["route"] == "/v1/chat/completions"
    # The gateway's own id for the chat (its ledger entries use it) is on the line too.
    assert str(chat_lines[-1]["ai_request_id"]).startswith("chatcmpl-")
    assert all(r["request_id"] for r in records if r["logger"] == "sovra.access")
    assert MARKER not in "".join(json_server.output)
    assert MARKER not in metrics
    # Every log line is JSON: what is not JSON is the start-up banner, printed before
    # the server logs anything.
    first_json = next(i for i, line in enumerate(json_server.output) if line.startswith("{"))
    assert all(line.startswith("{") for line in json_server.output[first_json:]
               if line.strip()), json_server.output[first_json:]
