"""The lockbox end to end, through the real ``sovra up`` process and real HTTP.

An operator asks for access to a secret collection, two approvers approve over HTTP,
the operator reads a document, the grant expires, the next read is refused, and the
ledger tells the whole story with the grant's id.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.server import Server, sovra_command, sovra_up
from tests.support.lockbox import VAULT_COLLECTION
from tests.support.principals import cli_principal

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Break-glass reviews fall due after 2 s here (24 h by default), so the e2e test can
    # see an overdue review become a finding.
    with sovra_up(tmp_path_factory.mktemp("lockbox") / "data",
                  extra_env={"SOVRA_LOCKBOX_REVIEW_WINDOW_S": "2"}) as running:
        yield running


def ledger_entries(http: httpx.Client, admin: dict[str, str], start: int) -> list[dict]:
    """Every entry from ``start`` to the current end. The size comes from the lockbox
    report (the latest checkpoint may lag; every read of an entry adds a decision)."""
    size = http.get("/lockbox/report", headers=admin).json()["tree_size"]
    found = []
    for seq in range(start, size):
        got = http.get(f"/ledger/entries/{seq}", headers=admin)
        got.raise_for_status()
        assert got.json()["inclusion_proof"] is not None
        found.append(got.json()["entry"])
    return found


def test_operator_reads_a_secret_document_only_while_two_approvers_grant_it(
        server: Server) -> None:
    admin = server.headers()
    operator = cli_principal(server, "otto", "operator")
    ann = cli_principal(server, "ann", "approver")
    abe = cli_principal(server, "abe", "approver")
    with httpx.Client(base_url=server.url, timeout=60) as http:
        http.post("/data/collections", headers=admin,
                  json=VAULT_COLLECTION).raise_for_status()
        ingested = http.post("/data/collections/vault/documents", headers=admin,
                             data={"classification": "secret"},
                             files={"file": ("batch.txt", b"Payment batch 7 was held.")})
        ingested.raise_for_status()
        document = f"/data/documents/{ingested.json()['document_id']}"
        start = int(http.get("/ledger/checkpoint", headers=admin).text.splitlines()[1])

        assert http.get(document, headers=operator).status_code == 403
        asked = http.post("/lockbox/requests", headers=operator, json={
            "scope": "collection:vault", "actions": ["documents.read"],
            "reason": "INC-7: verify the held batch", "ticket": "INC-7", "duration_s": 6})
        assert asked.status_code == 201, asked.text
        grant = asked.json()
        assert grant["state"] == "pending" and grant["required_approvals"] == 2
        assert grant["jurisdiction"] == "EU" and grant["source"] == "127.0.0.1"
        approve = f"/lockbox/requests/{grant['id']}/approve"
        own = http.post(approve, headers=operator, json={})
        assert own.status_code == 403
        first = http.post(approve, headers=ann, json={"comment": "ok"})
        assert first.status_code == 200 and first.json()["state"] == "pending"
        again = http.post(approve, headers=ann, json={})
        assert again.status_code == 403 and "lockbox.one-vote-per-approver" in again.text
        second = http.post(approve, headers=abe, json={})
        assert second.status_code == 200 and second.json()["state"] == "active"

        read = http.get(document, headers=operator)
        assert read.status_code == 200, read.text
        assert "Payment batch 7" in read.text
        time.sleep(max(0.0, second.json()["expires_at"] - time.time()) + 0.5)
        assert http.get(document, headers=operator).status_code == 403
        shown = http.get(f"/lockbox/requests/{grant['id']}", headers=ann).json()
        assert shown["state"] == "expired" and len(shown["votes"]) == 2

        story = [(e["action"], e["outcome"], e["actor"], e["details"].get("grant_id"))
                 for e in ledger_entries(http, admin, start)
                 if e["actor"] in ("otto", "ann", "abe")
                 and e["action"] not in ("auth.success", "identity.authenticate")]
    lockbox = [s for s in story if s[0].startswith("lockbox.")]
    assert [(a, o, who) for a, o, who, _ in lockbox] == [
        ("lockbox.request", "success", "otto"),
        ("lockbox.approve", "denied", "otto"),
        ("lockbox.approve", "success", "ann"),
        ("lockbox.approve", "denied", "ann"),
        ("lockbox.approve", "success", "abe"),
    ]
    reads = [(o, g) for a, o, who, g in story
             if a == "policy.decision" and who == "otto" and g is not None]
    assert ("allowed", grant["id"]) in reads
    decisions = [o for a, o, who, _ in story if a == "policy.decision" and who == "otto"]
    assert decisions[-1] == "denied"  # the read after expiry
    assert json.dumps(story)  # the story is plain data


def test_a_watcher_follows_a_supervised_grant_live_and_terminates_it(server: Server) -> None:
    admin = server.headers()
    operator = cli_principal(server, "olaf", "operator")
    ann = cli_principal(server, "alba", "approver")
    with httpx.Client(base_url=server.url, timeout=60) as http:
        http.post("/data/collections", headers=admin, json={
            "id": "ledgerbook", "owner": "Finance", "purpose": "bookkeeping",
            "subject_categories": ["suppliers"], "data_categories": ["invoices"],
            "retention_days": 365, "jurisdiction": "EU", "ceiling": "internal",
        }).raise_for_status()
        ingested = http.post("/data/collections/ledgerbook/documents", headers=admin,
                             data={"classification": "internal"},
                             files={"file": ("inv.txt", b"Invoice 12 is due on Friday.")})
        ingested.raise_for_status()
        document = f"/data/documents/{ingested.json()['document_id']}"
        asked = http.post("/lockbox/requests", headers=operator, json={
            "scope": "collection:ledgerbook", "actions": ["documents.read"],
            "reason": "INC-8", "supervised": True, "duration_s": 600}).json()
        assert asked["supervised"] and asked["required_approvals"] == 1
        opened = http.post(f"/lockbox/requests/{asked['id']}/approve", headers=ann, json={})
        assert opened.json()["state"] == "active"
        assert http.get(document, headers=operator).status_code == 403  # nobody watching
        assert http.get(f"/lockbox/grants/{asked['id']}/events",
                        headers=operator).status_code == 403  # never one's own supervisor

        events: list[tuple[str, dict]] = []
        watching = threading.Event()

        def follow() -> None:
            with httpx.stream("GET", f"{server.url}/lockbox/grants/{asked['id']}/events",
                              headers=ann, timeout=httpx.Timeout(30, read=30)) as stream:
                kind = ""
                for line in stream.iter_lines():
                    if line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:"):
                        events.append((kind, json.loads(line[5:])))
                        if kind == "watching":
                            watching.set()
                        if kind == "ended":
                            return

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        assert watching.wait(30)
        read = http.get(document, headers=operator)
        assert read.status_code == 200 and "Invoice 12" in read.text
        ended = http.post(f"/lockbox/requests/{asked['id']}/revoke", headers=ann,
                          json={"reason": "terminated mid-session"})
        assert ended.status_code == 200 and ended.json()["state"] == "revoked"
        follower.join(30)
        assert http.get(document, headers=operator).status_code == 403
    kinds = [k for k, _ in events]
    assert kinds[0] == "watching" and kinds[-1] == "ended"
    decisions = [d for k, d in events if k == "decision"]
    assert decisions and all(d["principal"] == "olaf" for d in decisions)
    assert {d["outcome"] for d in decisions} == {"allowed"}
    assert events[-1][1]["reason"] == "terminated mid-session"


def test_breakglass_opens_at_once_and_an_overdue_review_is_a_finding(server: Server) -> None:
    bree = cli_principal(server, "bree", "breakglass")
    reviewers = [cli_principal(server, name, "approver") for name in ("rita", "rolf")]
    with httpx.Client(base_url=server.url, timeout=60) as http:
        assert http.get("/keys/status", headers=bree).status_code == 403
        assert http.post("/lockbox/breakglass", headers=bree, json={
            "scope": "instance", "actions": ["keys.status"], "reason": ""}).status_code == 400
        opened = http.post("/lockbox/breakglass", headers=bree, json={
            "scope": "instance", "actions": ["keys.status"], "reason": "P1: keys unreadable"})
        assert opened.status_code == 201, opened.text
        glass = opened.json()
        assert glass["state"] == "active" and glass["breakglass"]
        assert http.get("/keys/status", headers=bree).status_code == 200
        time.sleep(max(0.0, glass["review_due"] - time.time()) + 0.5)
        status = http.get("/lockbox/status", headers=reviewers[0]).json()
        assert any(glass["id"] in f and "lockbox.review-overdue" in f
                   for f in status["findings"])
        env = {**os.environ, "SOVRA_API_KEY": reviewers[0]["Authorization"][7:],
               "COLUMNS": "200"}
        shown = subprocess.run([*sovra_command(), "--data-dir", str(server.data_dir),
                                "lockbox", "status"], env=env, capture_output=True, text=True)
        assert shown.returncode == 1 and "finding" in shown.stdout
        # `sovra up` on a fresh directory is development mode: the lockbox is off, loudly.
        assert "LOCKBOX NOT ENFORCED" in shown.stdout
        for reviewer in reviewers:
            done = http.post(f"/lockbox/requests/{glass['id']}/review", headers=reviewer,
                             json={"comment": "justified"})
            assert done.status_code == 200, done.text
        status = http.get("/lockbox/status", headers=reviewers[0]).json()
        assert status["findings"] == []
        assert status["enforced"] is False and "development mode" in status["warning"]
        assert http.get("/sys/seal-status").json()["lockbox_enforced"] is False
