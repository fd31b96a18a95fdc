"""The offline witness: cosign only checkpoints consistent with the last one seen."""

from __future__ import annotations

import dataclasses

import pytest

from sovra.errors import CheckpointError, NoteError, ProofError
from sovra.ledger import merkle
from sovra.ledger import note as notes
from sovra.ledger.archive import ArchivedCheckpoint, ArchivedCosignature
from sovra.ledger.tree import HashTree
from sovra.ledger.verify import verify_contents
from sovra.ledger.witness import cosign, cosign_archive, format_proof, parse_proof
from tests.ledger.test_mutations import build_contents

LOG = notes.Signer.generate("sovra.local/ledger/w-test")
WITNESS = notes.Signer.generate("witness.example.org/w1", notes.COSIGNATURE_V1)


def _tree(leaves: list[bytes]) -> HashTree:
    return HashTree.from_leaf_hashes([merkle.leaf_hash(x) for x in leaves])


def _signed(tree: HashTree, size: int) -> str:
    return notes.sign_checkpoint(notes.Checkpoint(LOG.name, size, tree.root(size)), LOG)


def test_first_checkpoint_is_trusted_on_first_use() -> None:
    tree = _tree([b"a", b"b", b"c"])
    result = cosign(WITNESS, LOG.verifier, None, _signed(tree, 3), [], now=1_700_000_000)
    assert result.previous_size is None and result.checkpoint.size == 3
    _, _, good = notes.open_checkpoint(result.note, LOG.verifier, [WITNESS.verifier])
    assert good == [WITNESS.verifier]


def test_consistent_growth_is_cosigned() -> None:
    tree = _tree([bytes([i]) for i in range(20)])
    old = cosign(WITNESS, LOG.verifier, None, _signed(tree, 7), [], now=1).note
    proof = tree.consistency_proof(7, 20)
    new = cosign(WITNESS, LOG.verifier, old, _signed(tree, 20), proof, now=2)
    assert (new.previous_size, new.checkpoint.size) == (7, 20)


def test_fork_is_refused() -> None:
    honest = _tree([bytes([i]) for i in range(20)])
    forked = _tree([bytes([i]) for i in range(6)] + [b"evil"] + [bytes([i]) for i in range(7, 20)])
    old = cosign(WITNESS, LOG.verifier, None, _signed(honest, 10), [], now=1).note
    with pytest.raises(CheckpointError, match="not consistent"):
        cosign(WITNESS, LOG.verifier, old, _signed(forked, 20), forked.consistency_proof(10, 20),
               now=2)


def test_rollback_is_refused() -> None:
    tree = _tree([bytes([i]) for i in range(20)])
    old = cosign(WITNESS, LOG.verifier, None, _signed(tree, 20), [], now=1).note
    with pytest.raises(CheckpointError, match="rollback"):
        cosign(WITNESS, LOG.verifier, old, _signed(tree, 10), [], now=2)


def test_checkpoint_from_another_key_is_refused() -> None:
    impostor = notes.Signer.generate(LOG.name)
    tree = _tree([b"a"])
    forged = notes.sign_checkpoint(notes.Checkpoint(LOG.name, 1, tree.root()), impostor)
    with pytest.raises(NoteError):
        cosign(WITNESS, LOG.verifier, None, forged, [], now=1)


def test_a_log_key_cannot_act_as_witness_key() -> None:
    tree = _tree([b"a"])
    with pytest.raises(NoteError, match="cosignature/v1"):
        cosign(LOG, LOG.verifier, None, _signed(tree, 1), [], now=1)


def test_proof_files_round_trip_and_reject_garbage() -> None:
    proof = _tree([bytes([i]) for i in range(9)]).consistency_proof(3, 9)
    assert parse_proof(format_proof(proof)) == proof
    for bad in ("not base64!\n", "AAAA\n", "QUJD\n" * 200):
        with pytest.raises(ProofError):
            parse_proof(bad)


def test_cosign_an_archive_and_verify_the_cosignature() -> None:
    contents, signer = build_contents()
    first = cosign_archive(WITNESS, signer.verifier, None, contents, now=5)
    assert first.checkpoint.size == 80
    # The witness saw size 80; a later export of the same log extends it.
    more, _ = build_contents(n=100, sizes=(80, 100), signer=signer)
    second = cosign_archive(WITNESS, signer.verifier, first.note, more, now=6)
    assert (second.previous_size, second.checkpoint.size) == (80, 100)
    line = notes.parse_note(second.note).signatures[-1].line()
    with_cosig = dataclasses.replace(more, cosignatures=(
        ArchivedCosignature(100, WITNESS.verifier.vkey, line),))
    result = verify_contents(with_cosig, log_key=signer.verifier.vkey,
                             witnesses=[WITNESS.verifier.vkey])
    assert result.valid, result.problems
    assert result.witnesses == {"witness.example.org/w1": 100}
    unwitnessed = verify_contents(more, log_key=signer.verifier.vkey,
                                  witnesses=[WITNESS.verifier.vkey])
    assert not unwitnessed.valid and unwitnessed.first_problem is not None
    assert unwitnessed.first_problem.where == "cosignature"


def test_cosign_archive_refuses_an_invalid_archive() -> None:
    contents, signer = build_contents()
    broken = dataclasses.replace(contents, checkpoints=(
        ArchivedCheckpoint(80, contents.checkpoints[0].note),))
    with pytest.raises(CheckpointError, match="does not verify"):
        cosign_archive(WITNESS, signer.verifier, None, broken, now=5)
