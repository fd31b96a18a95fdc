"""The self-contained export archive: an uncompressed POSIX tar with a manifest.

Members (docs/adr/0101-ledger-archive-format.md explains the choice):

* ``manifest.json``  format, origin, log verifier key, entry count, SHA-256 of members
* ``entries.jsonl``  every entry's canonical RFC 8785 bytes, one per line, in seq order
                     (canonical JSON never contains a raw newline, so lines are entries)
* ``leaf_hashes.bin`` the leaf hashes the database recorded, 32 bytes each (diagnostic:
                     lets the verifier name an entry whose bytes changed after the fact)
* ``checkpoints.json`` every signed checkpoint note, by tree size
* ``cosignatures.json`` every witness cosignature line with the witness's verifier key

Reading is defensive: only regular files with known names, bounded sizes, and any
failure to read becomes ``ArchiveError`` (unreadable), never an uncaught exception.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import tarfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sovra.errors import ArchiveError
from sovra.ledger.keyfile import fsync_dir

FORMAT = "sovra-ledger-archive/1"
MANIFEST, ENTRIES, LEAVES = "manifest.json", "entries.jsonl", "leaf_hashes.bin"
CHECKPOINTS, COSIGNATURES = "checkpoints.json", "cosignatures.json"
_MEMBERS = (MANIFEST, ENTRIES, LEAVES, CHECKPOINTS, COSIGNATURES)
MAX_MEMBER_BYTES = 16 * 1024**3
MAX_JSON_BYTES = 256 * 1024**2


@dataclass(frozen=True)
class ArchivedCheckpoint:
    tree_size: int
    note: str


@dataclass(frozen=True)
class ArchivedCosignature:
    tree_size: int
    witness_vkey: str
    signature_line: str


@dataclass(frozen=True)
class ArchiveContents:
    """Everything an archive holds, as bytes and values; nothing verified yet."""

    log_vkey: str
    origin: str
    entries: bytes
    leaf_hashes: bytes
    checkpoints: tuple[ArchivedCheckpoint, ...]
    cosignatures: tuple[ArchivedCosignature, ...]
    member_digests: dict[str, str]
    declared_digests: dict[str, str]
    declared_entries: int


def write_archive(path: Path, *, log_vkey: str, origin: str, entries: Iterable[bytes],
                  leaf_hashes: Iterable[bytes], checkpoints: Iterable[ArchivedCheckpoint],
                  cosignatures: Iterable[ArchivedCosignature]) -> int:
    """Write the archive durably (temp file, fsync, rename, fsync dir); returns entries."""
    entry_data = bytearray()
    count = 0
    for body in entries:
        entry_data += body + b"\n"
        count += 1
    members = {
        ENTRIES: bytes(entry_data),
        LEAVES: b"".join(leaf_hashes),
        CHECKPOINTS: _json([{"tree_size": c.tree_size, "note": c.note} for c in checkpoints]),
        COSIGNATURES: _json([{"tree_size": c.tree_size, "witness": c.witness_vkey,
                              "signature_line": c.signature_line} for c in cosignatures]),
    }
    created = int(time.time())
    manifest = {"format": FORMAT, "origin": origin, "log_key": log_vkey, "entries": count,
                "created": created,
                "sha256": {name: hashlib.sha256(data).hexdigest()
                           for name, data in members.items()}}
    members = {MANIFEST: _json(manifest), **members}
    path = path.resolve()
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with tmp.open("xb") as raw:
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for name, data in members.items():
                    info = tarfile.TarInfo(name)
                    info.size, info.mode, info.mtime = len(data), 0o644, created
                    tar.addfile(info, io.BytesIO(data))
            raw.flush()
            os.fsync(raw.fileno())
        tmp.replace(path)
        fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


def read_archive(path: Path, *, digest_entries: bool = True) -> ArchiveContents:
    """Read an archive; ``ArchiveError`` if it cannot be read as one at all.

    ``digest_entries=False`` leaves the SHA-256 of ``entries.jsonl`` (the largest
    member) out of ``member_digests``, for a caller that computes it later itself
    (``verify_archive``, while worker processes hash the entries).
    """
    try:
        with tarfile.open(path, mode="r:") as tar:
            data = _read_members(tar)
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise ArchiveError(f"cannot read ledger archive {path}: {exc}") from exc
    manifest = _load_json(data[MANIFEST], MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(f"{path} is not a {FORMAT} archive")
    try:
        checkpoints = tuple(ArchivedCheckpoint(int(c["tree_size"]), str(c["note"]))
                            for c in _load_json(data[CHECKPOINTS], CHECKPOINTS))
        cosignatures = tuple(ArchivedCosignature(int(c["tree_size"]), str(c["witness"]),
                                                 str(c["signature_line"]))
                             for c in _load_json(data[COSIGNATURES], COSIGNATURES))
        declared = {str(k): str(v) for k, v in dict(manifest["sha256"]).items()}
        return ArchiveContents(
            log_vkey=str(manifest["log_key"]), origin=str(manifest["origin"]),
            entries=data[ENTRIES], leaf_hashes=data[LEAVES], checkpoints=checkpoints,
            cosignatures=cosignatures,
            member_digests={name: hashlib.sha256(data[name]).hexdigest()
                            for name in _MEMBERS if name != MANIFEST
                            and (digest_entries or name != ENTRIES)},
            declared_digests=declared, declared_entries=int(manifest["entries"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ArchiveError(f"{path} has a malformed manifest or index: {exc!r}") from exc


def _read_members(tar: tarfile.TarFile) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for info in tar:
        if info.name not in _MEMBERS or not info.isreg():
            raise ArchiveError(f"unexpected archive member {info.name!r}")
        if info.name in found:
            raise ArchiveError(f"archive member {info.name!r} appears twice")
        limit = MAX_MEMBER_BYTES if info.name in (ENTRIES, LEAVES) else MAX_JSON_BYTES
        if info.size > limit:
            raise ArchiveError(f"archive member {info.name!r} is larger than {limit} bytes")
        handle = tar.extractfile(info)
        if handle is None:
            raise ArchiveError(f"cannot read archive member {info.name!r}")
        found[info.name] = handle.read()
    missing = [name for name in _MEMBERS if name not in found]
    if missing:
        raise ArchiveError(f"archive lacks {', '.join(missing)}")
    return found


def _json(value: object) -> bytes:
    return json.dumps(value, indent=1, sort_keys=True).encode() + b"\n"


def _load_json(data: bytes, name: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ArchiveError(f"archive member {name} is not valid JSON: {exc}") from exc
