"""``sovra trace REQUEST_ID``: a request's lineage with the ledger's inclusion proofs.

The lineage is read from the ledger entries themselves (the request entry written
before the model ran and the outcome entry written after), not from the index, so what
an auditor sees is exactly what was hashed into the log. Each entry comes with its RFC
9162 §2.1.3 inclusion proof against the current tree head, which an offline verifier
can check with the entry's bytes alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sovra.ai.ports import KeysPort, LedgerPort
from sovra.ai.request_index import RequestIndex
from sovra.errors import NotFoundError


@dataclass(frozen=True)
class TracedEntry:
    seq: int
    leaf_hash: str
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

    def as_dict(self) -> dict[str, Any]:
        def entry(e: TracedEntry | None) -> dict[str, Any] | None:
            if e is None:
                return None
            return {"seq": e.seq, "leaf_hash": e.leaf_hash, "entry": e.body,
                    "tree_size": e.tree_size, "root_hash": e.root_hash,
                    "inclusion_proof": list(e.inclusion_proof)}
        return {"request_id": self.request_id, "request": entry(self.request),
                "outcome": entry(self.outcome), "prompt_text": self.prompt_text,
                "answer_text": self.answer_text}


def _traced(ledger: LedgerPort, seq: int, size: int) -> TracedEntry:
    row = ledger.entry(seq)
    proof = ledger.inclusion_proof(seq, size)
    return TracedEntry(seq=seq, leaf_hash=row.leaf_hash.hex(), body=json.loads(row.body),
                       tree_size=size, root_hash=ledger.root(size).hex(),
                       inclusion_proof=tuple(p.hex() for p in proof))


async def trace(index: RequestIndex, ledger: LedgerPort, keys: KeysPort | None,
                request_id: str, *, keyring: str) -> Trace:
    await index.flush()
    return trace_sync(index, ledger, keys, request_id, keyring=keyring)


def trace_sync(index: RequestIndex, ledger: LedgerPort, keys: KeysPort | None,
               request_id: str, *, keyring: str) -> Trace:
    row = index.get(request_id)
    if row is None or row.request_seq is None:
        raise NotFoundError(f"no request {request_id!r} is recorded on this instance")
    size = ledger.size
    request = _traced(ledger, row.request_seq, size)
    if request.body.get("details", {}).get("request_id") != request_id:
        raise NotFoundError(f"ledger entry {row.request_seq} is not request {request_id!r}")
    outcome = _traced(ledger, row.outcome_seq, size) if row.outcome_seq is not None else None
    prompt = answer = None
    if keys is not None and row.prompt_ciphertext is not None:
        prompt = keys.decrypt(keyring, f"{request_id}/prompt", row.prompt_ciphertext).decode()
    if keys is not None and row.answer_ciphertext is not None:
        answer = keys.decrypt(keyring, f"{request_id}/answer", row.answer_ciphertext).decode()
    return Trace(request_id, request, outcome, prompt, answer)
