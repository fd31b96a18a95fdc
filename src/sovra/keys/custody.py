"""Custody of the root key in one process: the ceremony, unsealing, sealing.

Every transition is recorded in the ledger *before* it takes effect (DESIGN.md, "fail
closed"): a ceremony whose record cannot be written is not held, a share whose step
cannot be recorded is not counted, an unseal that cannot be recorded does not happen.
Sealing is the one deliberate exception: it only ever removes capability, so it happens
even when the ledger is down (ADR 0201), and the failure to record it is logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine

from sovra.errors import (
    ConflictError,
    DecryptionError,
    HsmError,
    LedgerUnavailableError,
    SealedError,
    ShareError,
    SovraError,
)
from sovra.keys.ceremony import Ceremony, Mode, load_ceremony, store_ceremony
from sovra.keys.hsm import HsmConfig, HsmRoot
from sovra.keys.root import RootKey, SoftwareRoot, verifier_aad
from sovra.keys.shares import Share, check_parameters, parse_share, split_root
from sovra.keys.unseal import UnsealProgress

log = logging.getLogger("sovra.keys")


class Recorder(Protocol):
    """The part of ``sovra.ledger.Ledger`` key custody uses."""

    def append(self, actor: str, action: str, resource: str, outcome: str,
               details: Mapping[str, object] | None = None) -> object: ...


@dataclass(frozen=True)
class SealStatus:
    """What ``GET /sys/seal-status`` answers; safe to show anyone (no secrets)."""

    initialized: bool
    sealed: bool
    mode: Mode | None
    dev_mode: bool
    ceremony_id: str | None
    threshold: int | None
    shares: int | None
    progress: int
    hsm_token: str | None
    last_error: str | None


@dataclass(frozen=True)
class CeremonyResult:
    ceremony_id: str
    mode: Mode
    threshold: int
    shares: int
    fingerprints: tuple[str, ...]


class Custody:
    """The ceremony record plus this process's seal state."""

    def __init__(self, engine: Engine, ledger: Recorder, *, clock: Callable[[], float],
                 random: Callable[[int], bytes]) -> None:
        self._engine = engine
        self._ledger = ledger
        self._clock = clock
        self._random = random
        self._lock = threading.RLock()
        self._ceremony = load_ceremony(engine)
        self._root: RootKey | None = None
        self._progress = UnsealProgress(self._ceremony) if self._ceremony else None
        self._last_error: str | None = None
        self.on_seal: Callable[[], None] = lambda: None

    # -- reading -----------------------------------------------------------------------

    @property
    def ceremony(self) -> Ceremony | None:
        return self._ceremony

    def root(self) -> RootKey:
        """The live root, or SealedError naming how to unseal."""
        root = self._root
        if root is not None:
            return root
        if self._ceremony is None:
            raise SealedError("the instance is not initialised: run `sovra init` (or "
                              "`sovra up` on a fresh data directory for dev mode)")
        if self._ceremony.mode == "hsm":
            raise SealedError("the instance is sealed: the HSM could not be opened "
                              f"({self._last_error or 'not tried'})")
        raise SealedError(f"the instance is sealed: {self._ceremony.threshold} custodian "
                          "shares are needed (`sovra unseal` or POST /sys/unseal)")

    def status(self) -> SealStatus:
        if self._ceremony is None:  # `sovra init` may have run in another process since
            with self._lock:
                self._ceremony = load_ceremony(self._engine)
                if self._ceremony is not None:
                    self._progress = UnsealProgress(self._ceremony)
        c = self._ceremony
        if c is None:
            return SealStatus(initialized=False, sealed=True, mode=None, dev_mode=False,
                              ceremony_id=None, threshold=None, shares=None, progress=0,
                              hsm_token=None, last_error=None)
        return SealStatus(initialized=True, sealed=self._root is None, mode=c.mode,
                          dev_mode=c.dev_mode, ceremony_id=c.ceremony_id,
                          threshold=c.threshold, shares=c.share_count,
                          progress=self._progress.received if self._progress else 0,
                          hsm_token=c.hsm.token_label if c.hsm else None,
                          last_error=self._last_error)

    def _resource(self) -> str:
        return f"keys/ceremony/{self._ceremony.ceremony_id if self._ceremony else '-'}"

    # -- the ceremony ------------------------------------------------------------------

    def init_shamir(self, threshold: int, shares: int,
                    deliver: Callable[[Sequence[Share]], None], *, actor: str,
                    dev_mode: bool = False) -> CeremonyResult:
        """Make a root, deal its shares through ``deliver``, remember only a verifier.

        ``deliver`` (files, or printing one at a time) runs before anything is stored: if
        it fails, no ceremony is recorded and ``sovra init`` can simply be run again.
        """
        check_parameters(threshold, shares)
        with self._lock:
            self._refuse_second_ceremony()
            ceremony_id = self._random(8).hex()
            root_bytes = bytearray(self._random(32))
            dealt = split_root(root_bytes, ceremony_id, threshold, shares)
            root = SoftwareRoot(root_bytes, ceremony_id)
            root_bytes[:] = bytes(len(root_bytes))
            mode: Mode = "dev" if dev_mode else "shamir"
            ceremony = Ceremony(ceremony_id, mode, threshold, shares,
                                tuple(s.fingerprint for s in dealt),
                                root.wrap(b"", verifier_aad(ceremony_id)), None, self._clock())
            result = self._record_ceremony(ceremony, actor)
            try:
                deliver(dealt)
                store_ceremony(self._engine, ceremony)
            except BaseException as exc:
                root.close()
                self._ledger.append(actor, "keys.init", f"keys/ceremony/{ceremony_id}",
                                    "failure", {"error": type(exc).__name__})
                raise
            self._adopt(ceremony, root)
            return result

    def init_hsm(self, config: HsmConfig, *, actor: str) -> CeremonyResult:
        """Generate the root inside the token; nothing to deal, the PIN unseals."""
        with self._lock:
            self._refuse_second_ceremony()
            ceremony_id = self._random(8).hex()
            self._ledger.append(actor, "keys.init", f"keys/ceremony/{ceremony_id}", "success",
                                {"mode": "hsm", "token": config.token_label,
                                 "module": config.module})
            root: HsmRoot | None = None
            try:
                root = HsmRoot.create(config, ceremony_id)
                ceremony = Ceremony(ceremony_id, "hsm", 1, 1, (), root.wrap(
                    b"", verifier_aad(ceremony_id)), config, self._clock())
                store_ceremony(self._engine, ceremony)
            except SovraError as exc:
                if root is not None:
                    root.close()
                self._ledger.append(actor, "keys.init", f"keys/ceremony/{ceremony_id}",
                                    "failure", {"mode": "hsm", "error": str(exc)})
                raise
            self._adopt(ceremony, root)
            return CeremonyResult(ceremony_id, "hsm", 1, 1, ())

    def _refuse_second_ceremony(self) -> None:
        self._ceremony = load_ceremony(self._engine)
        if self._ceremony is not None:
            raise ConflictError(f"this instance is already initialised (ceremony "
                                f"{self._ceremony.ceremony_id}, {self._ceremony.mode} mode)")

    def _record_ceremony(self, ceremony: Ceremony, actor: str) -> CeremonyResult:
        # Spec (issue 3, "Recorded"): N, M and fingerprints, never the shares.
        self._ledger.append(actor, "keys.init", f"keys/ceremony/{ceremony.ceremony_id}",
                            "success", {"mode": ceremony.mode, "shares": ceremony.share_count,
                                        "threshold": ceremony.threshold,
                                        "fingerprints": list(ceremony.fingerprints)})
        return CeremonyResult(ceremony.ceremony_id, ceremony.mode, ceremony.threshold,
                              ceremony.share_count, ceremony.fingerprints)

    def _adopt(self, ceremony: Ceremony, root: RootKey) -> None:
        self._ceremony = ceremony
        self._progress = UnsealProgress(ceremony)
        self._root = root
        self._last_error = None

    # -- unsealing ---------------------------------------------------------------------

    def submit_share(self, text: str, *, actor: str, record_success: bool = True
                     ) -> SealStatus:
        """Take one custodian's share; unseal when the threshold is met.

        ``record_success=False`` only for development mode's kept share in a process that
        does not serve (a CLI command): there the unseal changes no state anyone else
        sees, and recording it made every read-only command append two entries (issue
        15). Failures are recorded either way."""
        with self._lock:
            ceremony, progress = self._expect_shares()
            if self._root is not None:
                raise ConflictError("the instance is already unsealed")
            try:
                share = parse_share(text)
                progress.would_accept(share)
            except ShareError as exc:
                self._ledger.append(actor, "keys.unseal.share", self._resource(), "failure",
                                    {"reason": str(exc)})
                raise
            step = {"index": share.index, "fingerprint": share.fingerprint,
                    "progress": progress.received + 1, "threshold": ceremony.threshold}
            if record_success:
                self._ledger.append(actor, "keys.unseal.share", self._resource(), "success",
                                    step)
            rebuilt = progress.add(share)
            if rebuilt is not None:
                self._finish_unseal(ceremony, rebuilt, actor, record_success=record_success)
            return self.status()

    def _expect_shares(self) -> tuple[Ceremony, UnsealProgress]:
        if self._ceremony is None or self._progress is None:
            self._ceremony = load_ceremony(self._engine)
            if self._ceremony is None:
                raise SealedError("the instance is not initialised: run `sovra init` first")
            self._progress = UnsealProgress(self._ceremony)
        if self._ceremony.mode == "hsm":
            raise ConflictError("this instance is in HSM mode: it unseals with the token PIN, "
                                "not with shares")
        return self._ceremony, self._progress

    def _finish_unseal(self, ceremony: Ceremony, rebuilt: bytearray, actor: str, *,
                       record_success: bool = True) -> None:
        root = SoftwareRoot(rebuilt, ceremony.ceremony_id)
        rebuilt[:] = bytes(len(rebuilt))
        try:
            root.unwrap(ceremony.verifier, verifier_aad(ceremony.ceremony_id))
        except DecryptionError as exc:
            root.close()
            self._ledger.append(actor, "keys.unseal", self._resource(), "failure",
                                {"reason": "shares did not rebuild the root key"})
            raise ShareError("the shares do not rebuild this instance's root key; progress "
                             "was discarded, start again") from exc
        try:
            if record_success:
                self._ledger.append(actor, "keys.unseal", self._resource(), "success",
                                    {"mode": ceremony.mode})
        except LedgerUnavailableError:
            root.close()
            raise
        self._root = root
        self._last_error = None
        log.info("key custody: unsealed (ceremony %s)", ceremony.ceremony_id)

    def reset(self, *, actor: str) -> SealStatus:
        with self._lock:
            _, progress = self._expect_shares()
            self._ledger.append(actor, "keys.unseal.reset", self._resource(), "success",
                                {"discarded": progress.received})
            progress.reset()
            return self.status()

    def unseal_hsm(self, *, actor: str) -> SealStatus:
        """Open the token with the configured PIN; a failure is recorded, then raised."""
        with self._lock:
            ceremony = self._ceremony
            if ceremony is None or ceremony.hsm is None:
                raise ConflictError("this instance is not in HSM mode")
            if self._root is not None:
                return self.status()
            opened: HsmRoot | None = None
            try:
                opened = HsmRoot.open(ceremony.hsm, ceremony.ceremony_id)
                opened.unwrap(ceremony.verifier, verifier_aad(ceremony.ceremony_id))
                root = opened
            except (HsmError, DecryptionError) as exc:
                if opened is not None:
                    opened.close()
                self._last_error = str(exc)
                self._ledger.append(actor, "keys.unseal", self._resource(), "failure",
                                    {"mode": "hsm", "token": ceremony.hsm.token_label,
                                     "error": str(exc)})
                if isinstance(exc, DecryptionError):
                    raise HsmError(f"the token's key is not this instance's root: {exc}"
                                   ) from exc
                raise
            try:
                self._ledger.append(actor, "keys.unseal", self._resource(), "success",
                                    {"mode": "hsm", "token": ceremony.hsm.token_label})
            except LedgerUnavailableError:
                root.close()
                raise
            self._root = root
            self._last_error = None
            return self.status()

    # -- sealing -----------------------------------------------------------------------

    def seal(self, *, actor: str) -> SealStatus:
        """Forget the root and every cached key now; record it (even if that fails)."""
        with self._lock:
            root, self._root = self._root, None
            if self._progress is not None:
                self._progress.reset()
            if root is not None:
                root.close()
            self.on_seal()
            try:
                self._ledger.append(actor, "keys.seal", self._resource(), "success",
                                    {"was_sealed": root is None})
            except LedgerUnavailableError:
                log.exception("key custody: sealed, but the ledger could not record the seal")
            return self.status()

    def close(self) -> None:
        with self._lock:
            root, self._root = self._root, None
            if root is not None:
                root.close()
            self.on_seal()

    def note_error(self, message: str) -> None:
        self._last_error = message
