"""The Merkle tree of RFC 9162 §2.1, as pure functions over hashes.

Nothing here opens files or sessions. Proof *generation* asks a ``SubtreeSource`` for the
hash of a subtree ``[start, end)``; the in-memory cache in ``sovra.ledger.tree`` answers
from precomputed levels, ``ListSource`` answers from a plain list of leaf hashes (for
tests and the offline verifier). Proof *verification* needs only the proof itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from itertools import repeat
from operator import add
from typing import Protocol

from sovra.errors import ProofError

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"  # RFC 9162 §2.1.1: domain separation of leaves ...
NODE_PREFIX = b"\x01"  # ... from interior nodes (second-preimage resistance)
EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 9162 §2.1.1: MTH({}) = HASH()

_sha256 = hashlib.sha256
_digest = type(_sha256()).digest
_join = b"".join


def leaf_hash(entry: bytes) -> bytes:
    """MTH({d(0)}) = HASH(0x00 || d(0)) (RFC 9162 §2.1.1)."""
    return _sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n])) (RFC 9162 §2.1.1)."""
    return _sha256(NODE_PREFIX + left + right).digest()


def leaf_hash_list(entries: Iterable[bytes]) -> list[bytes]:
    """Every entry's leaf hash, in order.

    The iteration runs in C (``map``) rather than a Python loop: verifying an export is
    dominated by per-call overhead, not by SHA-256 itself (benchmarks/ledger_verify.py).
    """
    return list(map(_digest, map(_sha256, map(add, repeat(LEAF_PREFIX), entries))))


def leaf_hashes(entries: Iterable[bytes]) -> bytes:
    """Every entry's leaf hash, concatenated (32 bytes each)."""
    return b"".join(leaf_hash_list(entries))


def parent_list(children: list[bytes]) -> list[bytes]:
    """The level above a list of sibling hashes: HASH(0x01 || left || right) per pair,
    an odd last hash left out (it is not a complete subtree yet)."""
    # zip stops at the shorter slice, which drops an odd last child; b"".join builds
    # each 65-byte node input in one call (cheaper than two concatenations).
    inputs = map(_join, zip(repeat(NODE_PREFIX), children[0::2], children[1::2]))
    return list(map(_digest, map(_sha256, inputs)))


def complete_levels(leaf_hash_list: list[bytes]) -> list[list[bytes]]:
    """Every level of complete, aligned subtrees above the leaves (leaves first)."""
    levels = [leaf_hash_list]
    while len(levels[-1]) >= 2:
        levels.append(parent_list(levels[-1]))
    return levels


def hash_pairs(level: bytes) -> bytes:
    """``parent_list`` for a level stored as concatenated 32-byte hashes."""
    children = [level[i:i + HASH_SIZE] for i in range(0, len(level), HASH_SIZE)]
    return b"".join(parent_list(children))


def split_point(n: int) -> int:
    """The largest power of two smaller than ``n`` (``k < n <= 2k``), for ``n > 1``."""
    return 1 << ((n - 1).bit_length() - 1)


class SubtreeSource(Protocol):
    """Anything that can return MTH(D[start:end]) for ``0 <= start < end <= size``."""

    def subtree_hash(self, start: int, end: int) -> bytes: ...


class ListSource:
    """A ``SubtreeSource`` over a list of leaf hashes (reference implementation)."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self._leaves = leaf_hashes

    def subtree_hash(self, start: int, end: int) -> bytes:
        return root_of(self._leaves[start:end])


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) from the leaf hashes, level by level (RFC 9162 §2.1.1)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        # Levels are built left to right; an odd last node is carried up unchanged,
        # which yields exactly the RFC's split at the largest power of two.
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _check_range(index: int, size: int) -> None:
    if size <= 0 or not 0 <= index < size:
        raise ProofError(f"leaf index {index} is out of range for a tree of size {size}")


def inclusion_proof(index: int, size: int, source: SubtreeSource) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1, ordered from the leaf up."""
    _check_range(index, size)
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            path.append(source.subtree_hash(start + k, end))
            end = start + k
        else:
            path.append(source.subtree_hash(start, start + k))
            start += k
    path.reverse()
    return path


def inclusion_proof_length(index: int, size: int) -> int:
    """How many hashes PATH(index, D[size]) holds (inner levels plus the right border)."""
    _check_range(index, size)
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner + border


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root a proof implies for ``leaf`` at ``index`` (RFC 9162 §2.1.3.2)."""
    want = inclusion_proof_length(index, size)
    if len(proof) != want:
        raise ProofError(f"inclusion proof has {len(proof)} hashes; index {index} in a tree "
                         f"of size {size} needs {want}")
    _check_hashes([leaf, *proof])
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # cannot happen after the length check; kept as the RFC's own test
        raise ProofError("inclusion proof does not reach the root")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes],
                     root: bytes) -> None:
    """Raise ``ProofError`` unless ``proof`` shows ``leaf`` at ``index`` under ``root``."""
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError(f"inclusion proof for index {index} in tree size {size} does not "
                         "match the root hash")


def consistency_proof(old_size: int, new_size: int, source: SubtreeSource) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 §2.1.4.1; empty when ``m`` is 0 or ``m == n``."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    start, end, m, complete = 0, new_size, old_size, True
    while m != end - start:
        k = split_point(end - start)
        if m <= k:
            proof.append(source.subtree_hash(start + k, end))
            end = start + k
        else:
            proof.append(source.subtree_hash(start, start + k))
            start += k
            m -= k
            complete = False
    if not complete:  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
        proof.append(source.subtree_hash(start, end))
    proof.reverse()
    return proof


def consistency_proof_length(old_size: int, new_size: int) -> int:
    """How many hashes PROOF(old_size, D[new_size]) holds."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return 0
    index = old_size - 1
    inner = (index ^ (new_size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    shift = (old_size & -old_size).bit_length() - 1  # trailing zero bits of old_size
    seed = 0 if old_size == 1 << shift else 1
    return seed + inner - shift + border


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """Raise ``ProofError`` unless ``proof`` shows tree ``new`` extends tree ``old``.

    RFC 9162 §2.1.4.2, with the empty-tree and equal-size cases made explicit.
    """
    want = consistency_proof_length(old_size, new_size)
    if len(proof) != want:
        raise ProofError(f"consistency proof has {len(proof)} hashes; sizes {old_size} -> "
                         f"{new_size} need {want}")
    _check_hashes([old_root, new_root, *proof])
    if old_size == 0:
        return  # the empty tree is a prefix of every tree
    if old_size == new_size:
        if old_root != new_root:
            raise ProofError(f"two different roots for the same tree size {old_size}")
        return
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)  # step 2: old tree is a complete subtree, its root seeds
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != old_root or sr != new_root:
        raise ProofError(f"consistency proof from size {old_size} to {new_size} does not "
                         "match the roots: the log was rewritten or the proof is wrong")


def _check_hashes(hashes: Sequence[bytes]) -> None:
    for value in hashes:
        if not isinstance(value, bytes) or len(value) != HASH_SIZE:
            raise ProofError(f"hashes must be {HASH_SIZE} bytes")
