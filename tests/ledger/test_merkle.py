"""RFC 9162 §2.1 Merkle core: published vectors, then properties over random sizes.

The vectors are the RFC 6962 reference vectors used by Google's Certificate
Transparency implementations, as published in transparency-dev/merkle
(``testonly/constants.go`` for leaves, subtree and root hashes; ``proof/verify_test.go``
for inclusion and consistency proofs, where leaf numbers are 1-based).
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sovra.errors import ProofError
from sovra.ledger import merkle
from sovra.ledger.tree import HashTree

LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
LEAF_HASHES = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1")]
ROOTS = [bytes.fromhex(h) for h in (  # index = tree size
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")]
H = bytes.fromhex
INCLUSION = [  # (0-based index, size, proof)
    (0, 8, [H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (5, 8, [H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 3, [H("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (1, 5, [H("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
]
CONSISTENCY = [  # (size1, size2, proof)
    (1, 1, []),
    (1, 8, [H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (6, 8, [H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 5, [H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
    (6, 7, [H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            H("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
]
SOME_HASH = H("abacaba000000000000000000000000000000000000000000060061e00123456")


def reference_mth(leaves: list[bytes]) -> bytes:
    """MTH straight from the RFC 9162 §2.1.1 recursive definition."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256().digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + reference_mth(leaves[:k]) + reference_mth(leaves[k:])).digest()


def test_leaf_hashes_match_vectors() -> None:
    assert [merkle.leaf_hash(x) for x in LEAVES] == LEAF_HASHES


@pytest.mark.parametrize("size", range(9))
def test_roots_match_vectors(size: int) -> None:
    assert merkle.root_of(LEAF_HASHES[:size]) == ROOTS[size]
    assert HashTree.from_leaf_hashes(LEAF_HASHES[:size]).root() == ROOTS[size]
    assert reference_mth(LEAVES[:size]) == ROOTS[size]


