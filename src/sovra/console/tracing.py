"""A chat request's trace for the ledger explorer: who asked what of which model, fed
with which documents, and what came back, each ledger entry with its inclusion proof
checked here against the signed checkpoint the trace carries.

The lineage comes from the AI gateway's own ``Gateway.trace`` (``ai.trace`` decided on
the request's classification, a checkpoint signed for the proofs). The policy decision
that let the request in is recorded just before its request entry (ADR 0605): it is
found by a bounded keyset read (``explorer.search``: the same principal's nearest
``policy.decision`` below the request entry) and verified like any entry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from sovra.ai import Trace, TracedEntry
from sovra.console import explorer
from sovra.errors import SovraError
from sovra.ledger import Ledger
from sovra.ledger.merkle import leaf_hash, verify_inclusion
from sovra.ledger.note import open_checkpoint

# How far below the request entry its decision may sit: the two share a batch or the
# decision is a few entries earlier (retrieval records its own first).
DECISION_WINDOW = 256


@dataclass(frozen=True)
class Step:
    """One ledger entry of the trace and whether its proof verified here."""

    title: str
    seq: int
    entry: dict[str, Any]
    tree_size: int
    proof_hashes: int
    verified: bool
    reason: str


@dataclass(frozen=True)
class Shown:
    request_id: str
    steps: tuple[Step, ...]
    retrieved: tuple[dict[str, Any], ...]
    prompt_text: str | None
    answer_text: str | None


def _check(title: str, traced: TracedEntry, note: str | None, ledger: Ledger) -> Step:
    def step(reason: str, *, verified: bool = False) -> Step:
        return Step(title, traced.seq, traced.body, traced.tree_size,
                    len(traced.inclusion_proof), verified, reason)

    leaf = leaf_hash(traced.raw)
    if leaf.hex() != traced.leaf_hash:
        return step("the entry's bytes do not hash to its recorded leaf")
    if note is None:
        return step("no signed checkpoint came with the trace")
    try:
        checkpoint, _, _ = open_checkpoint(note, ledger.checkpoints.verifier)
        root = bytes.fromhex(traced.root_hash)
        if checkpoint.size != traced.tree_size or checkpoint.root_hash != root:
            return step(f"the proof leads to tree size {traced.tree_size}, not to "
                               f"the signed checkpoint (size {checkpoint.size})")
        verify_inclusion(traced.seq, traced.tree_size, leaf,
                         [bytes.fromhex(h) for h in traced.inclusion_proof], root)
    except (SovraError, ValueError) as exc:
        return step(f"the inclusion proof does not verify: {exc}")
    return step(f"included in the checkpoint of size {checkpoint.size} signed by "
                f"{checkpoint.origin}", verified=True)


def _decision(engine: Engine, ledger: Ledger, request: TracedEntry) -> Step | None:
    """The nearest ``models.use`` decision of the request's principal below it (others
    may sit between: retrieval decides on collections under the caller's own rights)."""
    actor = str(request.body.get("actor", ""))
    page = explorer.search(engine, ledger, explorer.Query(
        principal=actor, action="policy.decision", before=request.seq),
        window=DECISION_WINDOW, page_size=32)
    for row in page.rows:
        body = json.loads(ledger.entry(row.seq).body)
        details = body.get("details", {})
        if isinstance(details, dict) and details.get("action") == "models.use":
            checked = explorer.verify_entry(ledger, row.seq)
            return Step("Policy decision", checked.seq, checked.entry, checked.tree_size,
                        len(checked.proof), checked.verified, checked.reason)
    return None


def show(trace: Trace, engine: Engine, ledger: Ledger) -> Shown:
    steps = []
    decision = _decision(engine, ledger, trace.request)
    if decision is not None:
        steps.append(decision)
    steps.append(_check("Request", trace.request, trace.checkpoint, ledger))
    if trace.outcome is not None:
        steps.append(_check("Response", trace.outcome, trace.checkpoint, ledger))
    details = trace.request.body.get("details", {})
    chunks = details.get("chunks", []) if isinstance(details, dict) else []
    return Shown(trace.request_id, tuple(steps),
                 tuple(c for c in chunks if isinstance(c, dict)),
                 trace.prompt_text, trace.answer_text)


__all__ = ["DECISION_WINDOW", "Shown", "Step", "show"]
