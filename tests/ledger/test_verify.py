"""Offline verification internals: the parallel tree equals the serial one, archives
that cannot be read are ``ArchiveError`` (exit 3), never a crash.

The parallel tests run their body in a fresh spawned interpreter (the ``forkable``
fixture): ``build_tree`` forks only from a single-threaded process, and pytest's own
process may have threads left by other tests, in which case it would quietly hash in
one process and the test would compare serial with serial. Each asserts the number of
processes that actually ran (``BuiltTree.processes``, ``VerificationResult.processes``).
"""

from __future__ import annotations

import io
import json
import os
import random
import tarfile
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sovra.errors import ArchiveError
from sovra.ledger import VerificationResult, merkle, verify_archive
from sovra.ledger import note as notes
from sovra.ledger.archive import ArchivedCheckpoint, write_archive
from sovra.ledger.parallel import (
    _part_bounds,
    _read_u64,
    _WorkerFailedError,
    build_tree,
    can_fork,
    interior_levels,
    line_leaf_hashes,
    merge_parts,
)
from sovra.ledger.tree import HashTree
from tests.ledger.test_mutations import build_contents


def _lines(count: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return b"".join(b"x" * rng.randrange(0, 300) + b"%d\n" % i for i in range(count))


def _sizes(count: int) -> tuple[int, ...]:
    return (1, 1000, 1024, count // 2, count // 3 + 1, count)


def _facts(tree: HashTree, count: int) -> dict[str, object]:
    """What the tests compare between trees (a ``HashTree`` holds a lock: not sent
    between processes)."""
    return {"size": tree.size, "root": tree.root(), "leaves": bytes(tree.leaf_level()),
            "roots": [tree.root(size) for size in _sizes(count)],
            "inclusion": tree.inclusion_proof(count - 1),
            "consistency": tree.consistency_proof(count // 3 + 1)}


def _parallel_tree(count: int, workers: int) -> tuple[int, dict[str, object]]:
    """In the spawned process: the processes that ran, and the tree they built."""
    assert can_fork(), "the fresh process must be allowed to fork its workers"
    built = build_tree(_lines(count, count), workers=workers)
    return built.processes, _facts(built.tree, count)


@pytest.mark.parametrize(("count", "workers"), [(5000, 2), (5000, 3), (4096, 2), (1025, 2)])
def test_parallel_tree_equals_serial_tree(count: int, workers: int,
                                          forkable: ProcessPoolExecutor) -> None:
    data = _lines(count, count)
    assert len(_part_bounds(data, workers)) == workers + 1  # really split in parts
    lines = data.split(b"\n")[:-1]
    serial = HashTree.from_leaf_hashes(merkle.leaf_hash(x) for x in lines)
    processes, parallel = forkable.submit(_parallel_tree, count, workers).result(timeout=300)
    assert processes == workers  # the parallel path ran, not a quiet fallback
    assert serial.size == count
    assert parallel == _facts(serial, count)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_parts_merge_into_the_whole_tree(count: int, data: st.DataObject) -> None:
    leaves = [merkle.leaf_hash(b"%d" % i) for i in range(count)]
    cuts = sorted(data.draw(st.sets(st.integers(min_value=1, max_value=count - 1),
                                    max_size=6)) if count > 1 else set())
    starts = [0, *cuts, count]
    parts = [interior_levels(leaves[a:b], a) for a, b in pairwise(starts)]
    whole = [b"".join(level) for level in merkle.complete_levels(leaves)]
    assert merge_parts(parts, starts) == whole


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), min_size=1,
                max_size=40), st.integers(min_value=1, max_value=64), st.data())
def test_chunked_leaf_hashes_equal_hashing_the_split_lines(
        lines: list[bytes], chunk: int, data: st.DataObject) -> None:
    # Any chunk size (even shorter than a line) and any part on line boundaries gives
    # exactly the leaf hashes of the lines, empty lines included.
    joined = b"".join(line + b"\n" for line in lines)
    assert line_leaf_hashes(joined, chunk=chunk) == merkle.leaf_hash_list(lines)
    assert line_leaf_hashes(joined) == merkle.leaf_hash_list(lines)
    first = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
    last = data.draw(st.integers(min_value=first + 1, max_value=len(lines)))
    begin = sum(len(line) + 1 for line in lines[:first])
    end = sum(len(line) + 1 for line in lines[:last])
    assert line_leaf_hashes(joined, begin, end, chunk=chunk) == merkle.leaf_hash_list(
        lines[first:last])


def test_parts_with_a_wrong_level_are_refused() -> None:
    leaves = [merkle.leaf_hash(b"%d" % i) for i in range(10)]
    parts = [interior_levels(leaves[:3], 0), interior_levels(leaves[3:], 3)]
    parts[1][1] = parts[1][1][:-1]
    with pytest.raises(_WorkerFailedError):
        merge_parts(parts, [0, 3, 10])


def test_a_worker_that_stops_early_is_a_failure_not_a_short_read() -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"\x05\x00\x00")
    os.close(write_fd)
    try:
        with pytest.raises(_WorkerFailedError):
            _read_u64(read_fd)
    finally:
        os.close(read_fd)


