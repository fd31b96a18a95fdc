"""Tamper with bundle archives the way an attacker with the removable medium would."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Callable
from pathlib import Path

Member = tuple[tarfile.TarInfo, bytes]


def read_members(path: Path) -> list[Member]:
    found = []
    with tarfile.open(path, "r:*") as archive:
        for info in archive:
            handle = archive.extractfile(info)
            found.append((info, handle.read() if handle else b""))
    return found


def write_members(path: Path, members: list[Member], *, compress: bool = False) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            if info.isreg():
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            else:
                archive.addfile(info)
    raw = buffer.getvalue()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def rewrite(src: Path, dst: Path, change: Callable[[list[Member]], list[Member]]) -> Path:
    return write_members(dst, change(read_members(src)))


def replace(name: str, data: bytes) -> Callable[[list[Member]], list[Member]]:
    def change(members: list[Member]) -> list[Member]:
        assert any(info.name == name for info, _ in members), name
        return [(info, data if info.name == name else body) for info, body in members]
    return change


def member(name: str, data: bytes) -> Member:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def data_of(path: Path, name: str) -> bytes:
    return next(body for info, body in read_members(path) if info.name == name)
