"""Issue 16's last item: administrators hold no standing access to data or key destruction.

With the lockbox enforced (the default outside development mode) an administrator's
document read and key erasure are refused and recorded; under an approved grant they
succeed and cite it; in development mode the lockbox is off, and says so.
"""

from __future__ import annotations

import json

import pytest

from sovra.errors import PermissionDeniedError
from sovra.instance import Instance
from sovra.keys import start_for_up
from sovra.lockbox import RequestSpec, Scope
from sovra.lockbox.service import LockboxService
from sovra.lockbox.setup import lockbox_off
from sovra.policy import Classification, Resource
from tests.lockbox.conftest import ADMIN, APPROVER_1, APPROVER_2, APPROVER_3, spec
from tests.support.ledger import ledger_events

TEXT = b"Quarterly note: the payment batch of 3 March was restored.\n"


def last_decision(inst: Instance) -> dict[str, object]:
    for body in reversed(ledger_events(inst, 20)):
        if "policy.decision" in json.dumps(body):
            return body
    raise AssertionError("no policy.decision in the ledger's tail")


def note(inst: Instance) -> str:
    result = inst.data.ingest(ADMIN, "notes", "note.txt", TEXT)
    assert result.document_id is not None, result.error
    return result.document_id


def grant(box: LockboxService, scope: str, actions: tuple[str, ...], approvers: int) -> str:
    request_id = box.request(ADMIN, RequestSpec(
        scope=Scope.parse(scope), actions=actions, reason="INC-9: restore check"),
        source="10.0.0.7").id
    for approver in (APPROVER_1, APPROVER_2, APPROVER_3)[:approvers]:
        box.approve(approver, request_id)
    return request_id


def test_an_enforced_lockbox_refuses_an_admins_read_and_key_erase_and_records_both(
        unsealed: Instance, box: LockboxService) -> None:
    assert unsealed.policy.lockbox_enforced and box.status().enforced
    document_id = note(unsealed)  # running the instance (ingest) needs no grant
    with pytest.raises(PermissionDeniedError):
        unsealed.data.read_document(ADMIN, document_id)
    read = last_decision(unsealed)
    assert "deny" in json.dumps(read) and "documents.read" in json.dumps(read)
    with pytest.raises(PermissionDeniedError):
        unsealed.policy.require(ADMIN, "keys.erase",
                                Resource("Keys", unsealed.data.get_collection("notes").keyring_id))
    erase = last_decision(unsealed)
    assert "deny" in json.dumps(erase) and "keys.erase" in json.dumps(erase)
    # Rows are contents too: governed SQL needs a grant like a document read.
    assert not unsealed.policy.decide(ADMIN, "analytics.query",
                                      Resource("Collection", "notes")).allowed
    # Running the instance stays open without a grant.
    for action, resource in (("principals.manage", Resource("Principal", "bob")),
                             ("keys.status", Resource("Keys", "instance")),
                             ("ledger.read", Resource("Ledger", "main"))):
        assert unsealed.policy.decide(ADMIN, action, resource).allowed, action


def test_an_approved_grant_lets_the_admin_read_and_erase_and_the_decision_cites_it(
        unsealed: Instance, box: LockboxService) -> None:
    document_id = note(unsealed)
    read_grant = grant(box, "collection:notes", ("documents.read",), approvers=1)
    info, _, text = unsealed.data.read_document(ADMIN, document_id)
    assert "payment batch" in text and info.id == document_id
    assert read_grant in json.dumps(last_decision(unsealed))
    ring = unsealed.data.get_collection("notes").keyring_id
    erase_grant = grant(box, f"keyring:{ring}", ("keys.erase",), approvers=3)
    decision = unsealed.policy.require(ADMIN, "keys.erase", Resource("Keys", ring))
    assert decision.allowed and decision.grant_id == erase_grant


def test_development_mode_turns_the_lockbox_off_and_says_so(instance: Instance) -> None:
    assert instance.policy.lockbox_enforced  # no ceremony yet: fail closed
    start_for_up(instance.keys)  # a fresh data directory: development mode
    assert not instance.policy.lockbox_enforced
    status = instance.lockbox.status()
    assert not status.enforced
    assert status.findings == ()  # a mode, not a lapse: shown as a warning instead
    instance.data.create_collection(ADMIN, spec("notes", Classification.INTERNAL))
    document_id = note(instance)
    _, _, text = instance.data.read_document(ADMIN, document_id)
    assert "payment batch" in text
    assert instance.policy.decide(ADMIN, "keys.erase",
                                  Resource("Keys", "collection/notes")).allowed
    assert instance.policy.decide(ADMIN, "analytics.query",
                                  Resource("Collection", "notes")).allowed


def test_the_setting_decides_before_development_mode() -> None:
    # True: enforced even in development mode.
    assert lockbox_off(setting=True, dev_mode=lambda: True) is None
    forced_off = lockbox_off(setting=False, dev_mode=lambda: False)
    assert forced_off is not None and forced_off()
    # Custodians or an HSM: enforced, and no per-decision question at all.
    assert lockbox_off(setting=None, dev_mode=lambda: False) is None
    dev: list[bool | None] = [None]
    auto = lockbox_off(setting=None, dev_mode=lambda: dev[0])
    assert auto is not None and not auto()  # no ceremony yet: enforced
    dev[0] = True
    assert auto()  # `sovra up` made a development-mode ceremony
