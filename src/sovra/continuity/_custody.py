"""Rebuilding the root key for a restore, from the ceremony record in the manifest.

A restore runs before any database exists on the target, so it cannot ask a running
instance's custody to unseal: it rebuilds the root here, from the custodians' shares (or
the HSM the ceremony names) against the ceremony record the manifest carries, with the
same checks as ``sovra unseal`` (fingerprints, threshold, the ceremony's verifier). This
is the one module of the room that reaches into ``sovra.keys`` internals; it should move
behind a keys-room export (``KeyService.root_for_ceremony``) when that room offers one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sovra.continuity.manifest import CeremonyInfo
from sovra.errors import BackupIntegrityError, DecryptionError, ShareError
from sovra.keys.ceremony import Ceremony, Mode
from sovra.keys.hsm import HsmConfig, HsmRoot
from sovra.keys.root import RootKey, SoftwareRoot, verifier_aad
from sovra.keys.shares import parse_share
from sovra.keys.unseal import UnsealProgress


def ceremony_of(info: CeremonyInfo) -> Ceremony:
    if info.mode not in ("shamir", "dev", "hsm"):
        raise BackupIntegrityError(f"the manifest names an unknown key mode {info.mode!r}")
    hsm = HsmConfig(**cast(dict[str, str], info.hsm)) if info.hsm else None
    return Ceremony(info.ceremony_id, cast(Mode, info.mode), info.threshold, info.share_count,
                    info.fingerprints, info.verifier, hsm, info.created_at)


def rebuild_root(info: CeremonyInfo, shares: Sequence[str]) -> RootKey:
    """The root key of the backed-up instance, or ShareError / HsmError saying why not."""
    ceremony = ceremony_of(info)
    if ceremony.mode == "hsm":
        if ceremony.hsm is None:
            raise BackupIntegrityError("the manifest's HSM ceremony names no token")
        root: RootKey = HsmRoot.open(ceremony.hsm, ceremony.ceremony_id)
    else:
        root = _from_shares(ceremony, shares)
    try:
        root.unwrap(ceremony.verifier, verifier_aad(ceremony.ceremony_id))
    except DecryptionError as exc:
        root.close()
        raise ShareError(f"the shares do not rebuild the root key of ceremony "
                         f"{ceremony.ceremony_id} (the backed-up instance's)") from exc
    return root


def _from_shares(ceremony: Ceremony, shares: Sequence[str]) -> RootKey:
    if len(shares) < ceremony.threshold:
        raise ShareError(f"the backup is encrypted under ceremony {ceremony.ceremony_id}: "
                         f"{ceremony.threshold} custodian shares are needed, "
                         f"{len(shares)} given (--share-file)")
    progress = UnsealProgress(ceremony)
    rebuilt = None
    for text in shares:
        rebuilt = progress.add(parse_share(text))
        if rebuilt is not None:
            break
    if rebuilt is None:  # cannot happen with threshold shares accepted; fail closed
        raise ShareError("the shares given did not reach the threshold")
    root = SoftwareRoot(rebuilt, ceremony.ceremony_id)
    rebuilt[:] = bytes(len(rebuilt))
    return root