def _write(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _valid_members(tmp_path: Path, n: int = 10) -> dict[str, bytes]:
    contents, signer = build_contents(n=n, sizes=(n,))
    path = tmp_path / "valid.tar"
    write_archive(path, log_vkey=signer.verifier.vkey, origin=signer.name,
                  entries=contents.entries.split(b"\n")[:-1], leaf_hashes=[contents.leaf_hashes],
                  checkpoints=contents.checkpoints, cosignatures=[])
    assert verify_archive(path).valid
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]


def test_not_a_tar_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "x.tar"
    path.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ArchiveError):
        verify_archive(path)
    with pytest.raises(ArchiveError):
        verify_archive(tmp_path / "missing.tar")


def test_missing_member_is_unreadable(tmp_path: Path) -> None:
    members = _valid_members(tmp_path)
    del members["checkpoints.json"]
    with pytest.raises(ArchiveError, match=r"lacks checkpoints\.json"):
        verify_archive(_write(tmp_path / "a.tar", members))


def test_unexpected_or_duplicate_member_is_unreadable(tmp_path: Path) -> None:
    members = _valid_members(tmp_path)
    with pytest.raises(ArchiveError, match="unexpected"):
        verify_archive(_write(tmp_path / "a.tar", {**members, "../evil": b"x"}))
    path = _write(tmp_path / "b.tar", members)
    with tarfile.open(path, "a") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    with pytest.raises(ArchiveError, match="twice"):
        verify_archive(path)


def test_link_member_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "link.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("entries.jsonl")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(ArchiveError, match="unexpected"):
        verify_archive(path)


@pytest.mark.parametrize("manifest", [b"not json", b"[]", b'{"format": "other/1"}',
                                      b'{"format": "sovra-ledger-archive/1"}'])
def test_bad_manifest_is_unreadable(tmp_path: Path, manifest: bytes) -> None:
    members = _valid_members(tmp_path)
    members["manifest.json"] = manifest
    with pytest.raises(ArchiveError):
        verify_archive(_write(tmp_path / "a.tar", members))


def test_bad_checkpoint_index_is_unreadable(tmp_path: Path) -> None:
    members = _valid_members(tmp_path)
    members["checkpoints.json"] = json.dumps([{"tree_size": "ten"}]).encode()
    with pytest.raises(ArchiveError):
        verify_archive(_write(tmp_path / "a.tar", members))


def test_edited_member_without_manifest_update_is_invalid(tmp_path: Path) -> None:
    members = _valid_members(tmp_path)
    members["entries.jsonl"] = members["entries.jsonl"].replace(b'"i":3', b'"i":4')
    result = verify_archive(_write(tmp_path / "a.tar", members))
    assert not result.valid
    assert any(p.where == "archive" and "manifest" in p.message for p in result.problems)
    assert any(p.where == "entry" and p.position == 3 for p in result.problems)


