"""The backup manifest and its signature: pure values, bytes in and out.

A backup is a plain file set (``manifest.json``, ``manifest.sig``, ``files/*.enc``) so it
can be copied to removable media with ``cp``. The manifest names every file with its size
and the digest of its stored (encrypted) form, whose AES-GCM tags in turn authenticate
the plaintext (a second hash of the plaintext cost a third of the backup's time). The
digest is BLAKE3 since format v2 (``blake3:<hex>``; SHA-256 was half of a backup's time,
ADR 0801); v1 backups (``sha256:<hex>``) still verify and restore.
``manifest.sig`` is a C2SP signed note (c2sp.org/signed-note) by the ledger's log key
over the manifest's SHA-256, so ``verify`` needs no key but the log's public key, and
no unseal.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from sovra.errors import BackupIntegrityError, NoteError
from sovra.ledger import note as notes

FORMAT = "sovra-backup/v2"
_FORMATS = frozenset({"sovra-backup/v1", FORMAT})
DIGESTS = ("blake3", "sha256")
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
FILES_DIR = "files"
MAX_MANIFEST_BYTES = 64 * 2**20
_BACKUP_ID = re.compile(r"\A[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}\Z")
_TAIL_TIME = re.compile(rb',"time":"([0-9T:.\-]+Z)"}\Z')


@dataclass(frozen=True)
class FileRecord:
    """One file of the instance: where it goes back, and what it must hash to."""

    path: str          # relative to the data directory, POSIX separators
    stored: str        # relative to the backup directory ("files/000001.enc")
    size: int          # of the plaintext; its integrity is the AEAD's (path-bound tags)
    stored_size: int
    stored_digest: str  # "blake3:<hex>" (v1: "sha256:<hex>")

    @property
    def digest_algorithm(self) -> str:
        return self.stored_digest.partition(":")[0]


@dataclass(frozen=True)
class Reference:
    """A file left out on purpose (model weights): the bundle that brought it has it."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class CeremonyInfo:
    """What a restore needs to recognise the root key (never the key or a share)."""

    ceremony_id: str
    mode: str
    threshold: int
    share_count: int
    fingerprints: tuple[str, ...]
    verifier: bytes
    hsm: dict[str, str | None] | None
    created_at: float


@dataclass(frozen=True)
class LedgerHead:
    """The backed-up log: its size, RFC 9162 root, and the time of its last entry."""

    size: int
    root: bytes
    last_entry_time: str | None


@dataclass(frozen=True)
class Manifest:
    backup_id: str
    created_at: float
    profile: str
    log_origin: str
    log_vkey: str
    ceremony: CeremonyInfo
    wrapped_key: bytes
    ledger: LedgerHead
    files: tuple[FileRecord, ...]
    references: tuple[Reference, ...]
    format: str = FORMAT

    def encode(self) -> bytes:
        return json.dumps(_to_json(self), sort_keys=True, indent=1).encode("utf-8") + b"\n"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _to_json(m: Manifest) -> dict[str, Any]:
    c = m.ceremony
    return {
        "format": m.format, "backup_id": m.backup_id, "created_at": m.created_at,
        "profile": m.profile, "log_origin": m.log_origin, "log_vkey": m.log_vkey,
        "ceremony": {"ceremony_id": c.ceremony_id, "mode": c.mode, "threshold": c.threshold,
                     "share_count": c.share_count, "fingerprints": list(c.fingerprints),
                     "verifier": _b64(c.verifier), "hsm": c.hsm, "created_at": c.created_at},
        "wrapped_key": _b64(m.wrapped_key),
        "ledger": {"size": m.ledger.size, "root": _b64(m.ledger.root),
                   "last_entry_time": m.ledger.last_entry_time},
        "files": [_file_json(f, m.format) for f in m.files],
        "references": [r.__dict__ for r in m.references],
    }


def _file_json(f: FileRecord, fmt: str) -> dict[str, Any]:
    found = dict(f.__dict__)
    if fmt == "sovra-backup/v1":  # v1 named the field after its one algorithm
        found["stored_sha256"] = found.pop("stored_digest").removeprefix("sha256:")
    return found


def _file_record(doc: dict[str, Any], fmt: str) -> FileRecord:
    doc = dict(doc)
    if fmt == "sovra-backup/v1":
        doc["stored_digest"] = "sha256:" + str(doc.pop("stored_sha256"))
    record = FileRecord(**doc)
    algorithm, _, hexdigest = record.stored_digest.partition(":")
    if algorithm not in DIGESTS or not re.fullmatch(r"[0-9a-f]{64}", hexdigest):
        raise ValueError(f"stored_digest {record.stored_digest!r} is not blake3:<hex> or "
                         "sha256:<hex>")
    return record


