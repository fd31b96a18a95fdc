"""Byte helpers shared by the key modules: framing of associated data, wiping, durable files.

Kept free of policy so that every module frames associated data the same way: an
ambiguous concatenation (``"ab" + "c"`` vs ``"a" + "bc"``) would let one binding pass
for another, so every part is length-prefixed.
"""

from __future__ import annotations

import os
from pathlib import Path


def framed(*parts: bytes | str | int) -> bytes:
    """Length-prefix each part (4-byte big-endian) so no two part lists encode alike."""
    out = bytearray()
    for part in parts:
        if isinstance(part, int):
            raw = part.to_bytes(8, "big", signed=False)
        elif isinstance(part, str):
            raw = part.encode("utf-8")
        else:
            raw = part
        out += len(raw).to_bytes(4, "big")
        out += raw
    return bytes(out)


def wipe(buffer: bytearray | None) -> None:
    """Overwrite a key buffer in place.

    Best effort: CPython may hold other copies (immutable ``bytes`` made on the way, or
    OpenSSL's own key schedule until the owning object is freed); docs/keys.md says so.
    """
    if buffer is not None:
        buffer[:] = bytes(len(buffer))


def write_private_file(path: Path, data: bytes) -> None:
    """Create ``path`` (0600, must not exist) durably: write, fsync, rename, fsync dir."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if path.exists():
        tmp.unlink()
        raise FileExistsError(str(path))
    tmp.rename(path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