def test_tree_answers_every_historical_root() -> None:
    tree = HashTree.from_leaf_hashes(LEAF_HASHES)
    assert [tree.root(size) for size in range(9)] == ROOTS


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_proofs_match_vectors(index: int, size: int, proof: list[bytes]) -> None:
    tree = HashTree.from_leaf_hashes(LEAF_HASHES)
    assert tree.inclusion_proof(index, size) == proof
    merkle.verify_inclusion(index, size, LEAF_HASHES[index], proof, ROOTS[size])


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY)
def test_consistency_proofs_match_vectors(size1: int, size2: int, proof: list[bytes]) -> None:
    tree = HashTree.from_leaf_hashes(LEAF_HASHES)
    assert tree.consistency_proof(size1, size2) == proof
    merkle.verify_consistency(size1, size2, ROOTS[size1], ROOTS[size2], proof)


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_corrupted_inclusion_proofs_fail(index: int, size: int, proof: list[bytes]) -> None:
    leaf, root = LEAF_HASHES[index], ROOTS[size]
    probes = [
        (index - 1, size, leaf, proof, root), (index + 1, size, leaf, proof, root),
        (index ^ 2, size, leaf, proof, root), (index, size * 2, leaf, proof, root),
        (index, size // 2, leaf, proof, root), (index, size, SOME_HASH, proof, root),
        (index, size, leaf, proof, ROOTS[0]), (index, size, leaf, proof, SOME_HASH),
        (index, size, leaf, [*proof, root], root), (index, size, leaf, [root, *proof], root),
        (index, size, leaf, proof[:-1], root), (index, size, leaf, [*proof, b""], root),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        probes.append((index, size, leaf, flipped, root))
    for probe in probes:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(*probe)


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY[1:])
def test_corrupted_consistency_proofs_fail(size1: int, size2: int, proof: list[bytes]) -> None:
    r1, r2 = ROOTS[size1], ROOTS[size2]
    probes = [
        (size1 - 1, size2, r1, r2, proof), (size1 + 1, size2, r1, r2, proof),
        (size1 ^ 2, size2, r1, r2, proof), (size1, size2 * 2, r1, r2, proof),
        (size1, size2 // 2, r1, r2, proof), (size1, size2, SOME_HASH, r2, proof),
        (size1, size2, r1, SOME_HASH, proof), (size1, size2, r2, r1, proof),
        (size1, size2, r1, r2, []), (size1, size2, r1, r2, [*proof, r1]),
        (size1, size2, r1, r2, [r2, *proof]), (size1, size2, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        probes.append((size1, size2, r1, r2, flipped))
    for probe in probes:
        with pytest.raises(ProofError):
            merkle.verify_consistency(*probe)


def test_trivial_consistency_cases() -> None:
    merkle.verify_consistency(0, 0, ROOTS[0], ROOTS[0], [])
    merkle.verify_consistency(0, 5, SOME_HASH, ROOTS[5], [])
    merkle.verify_consistency(3, 3, ROOTS[3], ROOTS[3], [])
    for bad in [(3, 3, ROOTS[3], ROOTS[4], []), (1, 0, ROOTS[1], ROOTS[0], []),
                (0, 1, ROOTS[0], ROOTS[1], [ROOTS[0]]), (1, 2, ROOTS[1], ROOTS[2], [])]:
        with pytest.raises(ProofError):
            merkle.verify_consistency(*bad)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (2, 1), (-1, 4), (8, 8)])
def test_inclusion_index_out_of_range_is_a_proof_error(index: int, size: int) -> None:
    with pytest.raises(ProofError, match="out of range"):
        merkle.verify_inclusion(index, size, SOME_HASH, [], SOME_HASH)
    tree = HashTree.from_leaf_hashes(LEAF_HASHES)
    with pytest.raises(ProofError):
        tree.inclusion_proof(index, size)


def test_proof_requests_beyond_the_tree_are_proof_errors() -> None:
    tree = HashTree.from_leaf_hashes(LEAF_HASHES)
    for call in (lambda: tree.inclusion_proof(0, 9), lambda: tree.consistency_proof(2, 9),
                 lambda: tree.consistency_proof(5, 4), lambda: tree.root(9),
                 lambda: tree.leaf_hash(8), lambda: tree.subtree_hash(3, 3)):
        with pytest.raises(ProofError):
            call()


def test_proof_of_wrong_length_names_the_lengths() -> None:
    with pytest.raises(ProofError, match=r"has 2 hashes.*needs 3"):
        merkle.verify_inclusion(0, 8, LEAF_HASHES[0], INCLUSION[0][2][:2], ROOTS[8])
    with pytest.raises(ProofError, match=r"has 4 hashes.*need 3"):
        merkle.verify_consistency(6, 8, ROOTS[6], ROOTS[8], [*CONSISTENCY[2][2], SOME_HASH])


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_random_inclusion_proofs_verify(size: int, data: st.DataObject) -> None:
    leaves = _leaves(size)
    tree = HashTree.from_leaf_hashes(leaves)
    root = reference_mth([i.to_bytes(4, "big") for i in range(size)])
    assert tree.root() == root == merkle.root_of(leaves)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = tree.inclusion_proof(index, size)
    assert proof == merkle.inclusion_proof(index, size, merkle.ListSource(leaves))
    assert len(proof) == merkle.inclusion_proof_length(index, size)
    merkle.verify_inclusion(index, size, leaves[index], proof, root)
    other = data.draw(st.integers(min_value=0, max_value=size - 1))
    if other != index and leaves[other] != leaves[index]:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(index, size, leaves[other], proof, root)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_random_consistency_proofs_verify(new: int, data: st.DataObject) -> None:
    old = data.draw(st.integers(min_value=0, max_value=new))
    leaves = _leaves(new)
    tree = HashTree.from_leaf_hashes(leaves)
    proof = tree.consistency_proof(old, new)
    assert proof == merkle.consistency_proof(old, new, merkle.ListSource(leaves))
    assert len(proof) == merkle.consistency_proof_length(old, new)
    merkle.verify_consistency(old, new, tree.root(old), tree.root(new), proof)
    if 0 < old < new:
        forked = HashTree.from_leaf_hashes([*leaves[:old - 1], SOME_HASH, *leaves[old:]])
        with pytest.raises(ProofError):
            merkle.verify_consistency(old, new, forked.root(old), tree.root(new), proof)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=8))
def test_incremental_extends_equal_one_build(chunks: list[int]) -> None:
    leaves = _leaves(sum(chunks))
    tree, done = HashTree(), 0
    for chunk in chunks:
        tree.extend(leaves[done:done + chunk])
        done += chunk
        assert tree.root() == merkle.root_of(leaves[:done])
    assert tree.size == len(leaves)
    whole = HashTree.from_leaf_hashes(leaves)
    for size in range(1, len(leaves) + 1):  # every level complete, not only the root
        assert tree.root(size) == whole.root(size)
        assert tree.inclusion_proof(size - 1, len(leaves)) == whole.inclusion_proof(
            size - 1, len(leaves))


def test_one_leaf_per_extend_builds_every_level() -> None:
    """The ledger's writer with one caller: each commit appends one leaf and hashes only
    the levels that gained a node (``stop_when_unchanged``)."""
    leaves = _leaves(300)
    tree = HashTree()
    for leaf in leaves:
        tree.extend([leaf])
    whole = HashTree.from_leaf_hashes(leaves)
    for size in range(1, 301):
        assert tree.root(size) == whole.root(size) == merkle.root_of(leaves[:size])
    for index in range(300):
        assert tree.inclusion_proof(index, 300) == whole.inclusion_proof(index, 300)
