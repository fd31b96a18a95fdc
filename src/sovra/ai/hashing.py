"""SHA-256 of model weights, streamed so a multi-gigabyte file costs constant memory."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sovra.errors import ModelIntegrityError

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    try:
        with Path(path).open("rb") as handle:
            while block := handle.read(_CHUNK):
                digest.update(block)
    except OSError as exc:
        raise ModelIntegrityError(f"cannot read model weights {path}: {exc}") from exc
    return digest.hexdigest()


def verify_file(path: str | Path, expected_sha256: str) -> None:
    """Refuse weights whose digest differs from the registered one (issue 7, Models)."""
    actual = sha256_file(path)
    if actual != expected_sha256.lower():
        raise ModelIntegrityError(
            f"model weights {path} have SHA-256 {actual}, registered {expected_sha256}; "
            "refusing to load them")
