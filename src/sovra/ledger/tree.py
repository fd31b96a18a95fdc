"""A compact in-memory cache of every complete, aligned subtree hash.

Level ``L`` is one contiguous ``bytearray`` holding MTH(D[i*2^L : (i+1)*2^L]) for every
complete aligned subtree, 32 bytes each: about 64 bytes per leaf in total, no Python
object per node. Every subtree RFC 9162 proofs ask for is either one of these or a
right-edge subtree made of O(log n) of them, so an inclusion proof at a million leaves
costs a few dozen hash lookups instead of recomputing the tree.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from sovra.errors import ProofError
from sovra.ledger import merkle

_H = merkle.HASH_SIZE


class HashTree:
    """Append-only subtree-hash cache; thread safe (one writer, many readers)."""

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0
        self._lock = threading.Lock()

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Iterable[bytes]) -> HashTree:
        hashes = list(leaf_hashes)
        if any(len(h) != _H for h in hashes):
            raise ValueError("leaf hashes are 32 bytes each")
        return cls.from_levels([bytearray().join(level)
                                for level in merkle.complete_levels(hashes)])

    @property
    def size(self) -> int:
        return self._size

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append leaves (32-byte hashes) and every complete subtree they finish."""
        self.extend_joined(b"".join(leaf_hashes))

    def extend_joined(self, data: bytes) -> None:
        """``extend`` for leaf hashes already concatenated into one buffer."""
        if len(data) % _H:
            raise ValueError("leaf hashes are 32 bytes each")
        with self._lock:
            self._levels[0] += data
            self._build_up(stop_when_unchanged=True)

    @classmethod
    def from_levels(cls, levels: Sequence[bytes | bytearray]) -> HashTree:
        """A tree from precomputed levels (``levels[L]``: every complete aligned subtree
        of 2^L leaves, in order, as computed in parallel by ``sovra.ledger.parallel``);
        the levels above are completed here. A level given as a ``bytearray`` is taken
        over, not copied (a million leaves make 64 MB of levels): the caller must not
        use it afterwards."""
        tree = cls()
        if levels and levels[0]:
            tree._levels = [level if type(level) is bytearray else bytearray(level)
                            for level in levels]
            tree._build_up()
        return tree

    def _build_up(self, *, stop_when_unchanged: bool = False) -> None:
        """Hash every complete subtree the levels lack. ``stop_when_unchanged``: the
        levels were complete before leaves were appended, so once a level gains no node
        none above it can (one append per commit then hashes about two levels instead of
        walking all twenty)."""
        level = 0
        while len(self._levels[level]) >= 2 * _H:
            if len(self._levels) == level + 1:
                self._levels.append(bytearray())
            below, above = self._levels[level], self._levels[level + 1]
            have, can = len(above) // _H, len(below) // (2 * _H)
            if can > have:
                above += merkle.hash_pairs(bytes(below[have * 2 * _H:can * 2 * _H]))
            elif stop_when_unchanged:
                break
            level += 1
        self._size = len(self._levels[0]) // _H

    def leaf_hash(self, index: int) -> bytes:
        if not 0 <= index < self._size:
            raise ProofError(f"leaf index {index} is out of range for a tree of size "
                             f"{self._size}")
        return bytes(self._levels[0][index * _H:(index + 1) * _H])

    def leaf_level(self) -> bytes:
        """Every leaf hash, concatenated."""
        return bytes(self._levels[0])

    def leaf_hashes(self, start: int = 0, end: int | None = None) -> list[bytes]:
        end = self._size if end is None else end
        data = bytes(self._levels[0][start * _H:end * _H])
        return [data[i:i + _H] for i in range(0, len(data), _H)]

    def subtree_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) from cached levels (``merkle.SubtreeSource``)."""
        if not 0 <= start < end <= self._size:
            raise ProofError(f"subtree [{start}, {end}) is outside the tree of size "
                             f"{self._size}")
        return self._subtree(start, end)

    def _subtree(self, start: int, end: int) -> bytes:
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            level = n.bit_length() - 1
            i = start >> level
            return bytes(self._levels[level][i * _H:(i + 1) * _H])
        k = merkle.split_point(n)
        return merkle.node_hash(self._subtree(start, start + k), self._subtree(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        """The tree head at ``size`` (default: now), for any size up to the current one."""
        size = self._size if size is None else size
        if not 0 <= size <= self._size:
            raise ProofError(f"tree size {size} is larger than the log ({self._size})")
        return merkle.EMPTY_ROOT if size == 0 else self._subtree(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        size = self._size if size is None else size
        if size > self._size:
            raise ProofError(f"tree size {size} is larger than the log ({self._size})")
        return merkle.inclusion_proof(index, size, self)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        new_size = self._size if new_size is None else new_size
        if new_size > self._size:
            raise ProofError(f"tree size {new_size} is larger than the log ({self._size})")
        return merkle.consistency_proof(old_size, new_size, self)

