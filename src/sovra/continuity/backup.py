"""``sovra backup create|list|verify|prune``: encrypted, signed, consistent online backups.

The embedded database is copied with SQLite's online backup API (CPython's ``sqlite3``,
the one SQLite library that touches the file), which reads one consistent snapshot
while ``sovra up`` keeps writing; the cluster profile's with ``pg_dump`` of one exported
snapshot (``postgres``). Every other file of the data directory (stored
objects, configuration, policy packs, secrets, the model registry's files) is taken as
it is; model weights are listed by reference to the bundle that brought them unless
asked for. Every file is encrypted (``crypto``), the manifest lists each file's SHA-256
and is signed by the ledger's log key (``manifest``). The backup is written under a
hidden name and renamed when complete, so a crash never leaves a backup that looks whole.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import blake3

from sovra.config import Settings
from sovra.continuity import crypto, manifest, postgres, retention, sqlite_copy, state
from sovra.errors import (
    BackupIntegrityError,
    ConfigError,
    NotFoundError,
    SovraError,
    StorageError,
)
from sovra.instance import Instance
from sovra.keys import Ceremony
from sovra.ledger import note as notes

DB_NAME = "sovra.db"
_DB_SIDE_FILES = {DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal"}
_WEIGHTS_DIR = ("transfer", "models")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class BackupInfo:
    backup_id: str
    path: Path
    created_at: float
    files: int
    bytes: int
    stored_bytes: int
    ledger: manifest.LedgerHead
    references: int
    database_copy: str  # "pinned-file", "online-backup" or "pg_dump"


def backup_root(settings: Settings) -> Path:
    return settings.backup_dir or settings.data_dir / "backups"


def _new_id(now: float, random: Callable[[int], bytes]) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + "-" + random(4).hex()


def _instance_files(settings: Settings, include_weights: bool
                    ) -> Iterator[tuple[str, Path, bool]]:
    """(relative path, path, included) for every regular file that belongs to the instance."""
    data_dir = settings.data_dir
    skip_dirs = {backup_root(settings).resolve(),
                 (state.room_dir(data_dir) / state.TMP_DIR).resolve()}
    for folder, dirs, files in os.walk(data_dir):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if (here / d).resolve() not in skip_dirs)
        for name in sorted(files):
            path = here / name
            rel = path.relative_to(data_dir).as_posix()
            if rel in _DB_SIDE_FILES or rel == f"{state.ROOM_DIR}/{state.HOLD_FILE}":
                continue
            if path.is_symlink() or not path.is_file() or (name.startswith(".") and \
                    name.endswith(".tmp")):
                continue
            weights = path.relative_to(data_dir).parts[:2] == _WEIGHTS_DIR
            yield rel, path, include_weights or not weights


def _sha256_of(path: Path) -> tuple[int, str]:
    size, digest = _digest_of(path, "sha256")
    return size, digest.removeprefix("sha256:")


def _digest_of(path: Path, algorithm: str) -> tuple[int, str]:
    """(size, "<algorithm>:<hex>") of a file, read once in large chunks."""
    digest = blake3.blake3() if algorithm == "blake3" else hashlib.sha256()
    size = 0
    with path.open("rb", buffering=0) as handle:
        buffer = bytearray(_CHUNK)
        view = memoryview(buffer)
        while count := handle.readinto(buffer):
            digest.update(view[:count])
            size += count
    return size, f"{algorithm}:{digest.hexdigest()}"


def _seal_one(key: bytearray, index: int, backup_id: str, *, rel: str, src: Path,
              staging: Path) -> manifest.FileRecord:
    with src.open("rb") as plain:
        return _seal_reader(key, index, backup_id, rel=rel, plain=plain, staging=staging)


def _seal_reader(key: bytearray, index: int, backup_id: str, *, rel: str, plain: BinaryIO,
                 staging: Path) -> manifest.FileRecord:
    stored = f"{manifest.FILES_DIR}/{index:06d}.enc"
    with (staging / stored).open("xb") as out:
        sealed = crypto.seal_file(key, index, backup_id, rel, src=plain, dst=out)
        out.flush()
        os.fsync(out.fileno())
    return manifest.FileRecord(rel, stored, sealed.size, sealed.stored_size,
                               sealed.stored_digest)


def create(instance: Instance, *, actor: str, dest: Path | None = None,
           include_weights: bool = False, clock: Callable[[], float] = time.time,
           random: Callable[[int], bytes] = os.urandom) -> BackupInfo:
    """Back up the whole instance into ``dest`` (default: the configured backup dir)."""
    settings = instance.settings
    root = instance.keys.custody.root()  # SealedError first: nothing is recorded or written
    ceremony = instance.keys.custody.ceremony
    if ceremony is None:
        raise ConfigError("the instance has no key ceremony: run `sovra init` first")
    dest = (dest or backup_root(settings)).resolve()
    now = clock()
    backup_id = _new_id(now, random)
    resource = f"continuity/backup/{backup_id}"
    details = {"destination": str(dest), "include_weights": include_weights}
    # Recorded before the snapshot, so the backup holds the record of its own making.
    instance.ledger.append(actor, "continuity.backup", resource, "success", details)
    try:
        return _write(instance, root, ceremony, dest=dest, backup_id=backup_id, now=now,
                      include_weights=include_weights, random=random)
    except (SovraError, OSError) as exc:
        instance.ledger.append(actor, "continuity.backup", resource, "failure",
                               {**details, "error": f"{type(exc).__name__}: {exc}"})
        if isinstance(exc, OSError):
            raise StorageError(f"backup {backup_id} failed and nothing of it was kept: {exc}"
                               f" (destination {dest}: free space, or check that it is "
                               "writable, or choose another with --dest)") from exc
        raise


def _write(instance: Instance, root: crypto.Wrapper, ceremony: Ceremony, *, dest: Path,
           backup_id: str, now: float, include_weights: bool,
           random: Callable[[int], bytes]) -> BackupInfo:
    settings = instance.settings
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = dest / f".{backup_id}.partial"
    scratch = state.room_dir(settings.data_dir) / state.TMP_DIR / backup_id
    key, wrapped = crypto.new_backup_key(root, ceremony.ceremony_id, backup_id, random)
    try:
        (staging / manifest.FILES_DIR).mkdir(parents=True, mode=0o700)
        scratch.mkdir(parents=True, mode=0o700)
        if settings.profile == "cluster":
            head = postgres.dump(instance.engine, scratch / postgres.DUMP_NAME)
            method = "pg_dump"
            records = [_seal_one(key, 0, backup_id, rel=postgres.DUMP_NAME,
                                 src=scratch / postgres.DUMP_NAME, staging=staging)]
        else:
            record, head, method = sqlite_copy.seal_database(
                settings.data_dir / DB_NAME, scratch, lambda plain: _seal_reader(
                    key, 0, backup_id, rel=DB_NAME, plain=plain, staging=staging))
            records = [record]
        references = []
        for rel, path, included in _instance_files(settings, include_weights):
            if included:
                records.append(_seal_one(key, len(records), backup_id, rel=rel, src=path,
                                         staging=staging))
            else:
                size, digest = _sha256_of(path)
                references.append(manifest.Reference(rel, size, digest))
        signer = instance.ledger.checkpoints.signer
        body = manifest.Manifest(
            backup_id=backup_id, created_at=now, profile=settings.profile,
            log_origin=signer.name, log_vkey=signer.verifier.vkey,
            ceremony=_ceremony_info(ceremony), wrapped_key=wrapped, ledger=head,
            files=tuple(records), references=tuple(references)).encode()
        _write_small(staging / manifest.MANIFEST, body)
        _write_small(staging / manifest.SIGNATURE,
                     manifest.sign(backup_id, body, signer).encode("utf-8"))
        state.fsync_dir(staging / manifest.FILES_DIR)
        state.fsync_dir(staging)
        final = dest / backup_id
        staging.rename(final)
        state.fsync_dir(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        crypto.forget(key)
        shutil.rmtree(scratch, ignore_errors=True)
    info = BackupInfo(backup_id, final, now, len(records), sum(r.size for r in records),
                      sum(r.stored_size for r in records), head, len(references), method)
    state.update_state(settings.data_dir, last_backup={
        "backup_id": backup_id, "path": str(final), "created_at": now,
        "ledger_size": head.size, "last_entry_time": head.last_entry_time})
    return info


def _ceremony_info(ceremony: Ceremony) -> manifest.CeremonyInfo:
    hsm = None
    if ceremony.hsm is not None:
        hsm = {"module": ceremony.hsm.module, "token_label": ceremony.hsm.token_label,
               "pin_file": ceremony.hsm.pin_file, "pin_env": ceremony.hsm.pin_env}
    return manifest.CeremonyInfo(ceremony.ceremony_id, ceremony.mode, ceremony.threshold,
                                 ceremony.share_count, ceremony.fingerprints,
                                 ceremony.verifier, hsm, ceremony.created_at)


def _write_small(path: Path, data: bytes) -> None:
    with path.open("xb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


# -- reading, verifying, pruning ------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """A backup checked without keys: signature, then every stored file's size and hash."""

    backup_id: str | None
    valid: bool
    problems: tuple[str, ...]
    contents: manifest.Manifest | None

    def raise_if_invalid(self) -> manifest.Manifest:
        if not self.valid or self.contents is None:
            raise BackupIntegrityError("; ".join(self.problems))
        return self.contents


