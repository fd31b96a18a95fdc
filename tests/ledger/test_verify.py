"""Offline verification internals: the parallel tree equals the serial one, archives
that cannot be read are ``ArchiveError`` (exit 3), never a crash."""

from __future__ import annotations

import io
import json
import random
import tarfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sovra.errors import ArchiveError
from sovra.ledger import merkle, verify_archive
from sovra.ledger.archive import write_archive
from sovra.ledger.parallel import build_tree, line_spans
from sovra.ledger.tree import HashTree
from tests.ledger.test_mutations import build_contents


def _lines(count: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return b"".join(b"x" * rng.randrange(0, 300) + b"%d\n" % i for i in range(count))


@pytest.mark.skipif(threading.active_count() > 1,
                    reason="build_tree only forks workers from a single-threaded process")
@pytest.mark.parametrize("count", [5000, 4096, 1025])
def test_parallel_tree_equals_serial_tree(count: int) -> None:
    data = _lines(count, count)
    lines = data.split(b"\n")[:-1]
    serial = HashTree.from_leaf_hashes(merkle.leaf_hash(x) for x in lines)
    parallel = build_tree(data, workers=2)
    assert parallel.size == serial.size == count
    assert parallel.root() == serial.root()
    assert parallel.leaf_level() == serial.leaf_level()
    for size in (1, 1000, 1024, count // 2, count):
        assert parallel.root(size) == serial.root(size)
    assert parallel.inclusion_proof(count - 1) == serial.inclusion_proof(count - 1)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=40).filter(lambda b: b"\n" not in b), min_size=1,
                max_size=200), st.integers(min_value=1, max_value=64))
def test_line_spans_cut_at_the_right_lines(lines: list[bytes], chunk: int) -> None:
    data = b"".join(x + b"\n" for x in lines)
    spans = line_spans(data, len(lines), chunk)
    pieces = [data[a:b].split(b"\n") for a, b in spans]
    assert [len(p) for p in pieces[:-1]] == [chunk] * (len(pieces) - 1)
    assert [x for p in pieces for x in p] == lines


def _write(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _valid_members(tmp_path: Path) -> dict[str, bytes]:
    contents, signer = build_contents(n=10, sizes=(10,))
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


def test_deep_mode_checks_every_entry_is_canonical(tmp_path: Path) -> None:
    members = _valid_members(tmp_path)
    assert verify_archive(_write(tmp_path / "a.tar", members), deep=True).valid
