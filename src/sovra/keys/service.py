"""``instance.keys``: the one object other rooms use to encrypt, and operators to govern keys.

Composes custody (ceremony, seal state) with keyrings (KEKs, DEKs) and the ciphertext
format. Keyring changes (create, rotate, minimum version, rewrap, erase) are recorded in
the ledger before they happen; encrypting and decrypting objects is recorded by the room
that asks for it (``data.ingest``, ``documents.read``), not here, so the ledger holds one
event per user action rather than one per chunk.
"""

from __future__ import annotations

import io
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, TypeVar

from sqlalchemy import Engine

from sovra.config import Settings
from sovra.errors import ConflictError, HsmError, InvalidInputError, SealedError, SovraError
from sovra.keys import aead
from sovra.keys.custody import CeremonyResult, Custody, Recorder, SealStatus
from sovra.keys.hsm import HsmConfig
from sovra.keys.keyring import Erasure, KeyringInfo, Keyrings
from sovra.keys.shares import Share

log = logging.getLogger("sovra.keys")
T = TypeVar("T")


@dataclass(frozen=True)
class KeyStatus:
    seal: SealStatus
    keyrings: tuple[KeyringInfo, ...]


@dataclass(frozen=True)
class MinVersionResult:
    keyring_id: str
    min_version: int
    retired_versions: tuple[int, ...]
    erased_data_keys: int


