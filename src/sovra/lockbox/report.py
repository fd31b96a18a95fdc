"""Evidence: each grant with its story in the ledger, every entry with an inclusion proof.

``sovra lockbox report --since DATE`` lists, for each request created since then: who
asked, what and why, who approved or denied from where, what was done under the grant
(every decision citing its id), and how it ended, each step as a ledger entry with its
RFC 9162 inclusion proof against one tree size, so an auditor checks the report offline
against a signed checkpoint of that size.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sovra.lockbox.values import AccessRequest, State


class _Row(Protocol):
    @property
    def seq(self) -> int: ...

    @property
    def body(self) -> bytes: ...

    @property
    def leaf_hash(self) -> bytes: ...


class _Proof(Protocol):
    @property
    def proof(self) -> list[bytes]: ...


class LedgerReader(Protocol):
    """What the report reads from ``sovra.ledger.Ledger``."""

    @property
    def size(self) -> int: ...

    def root(self, size: int | None = None) -> bytes: ...

    def tail(self, count: int) -> Sequence[_Row]: ...

    def entry_with_proof(self, seq: int, tree_size: int | None = None) -> _Proof: ...


@dataclass(frozen=True)
class Evidence:
    """One ledger entry about a grant, with its inclusion proof (hex hashes)."""

    seq: int
    time: str
    actor: str
    action: str
    outcome: str
    resource: str
    leaf_hash: str
    inclusion_proof: tuple[str, ...]


@dataclass(frozen=True)
class GrantReport:
    request: AccessRequest
    state: State
    lifecycle: tuple[Evidence, ...]  # request, votes, break-glass, revocation, use
    under_grant: tuple[Evidence, ...]  # decisions made under the grant


@dataclass(frozen=True)
class Report:
    since: float
    tree_size: int
    root_hash: str
    grants: tuple[GrantReport, ...]


def build_report(requests: Sequence[AccessRequest], ledger: LedgerReader,
                 state_of: Callable[[AccessRequest], State], since: float) -> Report:
    """The report over ``requests``, proofs against the ledger's size at this moment."""
    size = ledger.size
    seqs = [r.ledger_seq for r in requests if r.ledger_seq is not None]
    start = min(seqs) if seqs else size
    ids = {r.id for r in requests}
    lifecycle: dict[str, list[Evidence]] = {i: [] for i in ids}
    under: dict[str, list[Evidence]] = {i: [] for i in ids}
    for row in ledger.tail(size - start):
        entry = json.loads(row.body)
        resource = str(entry.get("resource", ""))
        grant_id = (entry.get("details") or {}).get("grant_id")
        target = resource.removeprefix("lockbox/") if resource.startswith("lockbox/") else None
        bucket = (lifecycle.get(target) if target in ids else
                  under.get(grant_id) if isinstance(grant_id, str) else None)
        if bucket is None:
            continue
        proof = ledger.entry_with_proof(row.seq, size).proof
        bucket.append(Evidence(row.seq, str(entry.get("time", "")), str(entry["actor"]),
                               str(entry["action"]), str(entry["outcome"]), resource,
                               row.leaf_hash.hex(), tuple(p.hex() for p in proof)))
    return Report(since, size, ledger.root(size).hex() if size else "", tuple(
        GrantReport(r, state_of(r), tuple(lifecycle[r.id]), tuple(under[r.id]))
        for r in requests))


def _evidence(found: Sequence[Evidence]) -> list[dict[str, object]]:
    return [{"seq": e.seq, "time": e.time, "actor": e.actor, "action": e.action,
             "outcome": e.outcome, "leaf_hash": e.leaf_hash,
             "inclusion_proof": list(e.inclusion_proof)} for e in found]


def report_json(report: Report) -> dict[str, object]:
    """The report as plain JSON (what the CLI prints and the API returns)."""
    grants = []
    for g in report.grants:
        r = g.request
        grants.append({
            "id": r.id, "state": g.state.value, "requester": r.requester,
            "jurisdiction": r.jurisdiction, "source": r.source, "scope": str(r.scope),
            "actions": list(r.actions), "reason": r.reason, "ticket": r.ticket,
            "breakglass": r.breakglass, "created_at": r.created_at,
            "granted_at": r.granted_at, "expires_at": r.expires_at,
            "votes": [{"voter": v.voter, "kind": v.kind.value,
                       "jurisdiction": v.jurisdiction, "source": v.source, "at": v.at,
                       "comment": v.comment} for v in r.votes],
            "ended": {"state": g.state.value, "at": r.ended_at or r.expires_at,
                      "by": r.ended_by, "reason": r.end_reason},
            "lifecycle": _evidence(g.lifecycle), "under_grant": _evidence(g.under_grant),
        })
    return {"since": report.since, "tree_size": report.tree_size,
            "root_hash": report.root_hash, "grants": grants}


__all__ = ["Evidence", "GrantReport", "LedgerReader", "Report", "build_report", "report_json"]
