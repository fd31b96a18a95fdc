"""Unsealing without custodians: development mode, HSM auto-unseal, and what `sovra up` says.

Development mode exists for the quick start only: a 1-of-1 ceremony whose single share
is kept in the data directory (``secrets/dev-unseal.share``, 0600), so the instance unseals
itself at every start. With a threshold of 1 the share *is* the root key, so anyone who
can read the data directory can decrypt everything: it is marked, logged and reported as
``dev_mode`` everywhere, and never chosen unless the data directory is fresh.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sovra.errors import HsmError, KeyCustodyError, LedgerUnavailableError, ShareError
from sovra.keys._bytes import write_private_file
from sovra.keys.custody import SealStatus
from sovra.keys.shares import Share

if TYPE_CHECKING:
    from sovra.keys.service import KeyService

log = logging.getLogger("sovra.keys")

DEV_SHARE_NAME = "dev-unseal.share"
DEV_MODE_WARNING = (
    "DEVELOPMENT MODE - NOT FOR PRODUCTION: the root key's only share is stored in the "
    "data directory and the instance unseals itself. Anyone who can read the data "
    "directory can decrypt everything. For production, start from a fresh data directory "
    "with `sovra init` (custodian shares) or `sovra init --hsm`."
)


@dataclass(frozen=True)
class StartupReport:
    """What `sovra up` tells the operator about key custody."""

    status: SealStatus
    created_dev_ceremony: bool
    messages: tuple[str, ...]
    warning: str | None


def dev_share_path(service: KeyService) -> Path:
    return service.settings.secrets_dir / DEV_SHARE_NAME


def _write_dev_share(path: Path, shares: Sequence[Share]) -> None:
    (share,) = shares
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = (f"# {DEV_MODE_WARNING}\n# dev-mode: true\n# ceremony {share.ceremony_id}, "
            f"share 1 of 1, fingerprint {share.fingerprint}\n{share.token()}\n")
    write_private_file(path, text.encode("ascii"))


def auto_unseal(service: KeyService, *, record_dev_unseal: bool = True) -> None:
    """At open: HSM mode opens the token, dev mode reads its kept share; others stay sealed.

    A failure does not stop the instance from opening (health and unseal must answer);
    it is recorded, logged and shown in the seal status. ``record_dev_unseal=False``
    (CLI commands): dev mode's kept-share unseal in a process that serves nobody is not
    recorded, so a read-only command appends nothing (issue 15); the server's start,
    every custodian share and every failure still are.
    """
    ceremony = service.custody.ceremony
    if ceremony is None:
        return
    try:
        if ceremony.mode == "hsm":
            service.unseal_hsm(actor="system")
        elif ceremony.mode == "dev":
            log.warning("%s", DEV_MODE_WARNING)
            path = dev_share_path(service)
            try:
                text = path.read_text(encoding="ascii")
            except OSError as exc:
                raise ShareError(f"dev-mode share {path} cannot be read: {exc}") from exc
            service.custody.submit_share(text, actor="system",
                                         record_success=record_dev_unseal)
    except (HsmError, ShareError, LedgerUnavailableError) as exc:
        service.custody.note_error(str(exc))
        log.warning("key custody: automatic unseal failed: %s", exc)


def start_for_up(service: KeyService) -> StartupReport:
    """Called by `sovra up`: a fresh instance gets a dev ceremony; others say their state."""
    created = False
    if service.custody.ceremony is None:
        path = dev_share_path(service)
        if path.exists():
            raise KeyCustodyError(f"{path} exists but the database has no ceremony; move it "
                                  "away (it belongs to another database)")
        log.warning("%s", DEV_MODE_WARNING)
        service.custody.init_shamir(1, 1, lambda shares: _write_dev_share(path, shares),
                                    actor="system", dev_mode=True)
        created = True
    status = service.seal_status()
    return StartupReport(status, created, _messages(status),
                         DEV_MODE_WARNING if status.dev_mode else None)


def _messages(status: SealStatus) -> tuple[str, ...]:
    if status.dev_mode:
        state = "unsealed" if not status.sealed else f"SEALED ({status.last_error})"
        return (f"keys: development mode, {state} (ceremony {status.ceremony_id})",)
    if status.mode == "hsm":
        if status.sealed:
            return ((f"keys: SEALED - the HSM token {status.hsm_token!r} could not be opened: "
                     f"{status.last_error}"),
                    "keys: fix the token or PIN (SOVRA_HSM_PIN or the PIN file) and restart")
        return (f"keys: unsealed by HSM token {status.hsm_token!r}",)
    if status.sealed:
        return ((f"keys: SEALED - {status.threshold} of {status.shares} custodian shares are "
                 "needed; each custodian runs `sovra unseal` (or POST /sys/unseal)"),)
    return ("keys: unsealed",)