class KeyService:
    """Key custody and envelope encryption for one instance (one process's seal state)."""

    def __init__(self, engine: Engine, settings: Settings, ledger: Recorder, *,
                 clock: Callable[[], float] = time.time,
                 random: Callable[[int], bytes] = os.urandom) -> None:
        self._engine = engine
        self.settings = settings
        self._ledger = ledger
        self._clock = clock
        self._random = random
        self.custody = Custody(engine, ledger, clock=clock, random=random)
        self._keyrings: Keyrings | None = None
        self.custody.on_seal = self._forget_keys

    @classmethod
    def open(cls, engine: Engine, settings: Settings, ledger: Recorder, *,
             auto_unseal: bool = True, record_dev_unseal: bool = True) -> KeyService:
        """Load the ceremony; unseal at once in HSM mode (PIN) and dev mode (kept share;
        recorded unless ``record_dev_unseal`` is False, see ``devmode.auto_unseal``)."""
        service = cls(engine, settings, ledger)
        if auto_unseal:
            from sovra.keys.devmode import auto_unseal as _auto

            _auto(service, record_dev_unseal=record_dev_unseal)
        return service

    # -- custody (thin delegation, so callers need only ``instance.keys``) --------------

    def init(self, *, threshold: int = 3, shares: int = 5,
             deliver: Callable[[Sequence[Share]], None], actor: str = "operator"
             ) -> CeremonyResult:
        return self.custody.init_shamir(threshold, shares, deliver, actor=actor)

    def init_hsm(self, config: HsmConfig, *, actor: str = "operator") -> CeremonyResult:
        return self.custody.init_hsm(config, actor=actor)

    def seal_status(self) -> SealStatus:
        return self.custody.status()

    def submit_share(self, share_text: str, *, actor: str = "custodian") -> SealStatus:
        return self.custody.submit_share(share_text, actor=actor)

    def reset_unseal(self, *, actor: str = "custodian") -> SealStatus:
        return self.custody.reset(actor=actor)

    def unseal_hsm(self, *, actor: str = "system") -> SealStatus:
        return self.custody.unseal_hsm(actor=actor)

    def seal(self, *, actor: str = "operator") -> SealStatus:
        return self.custody.seal(actor=actor)

    def _forget_keys(self) -> None:
        if self._keyrings is not None:
            self._keyrings.forget()

    def _rings(self) -> Keyrings:
        self.custody.root()  # raises SealedError while sealed: nothing below runs
        ceremony = self.custody.ceremony
        if ceremony is None:  # cannot happen once root() succeeded; fail closed anyway
            raise SealedError("the instance is not initialised")
        if self._keyrings is None:
            self._keyrings = Keyrings(self._engine, ceremony.ceremony_id, self.custody.root,
                                      clock=self._clock, random=self._random)
        return self._keyrings

    # -- keyrings ----------------------------------------------------------------------

    def _recorded(self, actor: str, action: str, keyring_id: str,
                  details: dict[str, object] | None, act: Callable[[], T]) -> T:
        """Record, then act; if the act fails, record that too (DESIGN.md, fail closed)."""
        resource = f"keys/keyring/{keyring_id}"
        self._ledger.append(actor, action, resource, "success", details)
        try:
            return act()
        except SovraError as exc:
            self._ledger.append(actor, action, resource, "failure",
                                {**(details or {}), "error": type(exc).__name__,
                                 "message": str(exc)})
            raise

    def _hsm_guarded(self, keyring_id: str, act: Callable[[], T]) -> T:
        """Object operations are recorded by the calling room; a failing HSM is ours."""
        try:
            return act()
        except HsmError as exc:
            self._ledger.append("system", "keys.hsm", f"keys/keyring/{keyring_id}",
                                "failure", {"error": str(exc)})
            raise

    def create_keyring(self, keyring_id: str, *, actor: str = "system") -> KeyringInfo:
        rings = self._rings()
        if rings.exists(keyring_id):
            raise ConflictError(f"keyring {keyring_id!r} exists already (or was erased: "
                                "erased ids are never reused)")
        return self._recorded(actor, "keys.keyring.create", keyring_id, None,
                              lambda: rings.create(keyring_id))

    def keyring(self, keyring_id: str) -> KeyringInfo:
        return self._rings().info(keyring_id)

    def rotate(self, keyring_id: str, *, actor: str = "system") -> int:
        rings = self._rings()
        current = rings.info(keyring_id).current_version
        return self._recorded(actor, "keys.rotate", keyring_id, {"new_version": current + 1},
                              lambda: rings.rotate(keyring_id))

    def set_min_version(self, keyring_id: str, version: int, *, force: bool = False,
                        actor: str = "system") -> MinVersionResult:
        """Retire every KEK version below ``version``.

        Refuses (ConflictError) while data keys are still wrapped under those versions,
        because retiring them would erase those objects; ``rewrap`` first, or pass
        ``force=True`` to erase them deliberately.
        """
        rings = self._rings()
        info = rings.info(keyring_id)
        if not info.min_version <= version <= info.current_version:
            raise InvalidInputError(f"minimum version must be {info.min_version}.."
                                    f"{info.current_version} (it only goes up)")
        stranded = rings.stranded(keyring_id, version)
        if stranded and not force:
            raise ConflictError(f"{stranded} data keys of keyring {keyring_id!r} are still "
                                f"wrapped under versions below {version}; run rewrap first "
                                "(or force, which crypto-erases those objects)")
        retired = self._recorded(
            actor, "keys.min_version", keyring_id,
            {"min_version": version, "forced": force, "stranded_data_keys": stranded},
            lambda: rings.set_min_version(keyring_id, version))
        return MinVersionResult(keyring_id, version, retired, stranded)

    def rewrap(self, keyring_id: str, *, actor: str = "system") -> int:
        rings = self._rings()
        target = rings.info(keyring_id).current_version
        return self._recorded(actor, "keys.rewrap", keyring_id, {"to_version": target},
                              lambda: rings.rewrap(keyring_id))

    def destroy_keyring(self, keyring_id: str, *, actor: str = "system") -> Erasure:
        """Crypto-erasure: every object under the keyring becomes unreadable, for good."""
        rings = self._rings()
        rings.info(keyring_id)  # NotFoundError before anything is recorded
        erased = self._recorded(actor, "keys.erase", keyring_id, None,
                                lambda: rings.destroy(keyring_id))
        log.info("key custody: keyring %s crypto-erased (%d KEK versions, %d data keys)",
                 keyring_id, erased.kek_versions, erased.data_keys)
        return erased

    def status(self) -> KeyStatus:
        seal = self.custody.status()
        if seal.sealed:
            return KeyStatus(seal, ())
        rings = self._rings()
        return KeyStatus(seal, tuple(rings.info(k) for k in rings.list_ids()))

    # -- objects -----------------------------------------------------------------------

    def encrypt(self, keyring_id: str, object_id: str, plaintext: bytes) -> bytes:
        out = io.BytesIO()
        self.encrypt_stream(keyring_id, object_id, io.BytesIO(plaintext), out)
        return out.getvalue()

    def decrypt(self, keyring_id: str, object_id: str, blob: bytes) -> bytes:
        out = io.BytesIO()
        self.decrypt_stream(keyring_id, object_id, io.BytesIO(blob), out)
        return out.getvalue()

    def encrypt_stream(self, keyring_id: str, object_id: str, src: BinaryIO, dst: BinaryIO,
                       *, segment_size: int = aead.DEFAULT_SEGMENT_SIZE) -> int:
        """Encrypt ``src`` into ``dst`` in authenticated segments; returns bytes written."""
        if not 1 <= segment_size <= aead.MAX_SEGMENT_SIZE:
            raise InvalidInputError(f"segment size must be 1..{aead.MAX_SEGMENT_SIZE}")
        rings = self._rings()
        header, dek = self._hsm_guarded(
            keyring_id, lambda: rings.new_dek(keyring_id, object_id, segment_size))
        return aead.encrypt_stream(dek, header, aead.object_aad(header, keyring_id, object_id),
                                   src, dst)

    def decrypt_stream(self, keyring_id: str, object_id: str, src: BinaryIO,
                       dst: BinaryIO) -> int:
        """Authenticate and decrypt; on DecryptionError discard whatever reached ``dst``."""
        rings = self._rings()
        header = aead.Header.decode(src.read(aead.HEADER_BYTES))
        dek = self._hsm_guarded(keyring_id, lambda: rings.open_dek(keyring_id, object_id, header))
        return aead.decrypt_stream(dek, header, aead.object_aad(header, keyring_id, object_id),
                                   src, dst)

    def close(self) -> None:
        self.custody.close()
