"""Property tests for the archive checks: whatever names an archive carries, nothing is
ever written outside the destination folder, and safe names round-trip."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from sovra.errors import UnsafeArchiveError
from sovra.transfer import UnpackLimits, extract_unverified
from tests.transfer.tartools import member, write_members

_SEGMENTS = st.sampled_from(["..", ".", "", "a", "b.txt", "targets", "metadata", "~",
                             "\\..", "c:", "x" * 20])
_NAMES = st.lists(_SEGMENTS, min_size=1, max_size=5).map("/".join) | st.text(
    st.characters(codec="utf-8", exclude_characters="\0"), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(names=st.lists(_NAMES, min_size=1, max_size=4))
def test_nothing_escapes_the_destination(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dest = root / "deep" / "dest"
        dest.mkdir(parents=True)
        archive = write_members(root / "a.tar", [member(n, b"x") for n in names])
        try:
            extract_unverified(archive, dest, UnpackLimits())
        except UnsafeArchiveError:
            pass
        outside = [p for p in root.rglob("*")
                   if p != archive and not p.is_relative_to(dest) and p.is_file()]
        assert outside == []
        assert not any(p.is_symlink() for p in root.rglob("*"))


@settings(max_examples=40, deadline=None)
@given(parts=st.lists(st.from_regex(r"[a-z0-9][a-z0-9._-]{0,10}", fullmatch=True)
                      .filter(lambda s: s not in {".", ".."} and ".." not in s),
                      min_size=1, max_size=3, unique=True))
def test_safe_names_round_trip(parts: list[str]) -> None:
    name = "/".join(parts)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        archive = write_members(root / "a.tar", [member(name, b"payload")])
        assert extract_unverified(archive, root / "out", UnpackLimits()) == [name]
        assert (root / "out" / name).read_bytes() == b"payload"


def test_file_where_a_folder_is_needed_is_refused_cleanly() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        archive = write_members(root / "a.tar", [member("a", b"1"), member("a/b", b"2")])
        try:
            extract_unverified(archive, root / "out", UnpackLimits())
        except UnsafeArchiveError as exc:
            assert "cannot unpack" in str(exc)
        else:
            raise AssertionError("a member under a file was accepted")


def test_member_count_limit() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        archive = write_members(root / "a.tar", [member(f"f{i}", b"") for i in range(5)])
        try:
            extract_unverified(archive, root / "out", UnpackLimits(max_members=4))
        except UnsafeArchiveError as exc:
            assert "more than 4 members" in str(exc)
        else:
            raise AssertionError("the member limit was not enforced")


def test_member_size_limit_checked_before_reading() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        archive = write_members(root / "a.tar", [member("big", b"x" * 4096)])
        try:
            extract_unverified(archive, root / "out", UnpackLimits(max_bytes=1024))
        except UnsafeArchiveError as exc:
            assert "larger than 1024" in str(exc)
        else:
            raise AssertionError("the size limit was not enforced")
        assert not (root / "out" / "big").exists()


