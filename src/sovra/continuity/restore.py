"""``sovra restore``: a verified backup onto a new, empty data directory, all or nothing.

Order (each step refuses with a message before anything is written to the target):
the target must be empty; the manifest must be signed by the log key the operator
trusts (not one the backup carries); every stored file must have its recorded size and
SHA-256; the custodians' shares (or the HSM) must rebuild the root that wrapped the
backup key. Files are decrypted into a hidden sibling of the target, each plaintext
checked against its SHA-256, the restored log is opened and checked, and only then is
the sibling renamed to the target: an interrupted restore leaves no target at all.

After restore, the log is compared with the newest checkpoint known outside the backup
(a checkpoint note the operator kept, or a witness-cosigned one): a restored log shorter
than that checkpoint, or disagreeing with it, is a rollback. It is recorded, and the
instance is held (``state.hold``): ``sovra up`` refuses to serve until an approver
accepts the rollback, which is recorded too (DORA Art. 12(2): restores are verified).
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sovra.config import Settings
from sovra.continuity import crypto, manifest, postgres, state
from sovra.continuity._custody import rebuild_root
from sovra.continuity.backup import verify
from sovra.errors import (
    BackupIntegrityError,
    CheckpointError,
    ConflictError,
    DecryptionError,
    InvalidInputError,
    NoteError,
    StorageError,
)
from sovra.ledger import Ledger
from sovra.ledger import note as notes
from sovra.store import make_engine

_CHUNK = 1 << 20


@dataclass(frozen=True)
class RollbackVerdict:
    """The restored log against a checkpoint known outside the backup, with the reason."""

    rolled_back: bool
    reason: str
    checkpoint_size: int | None
    restored_size: int


@dataclass(frozen=True)
class RestoreResult:
    backup_id: str
    target: Path
    files: int
    size_bytes: int
    ledger_size: int
    ledger_root: bytes
    verdict: RollbackVerdict
    missing_references: tuple[str, ...]
    elapsed_s: float


def check_rollback(checkpoint_note: str | None, trusted: notes.Verifier, size: int,
                   root_at: Callable[[int], bytes]) -> RollbackVerdict:
    """Compare a restored log (``size``, ``root_at(n)``) with an outside checkpoint."""
    if checkpoint_note is None:
        return RollbackVerdict(
            rolled_back=False, reason="no checkpoint from outside the backup was given: a "
            "rollback cannot be ruled out (pass --checkpoint)", checkpoint_size=None,
            restored_size=size)
    try:
        checkpoint, _note, _witnesses = notes.open_checkpoint(checkpoint_note, trusted)
    except (NoteError, CheckpointError) as exc:
        raise InvalidInputError(f"the checkpoint given is not one this instance's log "
                                f"signed ({exc}); give the note `sovra ledger checkpoint` "
                                "printed, or a witness's cosigned copy") from exc
    if checkpoint.size > size:
        reason = (f"the restored log holds {size} entries but a checkpoint known outside the "
                  f"backup was signed at size {checkpoint.size}: {checkpoint.size - size} "
                  "acknowledged entries are missing (rollback)")
        rolled_back = True
    elif root_at(checkpoint.size) != checkpoint.root_hash:
        reason = (f"the restored log's first {checkpoint.size} entries do not match the "
                  "checkpoint known outside the backup: it is another history (fork)")
        rolled_back = True
    else:
        reason = (f"the restored log ({size} entries) extends the checkpoint known outside "
                  f"the backup (size {checkpoint.size})")
        rolled_back = False
    return RollbackVerdict(rolled_back=rolled_back, reason=reason,
                           checkpoint_size=checkpoint.size, restored_size=size)


def _check_target(target: Path) -> None:
    if target.is_symlink() or (target.exists() and (not target.is_dir() or any(target.iterdir()))):
        raise ConflictError(f"restore target {target} is not empty: a restore never "
                            "overwrites; restore onto a new, empty data directory")
    if not target.parent.is_dir():
        raise InvalidInputError(f"the parent of restore target {target} does not exist")


def _check_database(found: manifest.Manifest, database_url: str | None) -> None:
    if found.profile == "cluster":
        if database_url is None:
            raise InvalidInputError(f"backup {found.backup_id} is of the cluster profile "
                                    "(PostgreSQL): give --database-url of a new, empty "
                                    "database to restore it into")
        postgres.require_empty(database_url)
    elif database_url is not None:
        raise InvalidInputError(f"backup {found.backup_id} is of the embedded profile: it "
                                "restores into the data directory; drop --database-url")


def restore(folder: Path, target: Path, *, trusted: notes.Verifier, shares: Sequence[str],
            checkpoint: str | None, actor: str, database_url: str | None = None,
            credential: str | None = None,
            clock: Callable[[], float] = time.monotonic) -> RestoreResult:
    """Restore backup ``folder`` into ``target`` (new or empty), verified end to end.

    A cluster-profile backup also needs ``database_url``, a new, empty PostgreSQL
    database; a failure after loading it empties it again. With ``credential`` (an API
    key, as the CLI always passes), the restored instance's own policy decides
    ``continuity.restore`` for its holder before anything is kept, and the decision is
    recorded in the restored ledger; a denial keeps nothing (``PermissionDeniedError``).
    """
    started = clock()
    target = target.absolute()
    _check_target(target)
    found = verify(folder, trusted).raise_if_invalid()
    _check_database(found, database_url)
    root = rebuild_root(found.ceremony, shares)
    try:
        key = crypto.open_backup_key(root, found.ceremony.ceremony_id, found.backup_id,
                                     found.wrapped_key)
    except DecryptionError as exc:
        raise BackupIntegrityError(f"the backup key of {found.backup_id} does not open under "
                                   "this root: the backup is from another instance") from exc
    finally:
        root.close()
    staging = target.with_name(f".{target.name}.restore-{secrets.token_hex(4)}")
    loaded = False
    try:
        staging.mkdir(mode=0o700)
        try:
            for index, record in enumerate(found.files):
                _open_one(key, index, found.backup_id, folder=folder, record=record,
                          staging=staging)
        finally:
            crypto.forget(key)
        if database_url is not None:
            loaded = True
            postgres.load(database_url, staging / postgres.DUMP_NAME)
            (staging / postgres.DUMP_NAME).unlink()  # plaintext: the database holds it now
        verdict, ledger_root = _check_restored_log(
            staging, found, trusted=trusted, checkpoint=checkpoint, actor=actor,
            database_url=database_url, credential=credential)
        _check_target(target)
        if target.exists():
            target.rmdir()
        staging.rename(target)
        state.fsync_dir(target.parent)
    except OSError as exc:
        _undo(staging, loaded, database_url)
        raise StorageError(f"the restore of backup {found.backup_id} failed and nothing of it "
                           f"was kept: {exc} (free space on {target.parent}, or check that "
                           "it is writable)") from exc
    except BaseException:
        _undo(staging, loaded, database_url)
        raise
    missing = tuple(r.path for r in found.references if not (target / r.path).exists())
    return RestoreResult(found.backup_id, target, len(found.files),
                         sum(r.size for r in found.files), found.ledger.size, ledger_root,
                         verdict, missing, clock() - started)


def _undo(staging: Path, loaded: bool, database_url: str | None) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    if loaded and database_url is not None:
        postgres.empty(database_url)


def _open_one(key: bytearray, index: int, backup_id: str, *, folder: Path,
              record: manifest.FileRecord, staging: Path) -> None:
    path = staging / manifest.safe_relative(record.path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with (folder / record.stored).open("rb") as src, os.fdopen(fd, "wb") as out:
        size = crypto.open_file(key, index, backup_id, record.path, src=src, dst=out)
        out.flush()
        os.fsync(out.fileno())
    if size != record.size:
        raise BackupIntegrityError(f"{record.path} decrypted to {size} bytes, the manifest "
                                   f"says {record.size}: the backup is damaged")


def restored_settings(data_dir: Path, database_url: str | None = None) -> Settings:
    """Settings for a restored directory (and database), whatever the environment names."""
    return Settings(data_dir=data_dir, database_url=database_url, checkpoint_interval_s=0.0)


def _check_restored_log(staging: Path, found: manifest.Manifest, *, trusted: notes.Verifier,
                        checkpoint: str | None, actor: str, database_url: str | None,
                        credential: str | None) -> tuple[RollbackVerdict, bytes]:
    """Open the restored log: it must be the backed-up one, then compare, then record."""
    settings = restored_settings(staging, database_url)
    if credential is not None:
        return _check_authorized(settings, found, trusted=trusted, checkpoint=checkpoint,
                                 credential=credential)
    engine = make_engine(settings.effective_database_url)
    try:
        ledger = Ledger.open(engine, settings)
        try:
            return _check_and_record(ledger, staging, found, trusted=trusted,
                                     checkpoint=checkpoint, actor=actor)
        finally:
            ledger.close()
    finally:
        engine.dispose()


def _check_authorized(settings: Settings, found: manifest.Manifest, *,
                      trusted: notes.Verifier, checkpoint: str | None, credential: str
                      ) -> tuple[RollbackVerdict, bytes]:
    """``_check_and_record`` after the restored instance's policy allowed the holder of
    ``credential`` to restore it (the CLI must not bypass policy, as the API cannot)."""
    from sovra.instance import open_instance  # the whole instance only for this path
    from sovra.policy import Resource

    opened = open_instance(settings)
    try:
        _require_backed_up(opened.ledger, found)
        caller = opened.identity.authenticate(f"Bearer {credential}", "cli")
        opened.policy.require(caller, "continuity.restore",
                              Resource("Continuity", found.backup_id), {"client_ip": "cli"})
        return _check_and_record(opened.ledger, settings.data_dir, found, trusted=trusted,
                                 checkpoint=checkpoint, actor=caller.principal_id,
                                 expected_size=opened.ledger.size)
    finally:
        opened.close()


def _require_backed_up(ledger: Ledger, found: manifest.Manifest) -> None:
    if ledger.integrity_problem is not None:
        raise BackupIntegrityError(f"the restored ledger is inconsistent: "
                                   f"{ledger.integrity_problem}")
    if ledger.size != found.ledger.size or ledger.root() != found.ledger.root:
        raise BackupIntegrityError("the restored ledger is not the one the manifest "
                                   "records (size or root differs)")


def _check_and_record(ledger: Ledger, staging: Path, found: manifest.Manifest, *,
                      trusted: notes.Verifier, checkpoint: str | None, actor: str,
                      expected_size: int | None = None) -> tuple[RollbackVerdict, bytes]:
    if expected_size is None:
        _require_backed_up(ledger, found)
    elif ledger.size != expected_size:
        raise BackupIntegrityError("the restored ledger changed while it was checked")
    # The backed-up log's size, not the current one: a policy decision recorded just
    # now must not make an older log look long enough.
    size = found.ledger.size
    verdict = check_rollback(checkpoint, trusted, size, ledger.root)
    details: dict[str, object] = {
        "backup_id": found.backup_id, "ledger_size": size,
        "rolled_back": verdict.rolled_back, "reason": verdict.reason,
        "checkpoint_size": verdict.checkpoint_size}
    resource = f"continuity/backup/{found.backup_id}"
    ledger.append(actor, "continuity.restore", resource, "success", details)
    if verdict.rolled_back:
        ledger.append(actor, "continuity.rollback.hold", resource, "success", details)
        state.write_json(state.hold_path(staging), {
            "backup_id": found.backup_id, "reason": verdict.reason,
            "checkpoint_size": verdict.checkpoint_size,
            "restored_size": verdict.restored_size, "detected_at": time.time()})
    return verdict, ledger.root(size)
