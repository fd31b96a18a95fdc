"""Unpack a bundle into a private staging folder, verifying as it streams.

Order matters (TUF §5.3-§5.6, then §5.7 for targets): the metadata members come first
and are verified as a whole before the first target byte is read. Each target must be
listed in the verified targets metadata; its declared length is compared with the
archive header before reading (a longer member is the endless-data attack and is refused
without reading it), and its SHA-256 is computed while it is copied. Any failure removes
the staging folder, so a rejected bundle leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import queue
import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from sovra.errors import BundleVerificationError, UnsafeArchiveError
from sovra.transfer.archive import ByteReader, Member, Progress, UnpackLimits, iter_members
from sovra.transfer.layout import METADATA_DIR, TARGETS_DIR, root_version_of
from sovra.transfer.verify import (
    BundleMetadata,
    TrustState,
    VerifiedMetadata,
    VerifiedTarget,
    verify_metadata,
)

_CHUNK = 1 << 20
# Members above this size are written by a helper thread; at most this many chunks wait.
_THREAD_MIN = 8 << 20
_QUEUE_CHUNKS = 8
# ngclient's own limits for metadata files (UpdaterConfig): 512 kB root, 5 MB targets.
_METADATA_MAX = 5_000_000
_ROLE_FILES = ("timestamp.json", "snapshot.json", "targets.json")


@dataclass(frozen=True)
class StagedBundle:
    """A verified bundle whose targets wait in ``folder/targets`` for activation."""

    folder: Path
    metadata: VerifiedMetadata
    bytes_verified: int


def stage_bundle(archive: Path, staging_root: Path, trust: TrustState, *, now: datetime,
                 grace: timedelta, limits: UnpackLimits,
                 progress: Progress | None = None,
                 observed: dict[str, str] | None = None) -> StagedBundle:
    """Unpack and verify ``archive`` into a fresh private folder under ``staging_root``.

    ``observed`` receives the SHA-256 of each metadata role as it is read, so that a
    rejection can be recorded with the hashes of what was offered.
    """
    staging_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = Path(tempfile.mkdtemp(prefix="bundle-", dir=staging_root))
    try:
        metadata, verified_bytes = _unpack(archive, folder, trust, now=now, grace=grace,
                                           limits=limits, progress=progress,
                                           observed={} if observed is None else observed)
    except BaseException:
        discard(folder)
        raise
    return StagedBundle(folder, metadata, verified_bytes)


def extract_unverified(archive: Path, dest: Path, limits: UnpackLimits) -> list[str]:
    """Safely unpack every member (with all archive checks, no TUF checks) into ``dest``.

    For auditors and for python-tuf's own client to read the metadata from disk.
    """
    names = []
    for member in iter_members(archive, limits):
        _copy(member.reader, _create(dest, member.name), member.size)
        names.append(member.name)
    return names


def recheck_staged(folder: Path, targets: Mapping[str, VerifiedTarget]) -> None:
    """Hash the staged targets again (two-person import: time passed since verifying)."""
    for target in targets.values():
        digest = hashlib.sha256()
        length = 0
        try:
            with (folder / TARGETS_DIR / target.path).open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
                    length += len(chunk)
        except OSError as exc:
            raise BundleVerificationError(f"staged target {target.path} is gone: {exc}") from exc
        if length != target.length or digest.hexdigest() != target.sha256:
            raise BundleVerificationError(
                f"arbitrary target: staged {target.path} changed since it was verified")


def discard(folder: Path) -> None:
    """Remove a staging folder and everything in it."""
    shutil.rmtree(folder, ignore_errors=True)


def _unpack(archive: Path, folder: Path, trust: TrustState, *, now: datetime,
            grace: timedelta, limits: UnpackLimits, progress: Progress | None,
            observed: dict[str, str]) -> tuple[VerifiedMetadata, int]:
    roots: dict[int, bytes] = {}
    roles: dict[str, bytes] = {}
    verified: VerifiedMetadata | None = None
    received: set[str] = set()
    total = 0
    for member in iter_members(archive, limits, progress):
        head, _, rest = member.name.partition("/")
        if head == METADATA_DIR and verified is None:
            data = _read_metadata(member, rest, roots, roles)
            observed["root" if rest.endswith(".root.json") else rest.removesuffix(".json")] = (
                hashlib.sha256(data).hexdigest())
            _create_bytes(folder, member.name, data)
        elif head == TARGETS_DIR:
            verified = verified or _verify(roots, roles, trust, now, grace)
            total += _stage_target(member, rest, verified, folder)
            received.add(rest)
        else:
            raise UnsafeArchiveError(f"unexpected member {member.name!r} (metadata must "
                                     "come first; only metadata/ and targets/ are allowed)")
    verified = verified or _verify(roots, roles, trust, now, grace)
    missing = sorted(set(verified.targets) - received)
    if missing:
        raise BundleVerificationError(
            f"truncated or incomplete bundle: signed target(s) missing: {', '.join(missing)}")
    return verified, total


def _read_metadata(member: Member, name: str, roots: dict[int, bytes],
                   roles: dict[str, bytes]) -> bytes:
    if member.size > _METADATA_MAX:
        raise UnsafeArchiveError(f"metadata member {member.name!r} exceeds {_METADATA_MAX} bytes")
    data = member.reader.read(member.size)
    version = root_version_of(name)
    if version is not None:
        roots[version] = data
    elif name in _ROLE_FILES:
        roles[name] = data
    else:
        raise UnsafeArchiveError(f"unexpected metadata member {member.name!r}")
    return data


def _verify(roots: dict[int, bytes], roles: dict[str, bytes], trust: TrustState,
            now: datetime, grace: timedelta) -> VerifiedMetadata:
    absent = [name for name in _ROLE_FILES if name not in roles]
    if absent:
        raise BundleVerificationError(f"bundle lacks metadata: {', '.join(absent)}")
    bundle = BundleMetadata(roots, roles["timestamp.json"], roles["snapshot.json"],
                            roles["targets.json"])
    return verify_metadata(bundle, trust, now, grace)


def _stage_target(member: Member, path: str, verified: VerifiedMetadata, folder: Path) -> int:
    target = verified.targets.get(path)
    if target is None:
        raise BundleVerificationError(
            f"arbitrary target: {path!r} is not listed in the signed targets metadata")
    if member.size > target.length:
        # TUF §5.7.3 endless data: never read beyond the signed length.
        raise BundleVerificationError(
            f"endless data: {path} is {member.size} bytes in the archive, "
            f"{target.length} signed")
    if member.size < target.length:
        raise BundleVerificationError(
            f"arbitrary target: {path} is {member.size} bytes, {target.length} signed")
    digest = _copy(member.reader, _create(folder, member.name), target.length)
    if digest != target.sha256:
        raise BundleVerificationError(
            f"arbitrary target: sha256 of {path} is {digest}, {target.sha256} signed")
    return target.length


def _create(folder: Path, name: str) -> IO[bytes]:
    # The name passed archive checks (relative, normal, no ..); O_EXCL|O_NOFOLLOW makes
    # sure nothing pre-existing is followed or overwritten inside the private folder.
    path = folder / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.resolve().is_relative_to(folder.resolve()):
            raise UnsafeArchiveError(f"member {name!r} escapes the staging folder")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as exc:  # e.g. "a" then "a/b": a file where a folder is needed
        raise UnsafeArchiveError(f"cannot unpack member {name!r}: {exc}") from exc
    return os.fdopen(fd, "wb", buffering=0)


def _create_bytes(folder: Path, name: str, data: bytes) -> None:
    with _create(folder, name) as handle:
        handle.write(data)


def _copy(reader: ByteReader, out: IO[bytes], length: int) -> str:
    """Copy exactly ``length`` bytes, hashing them on the way; returns the SHA-256.

    Large members are written by a helper thread while this one hashes (both release
    the GIL), through a fixed ring of buffers: verification runs at hashing speed with
    bounded memory. No fsync here: activation syncs what it keeps, a rejected bundle is
    deleted.
    """
    if length <= _THREAD_MIN:
        return _copy_small(reader, out, length)
    digest = hashlib.sha256()
    remaining = length
    with out, _Writer(out) as writer:
        while remaining:
            buffer = writer.free_buffer()
            view = memoryview(buffer)[: min(_CHUNK, remaining)]
            count = reader.readinto(view)
            if not count:
                raise UnsafeArchiveError("truncated archive: member data ends early")
            digest.update(view[:count])
            writer.write(buffer, count)
            remaining -= count
    return digest.hexdigest()


def _copy_small(reader: ByteReader, out: IO[bytes], length: int) -> str:
    digest = hashlib.sha256()
    remaining = length
    with out:
        while remaining:
            chunk = reader.read(min(_CHUNK, remaining))
            if not chunk:
                raise UnsafeArchiveError("truncated archive: member data ends early")
            digest.update(chunk)
            _write_all(out, memoryview(chunk))
            remaining -= len(chunk)
    return digest.hexdigest()


class _Writer:
    """Writes filled buffers to ``out`` in a helper thread and hands them back."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._free: queue.Queue[bytearray] = queue.Queue()
        for _ in range(_QUEUE_CHUNKS):
            self._free.put(bytearray(_CHUNK))
        self._full: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def free_buffer(self) -> bytearray:
        self._raise_error()
        return self._free.get()

    def write(self, buffer: bytearray, count: int) -> None:
        self._full.put((buffer, count))

    def _drain(self) -> None:
        while (item := self._full.get()) is not None:
            buffer, count = item
            if self._error is None:
                try:
                    _write_all(self._out, memoryview(buffer)[:count])
                except OSError as exc:
                    self._error = exc
            self._free.put(buffer)

    def _raise_error(self) -> None:
        if self._error is not None:
            raise UnsafeArchiveError(f"cannot write staged file: {self._error}")

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._full.put(None)
        self._thread.join()
        self._raise_error()


def _write_all(out: IO[bytes], view: memoryview) -> None:
    # Unbuffered writes may be short (signals, quotas): loop until all bytes are out.
    while len(view):
        written = out.write(view)
        if not written:
            raise OSError("short write")
        view = view[written:]
