"""Generate the signed evidence report of one instance over a period.

Order matters: check the ledger, sign (or reuse) a checkpoint, collect over the entries
that checkpoint covers, prove every cited entry against it, sign the report, and record
the report in the ledger. A ledger that fails its own integrity check gets no report:
nothing is signed that failed a check.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sovra.compliance import collectors, document
from sovra.compliance.catalog import REGIMES, controls_for, regimes
from sovra.compliance.evidence import ControlResult, Events, rfc3339, scan
from sovra.compliance.reportkey import load_or_create_report_key
from sovra.errors import CheckpointError, InvalidInputError, NotFoundError
from sovra.instance import Instance
from sovra.ledger import LedgerStore
from sovra.ledger import note as notes

ROOMS = ("sovra.keys", "sovra.policy", "sovra.lockbox", "sovra.data", "sovra.ai",
         "sovra.transfer", "sovra.threat", "sovra.continuity", "sovra.ledger")
# The ledger entry's fixed-width RFC 3339 time sits just before the closing '"}'.
_TIME = slice(-29, -2)


@dataclass(frozen=True)
class Generated:
    document: dict[str, Any]
    results: tuple[ControlResult, ...]
    ledger_seq: int  # the entry that records the report


def present_rooms() -> frozenset[str]:
    return frozenset(r for r in ROOMS if importlib.util.find_spec(r) is not None)


def _rows(store: LedgerStore, size: int, since: bytes, until: bytes,
          seen: list[int]) -> Iterator[tuple[int, bytes]]:
    for row in store.entries(0, size):
        when = row.body[_TIME]
        if since <= when < until:
            seen[0] += 1
        yield row.seq, row.body


def _state(inst: Instance, since: float, until: float) -> collectors.State:
    seal = inst.keys.custody.status()
    store = LedgerStore(inst.engine)
    in_period = {c.tree_size for c in store.checkpoints() if since <= c.created_at < until}
    cosigs = [c for c in store.cosignatures() if c.tree_size in in_period]
    return collectors.State(
        rooms=present_rooms(),
        custody={"initialized": seal.initialized, "mode": seal.mode, "dev_mode": seal.dev_mode,
                 "threshold": seal.threshold, "shares": seal.shares},
        review_quorum=inst.settings.lockbox_review_quorum,
        policy_versions=tuple(
            {"version": v.version, "status": v.status, "sha256": v.sha256,
             "proposed_by": v.proposed_by, "approved_by": v.approved_by}
            for v in inst.policy.versions()),
        checkpoints_in_period=len(in_period),
        cosigned_in_period=len({c.tree_size for c in cosigs}),
        witnesses=tuple(sorted({notes.parse_vkey(c.witness).name for c in cosigs})))


def _checkpoint(inst: Instance) -> tuple[str, notes.Checkpoint, list[str]]:
    """Sign the tree head (or reuse the last one) and attach its stored cosignatures."""
    if inst.ledger.integrity_problem is not None:
        raise CheckpointError(f"the ledger failed its integrity check, so no report is "
                              f"signed: {inst.ledger.integrity_problem}")
    signed = inst.ledger.sign_checkpoint()
    log_key = inst.ledger.checkpoints.verifier
    checkpoint, _, _ = notes.open_checkpoint(signed, log_key)
    text, witness_keys = signed, []
    try:
        latest = inst.ledger.latest_checkpoint()
    except NotFoundError:  # no stored row yet: the signed note is enough
        latest = signed
    if notes.parse_note(latest).text == notes.parse_note(signed).text:
        text = latest
        store = LedgerStore(inst.engine)
        witness_keys = sorted({c.witness for c in store.cosignatures()
                               if c.tree_size == checkpoint.size})
    return text, checkpoint, witness_keys


def generate(inst: Instance, *, since: float, until: float,
             regime_names: Sequence[str] = (), actor: str = "system",
             clock: Callable[[], float] = time.time) -> Generated:
    """Build, prove, sign and record the report over ``[since, until)``."""
    chosen = regimes(list(regime_names))
    if until <= since:
        raise InvalidInputError(f"the period ends ({rfc3339(until)}) before it starts "
                                f"({rfc3339(since)}): give --since before --until")
    note_text, checkpoint, witness_keys = _checkpoint(inst)
    store = LedgerStore(inst.engine)
    seen = [0]
    rows = _rows(store, checkpoint.size, rfc3339(since).encode(), rfc3339(until).encode(),
                 seen)
    events = scan(rows, collectors.ACTIONS, ("threat.",))
    if seen[0] == 0:
        raise InvalidInputError(f"the ledger holds no entries between {rfc3339(since)} and "
                                f"{rfc3339(until)} (signed up to entry "
                                f"{checkpoint.size}): choose a period with activity")
    ctx = collectors.Context(events, since, until, _state(inst, since, until))
    results = tuple(collectors.COLLECTORS[c.id](ctx) for c in controls_for(chosen))
    doc = _document(inst, chosen, since=since, until=until, now=clock(),
                    note_text=note_text, checkpoint=checkpoint, witness_keys=witness_keys,
                    results=results, events=events)
    signer = load_or_create_report_key(inst.settings.secrets_dir,
                                       inst.ledger.checkpoints.verifier.name)
    digest = document.signed_digest(doc)
    text = document.note_text(checkpoint.origin, digest)
    doc["signature"] = {"key": signer.verifier.vkey,
                        "note": notes.Note(text, (signer.sign(text),)).render()}
    receipt = inst.ledger.append(actor, "compliance.report", f"compliance/report/{digest}",
                                 "success", {"sha256": digest, "since": rfc3339(since),
                                             "until": rfc3339(until),
                                             "regimes": list(chosen),
                                             "checkpoint_size": checkpoint.size,
                                             "findings": len(doc["findings"])})
    return Generated(doc, results, receipt.seq)


def _document(inst: Instance, chosen: tuple[str, ...], *, since: float, until: float,
              now: float, note_text: str, checkpoint: notes.Checkpoint,
              witness_keys: list[str], results: tuple[ControlResult, ...],
              events: Events) -> dict[str, Any]:
    claims = [c for r in results for c in r.claims]
    cited = events.cited(claims)
    size = checkpoint.size
    articles = {r: {a: list(ids) for a, ids in REGIMES[r].items()} for r in chosen}
    return {
        "format": document.FORMAT,
        "origin": checkpoint.origin,
        "period": {"since": rfc3339(since), "until": rfc3339(until)},
        "generated_at": rfc3339(now),
        "regimes": articles,
        "checkpoint": {"note": note_text, "size": size, "root_hash": checkpoint.root_hash.hex(),
                       "log_key": inst.ledger.checkpoints.verifier.vkey,
                       "witness_keys": witness_keys},
        "controls": [{"id": r.control, "status": r.status.value, "summary": r.summary,
                      "claims": [c.id for c in r.claims],
                      "findings": [f.id for f in r.findings], "state": dict(r.state)}
                     for r in results],
        "findings": [{"id": f.id, "control": f.control, "title": f.title,
                      "description": f.description, "claims": list(f.claims)}
                     for r in results for f in r.findings],
        "claim_digests": {c.id: document.claim_digest(c.to_json()) for c in claims},
        "claims": [c.to_json() for c in claims],
        "entries": [{"seq": seq, "body": cited[seq].body.decode("utf-8"),
                     "proof": [p.hex() for p in inst.ledger.inclusion_proof(seq, size)]}
                    for seq in sorted(cited)],
    }


__all__ = ["Generated", "generate", "present_rooms"]
