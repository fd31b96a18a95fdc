"""The approvals inbox beyond lockbox requests: models, two-person bundle imports and
identity changes, each approved from the page by a second person, and the
requester-never-approves rule shown on the page and enforced by the service (a forged
form is refused and recorded)."""

from __future__ import annotations

import json
import re

from sovra.ai.models import ModelSpec
from sovra.identity import Caller
from sovra.identity.changes import PendingChange
from sovra.instance import Instance
from tests.support.console import console_for, csrf_of, no_inline_code
from tests.transfer.conftest import Workshop, key_dir, signers, workshop

__all__ = ["key_dir", "signers", "workshop"]  # the transfer fixtures, reused


def _spec(model_id: str) -> ModelSpec:
    return ModelSpec(model_id=model_id, kind="chat", locality="on_premises",
                     sha256="ab" * 32, source="test", licence="test-only",
                     ceiling="internal", upstream_url="http://127.0.0.1:9/v1")


def _recorded(inst: Instance, since: int, action: str) -> list[dict[str, object]]:
    entries = [json.loads(e.body) for e in inst.ledger.tail(inst.ledger.size - since)]
    return [e for e in entries if e["action"] == action]


def test_a_second_approver_approves_a_model_its_registrant_cannot(inst: Instance) -> None:
    both = console_for(inst, "bea", "admin", "approver")  # may register and approve
    inst.ai.registry.register(inst.identity.caller_for("bea"), _spec("tiny-chat"))
    own = both.get("/console/approvals")
    assert own.status_code == 200
    assert "tiny-chat" in own.text
    assert 'id="own-model-tiny-chat"' in own.text and "you asked for this" in own.text
    assert 'action="/console/approvals/models/tiny-chat/approve"' not in own.text
    before = inst.ledger.size
    forged = both.post("/console/approvals/models/tiny-chat/approve",
                       data={"csrf": csrf_of(own.text)})
    assert forged.status_code == 403
    assert "may not approve it" in forged.text
    assert any(e["outcome"] == "denied" and e["resource"] == 'Model::"tiny-chat"'
               for e in _recorded(inst, before, "policy.decision"))
    assert not inst.ai.registry.get("tiny-chat").approved

    ann = console_for(inst, "ann", "approver")
    inbox = ann.get("/console/approvals")
    assert 'action="/console/approvals/models/tiny-chat/approve"' in inbox.text
    no_inline_code(inbox.text)
    done = ann.post("/console/approvals/models/tiny-chat/approve",
                    data={"csrf": csrf_of(inbox.text), "ceiling": "confidential"})
    assert done.status_code == 200
    assert "approved model tiny-chat up to confidential" in done.text
    record = inst.ai.registry.get("tiny-chat")
    assert record.approved and record.approved_by == "ann"
    assert record.spec.ceiling == "confidential"


def test_identity_changes_are_approved_or_rejected_by_a_second_person(inst: Instance
                                                                      ) -> None:
    root = console_for(inst, "root", "admin", "approver")
    asker = inst.identity.caller_for("root")
    inst.identity.create_principal("test", "olaf", roles=["operator"], clearance="secret")
    key_change = inst.identity.changes.api_key(asker, "olaf", label="on-call")
    grant = inst.identity.changes.principal(asker, "mallory", roles=["admin"],
                                            clearance="secret")
    assert isinstance(key_change, PendingChange) and isinstance(grant, PendingChange)
    pending = [key_change, grant]
    own = root.get("/console/approvals")
    for change in pending:
        assert f'id="own-change-{change.change_id}"' in own.text
    before = inst.ledger.size
    first = pending[0]
    forged = root.post(f"/console/approvals/changes/{first.change_id}/approve",
                       data={"csrf": csrf_of(own.text)})
    assert forged.status_code == 403
    assert "may not" in forged.text  # policy's segregation rule, before the service's
    assert any(e["outcome"] == "denied" and e["actor"] == "root"
               and e["details"]["action"] == "principals.approve"  # type: ignore[index]
               for e in _recorded(inst, before, "policy.decision"))
    assert inst.identity.changes.get(first.change_id).status == "pending"

    ann = console_for(inst, "ann", "approver")
    inbox = ann.get("/console/approvals")
    token = csrf_of(inbox.text)
    no_reason = ann.post(f"/console/approvals/changes/{first.change_id}/deny",
                         data={"csrf": token})
    assert no_reason.status_code == 400
    assert "reason" in no_reason.text and "is required" in no_reason.text
    handed = ann.post(f"/console/approvals/changes/{key_change.change_id}/approve",
                      data={"csrf": token})
    assert handed.status_code == 200
    shown = re.search(r'id="new-key" class="mono" readonly value="([^"]+)"', handed.text)
    assert shown is not None  # the hand-over's key, shown once to the approver
    assert inst.identity.authenticate(f"Bearer {shown.group(1)}", "127.0.0.1"
                                      ).principal_id == "olaf"
    granted = ann.post(f"/console/approvals/changes/{grant.change_id}/approve",
                       data={"csrf": token})
    assert granted.status_code == 200
    assert f"approved identity change {grant.change_id} (principal for mallory)" \
        in granted.text
    assert "admin" in inst.identity.get_principal("mallory").roles
    assert {c.status for c in inst.identity.changes.list_changes()
            if c.change_id in {p.change_id for p in pending}} == {"approved"}
    approved = [e for e in _recorded(inst, before, "identity.change.approve")
                if e["outcome"] == "success"]
    assert {e["actor"] for e in approved} == {"ann"}


def test_a_two_person_bundle_import_is_approved_from_the_inbox(inst: Instance,
                                                              workshop: Workshop) -> None:
    admin = Caller("root", "user", frozenset({"admin"}), "secret")
    inst.identity.create_principal("test", "root", roles=["admin"], clearance="secret")
    inst.transfer.trust_root((workshop.repo / "roots" / "1.root.json").read_bytes(), admin)
    inst.transfer = type(inst.transfer)(
        inst.engine, inst.settings.model_copy(update={"bundle_two_person": True}),
        inst.ledger, inst.policy)
    held = inst.transfer.import_bundle(workshop.build(), admin)
    second = inst.transfer.import_bundle(workshop.build(), admin)
    ann = console_for(inst, "ann", "approver")
    inbox = ann.get("/console/approvals")
    assert held.bundle_id in inbox.text and "asked by" in inbox.text
    token = csrf_of(inbox.text)
    done = ann.post(f"/console/approvals/bundles/{held.bundle_id}/approve",
                    data={"csrf": token})
    assert done.status_code == 200, done.text
    assert f"approved bundle {held.bundle_id} (activated)" in done.text
    refused = ann.post(f"/console/approvals/bundles/{second.bundle_id}/deny",
                       data={"csrf": token, "reason": "not expected this week"})
    assert refused.status_code == 200
    assert inst.transfer.status().awaiting_approval == ()
    assert [m.component for m in inst.transfer.activated_models()] == ["tiny-model"]
