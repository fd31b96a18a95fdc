"""The real server process driven by the official ``openai`` package (issue 7)."""

from __future__ import annotations

import json
import subprocess
import time

import httpx
import openai
import pytest

from tests.e2e.fake_upstream import ANSWER
from tests.e2e.server import Server, sovra_command

pytestmark = pytest.mark.e2e
SMOL = "SmolLM2-135M-Instruct"


def _trace(server: Server, request_id: str, *, want_outcome: bool = True) -> dict[str, object]:
    deadline = time.monotonic() + 20
    while True:
        found = httpx.get(f"{server.v1}/sovra/trace/{request_id}", headers=server.headers(),
                          timeout=10)
        if found.status_code == 200 and (found.json()["outcome"] or not want_outcome):
            return dict(found.json())
        if time.monotonic() > deadline:
            raise AssertionError(f"no trace for {request_id}: {found.text}")
        time.sleep(0.2)


def test_models_lists_the_builtin_and_approved_models(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {SMOL, "fake-instant"} <= ids


def test_chat_through_an_upstream(client: openai.OpenAI, server: Server) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="fake-instant", messages=[{"role": "user", "content": "Hello?"}])
    completion = raw.parse()
    assert completion.choices[0].message.content == ANSWER
    assert raw.headers["x-request-id"] == completion.id
    extra = completion.model_extra or {}
    assert extra["sovra"]["request_id"] == completion.id
    lineage = _trace(server, completion.id)
    assert lineage["request"]["entry"]["details"]["model"] == "fake-instant"  # type: ignore[index]


def test_streaming_through_an_upstream(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="fake-instant", messages=[{"role": "user", "content": "Hello?"}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() == ANSWER
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_bundled_model_answers_and_streams(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=SMOL, messages=[{"role": "user", "content": "Say hello."}], max_tokens=8,
        temperature=0)
    assert completion.choices[0].message.content
    assert completion.usage is not None and 0 < completion.usage.completion_tokens <= 8
    pieces = [c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model=SMOL, messages=[{"role": "user", "content": "Say hello."}], max_tokens=8,
        temperature=0, stream=True) if c.choices]
    assert "".join(pieces)


def test_unknown_model_is_a_not_found_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-model",
                                       messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body["code"] == "ModelNotFoundError"  # type: ignore[index]


def test_wrong_message_shapes_are_bad_requests(client: openai.OpenAI) -> None:
    for messages in ([{"role": "wizard", "content": "hi"}], [{"content": "no role"}], [],
                     [{"role": "user", "content": [{"type": "image_url"}]}],
                     [{"role": "system", "content": "only a system turn"}]):
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="fake-instant", messages=messages)  # type: ignore[arg-type]


def test_oversized_prompt_is_a_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="limit"):
        client.chat.completions.create(model="fake-instant",
                                       messages=[{"role": "user", "content": "x" * 20_001}])


