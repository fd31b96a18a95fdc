"""Hash the leaves and lower tree levels of a large export on several cores.

Offline verification is bound by the per-call overhead of SHA-256 in Python, not by
the hash itself (benchmarks/ledger_verify.py), so one core cannot go much faster. The
entry lines are cut into chunks of 2^k, each an aligned complete subtree (RFC 9162
§2.1.1 splits at powers of two), and hashed in forked worker processes up to level k;
the parent joins the levels in order and computes the few levels above. The result is
bit-for-bit what ``HashTree.extend`` builds (tests/ledger/test_verify.py checks it).

Workers are forked so they share the archive bytes with the parent instead of
receiving copies; only byte offsets go to them and only hashes come back.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor

from sovra.ledger import merkle
from sovra.ledger.tree import HashTree

MIN_PARALLEL_ENTRIES = 100_000
MAX_WORKERS = 8

# The archive bytes the forked workers read (set only while a pool is running).
_shared = b""


def default_workers(entries: int) -> int:
    """Worker processes worth starting for ``entries`` (1 means: stay in this process).

    Forking is only safe while this process runs no other thread (a child could
    inherit a lock some thread held), so a multi-threaded caller such as the server
    gets 1.
    """
    if entries < MIN_PARALLEL_ENTRIES or threading.active_count() > 1:
        return 1
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def levels_of(lines: list[bytes]) -> list[bytes]:
    """Leaf hashes and every complete level above them, each level concatenated."""
    return [b"".join(level) for level in merkle.complete_levels(merkle.leaf_hash_list(lines))]


def _levels_of_span(span: tuple[int, int]) -> list[bytes]:
    start, end = span
    return levels_of(_shared[start:end].split(b"\n"))


def build_tree(data: bytes, workers: int) -> HashTree:
    """The tree over the newline-terminated entry lines in ``data``."""
    if not data:
        return HashTree()
    if workers <= 1:
        lines = data.split(b"\n")
        lines.pop()  # after the final newline
        return HashTree.from_levels(levels_of(lines))
    count = data.count(b"\n")
    if count < 4 * workers or threading.active_count() > 1:
        return build_tree(data, 1)  # small, or forking beside other threads is unsafe
    # Chunks of a power of two, about four per worker so the last one does not straggle.
    chunk = 1 << max(10, (count // (4 * workers)).bit_length() - 1)
    spans = line_spans(data, count, chunk)
    global _shared  # noqa: PLW0603 - handed to forked children, reset below
    _shared = data
    try:
        # This process hashes every ``workers``-th chunk itself instead of idling.
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers - 1, mp_context=context) as pool:
            futures = {i: pool.submit(_levels_of_span, span) for i, span in enumerate(spans)
                       if i % workers}
            mine = {i: _levels_of_span(span) for i, span in enumerate(spans)
                    if not i % workers}
            parts = [mine[i] if i in mine else futures[i].result() for i in range(len(spans))]
    finally:
        _shared = b""
    depth = chunk.bit_length()  # a full chunk has levels 0..k
    return HashTree.from_levels([b"".join(part[level] for part in parts if len(part) > level)
                                 for level in range(depth)])


def line_spans(data: bytes, count: int, chunk: int) -> list[tuple[int, int]]:
    """Byte spans of consecutive groups of ``chunk`` lines (each without its last
    newline), found with C-speed ``count``/``index`` rather than by splitting."""
    spans: list[tuple[int, int]] = []
    average = len(data) / count
    start, remaining = 0, count
    while remaining > 0:
        take = min(chunk, remaining)
        end = _nth_newline(data, start, take, average)
        spans.append((start, end))
        start, remaining = end + 1, remaining - take
    return spans


def _nth_newline(data: bytes, start: int, n: int, average: float) -> int:
    """Offset of the n-th newline at or after ``start`` (guess, then walk)."""
    guess = min(len(data), start + int(n * average))
    seen = data.count(b"\n", start, guess)
    if seen >= n:
        pos = guess
        for _ in range(seen - n + 1):
            pos = data.rindex(b"\n", start, pos)
        return pos
    pos = guess - 1
    for _ in range(n - seen):
        pos = data.index(b"\n", pos + 1)
    return pos
