"""Every lifecycle rule of the lockbox, on an injected clock, on SQLite and PostgreSQL.

Each refusal names its rule, is recorded in the ledger, and changes nothing.
"""

from __future__ import annotations

import json

import pytest

from sovra.errors import ConflictError, InvalidInputError, PermissionDeniedError, SovraError
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.lockbox import RequestSpec, Scope, State
from sovra.lockbox.service import LockboxService
from sovra.policy import Resource
from tests.lockbox.conftest import (
    ANALYST_APPROVER,
    APPROVER_1,
    APPROVER_2,
    APPROVER_3,
    APPROVER_US,
    BREAKER,
    OPERATOR,
    Clock,
    make_box,
)

HOUR = 3600.0
VAULT = Resource("Collection", "vault")


def ask(box: LockboxService, caller: Caller = OPERATOR, scope: str = "collection:vault",
        actions: tuple[str, ...] = ("documents.read",), **kw: object) -> str:
    spec = RequestSpec(scope=Scope.parse(scope), actions=actions,
                       reason=str(kw.pop("reason", "INC-7: restore a payment batch")), **kw)  # type: ignore[arg-type]
    return box.request(caller, spec, source="10.0.0.7").id


def granted(box: LockboxService, **kw: object) -> str:
    request_id = ask(box, **kw)
    box.approve(APPROVER_1, request_id)
    box.approve(APPROVER_2, request_id)
    return request_id


def last_entry(inst: Instance) -> dict[str, object]:
    row = inst.ledger.tail(1)[0]
    return dict(json.loads(row.body))


def reads(inst: Instance, caller: Caller = OPERATOR, resource: Resource = VAULT,
          action: str = "collections.read") -> bool:
    return inst.policy.decide(caller, action, resource).allowed


def refused_and_recorded(inst: Instance, box: LockboxService, request_id: str, call: object,
                         error: type[SovraError], rule: str) -> None:
    before = box.get(request_id)
    with pytest.raises(error) as raised:
        call()  # type: ignore[operator]
    assert rule in str(raised.value)
    entry = last_entry(inst)
    assert entry["outcome"] == "denied"
    assert rule in json.dumps(entry)
    assert box.get(request_id) == before  # nothing half-changed


def test_a_request_waits_for_the_tier_quorum_and_the_grant_clock_starts_at_the_last_approval(
        unsealed: Instance, box: LockboxService, clock: Clock) -> None:
    request_id = ask(box, duration_s=2 * HOUR)
    req = box.get(request_id)
    assert (box.state(req), req.required, req.tier) == (State.PENDING, 2, 3)
    assert req.actions == ("collections.read", "documents.read")  # implied action added
    assert req.jurisdiction == "EU" and req.source == "10.0.0.7"
    assert not reads(unsealed)
    clock.advance(600)
    box.approve(APPROVER_1, request_id)
    assert box.state(box.get(request_id)) is State.PENDING and not reads(unsealed)
    clock.advance(600)
    done = box.approve(APPROVER_2, request_id)
    assert box.state(done) is State.ACTIVE
    assert done.granted_at == clock.now and done.expires_at == clock.now + 2 * HOUR
    decision = unsealed.policy.decide(OPERATOR, "collections.read", VAULT)
    assert decision.allowed and decision.grant_id == request_id
    assert decision.ledger_details()["grant_id"] == request_id


def test_internal_data_needs_one_approval_and_key_destruction_three(
        unsealed: Instance, box: LockboxService) -> None:
    internal = box.get(ask(box, scope="collection:notes"))
    assert internal.required == 1
    erase = box.get(ask(box, actions=("collections.erase",)))
    assert erase.required == 3 and erase.destructive


def test_the_grant_reaches_only_its_actions_and_resources(
        unsealed: Instance, box: LockboxService) -> None:
    granted(box)
    assert reads(unsealed)
    assert not reads(unsealed, resource=Resource("Collection", "notes"))
    assert not reads(unsealed, action="collections.ingest")
    assert not reads(unsealed, resource=Resource("Collection", "*"))
    assert not reads(unsealed, caller=Caller("olga", "user", frozenset({"operator"}), "secret",
                                             jurisdiction="EU"))


