"""An offline witness: check that a new checkpoint extends the last one seen, then cosign.

A witness holds its own key (cosignature/v1, c2sp.org/tlog-cosignature) and one piece of
state: the last checkpoint it cosigned. Given a newer checkpoint and a consistency proof
(or a whole export archive, from which it recomputes the tree itself), it verifies the
log's signature and RFC 9162 §2.1.4 consistency, refuses rollbacks and forks, and
returns the checkpoint with its cosignature line added. Pure: files are read and
written by the caller (``sovra ledger witness``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from sovra.errors import CheckpointError, NoteError, ProofError
from sovra.ledger import merkle
from sovra.ledger import note as notes
from sovra.ledger.archive import ArchiveContents
from sovra.ledger.parallel import levels_of
from sovra.ledger.tree import HashTree
from sovra.ledger.verify import verify_contents

MAX_PROOF_LINES = 128


@dataclass(frozen=True)
class Cosigned:
    """The witness's output: the cosigned checkpoint note and what it now remembers."""

    note: str
    checkpoint: notes.Checkpoint
    previous_size: int | None


def parse_proof(text: str) -> list[bytes]:
    """A consistency proof file: one base64 hash per line (what the API/CLI print)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_PROOF_LINES:
        raise ProofError(f"a proof has at most {MAX_PROOF_LINES} hashes")
    try:
        proof = [base64.b64decode(line, validate=True) for line in lines]
    except (binascii.Error, ValueError) as exc:
        raise ProofError("proof lines must be base64 hashes") from exc
    if any(len(h) != merkle.HASH_SIZE for h in proof):
        raise ProofError("proof hashes must be 32 bytes")
    return proof


def format_proof(proof: Sequence[bytes]) -> str:
    return "".join(base64.b64encode(h).decode("ascii") + "\n" for h in proof)


def cosign(signer: notes.Signer, log_key: notes.Verifier, previous: str | None,
           new_note: str, proof: Sequence[bytes], *, now: int) -> Cosigned:
    """Cosign ``new_note`` if it is consistent with ``previous`` (the state file).

    With no previous checkpoint this is trust on first use: the log's signature is still
    required, and the caller should say so to the operator.
    """
    if signer.key_type != notes.COSIGNATURE_V1:
        raise NoteError("the witness key must be a cosignature/v1 (type 0x04) key")
    new, note, _ = notes.open_checkpoint(new_note, log_key)
    old = None
    if previous is not None:
        old, _, _ = notes.open_checkpoint(previous, log_key)
        if new.size < old.size:
            raise CheckpointError(f"rollback: the new checkpoint has size {new.size}, the "
                                  f"witness already saw size {old.size}")
        try:
            merkle.verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)
        except ProofError as exc:
            raise CheckpointError(f"the new checkpoint is not consistent with the one the "
                                  f"witness saw at size {old.size}: {exc}") from exc
    # Keep the log's own signature line(s) and add ours (c2sp.org/tlog-cosignature).
    ours = signer.sign(note.text, timestamp=now)
    kept = tuple(s for s in note.signatures if (s.name, s.key_id) != (ours.name, ours.key_id))
    cosigned = notes.Note(note.text, (*kept, ours)).render()
    return Cosigned(cosigned, new, old.size if old else None)


def cosign_archive(signer: notes.Signer, log_key: notes.Verifier, previous: str | None,
                   contents: ArchiveContents, *, now: int) -> Cosigned:
    """Verify a whole export, then cosign its newest checkpoint.

    The consistency proof is computed here from the archive's own entries, so the
    witness trusts nothing the log says beyond its signature.
    """
    result = verify_contents(contents, log_key=log_key.vkey)
    if not result.valid:
        raise CheckpointError(f"the archive does not verify: {result.first_problem}")
    newest = max((c for c in contents.checkpoints if c.tree_size == result.latest_checkpoint),
                 key=lambda c: c.tree_size, default=None)
    if newest is None:
        raise CheckpointError("the archive holds no checkpoint to cosign")
    lines = contents.entries.split(b"\n")[:-1]
    tree = HashTree.from_levels(levels_of(lines))
    proof: list[bytes] = []
    if previous is not None:
        old, _, _ = notes.open_checkpoint(previous, log_key)
        if old.size <= tree.size and old.size <= newest.tree_size:
            proof = tree.consistency_proof(old.size, newest.tree_size)
    return cosign(signer, log_key, previous, newest.note, proof, now=now)
