"""The ceremony a backup records, turned back into the keys room's ``Ceremony``.

A restore rebuilds the root of the backed-up instance from the ceremony record the
signed manifest carries; the keys room does the unsealing (``sovra.keys.open_root``,
the same checks as ``sovra unseal``), this module only translates the record and says
which backup the failure is about.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, cast

from sovra.continuity.manifest import CeremonyInfo
from sovra.errors import BackupIntegrityError, ShareError
from sovra.keys import Ceremony, HsmConfig, RootKey, open_root

_MODES = ("shamir", "dev", "hsm")


def ceremony_of(info: CeremonyInfo) -> Ceremony:
    if info.mode not in _MODES:
        raise BackupIntegrityError(f"the manifest names an unknown key mode {info.mode!r}")
    hsm = HsmConfig(**cast(dict[str, str], info.hsm)) if info.hsm else None
    if info.mode == "hsm" and hsm is None:
        raise BackupIntegrityError("the manifest's HSM ceremony names no token")
    mode = cast(Literal["shamir", "dev", "hsm"], info.mode)
    return Ceremony(info.ceremony_id, mode, info.threshold, info.share_count,
                    info.fingerprints, info.verifier, hsm, info.created_at)


def rebuild_root(info: CeremonyInfo, shares: Sequence[str]) -> RootKey:
    """The root key of the backed-up instance, or ShareError / HsmError saying why not."""
    try:
        return open_root(ceremony_of(info), shares)
    except ShareError as exc:
        raise ShareError(f"the backup is encrypted under ceremony {info.ceremony_id} (the "
                         f"backed-up instance's): {exc}") from exc
