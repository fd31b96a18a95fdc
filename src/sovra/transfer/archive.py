"""Read a bundle archive defensively: every member is checked before a byte is used.

Refused, with ``UnsafeArchiveError``: absolute names, ``..`` or otherwise non-normal
names, symlinks, hard links, device files, FIFOs, sparse files, directories, duplicate
names (also when they differ only in case), more members or more bytes than the limits,
gzip that inflates beyond the ratio limit (decompression bomb), and archives that end
early (truncated gzip, truncated member data, or a plain tar without its end marker).
Nothing here writes to disk; ``sovra.transfer.staging`` does, inside a private folder.
"""

from __future__ import annotations

import gzip
import io
import os
import posixpath
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from sovra.errors import UnsafeArchiveError

_GZIP_MAGIC = b"\x1f\x8b"
_BLOCK = 512
# Trailing zero padding accepted after a gzip'd tar's end marker (GNU tar pads records).
_MAX_TRAILER = 1 << 20

Progress = Callable[[int, int], None]
_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError)


@dataclass(frozen=True)
class UnpackLimits:
    """Upper bounds for one archive; the defaults come from settings."""

    max_bytes: int = 64 * 2**30
    max_members: int = 10_000
    # Inflated bytes per compressed byte, checked continuously while reading.
    max_ratio: float = 200.0
    # Below this many inflated bytes the ratio is not checked (tar headers compress well).
    ratio_floor: int = 16 * 2**20


class ByteReader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def readinto(self, buffer: bytearray | memoryview, /) -> int: ...


@dataclass(frozen=True)
class Member:
    """One checked regular-file member; ``reader`` yields exactly ``size`` bytes."""

    name: str
    size: int
    reader: ByteReader


def iter_members(path: Path, limits: UnpackLimits,
                 progress: Progress | None = None) -> Iterator[Member]:
    """Yield the archive's members in order, refusing anything unsafe.

    The caller must consume (or drop) each member before asking for the next. Errors
    from the tar and gzip layers are translated to ``UnsafeArchiveError``.
    """
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise UnsafeArchiveError(f"cannot open bundle {path}: {exc}") from exc
    with raw:
        total = _file_size(raw)
        meter = _Meter(raw, total, progress)
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        try:
            if compressed:
                yield from _gzip_members(meter, limits)
            else:
                _require_end_marker(raw, total, limits)
                with tarfile.open(fileobj=meter, mode="r:") as archive:
                    yield from _tar_members(archive, limits, direct=meter)
        except _READ_ERRORS as exc:
            raise _translated(exc) from exc


def _gzip_members(meter: _Meter, limits: UnpackLimits) -> Iterator[Member]:
    inflated = _Inflated(gzip.GzipFile(fileobj=meter, mode="rb"), meter, limits)
    # 1 MiB reads through the stream layers instead of tarfile's 10 KiB records.
    with tarfile.open(fileobj=inflated, mode="r|", bufsize=1 << 20) as archive:
        yield from _tar_members(archive, limits)
    # Reading to the end makes gzip check its CRC and length trailer: a stream cut
    # after the tar end marker is still a truncated transfer.
    rest = inflated.read(_MAX_TRAILER + 1)
    if len(rest) > _MAX_TRAILER or rest.strip(b"\0"):
        raise UnsafeArchiveError("unexpected data after the end of the archive")


def _tar_members(archive: tarfile.TarFile, limits: UnpackLimits, *,
                 direct: _Meter | None = None) -> Iterator[Member]:
    seen: set[str] = set()
    for count, info in enumerate(archive, start=1):
        if count > limits.max_members:
            raise UnsafeArchiveError(f"more than {limits.max_members} members")
        _check_member(info, seen, limits)
        if direct is not None:
            # Plain tar: a regular, non-sparse member is one contiguous run of bytes, so
            # read it straight from the file (no tarfile buffering copies).
            yield Member(info.name, info.size, _Slice(direct, info.offset_data, info.size))
            continue
        reader = archive.extractfile(info)
        if reader is None:  # pragma: no cover - regular files always have a reader
            raise UnsafeArchiveError(f"member {info.name!r} has no data")
        yield Member(info.name, info.size, _Guarded(reader))


def _check_member(info: tarfile.TarInfo, seen: set[str], limits: UnpackLimits) -> None:
    name = info.name
    if info.issym():
        raise UnsafeArchiveError(f"symlink member {name!r} -> {info.linkname!r} refused")
    if info.islnk():
        raise UnsafeArchiveError(f"hard link member {name!r} -> {info.linkname!r} refused")
    if info.isdev():
        raise UnsafeArchiveError(f"device or FIFO member {name!r} refused")
    if not info.isreg() or info.issparse():
        raise UnsafeArchiveError(f"member {name!r} is not a regular file")
    _check_name(name)
    folded = name.casefold()
    if folded in seen:
        raise UnsafeArchiveError(f"duplicate member {name!r}")
    seen.add(folded)
    if info.size > limits.max_bytes:
        raise UnsafeArchiveError(f"member {name!r} is larger than {limits.max_bytes} bytes")


