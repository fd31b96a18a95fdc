"""``sovra trace REQUEST_ID``: a request's lineage with the ledger's inclusion proofs.

The lineage is read from the ledger entries themselves (the request entry written
before the model ran and the outcome entry written after), not from the index, so what
an auditor sees is exactly what was hashed into the log. Each entry comes with its RFC
9162 §2.1.3 inclusion proof against the current tree head, which an offline verifier
can check with the entry's bytes alone.

The index row only says where the entries are; where it is missing (lost in a crash,
ADR 0608) the index finds them in the ledger. A trace shows what the request touched, so
it is classified like it: the highest of the request's recorded classifications (the
retrieved documents' levels are floors of it), and ``authorize`` is asked with that level
before any part of the trace is read back or decrypted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sovra.ai.levels import LEVELS, highest
from sovra.ai.ports import KeysPort, LedgerPort, PolicyPort, Principal
from sovra.ai.request_index import RequestIndex
from sovra.errors import NotFoundError, PermissionDeniedError, ProofError
from sovra.ledger.merkle import leaf_hash, verify_inclusion


@dataclass(frozen=True)
class TracedEntry:
    seq: int
    leaf_hash: str
    raw: bytes  # the canonical (RFC 8785) bytes the leaf hash covers
    body: dict[str, Any]
    tree_size: int
    root_hash: str
    inclusion_proof: tuple[str, ...]


@dataclass(frozen=True)
class Trace:
    request_id: str
    request: TracedEntry
    outcome: TracedEntry | None
    prompt_text: str | None
    answer_text: str | None
    checkpoint: str | None  # the signed note (C2SP tlog-checkpoint) the proofs lead to

    def as_dict(self) -> dict[str, Any]:
        def entry(e: TracedEntry | None) -> dict[str, Any] | None:
            if e is None:
                return None
            return {"seq": e.seq, "leaf_hash": e.leaf_hash, "entry": e.body,
                    "entry_canonical": e.raw.decode(),
                    "tree_size": e.tree_size, "root_hash": e.root_hash,
                    "inclusion_proof": list(e.inclusion_proof)}
        return {"request_id": self.request_id, "request": entry(self.request),
                "outcome": entry(self.outcome), "checkpoint": self.checkpoint,
                "prompt_text": self.prompt_text, "answer_text": self.answer_text}


def _traced(ledger: LedgerPort, seq: int, size: int) -> TracedEntry:
    row = ledger.entry(seq)
    proof = ledger.inclusion_proof(seq, size)
    return TracedEntry(seq=seq, leaf_hash=row.leaf_hash.hex(), raw=bytes(row.body),
                       body=json.loads(row.body),
                       tree_size=size, root_hash=ledger.root(size).hex(),
                       inclusion_proof=tuple(p.hex() for p in proof))


Checkpoint = Callable[[], tuple[int, str]]
# Raises ``PermissionDeniedError`` unless the caller may see a trace of this level.
Authorize = Callable[[str], None]


def trace_level(request_entry: dict[str, Any]) -> str:
    """The classification of what a trace shows: the highest the request entry records
    (after and before redaction: kept prompt text is the unredacted one). An entry that
    records none is taken as the highest level (fail closed)."""
    details = request_entry.get("details", {})
    levels = [details.get(k) for k in ("classification", "classification_before")]
    known = [lv for lv in levels if isinstance(lv, str) and lv in LEVELS]
    return highest(known) if known else LEVELS[-1]


def trace_sync(index: RequestIndex, ledger: LedgerPort, keys: KeysPort | None,
               request_id: str, *, keyring: str, checkpoint: Checkpoint | None = None,
               authorize: Authorize | None = None) -> Trace:
    """Look the request up; ``checkpoint`` signs (or returns) the tree head to prove to;
    ``authorize`` decides on the trace's level before anything is read back."""
    row = index.find(request_id)
    if row is None or row.request_seq is None:
        raise NotFoundError(f"no request {request_id!r} is recorded on this instance")
    size, note = checkpoint() if checkpoint is not None else (ledger.size, None)
    request = _traced(ledger, row.request_seq, size)
    if request.body.get("details", {}).get("request_id") != request_id:
        raise NotFoundError(f"ledger entry {row.request_seq} is not request {request_id!r}")
    if authorize is not None:
        authorize(trace_level(request.body))
    outcome = None
    if row.outcome_seq is not None and row.outcome_seq < size:
        outcome = _traced(ledger, row.outcome_seq, size)
    prompt = answer = None
    if keys is not None and row.prompt_ciphertext is not None:
        prompt = keys.decrypt(keyring, f"{request_id}/prompt", row.prompt_ciphertext).decode()
    if keys is not None and row.answer_ciphertext is not None:
        answer = keys.decrypt(keyring, f"{request_id}/answer", row.answer_ciphertext).decode()
    return Trace(request_id, request, outcome, prompt, answer, note)


def signed_head(ledger: LedgerPort, *, sign: bool) -> tuple[int, str] | None:
    """The signed tree head to prove inclusion against.

    The serving process signs a fresh one. Another process (the CLI beside a running
    server) must not sign — the server is the log's signer — so it proves against the
    last checkpoint the server signed, or the current tree head unsigned.
    """
    checkpoints = getattr(ledger, "checkpoints", None)
    if checkpoints is None:
        return None
    signed = checkpoints.sign() if sign else checkpoints.last_signed
    if signed is None:
        return None
    return int(signed.checkpoint.size), str(signed.note)


def policy_authorizer(policy: PolicyPort | None, caller: Principal, request_id: str
                      ) -> Authorize:
    """``authorize`` for ``caller``: ``ai.trace`` on the trace with its classification,
    so the clearance rule of the documents the request touched (00-clearance.cedar)
    decides; the decision is recorded by the policy port before anything is returned."""
    def authorize(level: str) -> None:
        if policy is None:
            raise PermissionDeniedError("no policy engine to decide who may read a trace",
                                        ("no policy engine",))
        policy.require(caller, "ai.trace", "Trace", request_id, {"classification": level})
    return authorize


def lineage(index: RequestIndex, ledger: LedgerPort, keys: KeysPort | None, request_id: str,
            *, keyring: str, sign: bool, authorize: Authorize | None) -> Trace:
    """The trace, proved to a signed head where one covers the request (see
    ``signed_head``), else to the current tree head."""
    signed = signed_head(ledger, sign=sign)
    row = index.find(request_id)
    last = max((s for s in (row.request_seq, row.outcome_seq) if s is not None), default=0
               ) if row is not None else 0
    if signed is not None and signed[0] <= last:
        signed = None  # the last signed head predates this request: prove to the tip
    return trace_sync(index, ledger, keys, request_id, keyring=keyring,
                      checkpoint=(lambda: signed) if signed is not None else None,
                      authorize=authorize)


def verify_trace(found: Trace) -> None:
    """Check every entry's inclusion proof (RFC 9162 §2.1.3.2); raise ``ProofError``."""
    for entry in (found.request, found.outcome):
        if entry is None:
            continue
        leaf = bytes.fromhex(entry.leaf_hash)
        verify_inclusion(entry.seq, entry.tree_size, leaf,
                         [bytes.fromhex(p) for p in entry.inclusion_proof],
                         bytes.fromhex(entry.root_hash))
        if leaf_hash(entry.raw) != leaf:
            raise ProofError(f"ledger entry {entry.seq} does not hash to its leaf")
