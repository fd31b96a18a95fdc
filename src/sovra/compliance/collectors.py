"""One collector per control: the ledger's events over the period and the instance's
state in, a ``ControlResult`` out.

Ages (patch lag, the last restore drill, an overdue review) are measured at the end of
the period, so the same period gives the same report. A control whose room is not part
of this instance is NOT_EVIDENCED, never satisfied. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sovra.compliance import incidents
from sovra.compliance.catalog import control
from sovra.compliance.clocks import ClockState
from sovra.compliance.evidence import Claim, ControlResult, Events, Finding, Match, Status
from sovra.compliance.evidence import rfc3339 as _t

DAY = 86400.0
PATCH_LAG_DAYS = 90
THREAT_PACK_DAYS = 30
DRILL_DAYS = 365


@dataclass(frozen=True)
class State:
    """What the instance reports about itself (not in the ledger's entries)."""

    rooms: frozenset[str]
    custody: Mapping[str, Any] = field(default_factory=dict)
    review_quorum: int = 2
    policy_versions: tuple[Mapping[str, Any], ...] = ()
    checkpoints_in_period: int = 0
    cosigned_in_period: int = 0
    witnesses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Context:
    events: Events
    since: float
    until: float
    state: State

    @property
    def period(self) -> tuple[str, str]:
        return _t(self.since), _t(self.until)


def _not_evidenced(control_id: str) -> ControlResult:
    room = control(control_id).room
    return ControlResult(control_id, Status.NOT_EVIDENCED,
                         f"{room} is not part of this instance: nothing evidences this "
                         "control")


def _result(control_id: str, claims: list[Claim], findings: list[Finding], ok: str,
            state: Mapping[str, Any] | None = None) -> ControlResult:
    status = Status.FINDING if findings else Status.SATISFIED
    summary = ok if not findings else "; ".join(f.title for f in findings)
    return ControlResult(control_id, status, summary, tuple(claims), tuple(findings),
                         state or {})


def key_custody(ctx: Context) -> ControlResult:
    custody = ctx.state.custody
    ceremonies = ctx.events.claim("sov-key-1/ceremonies", "sov-key-1",
                                  "key ceremonies recorded up to the end of the period",
                                  Match(("keys.init",), ("success",), until=ctx.period[1]))
    problems = []
    if not custody.get("initialized"):
        problems.append("the root key was never initialised by a ceremony")
    elif custody.get("dev_mode"):
        problems.append("the instance runs in development mode (one unprotected key)")
    elif custody.get("mode") != "hsm" and int(custody.get("threshold") or 0) < 2:
        problems.append(f"the unseal threshold is {custody.get('threshold')}: one "
                        "custodian alone can unseal")
    findings = [Finding("sov-key-1/custody", "sov-key-1", p, p, (ceremonies.id,))
                for p in problems]
    mode = custody.get("mode")
    return _result("sov-key-1", [ceremonies], findings,
                   f"root key in {mode} custody, threshold {custody.get('threshold')} of "
                   f"{custody.get('shares')}", {"custody": dict(custody)})


def policy_changes(ctx: Context) -> ControlResult:
    since, until = ctx.period
    activations = Match(("policy.activate",), ("success",), since, until)
    claims = [ctx.events.claim("sov-pol-1/activations", "sov-pol-1",
                               "policy versions activated in the period", activations)]
    findings = []
    for e in ctx.events.select(activations):
        proposer = e.details.get("proposed_by")
        if proposer is not None and proposer == e.actor:
            claim = ctx.events.claim(
                f"sov-pol-1/self-approved/{e.resource}", "sov-pol-1",
                f"{e.resource} was activated by its own proposer {e.actor}",
                Match(("policy.activate",), ("success",), since, until, e.resource,
                      {"proposed_by": e.actor}, e.actor))
            claims.append(claim)
            findings.append(Finding(claim.id, "sov-pol-1",
                                    f"{e.resource} approved by its proposer",
                                    claim.statement, (claim.id,)))
    return _result("sov-pol-1", claims, findings,
                   f"{claims[0].count} policy activations, each by a second person",
                   {"policy_versions": list(ctx.state.policy_versions)})


def decisions(ctx: Context) -> ControlResult:
    since, until = ctx.period
    claims = [ctx.events.claim(f"sov-dec-1/{outcome}", "sov-dec-1",
                               f"access decisions {outcome} in the period",
                               Match(("policy.decision",), (outcome,), since, until))
              for outcome in ("allowed", "denied")]
    return _result("sov-dec-1", claims, [],
                   f"{claims[0].count} allowed and {claims[1].count} denied decisions "
                   "recorded")


def breakglass(ctx: Context) -> ControlResult:
    if "sovra.lockbox" not in ctx.state.rooms:
        return _not_evidenced("sov-lbx-1")
    since, until = ctx.period
    opened = Match(("lockbox.breakglass",), ("success",), since, until)
    claims = [ctx.events.claim("sov-lbx-1/breakglass", "sov-lbx-1",
                               "break-glass grants opened in the period", opened)]
    findings = []
    quorum = ctx.state.review_quorum
    for e in ctx.events.select(opened):
        due = e.details.get("review_due")
        if not isinstance(due, int | float) or due >= ctx.until:
            continue  # not yet due at the end of the period
        claim = ctx.events.claim(
            f"sov-lbx-1/reviews/{e.resource}", "sov-lbx-1",
            f"reviews of break-glass {e.resource} before they were due ({_t(due)})",
            Match(("lockbox.review",), ("success",), e.time, _t(due), e.resource))
        claims.append(claim)
        if claim.count < quorum:
            findings.append(Finding(
                claim.id, "sov-lbx-1", f"break-glass {e.resource} not reviewed in 24 h",
                f"break-glass grant {e.resource} by {e.actor} had {claim.count} of "
                f"{quorum} reviews when its review was due at {_t(due)}",
                (claims[0].id, claim.id)))
    return _result("sov-lbx-1", claims, findings,
                   f"{claims[0].count} break-glass grants, each reviewed in time")


def erasure(ctx: Context) -> ControlResult:
    since, until = ctx.period
    claims = [ctx.events.claim("sov-era-1/certificates", "sov-era-1",
                               "subject erasures with a certificate in the period",
                               Match(("data.erase",), ("success",), since, until)),
              ctx.events.claim("sov-era-1/failed", "sov-era-1",
                               "subject erasures that failed in the period",
                               Match(("data.erase",), ("failure",), since, until))]
    findings = []
    if claims[1].count:
        findings.append(Finding("sov-era-1/failed", "sov-era-1",
                                f"{claims[1].count} erasures failed",
                                "erasures recorded as failed have no certificate",
                                (claims[1].id,)))
    return _result("sov-era-1", claims, findings,
                   f"{claims[0].count} erasure certificates issued")


def retention(ctx: Context) -> ControlResult:
    since, until = ctx.period
    claims = [ctx.events.claim("sov-ret-1/deleted", "sov-ret-1",
                               "documents deleted by retention in the period",
                               Match(("data.retention.delete",), ("success",), since, until)),
              ctx.events.claim("sov-ret-1/held", "sov-ret-1",
                               "retention deletions stopped by a legal hold",
                               Match(("data.retention.held",), (), since, until))]
    return _result("sov-ret-1", claims, [],
                   f"{claims[0].count} retention deletions, {claims[1].count} held")


def models(ctx: Context) -> ControlResult:
    since, until = ctx.period
    uses = ctx.events.select(Match(("ai.chat",), ("allowed",), since, until))
    first_use: dict[str, str] = {}
    for e in uses:
        first_use.setdefault(e.resource, e.time)
    claims = [ctx.events.claim("sov-ai-1/approvals", "sov-ai-1",
                               "model approvals (with weights SHA-256) up to the period end",
                               Match(("models.approve",), ("success",), until=until))]
    findings = []
    for model, first in sorted(first_use.items()):
        use = ctx.events.claim(f"sov-ai-1/uses/{model}", "sov-ai-1",
                               f"inference requests to {model} in the period",
                               Match(("ai.chat",), ("allowed",), since, until, model))
        approved = ctx.events.claim(f"sov-ai-1/approved-before/{model}", "sov-ai-1",
                                    f"approvals of {model} before its first use ({first})",
                                    Match(("models.approve",), ("success",), until=first,
                                          resource=model))
        claims += [use, approved]
        if approved.count == 0:
            findings.append(Finding(approved.id, "sov-ai-1",
                                    f"{model} used without approval",
                                    f"{model} served {use.count} requests in the period "
                                    "and no approval of it precedes its first use",
                                    (use.id, approved.id)))
    return _result("sov-ai-1", claims, findings,
                   f"{len(first_use)} models used, each approved first")


def _recent(ctx: Context, control_id: str, name: str, action: str, *, days: int,
            what: str, details: Mapping[str, Any] | None = None) -> ControlResult:
    since = _t(ctx.until - days * DAY)
    claim = ctx.events.claim(f"{control_id}/{name}", control_id,
                             f"{what} in the {days} days before the period end",
                             Match((action,), ("success",), since, ctx.period[1],
                                   details=details or {}))
    findings = []
    if claim.count == 0:
        findings.append(Finding(claim.id, control_id, f"no {what} in {days} days",
                                f"no {what} was recorded between {since} and "
                                f"{ctx.period[1]}", (claim.id,)))
    return _result(control_id, [claim], findings, f"{claim.count} {what}")


def patches(ctx: Context) -> ControlResult:
    return _recent(ctx, "sov-pat-1", "activations", "bundles.activate",
                   days=PATCH_LAG_DAYS, what="update bundle activations")


def threat_packs(ctx: Context) -> ControlResult:
    if "sovra.threat" not in ctx.state.rooms:
        return _not_evidenced("sov-thr-1")
    return _recent(ctx, "sov-thr-1", "packs", "threat.pack.load",
                   days=THREAT_PACK_DAYS, what="threat pack activations")


def witnesses(ctx: Context) -> ControlResult:
    s = ctx.state
    findings = []
    if s.cosigned_in_period == 0:
        findings.append(Finding("sov-wit-1/cosigned", "sov-wit-1",
                                "no witnessed checkpoint in the period",
                                f"{s.checkpoints_in_period} checkpoints were signed in the "
                                "period and none carries a witness cosignature", ()))
    return _result("sov-wit-1", [], findings,
                   f"{s.cosigned_in_period} of {s.checkpoints_in_period} checkpoints "
                   "witnessed", {"checkpoints": s.checkpoints_in_period,
                                 "cosigned": s.cosigned_in_period,
                                 "witnesses": list(s.witnesses)})


def backups(ctx: Context) -> ControlResult:
    if "sovra.continuity" not in ctx.state.rooms:
        return _not_evidenced("sov-bck-1")
    since, until = ctx.period
    claim = ctx.events.claim("sov-bck-1/backups", "sov-bck-1", "backups made in the period",
                             Match(("continuity.backup",), ("success",), since, until))
    findings = [] if claim.count else [Finding(
        claim.id, "sov-bck-1", "no backup in the period",
        f"no backup succeeded between {since} and {until}", (claim.id,))]
    return _result("sov-bck-1", [claim], findings, f"{claim.count} backups made")


def drills(ctx: Context) -> ControlResult:
    if "sovra.continuity" not in ctx.state.rooms:
        return _not_evidenced("sov-drl-1")
    return _recent(ctx, "sov-drl-1", "drills", "continuity.drill",
                   days=DRILL_DAYS, what="passed restore drills", details={"passed": True})


def incident_clocks(ctx: Context) -> ControlResult:
    found = incidents.rebuild(ctx.events.select(
        Match(tuple(incidents.ACTIONS), ("success",), until=ctx.period[1])))
    claims: list[Claim] = []
    findings: list[Finding] = []
    for incident in found.values():
        for d in incident.deadlines(ctx.until):
            if d.state not in (ClockState.OVERDUE, ClockState.LATE) or d.due is None:
                continue
            claim = ctx.events.claim(
                f"sov-inc-1/{incident.id}/{d.kind}", "sov-inc-1",
                f"{d.kind} notifications of {incident.resource} before {_t(d.due)}",
                Match((incidents.NOTIFY,), ("success",), until=_t(d.due),
                      resource=incident.resource, details={"notification": d.kind}))
            claims.append(claim)
            findings.append(Finding(claim.id, "sov-inc-1",
                                    f"{d.kind} for {incident.resource} {d.state.value}",
                                    f"{d.kind} was due {_t(d.due)} ({d.basis})",
                                    (claim.id,)))
    return _result("sov-inc-1", claims, findings,
                   f"{len(found)} incidents, every notification on time")


COLLECTORS: dict[str, Callable[[Context], ControlResult]] = {
    "sov-key-1": key_custody, "sov-pol-1": policy_changes, "sov-dec-1": decisions,
    "sov-lbx-1": breakglass, "sov-era-1": erasure, "sov-ret-1": retention,
    "sov-ai-1": models, "sov-pat-1": patches, "sov-thr-1": threat_packs,
    "sov-wit-1": witnesses, "sov-bck-1": backups, "sov-drl-1": drills,
    "sov-inc-1": incident_clocks,
}

# Every action a collector reads; the scan decodes no other entry.
ACTIONS = frozenset({"keys.init", "policy.activate", "policy.decision", "lockbox.breakglass",
                     "lockbox.review", "data.erase", "data.retention.delete",
                     "data.retention.held", "ai.chat", "models.approve", "bundles.activate",
                     "threat.pack.load", "continuity.backup", "continuity.drill",
                     *incidents.ACTIONS})

__all__ = ["ACTIONS", "COLLECTORS", "Context", "State"]
