"""Share files: one per custodian, written durably with mode 0600 in a 0700 directory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sovra.errors import ConflictError, InvalidInputError
from sovra.keys._bytes import write_private_file
from sovra.keys.shares import Share


def share_file_text(share: Share, total: int) -> str:
    """The file a custodian keeps: explanatory comments, then the one share line."""
    return (
        f"# Sovra key share #{share.index} of {total} (any {share.threshold} unseal)\n"
        f"# ceremony: {share.ceremony_id}\n"
        f"# fingerprint: {share.fingerprint}\n"
        "# Keep this file offline and apart from the other shares. To unseal, run\n"
        "#   sovra unseal --share-file THIS_FILE\n"
        "# or paste the line below when `sovra unseal` asks for it.\n"
        f"{share.token()}\n"
    )


def share_file_name(share: Share, total: int) -> str:
    return f"sovra-share-{share.ceremony_id}-{share.index}-of-{total}.txt"


def write_share_files(shares: Sequence[Share], directory: Path) -> list[Path]:
    """Write each share to its own file; refuses a directory that already holds shares."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not directory.is_dir():
        raise InvalidInputError(f"{directory} is not a directory")
    if any(directory.glob("sovra-share-*.txt")):
        raise ConflictError(f"{directory} already holds share files; use an empty directory")
    written = []
    for share in shares:
        path = directory / share_file_name(share, len(shares))
        write_private_file(path, share_file_text(share, len(shares)).encode("ascii"))
        written.append(path)
    return written
