"""A chat request's trace in the ledger explorer: the decision, the request, the
retrieval and the response, each entry's inclusion proof verified against the signed
checkpoint, for an auditor with the request's clearance only."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from sovra.instance import Instance
from sovra.keys import start_for_up
from tests.ai.conftest import approved_upstream
from tests.e2e.fake_upstream import ANSWER, FakeUpstream, running_fake_upstream
from tests.support.console import console_for, csrf_of, no_inline_code


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with running_fake_upstream() as fake:
        yield fake


def test_an_auditor_opens_a_chat_requests_trace_with_verified_proofs(
        inst: Instance, upstream: FakeUpstream) -> None:
    start_for_up(inst.keys)
    approved_upstream(inst, upstream.port)
    user = console_for(inst, "una", "analyst")
    form = user.get("/console/chat")
    asked = user.post("/console/chat", data={"csrf": csrf_of(form.text),
                                             "model": "fake-instant",
                                             "question": "What is the leave policy?"})
    assert asked.status_code == 200 and ANSWER in asked.text
    request_id = asked.headers["x-request-id"]

    # The analyst may not read traces: not offered, and refused.
    assert user.get(f"/console/ledger/traces/{request_id}").status_code == 403
    auditor = console_for(inst, "aude", "auditor")
    found = auditor.get(f"/console/ledger/traces?request_id={request_id}",
                        follow_redirects=False)
    assert found.status_code == 303
    trace = auditor.get(found.headers["location"])
    assert trace.status_code == 200, trace.text
    assert "Verified: every entry of this trace is in the signed ledger." in trace.text
    titles = [t.split(":")[0] for t in trace.text.split('<h2 id="step-')[1:]]
    assert [t.split(">")[1] for t in titles] == ["Policy decision", "Request", "Response"]
    assert trace.text.count('<p class="ok">Verified: included in the checkpoint') == 3
    assert "No documents were retrieved for this request." in trace.text
    no_inline_code(trace.text)

    # The request entry's page links to its trace.
    seq = next(i for i in range(inst.ledger.size - 1, -1, -1)
               if json.loads(inst.ledger.entry(i).body)["action"] == "ai.chat")
    entry = auditor.get(f"/console/ledger/{seq}")
    assert f'href="/console/ledger/traces/{request_id}"' in entry.text
    assert auditor.get("/console/ledger/traces/no-such-request").status_code == 404