def read_manifest(folder: Path) -> tuple[bytes, str]:
    try:
        body = (folder / manifest.MANIFEST).read_bytes()
        signature = (folder / manifest.SIGNATURE).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise BackupIntegrityError(f"{folder} is not a complete Sovra backup: "
                                   f"{Path(exc.filename).name} is missing") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BackupIntegrityError(f"cannot read the manifest of {folder}: {exc}") from exc
    return body, signature


def verify(folder: Path, trusted: notes.Verifier) -> Verification:
    """Check a backup against the log key the operator trusts; no unseal needed."""
    try:
        body, signature = read_manifest(folder)
        found = manifest.verify_signature(body, signature, trusted)
    except BackupIntegrityError as exc:
        return Verification(None, valid=False, problems=(str(exc),), contents=None)
    problems = [p for record in found.files if (p := _check_stored(folder, record))]
    return Verification(found.backup_id, valid=not problems, problems=tuple(problems),
                        contents=found)


def _check_stored(folder: Path, record: manifest.FileRecord) -> str | None:
    path = folder / record.stored
    try:
        size, digest = _digest_of(path, record.digest_algorithm)
    except FileNotFoundError:
        return f"{record.stored} ({record.path}) is missing"
    except OSError as exc:
        return f"{record.stored} ({record.path}) cannot be read: {exc}"
    if size != record.stored_size:
        return (f"{record.stored} ({record.path}) is truncated or extended: {size} bytes, "
                f"the manifest says {record.stored_size}")
    if digest != record.stored_digest:
        return (f"{record.stored} ({record.path}) was altered: its {record.digest_algorithm} "
                "digest does not match the manifest")
    return None


