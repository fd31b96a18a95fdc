"""Hash the leaves and tree levels of a large export on several cores.

Offline verification is bound by the per-call overhead of SHA-256 in Python, not by
the hash itself (benchmarks/ledger_verify.py), so one core cannot go much faster: the
leaves alone cost as much as the bare loop it is compared with, and the tree's interior
nodes are one more hash call per entry. So the entry bytes are cut into one part per
process, at the first newline after each equal byte share (no line counting: counting
newlines costs a fifth of the bare hash loop), and each part is split and hashed in its
own process: the parent hashes the first part and ``os.fork``-ed children the others.

A child reads the archive bytes it inherited (copy-on-write: nothing is pickled or sent
to it) and talks to the parent over two pipes: it reports how many lines its part has,
learns its first line's global index (the sum of the parts before it), and writes back
only hashes: for each level L of the RFC 9162 tree, the complete, aligned subtrees
(MTH of 2^L leaves starting at a multiple of 2^L, §2.1.1) that lie wholly inside its
part. The parent joins the parts level by level and computes the few nodes that
straddle two parts from the level below, then the levels above. The result is
bit-for-bit what one process builds (tests/ledger/test_verify.py checks it).

Forking is only safe while the process runs no other thread (a child could inherit a
lock some thread held), so a multi-threaded caller such as the server gets one process.
If a child fails in any way the parent hashes everything itself. Either fallback is
visible: ``build_tree`` says how many processes hashed (``BuiltTree.processes``), and
the verification result carries it, so a caller (or a test) asking for several can see
that it got one.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sovra.ledger import merkle
from sovra.ledger.tree import HashTree

log = logging.getLogger(__name__)

# Below this the fork and the pipes cost more than the hashing they spread
# (benchmarks/ledger_verify.py --entries N; docs/PERFORMANCE.md).
MIN_PARALLEL_ENTRIES = 50_000
MAX_WORKERS = 8
# A part smaller than this is not worth a process (also keeps tiny inputs serial).
_MIN_PART_BYTES = 64 * 1024
# The parent's share is this much (of the whole) below an equal one: joining the parts,
# completing the tree and checking checkpoints take ~5% of the hashing after it.
_PARENT_SHARE_LESS = 0.03
# One SHA-256 pass over the entry bytes (the archive's manifest check) costs about this
# fraction of hashing them as leaves and nodes (1.5 GB/s against ~2 µs per 270 bytes).
_ALONGSIDE_SHARE = 0.09
# Lines are split this many bytes at a time (line_leaf_hashes): small enough that the
# line objects of one chunk fit in memory freed by the one before, large enough that
# the per-chunk calls do not count.
_CHUNK_BYTES = 1 << 20
_U64 = struct.Struct("<Q")
_H = merkle.HASH_SIZE


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether worker processes may be forked now (POSIX, and no other thread)."""
    return hasattr(os, "fork") and threading.active_count() == 1


def default_workers(entries: int) -> int:
    """Processes worth using for ``entries`` (1 means: stay in this process): one per
    usable CPU for large archives, when forking is safe."""
    if entries < MIN_PARALLEL_ENTRIES or not can_fork():
        return 1
    return max(1, min(usable_cpus(), MAX_WORKERS))


def line_leaf_hashes(data: bytes, begin: int = 0, end: int | None = None, *,
                     chunk: int = 0) -> list[bytes]:
    """The leaf hash of every newline-terminated line in ``data[begin:end]`` (``begin`` at
    a line start, ``data[end - 1]`` a newline), as ``merkle.leaf_hash_list`` of the
    lines. The bytes are split a slice of about ``_CHUNK_BYTES`` at a time: splitting
    everything at once costs a fresh page (a page fault, then zeroing) for every few
    lines, as the line objects of a whole archive are hundreds of megabytes; chunk by
    chunk they reuse the same freed memory, and no copy of a whole part is made."""
    end = len(data) if end is None else end
    leaves: list[bytes] = []
    extend, find, chunk = leaves.extend, data.find, chunk or _CHUNK_BYTES
    while begin < end:
        # the first newline at or after the chunk's nominal end; never past ``end``
        # (whose last byte is a newline)
        stop = find(b"\n", min(begin + chunk, end - 1), end)
        extend(merkle.leaf_hash_list(data[begin:stop].split(b"\n")))
        begin = stop + 1
    return leaves