def _signed_archive(path: Path, bodies: list[bytes]) -> Path:
    """An archive whose hashes and checkpoint are honest for exactly these bodies."""
    signer = notes.Signer.generate("sovra.local/ledger/test")
    tree = HashTree()
    tree.extend_joined(merkle.leaf_hashes(bodies))
    checkpoint = ArchivedCheckpoint(len(bodies), notes.sign_checkpoint(
        notes.Checkpoint(signer.name, len(bodies), tree.root(len(bodies))), signer))
    write_archive(path, log_vkey=signer.verifier.vkey, origin=signer.name, entries=bodies,
                  leaf_hashes=[merkle.leaf_hashes(bodies)], checkpoints=(checkpoint,),
                  cosignatures=[])
    return path


def test_deep_mode_checks_every_entry_is_canonical(tmp_path: Path) -> None:
    bodies = _valid_members(tmp_path)["entries.jsonl"].split(b"\n")[:-1]
    assert verify_archive(_signed_archive(tmp_path / "ok.tar", bodies), deep=True).valid
    # Entry 4 keeps every field and its seq/time tail but is not RFC 8785 canonical (a
    # space after a colon); entry 7 is not a JSON object. Hashes and the checkpoint are
    # signed over exactly these bytes, so only the deep parse can see it.
    bodies[4] = bodies[4].replace(b'"actor":', b'"actor": ', 1)
    bodies[7] = b"[" + bodies[7] + b"]"
    path = _signed_archive(tmp_path / "bad.tar", bodies)
    assert verify_archive(path).valid  # the fast path checks hashes and signatures only
    deep = verify_archive(path, deep=True)
    assert not deep.valid
    named = [(p.where, p.position) for p in deep.problems]
    assert named == [("entry", 4), ("entry", 7)]
    assert "canonical" in deep.problems[0].message


def _verify_with_workers(path: Path, workers: int) -> VerificationResult:
    assert can_fork(), "the fresh process must be allowed to fork its workers"
    return verify_archive(path, workers=workers)


def test_edited_entries_member_is_named_with_and_without_workers(
        tmp_path: Path, forkable: ProcessPoolExecutor) -> None:
    # The entries member's SHA-256 is computed while the workers hash the lines: the
    # verdict, and the order of the problems, must not depend on that.
    members = _valid_members(tmp_path, n=3000)
    assert len(_part_bounds(members["entries.jsonl"], 2)) == 3
    for edit in (b"", b'"outcome":"denied"'):
        entries = members["entries.jsonl"]
        if edit:
            entries = entries.replace(b'"outcome":"allowed"', edit, 1)
        path = _write(tmp_path / f"edit{len(edit)}.tar", {**members, "entries.jsonl": entries})
        serial = verify_archive(path, workers=1)
        parallel = forkable.submit(_verify_with_workers, path, 2).result(timeout=300)
        assert (serial.processes, parallel.processes) == (1, 2)
        assert parallel == serial
        if not edit:
            assert serial.valid, serial.problems
            continue
        assert serial.problems[0].where == "archive"
        assert "entries.jsonl does not match the SHA-256" in serial.problems[0].message
        assert any(p.where == "checkpoint" for p in serial.problems)


@pytest.fixture
def another_thread() -> Iterator[None]:
    """A second thread alive in this process for the test's duration."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="test-second-thread")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@pytest.mark.usefixtures("another_thread")
def test_the_fallback_to_one_process_is_reported(tmp_path: Path) -> None:
    # Beside another thread forking is unsafe: the work stays here, and says so.
    assert not can_fork()
    data = _lines(5000, 1)
    assert len(_part_bounds(data, 2)) == 3
    built = build_tree(data, workers=2)
    assert built.processes == 1
    lines = data.split(b"\n")[:-1]
    assert built.tree.root() == HashTree.from_leaf_hashes(
        merkle.leaf_hash(x) for x in lines).root()
    path = _write(tmp_path / "a.tar", _valid_members(tmp_path, n=3000))
    result = verify_archive(path, workers=2)
    assert result.valid and result.processes == 1


def test_a_small_input_is_hashed_in_one_process_and_says_so() -> None:
    assert build_tree(b"a\nb\n", workers=4).processes == 1
    assert build_tree(b"", workers=4).processes == 1