@dataclass(frozen=True)
class Listed:
    backup_id: str
    path: Path
    created_at: float
    files: int
    bytes: int
    ledger_size: int


def list_backups(dest: Path) -> list[Listed]:
    """Backups found in ``dest``, oldest first (read from their manifests, not verified)."""
    if not dest.is_dir():
        return []
    found = []
    for folder in sorted(p for p in dest.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            m = manifest.decode((folder / manifest.MANIFEST).read_bytes())
        except (OSError, BackupIntegrityError):
            continue
        if m.backup_id == folder.name:
            found.append(Listed(m.backup_id, folder, m.created_at, len(m.files),
                                sum(f.size for f in m.files), m.ledger.size))
    return sorted(found, key=lambda b: (b.created_at, b.backup_id))


def prune(instance: Instance, *, actor: str, dest: Path | None = None,
          daily: int | None = None, weekly: int | None = None) -> retention.RetentionPlan:
    """Remove backups no retention rule keeps; recorded before anything is removed."""
    settings = instance.settings
    dest = (dest or backup_root(settings)).resolve()
    backups = list_backups(dest)
    if not backups:
        raise NotFoundError(f"no backups in {dest}")
    plan = retention.plan([(b.backup_id, b.created_at) for b in backups],
                          daily=settings.backup_keep_daily if daily is None else daily,
                          weekly=settings.backup_keep_weekly if weekly is None else weekly)
    instance.ledger.append(actor, "continuity.backup.prune", f"continuity/backups/{dest}",
                           "success", {"pruned": list(plan.prune),
                                       "kept": [k.backup_id for k in plan.keep]})
    for backup_id in plan.prune:
        shutil.rmtree(dest / backup_id)
    if plan.prune:
        state.fsync_dir(dest)
    return plan
