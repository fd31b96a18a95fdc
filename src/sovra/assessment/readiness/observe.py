"""Read the instance's own facts, one per instance criterion (the IO side).

Each reader asks the room that owns the fact (keys seal status, lockbox status, policy
versions, data collections, the model registry, transfer status, ledger cosignatures,
continuity status) and cites the ledger entries the fact comes from. A room that is not
part of this instance (threat, egress: built in parallel) gives NOT_EVIDENCED, never met.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from sovra.assessment.readiness import facts as f
from sovra.assessment.readiness._ledger import Entries, scan, seqs
from sovra.assessment.readiness.facts import Fact
from sovra.ledger import LedgerStore
from sovra.ledger import note as notes

if TYPE_CHECKING:
    from sovra.instance import Instance

DAY = 86400.0
PATCH_LAG_DAYS = 90
THREAT_PACK_DAYS = 30
BACKUP_DAYS = 7
DRILL_DAYS = 365
EGRESS_ROOM, EGRESS_PREFIX = "sovra.egress", "egress."
THREAT_ROOM = "sovra.threat"
COMPLIANCE_ROOM = "sovra.compliance"
REPORT_DAYS = 90
ACTIONS = frozenset({"keys.init", "lockbox.breakglass", "lockbox.review", "data.erase",
                     "policy.activate", "models.approve", "bundles.activate",
                     "threat.pack.load", "continuity.backup", "continuity.drill",
                     "compliance.report"})
_UNCONDITIONAL = re.compile(r"permit\s*\(\s*principal\s*,\s*action\s*,\s*resource\s*\)\s*;")


def room_present(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def read_entries(inst: Instance) -> Entries:
    rows = ((r.seq, r.body) for r in LedgerStore(inst.engine).entries(0, inst.ledger.size))
    return scan(rows, ACTIONS, (EGRESS_PREFIX,))


# -- data ----------------------------------------------------------------------------

def custody(inst: Instance, led: Entries, now: float) -> list[Fact]:
    s = inst.keys.seal_status()
    cites = seqs(led.of("keys.init"))
    if not s.initialized:
        found = f.unmet("data.custody", "the root key was never initialised", cites)
    elif s.dev_mode:
        found = f.unmet("data.custody", "development mode: the root key's only share is "
                        "in the data directory (1 of 1)", cites)
    elif s.mode == "hsm":
        found = f.met("data.custody", f"root key in HSM token {s.hsm_token}", cites)
    else:
        found = f.judged("data.custody", (s.threshold or 0) >= 2,
                         f"Shamir custody, {s.threshold} of {s.shares} shares", cites)
    hsm = f.judged("data.hsm", s.mode == "hsm" and not s.dev_mode,
                   f"custody mode {s.mode or 'none'}" + (" (development)" if s.dev_mode
                                                         else ""), cites)
    return [found, hsm]


def records(inst: Instance, led: Entries, now: float) -> list[Fact]:
    from sovra.store.tables.data import data_collections

    with inst.data.core.engine.connect() as conn:
        rows = conn.execute(select(data_collections)).all()
    if not rows:
        return [f.not_evidenced("data.records", "no collection exists yet")]
    complete = [r for r in rows if r.owner.strip() and r.purpose.strip()
                and r.subject_categories not in ("", "[]")
                and r.data_categories not in ("", "[]") and r.retention_days > 0
                and r.ceiling is not None and r.jurisdiction.strip()]
    missing = sorted(r.id for r in rows if r not in complete)
    return [f.judged("data.records", not missing,
                     f"{len(complete)} of {len(rows)} collections classified with retention "
                     "and an Art. 30 record" + (f"; missing: {', '.join(missing)}"
                                                if missing else ""))]


def erasure(inst: Instance, led: Entries, now: float) -> list[Fact]:
    failed = led.of("data.erase", "failure")
    done = led.of("data.erase", "success")
    return [f.judged("data.erasure", not failed,
                     f"{len(done)} erasures certified, {len(failed)} failed",
                     seqs(failed or done))]


# -- operation -----------------------------------------------------------------------

def lockbox(inst: Instance, led: Entries, now: float) -> list[Fact]:
    st = inst.settings
    sinks = [n for n, v in (("webhook", st.lockbox_webhook_url), ("syslog", st.lockbox_syslog),
                            ("smtp", st.lockbox_smtp_relay)) if v]
    status = inst.lockbox.status()
    opened = led.of("lockbox.breakglass", "success")
    overdue = sorted(r.id for r in status.overdue_reviews)
    return [
        f.judged("operation.lockbox", bool(sinks),
                 "approvers notified by " + ", ".join(sinks) if sinks else
                 "no lockbox notification sink is configured"),
        f.judged("operation.review-quorum", st.lockbox_review_quorum >= 2,
                 f"break-glass review quorum {st.lockbox_review_quorum}"),
        f.judged("operation.breakglass-reviews", not overdue,
                 f"{len(opened)} break-glass grants, {len(overdue)} reviews overdue"
                 + (f" ({', '.join(overdue)})" if overdue else ""), seqs(opened)),
    ]


def patch_lag(inst: Instance, led: Entries, now: float) -> list[Fact]:
    lag = inst.transfer.status().patch_lag_s
    cites = seqs(led.of("bundles.activate", "success"))
    if lag is None:
        return [f.unmet("operation.patch-lag", "no update bundle was ever activated", cites)]
    days = lag / DAY
    return [f.judged("operation.patch-lag", days <= PATCH_LAG_DAYS,
                     f"newest bundle built {days:.0f} days ago (limit {PATCH_LAG_DAYS})",
                     cites)]


# -- access --------------------------------------------------------------------------

def access(inst: Instance, led: Entries, now: float) -> list[Fact]:
    active = inst.policy.show()
    permits = len(_UNCONDITIONAL.findall(active.text))
    versions = [v for v in inst.policy.versions() if v.approved_by is not None
                and v.proposed_by != "system"]  # the shipped pack is seeded, not proposed
    own = sorted(v.version for v in versions if v.approved_by == v.proposed_by)
    activations = led.of("policy.activate", "success")
    self_approved = [e for e in activations if e.details.get("proposed_by") == e.actor]
    approvers = sorted({f"v{v.version} by {v.approved_by}" for v in versions})
    return [
        f.judged("access.deny-default", permits == 0,
                 f"active policy version {active.version}: {permits} unconditional permits",
                 seqs(activations, 1)),
        f.judged("access.policy-four-eyes", not own and not self_approved,
                 f"{len(versions)} proposed versions approved ("
                 + (", ".join(approvers) or "only the shipped default pack") + ")"
                 + (f"; self-approved: {own}" if own or self_approved else ""),
                 seqs(self_approved or activations)),
    ]


# -- infrastructure ------------------------------------------------------------------

def ledger_facts(inst: Instance, led: Entries, now: float) -> list[Fact]:
    cosigs = LedgerStore(inst.engine).cosignatures()
    names = sorted({notes.parse_vkey(c.witness).name for c in cosigs})
    sizes = sorted({c.tree_size for c in cosigs})
    problem = inst.ledger.integrity_problem
    return [
        f.judged("infrastructure.witness", bool(cosigs),
                 f"{len(sizes)} checkpoints cosigned by {', '.join(names)} (tree sizes "
                 f"{', '.join(map(str, sizes[-5:]))})" if cosigs else
                 "no checkpoint carries a witness cosignature"),
        f.judged("infrastructure.ledger-integrity", problem is None,
                 problem or f"ledger of {inst.ledger.size} entries passed its check"),
    ]


# -- compliance ----------------------------------------------------------------------

def threat(inst: Instance, led: Entries, now: float) -> list[Fact]:
    if not room_present(THREAT_ROOM):
        return [f.not_evidenced("compliance.threat-pack", "the threat room is not part of "
                                "this instance")]
    loads = led.of("threat.pack.load", "success")
    if not loads:
        return [f.unmet("compliance.threat-pack", "no threat pack was ever loaded")]
    days = (now - max(_epoch(e.time) for e in loads)) / DAY
    return [f.judged("compliance.threat-pack", days <= THREAT_PACK_DAYS,
                     f"newest threat pack loaded {days:.0f} days ago (limit "
                     f"{THREAT_PACK_DAYS})", seqs(loads))]


def evidence_report(inst: Instance, led: Entries, now: float) -> list[Fact]:
    if not room_present(COMPLIANCE_ROOM):
        return [f.not_evidenced("compliance.evidence-report", "the compliance room is not "
                                "part of this instance")]
    reports = led.of("compliance.report", "success")
    if not reports:
        return [f.unmet("compliance.evidence-report", "no evidence report was ever signed")]
    newest = reports[-1]
    days = (now - _epoch(newest.time)) / DAY
    return [f.judged("compliance.evidence-report", days <= REPORT_DAYS,
                     f"newest signed evidence report {days:.0f} days ago, "
                     f"{newest.details.get('findings', '?')} findings (limit {REPORT_DAYS} "
                     "days)", seqs(reports))]


def egress(inst: Instance, led: Entries, now: float) -> list[Fact]:
    if not room_present(EGRESS_ROOM):
        return [f.not_evidenced("compliance.egress", "no egress monitor is part of this "
                                "instance: attempts to leave are not observed")]
    attempts = [e for e in led.prefixed(EGRESS_PREFIX) if e.outcome != "success"]
    return [f.judged("compliance.egress", not attempts,
                     f"{len(attempts)} blocked egress attempts recorded", seqs(attempts))]


# -- ai ------------------------------------------------------------------------------

def models(inst: Instance, led: Entries, now: float) -> list[Fact]:
    records = inst.ai.registry.list()
    if not records:
        return [f.not_evidenced(c, "no model is registered")
                for c in ("ai.models-approved", "ai.models-verified", "ai.local-inference")]
    verified = {(m.component, m.sha256) for m in inst.transfer.activated_models()}
    unapproved = sorted(r.model_id for r in records if not r.approved)
    unverified = sorted(r.model_id for r in records
                        if not any(sha == r.spec.sha256 for _, sha in verified))
    external = sorted(r.model_id for r in records if r.spec.locality == "external")
    approvals = seqs(led.of("models.approve", "success"))
    n = len(records)
    return [
        f.judged("ai.models-approved", not unapproved,
                 f"{n - len(unapproved)} of {n} models approved"
                 + (f"; not approved: {', '.join(unapproved)}" if unapproved else ""),
                 approvals),
        f.judged("ai.models-verified", not unverified,
                 f"{n - len(unverified)} of {n} models' SHA-256 verified by a signed bundle"
                 + (f"; unverified: {', '.join(unverified)}" if unverified else "")),
        f.judged("ai.local-inference", not external,
                 f"{len(external)} external models" + (f": {', '.join(external)}"
                                                       if external else "")),
    ]


# -- continuity ----------------------------------------------------------------------

def continuity(inst: Instance, led: Entries, now: float) -> list[Fact]:
    from sovra.continuity import status

    st = status(inst.settings, now=now)
    backups = led.of("continuity.backup", "success")
    drills = [e for e in led.of("continuity.drill") if e.details.get("passed") is True]
    out = []
    if not backups and not isinstance((st.last_backup or {}).get("created_at"), int | float):
        out.append(f.unmet("continuity.backup", "no backup was ever made"))
    else:
        times = [_epoch(e.time) for e in backups]
        made = (st.last_backup or {}).get("created_at")
        if isinstance(made, int | float):
            times.append(float(made))
        last = max(times)
        days = (now - last) / DAY
        out.append(f.judged("continuity.backup", days <= BACKUP_DAYS,
                            f"last backup {days:.1f} days ago (limit {BACKUP_DAYS})",
                            seqs(backups)))
    if not drills:
        out.append(f.unmet("continuity.drill", "no restore drill ever passed"
                           + (" (the last one failed)" if led.of("continuity.drill") else ""),
                           seqs(led.of("continuity.drill"))))
    else:
        newest = drills[-1]
        days = (now - _epoch(newest.time)) / DAY
        out.append(f.judged("continuity.drill", days <= DRILL_DAYS,
                            f"last passed drill {days:.0f} days ago, RTO "
                            f"{newest.details.get('rto_s')} s (limit {DRILL_DAYS} days)",
                            seqs(drills)))
    return out


READERS: tuple[Callable[[Instance, Entries, float], list[Fact]], ...] = (
    custody, records, erasure, lockbox, patch_lag, access, ledger_facts, threat,
    evidence_report, egress, models, continuity)


def observe(inst: Instance, now: float) -> tuple[list[Fact], Entries]:
    led = read_entries(inst)
    return [fact for read in READERS for fact in read(inst, led, now)], led


__all__ = ["ACTIONS", "READERS", "observe", "read_entries", "room_present"]