def levels_of(lines: list[bytes]) -> list[bytearray]:
    """Leaf hashes and every complete level above them, each level concatenated (as
    ``HashTree.from_levels`` takes them over without a copy)."""
    return [bytearray().join(level)
            for level in merkle.complete_levels(merkle.leaf_hash_list(lines))]


def interior_levels(leaves: list[bytes], start: int) -> list[bytes]:
    """For leaf hashes ``start .. start + len(leaves) - 1`` of a larger tree: level L
    holds every complete aligned subtree wholly inside them, from global index
    ceil(start / 2^L) on, concatenated. With ``start`` 0 these are all the levels."""
    levels = [b"".join(leaves)]
    level, first = leaves, start  # ``first``: global index of level[0]
    while True:
        skip = first & 1  # an odd first node pairs with a node of the part before
        level = merkle.parent_list(level[skip:])
        if not level:
            return levels
        first = (first + skip) >> 1
        levels.append(b"".join(level))


@dataclass(frozen=True)
class BuiltTree:
    """The tree, and how many processes hashed it (1 when the work stayed here, whether
    one was asked for, the input was too small to split, forking was unsafe, or a
    worker failed)."""

    tree: HashTree
    processes: int


def build_tree(data: bytes, workers: int, *,
               alongside: Callable[[], None] | None = None) -> BuiltTree:
    """The tree over the newline-terminated entry lines in ``data``, hashed in up to
    ``workers`` processes. ``alongside`` (one SHA-256 pass over ``data``, or less) runs
    in this process once the workers are started; this process's share of the lines is
    smaller by as much."""
    if not data:
        if alongside is not None:
            alongside()
        return BuiltTree(HashTree(), 1)
    forkable = can_fork()
    bounds = ([0, len(data)] if workers <= 1 or not forkable else
              _part_bounds(data, workers, _ALONGSIDE_SHARE if alongside else 0.0))
    if workers > 1 and not forkable:
        log.info("%d verification processes asked for, but this process runs other "
                 "threads (forking is unsafe): hashing in this process", workers)
    if len(bounds) > 2:
        try:
            return BuiltTree(_build_parallel(data, bounds, alongside), len(bounds) - 1)
        except _WorkerFailedError as exc:
            log.warning("verification worker failed (%s); hashing in this process", exc)
    if alongside is not None:
        alongside()
    return BuiltTree(HashTree.from_levels(
        [bytearray().join(level) for level in merkle.complete_levels(line_leaf_hashes(data))]),
        1)


class _WorkerFailedError(Exception):
    pass


@dataclass
class _Child:
    pid: int
    up: int  # child -> parent: line count, then the levels
    down: int  # parent -> child: global index of the part's first line


def _part_bounds(data: bytes, parts: int, extra: float = 0.0) -> list[int]:
    """Byte offsets cutting ``data`` after a newline near each share. The parent's own
    share is smaller: it joins the parts and checks the checkpoints after, and may have
    ``extra`` work (a fraction of hashing everything) beside its share."""
    first = max(0.0, 1 / parts - _PARENT_SHARE_LESS - extra * (parts - 1) / parts)
    bounds = [0]
    for k in range(1, parts):
        share = first + (1 - first) * (k - 1) / (parts - 1)
        at = data.find(b"\n", max(bounds[-1], int(len(data) * share)))
        if at < 0 or at + 1 - bounds[-1] < _MIN_PART_BYTES or at + 1 >= len(data):
            continue
        bounds.append(at + 1)
    bounds.append(len(data))
    return bounds


def _build_parallel(data: bytes, bounds: list[int],
                    alongside: Callable[[], None] | None) -> HashTree:
    children: list[_Child] = []
    try:
        # extend appends each child as it is forked, so a failed fork leaves the
        # ones before it in the list to be stopped
        children.extend(_fork_part(data, bounds[k], bounds[k + 1])
                        for k in range(1, len(bounds) - 1))
        if alongside is not None:
            alongside()
        # This part starts at leaf 0, so its levels need nothing from the children.
        leaves = line_leaf_hashes(data, 0, bounds[1])
        starts = [0, len(leaves)]
        # Each child's start is the sum of the parts before it, and a child waits for it
        # before hashing its levels: tell every child its start before hashing this
        # part's levels, so that the children hash theirs meanwhile (the last child's
        # line count is only needed for the total, so it is read after).
        for k, child in enumerate(children):
            _write_all(child.down, _U64.pack(starts[-1]))
            if k + 1 < len(children):
                starts.append(starts[-1] + _read_u64(child.up))
        parts = [interior_levels(leaves, 0)]
        del leaves
        if children:
            starts.append(starts[-1] + _read_u64(children[-1].up))
        parts.extend(_read_levels(child) for child in children)
    except BaseException:
        for child in children:
            _stop(child, kill=True)
        raise
    for child in children:
        _stop(child, kill=False)
    return HashTree.from_levels(merge_parts(parts, starts))