def test_the_grant_expires_and_history_stays(unsealed: Instance, box: LockboxService,
                                             clock: Clock) -> None:
    request_id = granted(box, duration_s=HOUR)
    clock.advance(HOUR - 1)
    assert reads(unsealed)
    clock.advance(1)
    assert not reads(unsealed)
    assert box.state(box.get(request_id)) is State.EXPIRED
    assert [r.id for r in box.list()] == [request_id]


def test_pending_requests_expire(unsealed: Instance, box: LockboxService,
                                 clock: Clock) -> None:
    request_id = ask(box)
    box.approve(APPROVER_1, request_id)
    clock.advance(4 * HOUR)
    refused_and_recorded(unsealed, box, request_id,
                         lambda: box.approve(APPROVER_2, request_id), ConflictError,
                         "lockbox.request-expired")
    assert box.state(box.get(request_id)) is State.REQUEST_EXPIRED


@pytest.mark.parametrize(("kw", "rule"), [
    ({"duration_s": 8 * HOUR + 1}, "lockbox.duration-cap"),
    ({"request_ttl_s": 4 * 24 * HOUR + 1}, "lockbox.request-ttl-cap"),
    ({"reason": "  "}, "lockbox.reason-required"),
    ({"scope": "collection:nowhere"}, "lockbox.known-scope"),
    ({"scope": "document:nothing"}, "lockbox.known-scope"),
    ({"scope": "keyring:nothing"}, "lockbox.known-scope"),
    ({"actions": ("models.use",)}, "lockbox.known-action"),
    ({"actions": ("ledger.witness",)}, "lockbox.known-scope"),
    ({"urgency": "yesterday"}, "lockbox.known-urgency"),
])
def test_bad_requests_name_the_rule_and_are_recorded(
        unsealed: Instance, box: LockboxService, kw: dict[str, object], rule: str) -> None:
    with pytest.raises(InvalidInputError, match=rule):
        ask(box, **kw)
    entry = last_entry(unsealed)
    assert entry["action"] == "lockbox.request" and entry["outcome"] == "denied"
    assert box.list() == []


def test_unknown_scope_kind_names_the_rule() -> None:
    with pytest.raises(InvalidInputError, match=r"lockbox\.known-scope"):
        Scope.parse("galaxy:andromeda")


def test_the_requester_never_approves_its_own_request(unsealed: Instance,
                                                      box: LockboxService) -> None:
    request_id = ask(box, caller=ANALYST_APPROVER)
    refused_and_recorded(unsealed, box, request_id,
                         lambda: box.approve(ANALYST_APPROVER, request_id),
                         PermissionDeniedError, "lockbox.no-self-approval")


def test_nobody_approves_twice(unsealed: Instance, box: LockboxService) -> None:
    request_id = ask(box)
    box.approve(APPROVER_1, request_id)
    refused_and_recorded(unsealed, box, request_id, lambda: box.approve(APPROVER_1, request_id),
                         PermissionDeniedError, "lockbox.one-vote-per-approver")


def test_an_approver_from_another_jurisdiction_is_refused_by_policy(
        unsealed: Instance, box: LockboxService) -> None:
    request_id = ask(box)
    refused_and_recorded(unsealed, box, request_id,
                         lambda: box.approve(APPROVER_US, request_id), PermissionDeniedError,
                         "lockbox-approver-jurisdiction")


def test_only_approvers_approve(unsealed: Instance, box: LockboxService) -> None:
    request_id = ask(box, scope="collection:notes")
    other = Caller("olga", "user", frozenset({"operator"}), "secret", jurisdiction="EU")
    with pytest.raises(PermissionDeniedError):
        box.approve(other, request_id)
    assert box.get(request_id).approvals == 0


def test_one_denial_ends_the_request(unsealed: Instance, box: LockboxService) -> None:
    request_id = ask(box)
    box.approve(APPROVER_1, request_id)
    box.deny(APPROVER_2, request_id, comment="no ticket")
    assert box.state(box.get(request_id)) is State.DENIED
    refused_and_recorded(unsealed, box, request_id, lambda: box.approve(APPROVER_3, request_id),
                         ConflictError, "lockbox.pending-only")


