"""Keyrings: root -> versioned key-encryption keys (KEKs) -> one data key (DEK) per object.

Every KEK version is stored wrapped under the root, with associated data binding it to
the ceremony, keyring and version; every DEK is stored wrapped under one KEK version,
bound to keyring, object, DEK id and that version. Unwrapped KEKs are cached in this
process only while it is unsealed (:meth:`Keyrings.forget` wipes them on seal).

Rotation adds a version that wraps new DEKs; older versions keep opening the DEKs they
wrap until the minimum version is raised past them, which retires (erases) them.
Rewrapping moves DEKs to the current version without touching the object ciphertexts.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from sovra.errors import (
    ConflictError,
    DecryptionError,
    InvalidInputError,
    KeyDestroyedError,
    NotFoundError,
    StorageError,
)
from sovra.keys import aead
from sovra.keys._bytes import framed, wipe
from sovra.keys.root import RootKey
from sovra.store.tables.keys import keys_deks, keys_kek_versions, keys_keyrings

MAX_ID_LENGTH = 256
MAX_OBJECT_ID_LENGTH = 512
REWRAP_BATCH = 500
KEK_CACHE_SIZE = 4096


@dataclass(frozen=True)
class KeyringInfo:
    keyring_id: str
    current_version: int
    min_version: int
    live_versions: tuple[int, ...]
    destroyed: bool
    created_at: float
    destroyed_at: float | None


@dataclass(frozen=True)
class Erasure:
    """What a crypto-erasure removed."""

    keyring_id: str
    kek_versions: int
    data_keys: int


# Built once: constructing a SQLAlchemy statement costs more than running it here.
_DEK_WITH_KEYRING = select(
    keys_deks.c.keyring_id, keys_deks.c.object_id, keys_deks.c.kek_version,
    keys_deks.c.wrapped_dek, keys_keyrings.c.min_version, keys_keyrings.c.destroyed_at,
).select_from(keys_deks.join(
    keys_keyrings, keys_deks.c.keyring_id == keys_keyrings.c.keyring_id,
)).where(keys_deks.c.dek_id == bindparam("dek_id"))


def _check_id(value: str, what: str, limit: int) -> None:
    if not value or len(value) > limit or not value.isprintable():
        raise InvalidInputError(f"{what} must be 1..{limit} printable characters")


def kek_aad(ceremony_id: str, keyring_id: str, version: int) -> bytes:
    return framed(b"sovra/kek/v1", ceremony_id, keyring_id, version)


def dek_aad(keyring_id: str, object_id: str, dek_id: bytes, kek_version: int) -> bytes:
    return framed(b"sovra/dek/v1", keyring_id, object_id, dek_id, kek_version)


class Keyrings:
    """Keyring rows and key wrapping; the caller decides when (sealed? recorded?)."""

    def __init__(self, engine: Engine, ceremony_id: str, root: Callable[[], RootKey], *,
                 clock: Callable[[], float], random: Callable[[int], bytes] = os.urandom
                 ) -> None:
        self._engine = engine
        self._ceremony_id = ceremony_id
        self._root = root
        self._clock = clock
        self._random = random
        # Least recently used first; bounded because the data room keeps one keyring per
        # document, and an evicted KEK costs one unwrap (one root/HSM call) to reload.
        self._keks: OrderedDict[tuple[str, int], AESGCM] = OrderedDict()
        self._lock = threading.Lock()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StorageError(f"key store: {exc}") from exc

    # -- keyring lifecycle -------------------------------------------------------------

    def create(self, keyring_id: str) -> KeyringInfo:
        _check_id(keyring_id, "keyring id", MAX_ID_LENGTH)
        kek = bytearray(self._random(aead.KEY_BYTES))
        try:
            wrapped = self._root().wrap(kek, kek_aad(self._ceremony_id, keyring_id, 1))
            now = self._clock()
            try:
                with self._tx() as conn:
                    conn.execute(insert(keys_keyrings).values(
                        keyring_id=keyring_id, current_version=1, min_version=1,
                        created_at=now, destroyed_at=None))
                    conn.execute(insert(keys_kek_versions).values(
                        keyring_id=keyring_id, version=1, wrapped_kek=wrapped, created_at=now))
            except StorageError as exc:
                if isinstance(exc.__cause__, IntegrityError):
                    raise ConflictError(f"keyring {keyring_id!r} exists already (or was "
                                        "erased: erased ids are never reused)") from exc
                raise
        finally:
            wipe(kek)
        return self.info(keyring_id)

    def info(self, keyring_id: str) -> KeyringInfo:
        with self._tx() as conn:
            row = conn.execute(select(keys_keyrings).where(
                keys_keyrings.c.keyring_id == keyring_id)).first()
            if row is None:
                raise NotFoundError(f"no keyring {keyring_id!r}")
            live = conn.execute(select(keys_kek_versions.c.version).where(and_(
                keys_kek_versions.c.keyring_id == keyring_id,
                keys_kek_versions.c.wrapped_kek.is_not(None))).order_by(
                keys_kek_versions.c.version)).scalars().all()
        return KeyringInfo(row.keyring_id, row.current_version, row.min_version, tuple(live),
                           row.destroyed_at is not None, row.created_at, row.destroyed_at)

    def exists(self, keyring_id: str) -> bool:
        """True for a live keyring and for the tombstone of an erased one."""
        with self._tx() as conn:
            return conn.execute(select(keys_keyrings.c.keyring_id).where(
                keys_keyrings.c.keyring_id == keyring_id)).first() is not None

    def list_ids(self) -> list[str]:
        with self._tx() as conn:
            return list(conn.execute(select(keys_keyrings.c.keyring_id).order_by(
                keys_keyrings.c.keyring_id)).scalars())

    def _live_info(self, keyring_id: str) -> KeyringInfo:
        """The keyring's versions (one query: the hot path of every encrypt and decrypt)."""
        with self._tx() as conn:
            row = conn.execute(select(keys_keyrings).where(
                keys_keyrings.c.keyring_id == keyring_id)).first()
        if row is None:
            raise NotFoundError(f"no keyring {keyring_id!r}")
        if row.destroyed_at is not None:
            raise KeyDestroyedError(f"keyring {keyring_id!r} was crypto-erased; the data "
                                    "under it can never be decrypted again")
        # live_versions is not read here; callers that show it use info().
        return KeyringInfo(keyring_id=row.keyring_id, current_version=row.current_version,
                           min_version=row.min_version, live_versions=(), destroyed=False,
                           created_at=row.created_at, destroyed_at=None)

    def rotate(self, keyring_id: str) -> int:
        """Add a KEK version; new data keys are wrapped under it from now on."""
        info = self._live_info(keyring_id)
        version = info.current_version + 1
        kek = bytearray(self._random(aead.KEY_BYTES))
        try:
            wrapped = self._root().wrap(kek, kek_aad(self._ceremony_id, keyring_id, version))
        finally:
            wipe(kek)
        try:
            with self._tx() as conn:
                moved = conn.execute(update(keys_keyrings).where(and_(
                    keys_keyrings.c.keyring_id == keyring_id,
                    keys_keyrings.c.current_version == info.current_version,
                    keys_keyrings.c.destroyed_at.is_(None))).values(current_version=version))
                if moved.rowcount != 1:
                    raise ConflictError(f"keyring {keyring_id!r} changed concurrently; retry")
                conn.execute(insert(keys_kek_versions).values(
                    keyring_id=keyring_id, version=version, wrapped_kek=wrapped,
                    created_at=self._clock()))
        except StorageError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                raise ConflictError(f"keyring {keyring_id!r} rotated concurrently") from exc
            raise
        return version

    def stranded(self, keyring_id: str, below: int) -> int:
        """How many data keys are still wrapped under versions below ``below``."""
        with self._tx() as conn:
            return int(conn.execute(select(func.count()).select_from(keys_deks).where(and_(
                keys_deks.c.keyring_id == keyring_id,
                keys_deks.c.kek_version < below))).scalar_one())

    def set_min_version(self, keyring_id: str, version: int) -> tuple[int, ...]:
        """Retire (erase) every KEK version below ``version``; returns those retired."""
        info = self._live_info(keyring_id)
        if not info.min_version <= version <= info.current_version:
            raise InvalidInputError(f"minimum version must be {info.min_version}.."
                                    f"{info.current_version} (it only goes up)")
        with self._tx() as conn:
            _secure_delete(conn)
            retired = tuple(conn.execute(select(keys_kek_versions.c.version).where(and_(
                keys_kek_versions.c.keyring_id == keyring_id,
                keys_kek_versions.c.version < version,
                keys_kek_versions.c.wrapped_kek.is_not(None)))).scalars())
            conn.execute(update(keys_kek_versions).where(and_(
                keys_kek_versions.c.keyring_id == keyring_id,
                keys_kek_versions.c.version < version)).values(
                wrapped_kek=None, retired_at=func.coalesce(keys_kek_versions.c.retired_at,
                                                           self._clock())))
            conn.execute(update(keys_keyrings).where(
                keys_keyrings.c.keyring_id == keyring_id).values(min_version=version))
        self._forget_versions(keyring_id, below=version)
        _checkpoint(self._engine)
        return retired

    def rewrap(self, keyring_id: str) -> int:
        """Re-wrap every data key under the current KEK version; ciphertexts stay as they are."""
        info = self._live_info(keyring_id)
        target = info.current_version
        new_kek = self._kek(keyring_id, target)
        done = 0
        while True:
            with self._tx() as conn:
                rows = conn.execute(select(keys_deks).where(and_(
                    keys_deks.c.keyring_id == keyring_id,
                    keys_deks.c.kek_version < target)).limit(REWRAP_BATCH)).all()
                for row in rows:
                    dek_id = bytes.fromhex(row.dek_id)
                    old_kek = self._kek(keyring_id, row.kek_version)
                    dek = aead.unwrap(old_kek, bytes(row.wrapped_dek), dek_aad(
                        keyring_id, row.object_id, dek_id, row.kek_version))
                    try:
                        wrapped = aead.wrap(new_kek, dek, dek_aad(keyring_id, row.object_id,
                                                                  dek_id, target))
                    finally:
                        wipe(dek)
                    conn.execute(update(keys_deks).where(and_(
                        keys_deks.c.dek_id == row.dek_id,
                        keys_deks.c.kek_version == row.kek_version)).values(
                        kek_version=target, wrapped_dek=wrapped))
            done += len(rows)
            if len(rows) < REWRAP_BATCH:
                return done

    def destroy(self, keyring_id: str) -> Erasure:
        """Crypto-erase: drop every wrapped KEK and DEK of the keyring; keep a tombstone."""
        self._live_info(keyring_id)
        with self._tx() as conn:
            _secure_delete(conn)
            versions = conn.execute(update(keys_kek_versions).where(
                keys_kek_versions.c.keyring_id == keyring_id).values(
                wrapped_kek=None, retired_at=self._clock())).rowcount
            deks = conn.execute(delete(keys_deks).where(
                keys_deks.c.keyring_id == keyring_id)).rowcount
            conn.execute(update(keys_keyrings).where(
                keys_keyrings.c.keyring_id == keyring_id).values(destroyed_at=self._clock()))
        self._forget_versions(keyring_id, below=None)
        _checkpoint(self._engine)
        return Erasure(keyring_id, versions, deks)

    # -- data keys ---------------------------------------------------------------------

    def new_dek(self, keyring_id: str, object_id: str,
                segment_size: int = aead.DEFAULT_SEGMENT_SIZE) -> tuple[aead.Header, AESGCM]:
        """A fresh data key for one object, stored wrapped under the current KEK version."""
        _check_id(object_id, "object id", MAX_OBJECT_ID_LENGTH)
        info = self._live_info(keyring_id)
        header = aead.Header(info.current_version, self._random(aead.DEK_ID_BYTES),
                             segment_size, self._random(aead.NONCE_PREFIX_BYTES))
        kek = self._kek(keyring_id, info.current_version)
        dek = bytearray(self._random(aead.KEY_BYTES))
        try:
            wrapped = aead.wrap(kek, dek, dek_aad(keyring_id, object_id, header.dek_id,
                                                  info.current_version))
            with self._tx() as conn:
                conn.execute(insert(keys_deks).values(
                    dek_id=header.dek_id.hex(), keyring_id=keyring_id, object_id=object_id,
                    kek_version=info.current_version, wrapped_dek=wrapped,
                    created_at=self._clock()))
        except BaseException:
            wipe(dek)
            raise
        return header, aead.cipher(dek)

    def open_dek(self, keyring_id: str, object_id: str, header: aead.Header) -> AESGCM:
        """The data key named in ``header``, if it belongs to this keyring and object."""
        # One query for the data key and its keyring's state: this runs once per
        # decrypted object (every retrieval hit), and a second round trip for the keyring
        # alone doubled its cost. The keyring is read in the same statement, so an erasure
        # committed by any process is seen here at once (nothing about it is cached).
        with self._tx() as conn:
            row = conn.execute(_DEK_WITH_KEYRING, {"dek_id": header.dek_id.hex()}).first()
        if (row is None or row.keyring_id != keyring_id or row.object_id != object_id
                or row.destroyed_at is not None):
            self._live_info(keyring_id)  # an erased keyring says so rather than "not found"
            raise DecryptionError(f"this ciphertext does not belong to object {object_id!r} "
                                  f"of keyring {keyring_id!r} (or its data key was erased)")
        if row.kek_version < row.min_version:
            raise KeyDestroyedError(f"the data key of {object_id!r} was wrapped under KEK "
                                    f"version {row.kek_version}, retired when the minimum "
                                    f"version became {row.min_version}")
        kek = self._kek(keyring_id, row.kek_version)
        return aead.cipher(aead.unwrap(kek, bytes(row.wrapped_dek), dek_aad(
            keyring_id, object_id, header.dek_id, row.kek_version)))

    # -- KEK cache ---------------------------------------------------------------------

    def _kek(self, keyring_id: str, version: int) -> AESGCM:
        with self._lock:
            cached = self._keks.get((keyring_id, version))
            if cached is not None:
                self._keks.move_to_end((keyring_id, version))
        if cached is not None:
            return cached
        with self._tx() as conn:
            wrapped = conn.execute(select(keys_kek_versions.c.wrapped_kek).where(and_(
                keys_kek_versions.c.keyring_id == keyring_id,
                keys_kek_versions.c.version == version))).scalar_one_or_none()
        if wrapped is None:
            raise KeyDestroyedError(f"KEK version {version} of keyring {keyring_id!r} "
                                    "was erased")
        kek = aead.cipher(self._root().unwrap(bytes(wrapped), kek_aad(
            self._ceremony_id, keyring_id, version)))
        with self._lock:
            # A seal may have happened while we unwrapped: it drops the root first and
            # then clears this cache under this lock, so checking the root here means a
            # KEK is never cached after the seal has cleared the cache.
            self._root()
            kept = self._keks.setdefault((keyring_id, version), kek)
            while len(self._keks) > KEK_CACHE_SIZE:
                self._keks.popitem(last=False)
            return kept

    def _forget_versions(self, keyring_id: str, below: int | None) -> None:
        with self._lock:
            for key in [k for k in self._keks
                        if k[0] == keyring_id and (below is None or k[1] < below)]:
                del self._keks[key]  # dropped: OpenSSL cleanses the key schedule

    def forget(self) -> None:
        """Wipe every cached KEK (on seal)."""
        with self._lock:
            self._keks.clear()


def _secure_delete(conn: Connection) -> None:
    # SQLite keeps deleted bytes in free pages unless told to zero them (PRAGMA
    # secure_delete); PostgreSQL has no such switch: docs/keys.md says what that means.
    if conn.dialect.name == "sqlite":
        conn.execute(text("PRAGMA secure_delete = ON"))


def _checkpoint(engine: Engine) -> None:
    """Fold the SQLite WAL into the main file and truncate it, so erased bytes leave it."""
    if engine.dialect.name != "sqlite":
        return
    try:
        with engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    except SQLAlchemyError as exc:
        raise StorageError(f"erasure committed but the WAL checkpoint failed: {exc}") from exc