def merge_parts(parts: list[list[bytes]], starts: list[int]) -> list[bytearray]:
    """Every complete level of the whole tree from the parts' ``interior_levels``
    (``starts``: each part's first leaf index, then the total). Nodes that straddle
    two parts are hashed here from the level below."""
    total = starts[-1]
    # bytearrays: HashTree.from_levels takes them over instead of copying 64 MB again
    levels = [bytearray().join(part[0] for part in parts)]
    height = 1
    while total >> height:
        below, pieces, filled = levels[-1], [], 0
        for part, first, end in zip(parts, starts[:-1], starts[1:], strict=True):
            lo, hi = -(-first >> height), end >> height  # interior node indexes
            inner = part[height] if height < len(part) else b""
            if len(inner) != _H * max(0, hi - lo):
                raise _WorkerFailedError(f"a part sent {len(inner)} bytes at level {height}")
            if hi > lo:
                pieces.append(_nodes(below, filled, lo))
                pieces.append(inner)
                filled = hi
        pieces.append(_nodes(below, filled, total >> height))
        levels.append(bytearray().join(pieces))
        height += 1
    return levels


def _nodes(below: bytes | bytearray, start: int, end: int) -> bytes:
    """Nodes ``start .. end - 1`` of a level, hashed from the level ``below`` (the few
    that straddle two parts, or follow the last one)."""
    return b"".join(merkle.node_hash(bytes(below[2 * j * _H:(2 * j + 1) * _H]),
                                     bytes(below[(2 * j + 1) * _H:(2 * j + 2) * _H]))
                    for j in range(start, end))


def _fork_part(data: bytes, begin: int, end: int) -> _Child:
    """Start a child hashing the lines in ``data[begin:end]``."""
    up_read, up_write = os.pipe()
    down_read, down_write = os.pipe()
    try:
        pid = os.fork()
    except OSError as exc:
        for fd in (up_read, up_write, down_read, down_write):
            os.close(fd)
        raise _WorkerFailedError(f"cannot fork: {exc}") from exc
    if pid == 0:  # the child: hash, write, leave without running the parent's cleanup
        status = 1
        try:
            # A full collection would touch every inherited object and copy its page.
            gc.disable()
            os.close(up_read)
            os.close(down_write)
            leaves = line_leaf_hashes(data, begin, end)  # needs no global index
            _write_all(up_write, _U64.pack(len(leaves)))
            levels = interior_levels(leaves, _read_u64(down_read))
            _write_all(up_write, _U64.pack(len(levels)) +
                       b"".join(_U64.pack(len(level)) for level in levels))
            for level in levels:
                _write_all(up_write, level)
            status = 0
        finally:
            os._exit(status)
    os.close(up_write)
    os.close(down_read)
    return _Child(pid, up_read, down_write)


def _read_levels(child: _Child) -> list[bytes]:
    count = _read_u64(child.up)
    if count > 64:
        raise _WorkerFailedError(f"a worker announced {count} levels")
    lengths = [_read_u64(child.up) for _ in range(count)]
    return [_read_exact(child.up, length) for length in lengths]


def _read_u64(fd: int) -> int:
    return int(_U64.unpack(_read_exact(fd, _U64.size))[0])


def _read_exact(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 22))
        if not chunk:
            raise _WorkerFailedError("a worker stopped before sending its hashes")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except OSError as exc:  # BrokenPipeError: the other side is gone
            raise _WorkerFailedError(f"cannot reach a worker: {exc}") from exc


def _stop(child: _Child, *, kill: bool) -> None:
    """Close the pipes and reap the child (which has sent everything and is exiting),
    killing it first when the parent is unwinding from an error."""
    for fd in (child.up, child.down):
        with contextlib.suppress(OSError):
            os.close(fd)
    with contextlib.suppress(OSError):
        if kill:
            os.kill(child.pid, signal.SIGKILL)
        os.waitpid(child.pid, 0)