def test_revocation_is_seen_by_the_next_decision_even_from_another_process(
        unsealed: Instance, box: LockboxService, clock: Clock) -> None:
    request_id = granted(box)
    assert reads(unsealed)
    other_process = make_box(unsealed, clock)  # its own snapshot, the same database
    other_process.revoke(APPROVER_3, request_id, reason="done early")
    unsealed.policy.use_grants(box)  # back to the first process's (stale) snapshot
    assert not reads(unsealed)
    refused_and_recorded(unsealed, box, request_id,
                         lambda: box.revoke(APPROVER_3, request_id), ConflictError,
                         "lockbox.revoke-live-only")


def test_a_requester_may_give_up_its_grant_but_not_revoke_others(
        unsealed: Instance, box: LockboxService) -> None:
    request_id = granted(box)
    other = Caller("olga", "user", frozenset({"operator"}), "secret", jurisdiction="EU")
    with pytest.raises(PermissionDeniedError):
        box.revoke(other, request_id)
    box.revoke(OPERATOR, request_id, reason="finished")
    assert box.state(box.get(request_id)) is State.REVOKED


def test_a_single_use_grant_is_spent_after_its_first_use(
        unsealed: Instance, box: LockboxService, clock: Clock) -> None:
    request_id = granted(box, single_use=True)
    assert box.get(request_id).first_used_at is None
    assert reads(unsealed)
    assert box.get(request_id).first_used_at == clock.now
    clock.advance(box.limits.single_use_window_s)
    assert not reads(unsealed)
    assert box.state(box.get(request_id)) is State.SPENT


def test_a_clock_that_jumps_back_is_refused(unsealed: Instance, box: LockboxService,
                                            clock: Clock) -> None:
    request_id = ask(box)
    clock.advance(100)
    box.approve(APPROVER_1, request_id)
    clock.advance(-50)
    refused_and_recorded(unsealed, box, request_id, lambda: box.approve(APPROVER_2, request_id),
                         ConflictError, "lockbox.clock-monotonic")


def test_breakglass_opens_at_once_alerts_and_an_unreviewed_one_becomes_a_finding(
        unsealed: Instance, box: LockboxService, clock: Clock) -> None:
    alerts: list[str] = []
    box.notifiers.append(lambda notice: alerts.append(notice.event))
    bree = Caller("bree", "user", frozenset({"breakglass"}), "secret", jurisdiction="EU")
    spec = RequestSpec(scope=Scope.parse("collection:vault"), actions=("collections.read",),
                       reason="payments down, P1")
    grant = box.breakglass(bree, spec)
    assert alerts == ["lockbox.breakglass"]
    assert box.state(grant) is State.ACTIVE and grant.expires_at == clock.now + HOUR
    assert reads(unsealed, caller=bree)
    assert box.status().findings == ()
    clock.advance(24 * HOUR + 1)
    assert not reads(unsealed, caller=bree)
    found = box.status()
    assert [r.id for r in found.overdue_reviews] == [grant.id]
    assert "lockbox.review-overdue" in found.findings[0]
    with pytest.raises(PermissionDeniedError, match=r"lockbox\.no-self-approval"):
        box.review(bree, grant.id)
    box.review(APPROVER_1, grant.id)
    box.review(APPROVER_2, grant.id)
    assert box.status().findings == ()


def test_breakglass_needs_a_reason_and_the_role(unsealed: Instance,
                                                box: LockboxService) -> None:
    no_reason = RequestSpec(scope=Scope.parse("instance"), actions=("keys.status",), reason="")
    with pytest.raises(InvalidInputError, match=r"lockbox\.reason-required"):
        box.breakglass(BREAKER, no_reason)
    spec = RequestSpec(scope=Scope.parse("instance"), actions=("keys.status",), reason="P1")
    with pytest.raises(PermissionDeniedError):
        box.breakglass(OPERATOR, spec)
    assert box.list() == []


def test_a_normal_request_is_not_reviewed_and_a_breakglass_grant_not_approved(
        unsealed: Instance, box: LockboxService) -> None:
    request_id = ask(box)
    with pytest.raises(ConflictError, match=r"lockbox\.review-breakglass-only"):
        box.review(APPROVER_1, request_id)
    spec = RequestSpec(scope=Scope.parse("instance"), actions=("keys.status",), reason="P1")
    grant = box.breakglass(BREAKER, spec)
    with pytest.raises(ConflictError, match=r"lockbox\.review-breakglass-only"):
        box.approve(APPROVER_1, grant.id)


