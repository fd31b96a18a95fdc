"""The root key of a ceremony rebuilt away from its instance, for a restore.

A restore runs before any database exists on the target, so it cannot ask a running
instance's custody to unseal: it needs the root of the ceremony the backup records,
from the custodians' shares (or the HSM that ceremony names), with the same checks as
``sovra unseal`` (each share's fingerprint, the threshold, the ceremony's verifier).
This is the one operation the keys room offers for that; nothing is stored.
"""

from __future__ import annotations

from collections.abc import Sequence

from sovra.errors import DecryptionError, KeyCustodyError, ShareError
from sovra.keys.ceremony import Ceremony
from sovra.keys.hsm import HsmRoot
from sovra.keys.root import RootKey, SoftwareRoot, verifier_aad
from sovra.keys.shares import parse_share
from sovra.keys.unseal import UnsealProgress


def open_root(ceremony: Ceremony, shares: Sequence[str]) -> RootKey:
    """The root key of ``ceremony``, or ``ShareError`` / ``HsmError`` saying why not.

    The caller closes it (``RootKey.close``) as soon as it has unwrapped what it needs.
    """
    if ceremony.mode == "hsm":
        if ceremony.hsm is None:
            raise KeyCustodyError(f"ceremony {ceremony.ceremony_id} is an HSM ceremony "
                                  "that names no token")
        root: RootKey = HsmRoot.open(ceremony.hsm, ceremony.ceremony_id)
    else:
        root = _from_shares(ceremony, shares)
    try:
        root.unwrap(ceremony.verifier, verifier_aad(ceremony.ceremony_id))
    except DecryptionError as exc:
        root.close()
        raise ShareError(f"the shares do not rebuild the root key of ceremony "
                         f"{ceremony.ceremony_id}") from exc
    return root


def _from_shares(ceremony: Ceremony, shares: Sequence[str]) -> RootKey:
    if len(shares) < ceremony.threshold:
        raise ShareError(f"{ceremony.threshold} custodian shares are needed for ceremony "
                         f"{ceremony.ceremony_id}, {len(shares)} given (--share-file)")
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


__all__ = ["open_root"]