def _check_name(name: str) -> None:
    parts = name.split("/")
    if (not name or name.startswith("/") or "\\" in name or "\0" in name
            or posixpath.normpath(name) != name or ".." in parts or "." in parts
            or ":" in parts[0]):
        raise UnsafeArchiveError(f"unsafe member name {name!r} (absolute, .. or not normal)")


def _require_end_marker(raw: IO[bytes], total: int, limits: UnpackLimits) -> None:
    # POSIX ustar ends with two zero blocks; tarfile itself treats a clean cut between
    # members as the end, so check explicitly that the transfer was complete.
    if total > limits.max_bytes + 2**20:
        raise UnsafeArchiveError(f"bundle is larger than {limits.max_bytes} bytes")
    if total < 2 * _BLOCK or total % _BLOCK:
        raise UnsafeArchiveError("truncated archive: size is not whole tar blocks")
    raw.seek(total - 2 * _BLOCK)
    if raw.read(2 * _BLOCK).strip(b"\0"):
        raise UnsafeArchiveError("truncated archive: the tar end marker is missing")
    raw.seek(0)


def _file_size(raw: IO[bytes]) -> int:
    raw.seek(0, io.SEEK_END)
    size = raw.tell()
    raw.seek(0)
    return size


class _Meter(io.RawIOBase):
    """Counts bytes read from the archive file and reports progress."""

    def __init__(self, raw: IO[bytes], total: int, progress: Progress | None) -> None:
        super().__init__()
        self._raw = raw
        self.total = total
        self._progress = progress

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if self._progress is not None:
            self._progress(self._raw.tell(), self.total)
        return data

    def preadinto(self, view: memoryview, offset: int) -> int:
        count = os.preadv(self._raw.fileno(), [view], offset)
        if self._progress is not None:
            self._progress(offset + count, self.total)
        return count

    def pread(self, size: int, offset: int) -> bytes:
        data = os.pread(self._raw.fileno(), size, offset)
        if self._progress is not None:
            self._progress(offset + len(data), self.total)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Slice:
    """``size`` bytes of the archive file from ``offset``, read with pread."""

    def __init__(self, meter: _Meter, offset: int, size: int) -> None:
        self._meter = meter
        self._pos = offset
        self._end = offset + size

    def read(self, size: int = -1, /) -> bytes:
        want = self._end - self._pos if size < 0 else min(size, self._end - self._pos)
        if want <= 0:
            return b""
        try:
            data = self._meter.pread(want, self._pos)
        except OSError as exc:
            raise _translated(exc) from exc
        self._pos += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        view = memoryview(buffer)[: max(0, self._end - self._pos)]
        if not len(view):
            return 0
        try:
            count = self._meter.preadinto(view, self._pos)
        except OSError as exc:
            raise _translated(exc) from exc
        self._pos += count
        return count


class _Inflated(io.RawIOBase):
    """The inflated gzip stream, refusing to grow past the size and ratio limits."""

    def __init__(self, inner: io.BufferedIOBase, meter: _Meter,
                 limits: UnpackLimits) -> None:
        super().__init__()
        self._inner = inner
        self._meter = meter
        self._limits = limits
        self.produced = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size if size >= 0 else 1 << 20)
        self.produced += len(data)
        if self.produced > self._limits.max_bytes:
            raise UnsafeArchiveError(f"bundle inflates beyond {self._limits.max_bytes} bytes")
        consumed = max(1, self._meter.tell())
        if (self.produced > self._limits.ratio_floor
                and self.produced > consumed * self._limits.max_ratio):
            raise UnsafeArchiveError(
                f"decompression bomb: {consumed} compressed bytes inflated to "
                f"{self.produced} (limit ratio {self._limits.max_ratio:g})")
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _translated(exc: BaseException) -> UnsafeArchiveError:
    if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile):
        return UnsafeArchiveError(f"cannot read bundle: {exc}")
    return UnsafeArchiveError(f"truncated or corrupt archive: {exc}")


class _Guarded(io.RawIOBase):
    """A member's data; errors of the tar and gzip layers surface as UnsafeArchiveError
    here too, since they happen while the consumer reads, outside ``iter_members``."""

    def __init__(self, inner: IO[bytes]) -> None:
        super().__init__()
        self._inner = inner

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._inner.read(size)
        except _READ_ERRORS as exc:
            raise _translated(exc) from exc

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