def test_every_step_is_in_the_ledger(unsealed: Instance, box: LockboxService,
                                     clock: Clock) -> None:
    start = unsealed.ledger.size
    request_id = granted(box, duration_s=60)
    assert reads(unsealed)
    unsealed.policy.require(OPERATOR, "collections.read", VAULT)
    clock.advance(60)
    with pytest.raises(PermissionDeniedError):
        unsealed.policy.require(OPERATOR, "collections.read", VAULT)
    entries = [json.loads(unsealed.ledger.entry(seq).body)
               for seq in range(start, unsealed.ledger.size)]
    story = [(e["action"], e["outcome"], e["details"].get("grant_id")) for e in entries
             if e["resource"] in (f"lockbox/{request_id}", VAULT.uid)]
    assert story == [
        ("lockbox.request", "success", None),
        ("lockbox.approve", "success", None),
        ("lockbox.approve", "success", None),
        ("policy.decision", "allowed", request_id),
        ("policy.decision", "denied", None),
    ]


def test_the_report_tells_each_grant_with_proofs(unsealed: Instance, box: LockboxService,
                                                 clock: Clock) -> None:
    from sovra.ledger.merkle import verify_inclusion
    from sovra.lockbox.report import report_json

    request_id = granted(box, duration_s=60)
    unsealed.policy.require(OPERATOR, "collections.read", VAULT)
    clock.advance(60)
    report = report_json(box.report(unsealed.ledger, since=clock.now - 3600))
    (story,) = report["grants"]  # type: ignore[misc]
    assert story["id"] == request_id and story["state"] == "expired"
    assert [v["voter"] for v in story["votes"]] == ["ann", "abe"]
    assert [e["action"] for e in story["lifecycle"]] == [
        "lockbox.request", "lockbox.approve", "lockbox.approve"]
    (used,) = story["under_grant"]
    assert used["action"] == "policy.decision" and used["outcome"] == "allowed"
    root = bytes.fromhex(str(report["root_hash"]))
    for entry in [*story["lifecycle"], used]:
        # Raises ProofError unless the entry is in the tree under that root.
        verify_inclusion(entry["seq"], int(report["tree_size"]),  # type: ignore[call-overload]
                         bytes.fromhex(entry["leaf_hash"]),
                         [bytes.fromhex(p) for p in entry["inclusion_proof"]], root)


def test_a_supervised_grant_works_only_while_an_approver_watches(
        unsealed: Instance, box: LockboxService) -> None:
    request_id = granted(box, supervised=True)
    assert not reads(unsealed)
    entry = last_entry(unsealed)
    assert entry["outcome"] == "denied" and "lockbox.supervised-unwatched" in json.dumps(entry)
    with pytest.raises(PermissionDeniedError, match=r"lockbox\.no-self-supervision"):
        box.watch_grant(OPERATOR, request_id)
    watch = box.watch_grant(APPROVER_3, request_id)
    assert reads(unsealed)
    seen = watch.get(1.0)
    assert seen is not None and seen.kind == "decision"
    assert (seen.data["principal"], seen.data["outcome"]) == ("otto", "allowed")
    box.revoke(APPROVER_3, request_id, reason="terminated while watching")
    ended = watch.get(1.0)
    assert ended is not None and ended.kind == "ended" and ended.data["by"] == "ada"
    assert not reads(unsealed)
    watch.close()
    assert box.watch.watchers(request_id) == ()


def test_a_site_policy_can_require_a_ticket_by_tier(unsealed: Instance,
                                                    box: LockboxService) -> None:
    from tests.lockbox.conftest import ADMIN

    rule = ('\n@id("lockbox-ticket-required")\n'
            'forbid (principal, action == Action::"lockbox.request", resource)\n'
            'when { resource has tier && resource.tier >= 3 }\n'
            'unless { resource has ticket && resource.ticket != "" };\n')
    proposal = unsealed.policy.propose(ADMIN, unsealed.policy.show().text + rule)
    unsealed.policy.approve(APPROVER_1, proposal.version)
    with pytest.raises(PermissionDeniedError, match="lockbox-ticket-required"):
        ask(box)
    assert last_entry(unsealed)["outcome"] == "denied"
    assert box.list() == []
    assert box.get(ask(box, ticket="INC-7")).ticket == "INC-7"
    assert box.get(ask(box, scope="collection:notes")).ticket == ""  # internal: optional
