"""Key custody: root key under custodians' shares or an HSM, keyrings, envelope encryption.

``KeyService`` is ``instance.keys``. The root key is rebuilt from Shamir shares
(``shares``) or lives in a PKCS#11 token (``hsm``); it wraps versioned key-encryption
keys per keyring (``keyring``), which wrap one data key per object; objects are sealed
in authenticated segments (``aead``, the STREAM construction). docs/keys.md is the
operator guide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sovra._lazy import load_export
from sovra.keys.ceremony import Ceremony
from sovra.keys.custody import CeremonyResult, SealStatus
from sovra.keys.devmode import DEV_MODE_WARNING, StartupReport, start_for_up
from sovra.keys.hsm import HsmConfig
from sovra.keys.keyring import Erasure, KeyringInfo
from sovra.keys.recovery import open_root
from sovra.keys.root import RootKey
from sovra.keys.service import KeyService, KeyStatus, MinVersionResult
from sovra.keys.sharefiles import share_file_text, write_share_files
from sovra.keys.shares import Share, parse_share

if TYPE_CHECKING:
    from sovra.keys._bytes import framed, wipe
    from sovra.keys.devmode import dev_share_path

# Loaded on first use (sovra._lazy): these bring the room's services, which a caller
# importing the room for the names above should not pay for.
_HOMES = {
    "framed": "sovra.keys._bytes",
    "wipe": "sovra.keys._bytes",
    "dev_share_path": "sovra.keys.devmode",
}


def __getattr__(name: str) -> Any:
    return load_export(__name__, _HOMES, name)


__all__ = [
    "DEV_MODE_WARNING",
    "Ceremony",
    "CeremonyResult",
    "Erasure",
    "HsmConfig",
    "KeyService",
    "KeyStatus",
    "KeyringInfo",
    "MinVersionResult",
    "RootKey",
    "SealStatus",
    "Share",
    "StartupReport",
    "dev_share_path",
    "framed",
    "open_root",
    "parse_share",
    "share_file_text",
    "start_for_up",
    "wipe",
    "write_share_files",
]