def test_malformed_json_is_an_openai_style_error(server: Server) -> None:
    answer = httpx.post(f"{server.v1}/chat/completions", content=b'{"model": "fake-',
                        headers={**server.headers(), "content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_bad_key_is_an_authentication_error(server: Server) -> None:
    bad = openai.OpenAI(base_url=server.v1, api_key="sk-sovra-nope_nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_classified_prompt_is_refused_with_the_reason(client: openai.OpenAI) -> None:
    with pytest.raises(openai.PermissionDeniedError, match="exceeds model ceiling internal"):
        client.chat.completions.create(model="fake-instant", messages=[
            {"role": "user", "content": "Card 4111 1111 1111 1111, is it valid?"}])


def _ledger_size(server: Server) -> int:
    found = httpx.get(f"{server.url}/ledger/entries/0", headers=server.headers(), timeout=10)
    found.raise_for_status()
    return int(found.json()["tree_size"])


def _ledger_since(server: Server, start: int) -> list[dict[str, object]]:
    return [httpx.get(f"{server.url}/ledger/entries/{seq}", headers=server.headers(),
                      timeout=10).json()["entry"] for seq in range(start, _ledger_size(server))]


def test_hanging_upstream_is_a_quick_502_and_recorded(client: openai.OpenAI,
                                                      server: Server) -> None:
    before = _ledger_size(server)
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="fake-hang",
                                       messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502
    assert time.monotonic() - started < 15
    assert httpx.get(server.url + "/healthz").status_code == 200
    # Recorded: the admitted request and its failed outcome, linked by request id.
    deadline = time.monotonic() + 20
    while True:
        recorded = [e for e in _ledger_since(server, before) if e["resource"] == "model/fake-hang"]
        outcomes = [e for e in recorded if e["action"] == "ai.chat.outcome"]
        if outcomes or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    requests = [e for e in recorded if e["action"] == "ai.chat"]
    assert len(requests) == 1 and len(outcomes) == 1, recorded
    assert outcomes[0]["outcome"] == "failure"
    details = outcomes[0]["details"]
    assert isinstance(details, dict)
    assert details["request_id"] == requests[0]["details"]["request_id"]  # type: ignore[index]


def test_garbage_from_upstream_is_a_502(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="fake-garbage",
                                       messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502
    assert "malformed" in caught.value.message
    with pytest.raises(openai.APIError, match="malformed"):
        list(client.chat.completions.create(model="fake-garbage", stream=True,
                                            messages=[{"role": "user", "content": "hi"}]))


def test_client_disconnecting_mid_stream(server: Server) -> None:
    # Greedy decoding: this prompt deterministically runs to max_tokens (no early stop).
    body = {"model": SMOL, "stream": True, "max_tokens": 400, "temperature": 0.0,
            "messages": [{"role": "user", "content": "Write a short story about a lighthouse "
                                                  "keeper who finds a message in a bottle."}]}
    with httpx.Client(timeout=30) as http, http.stream(
            "POST", f"{server.v1}/chat/completions", json=body,
            headers=server.headers()) as response:
        request_id = response.headers["x-request-id"]
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
    # The connection is gone mid-answer; the server stays healthy and records the outcome.
    lineage = _trace(server, request_id)
    outcome = lineage["outcome"]["entry"]  # type: ignore[index]
    assert outcome["outcome"] == "failure"
    assert outcome["details"]["reason"] == "client disconnected"
    assert httpx.get(server.url + "/healthz").status_code == 200
    again = httpx.post(f"{server.v1}/chat/completions", headers=server.headers(), timeout=60,
                       json={"model": SMOL, "max_tokens": 4,
                             "messages": [{"role": "user", "content": "hi"}]})
    assert again.status_code == 200


def test_sovra_trace_cli_shows_the_lineage(client: openai.OpenAI, server: Server) -> None:
    completion = client.chat.completions.create(
        model="fake-instant", messages=[{"role": "user", "content": "For the auditor"}])
    _trace(server, completion.id)
    shown = subprocess.run([*sovra_command(), "--data-dir", str(server.data_dir), "trace",
                            completion.id, "--json"], capture_output=True, text=True,
                           timeout=120, check=True, env=server.cli_env())
    lineage = json.loads(shown.stdout)
    assert lineage["request"]["entry"]["actor"] == "admin"
    assert lineage["outcome"]["entry"]["outcome"] == "success"
    assert lineage["request"]["inclusion_proof"]


def test_the_server_keeps_its_records_in_its_profiles_database(
        client: openai.OpenAI, server: Server, e2e_profile: str) -> None:
    # Parametrized over both profiles (tests/e2e/conftest.py): on PostgreSQL nothing may
    # fall back to an embedded SQLite file in the data directory.
    client.chat.completions.create(model="fake-instant",
                                   messages=[{"role": "user", "content": "where"}])
    assert (server.data_dir / "sovra.db").exists() == (e2e_profile == "sqlite")