def entry_time(body: bytes) -> str | None:
    """The ``time`` a ledger entry body ends with (``sovra.ledger.entry`` writes it last)."""
    found = _TAIL_TIME.search(body)
    return found.group(1).decode("ascii") if found else None


def safe_relative(path: str) -> str:
    """Refuse a path that would leave the restore target (absolute, ``..``, empty)."""
    pure = PurePosixPath(path)
    if (not path or pure.is_absolute() or ".." in pure.parts or "\\" in path
            or "\x00" in path or str(pure) != path):
        raise BackupIntegrityError(f"the manifest names an unsafe path {path!r}: refused")
    return path


def decode(raw: bytes) -> Manifest:
    """Parse a manifest; anything malformed is an integrity failure that names the field."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise BackupIntegrityError("the manifest is larger than any Sovra writes: refused")
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise BackupIntegrityError(f"the manifest is not JSON ({exc}): the backup is "
                                   "damaged") from exc
    if not isinstance(doc, dict) or doc.get("format") not in _FORMATS:
        found = doc.get("format") if isinstance(doc, dict) else None
        raise BackupIntegrityError(f"not a Sovra backup manifest (format {found!r}, "
                                   f"expected {FORMAT})")
    fmt = str(doc["format"])
    try:
        c, led = doc["ceremony"], doc["ledger"]
        files = tuple(_file_record(f, fmt) for f in doc["files"])
        manifest = Manifest(
            backup_id=str(doc["backup_id"]), created_at=float(doc["created_at"]),
            profile=str(doc["profile"]), log_origin=str(doc["log_origin"]),
            log_vkey=str(doc["log_vkey"]),
            ceremony=CeremonyInfo(str(c["ceremony_id"]), str(c["mode"]), int(c["threshold"]),
                                  int(c["share_count"]), tuple(c["fingerprints"]),
                                  base64.b64decode(c["verifier"], validate=True), c["hsm"],
                                  float(c["created_at"])),
            wrapped_key=base64.b64decode(doc["wrapped_key"], validate=True),
            ledger=LedgerHead(int(led["size"]), base64.b64decode(led["root"], validate=True),
                              led["last_entry_time"]),
            files=files, references=tuple(Reference(**r) for r in doc["references"]),
            format=fmt)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BackupIntegrityError(f"the manifest is malformed ({type(exc).__name__}: "
                                   f"{exc}): the backup is damaged") from exc
    if not _BACKUP_ID.match(manifest.backup_id):
        raise BackupIntegrityError(f"the manifest's backup id {manifest.backup_id!r} is "
                                   "malformed")
    for record in files:
        safe_relative(record.path)
        safe_relative(record.stored)
    return manifest


def signed_text(backup_id: str, manifest_bytes: bytes, fmt: str = FORMAT) -> str:
    """The note text the log key signs: the format, the backup id, the manifest's hash."""
    return f"{fmt}\n{backup_id}\nsha256 {hashlib.sha256(manifest_bytes).hexdigest()}\n"


def sign(backup_id: str, manifest_bytes: bytes, signer: notes.Signer,
         fmt: str = FORMAT) -> str:
    text = signed_text(backup_id, manifest_bytes, fmt)
    return notes.Note(text, (signer.sign(text),)).render()


def verify_signature(manifest_bytes: bytes, signature: str,
                     trusted: notes.Verifier) -> Manifest:
    """The manifest, if ``trusted`` (the instance's log key) signed exactly these bytes.

    Checked in the order that gives the clearest message: another instance's backup
    says whose it is; a signature by any other key says the key is unknown.
    """
    manifest = decode(manifest_bytes)
    if manifest.log_origin != trusted.name:
        raise BackupIntegrityError(
            f"backup {manifest.backup_id} is from another instance (log "
            f"{manifest.log_origin!r}); the key you trust is the log {trusted.name!r}. "
            "Restore it with that instance's log key, or pick this instance's backup")
    try:
        note, _good = notes.open_note(signature, [trusted])
    except NoteError as exc:
        raise BackupIntegrityError(
            f"the manifest of backup {manifest.backup_id} is not signed by the trusted log "
            f"key {trusted.name} ({exc}): it was signed by an unknown key or altered") from exc
    if note.text != signed_text(manifest.backup_id, manifest_bytes, manifest.format):
        raise BackupIntegrityError(f"the manifest of backup {manifest.backup_id} was altered "
                                   "after it was signed (its hash does not match)")
    return manifest
