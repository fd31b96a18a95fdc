"""Durable, private files for the log key, witness keys and witness state.

The log's signing key lives in ``settings.secrets_dir``, not under the sealed root key:
the ledger must keep recording (and checkpointing) while the instance is sealed, since
unseal attempts are themselves events an auditor must see (docs/ledger.md).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sovra.errors import ConfigError
from sovra.ledger.note import ED25519, Signer, parse_skey

LOG_KEY_FILE = "ledger-log.key"


def write_private(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Write ``text`` durably with mode 0600: write, fsync, rename, fsync the directory.

    ``exclusive`` links instead of renaming, so it raises ``FileExistsError`` rather than
    replace a file another process created first.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(tmp, path)
            tmp.unlink()
        else:
            tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_private(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def load_or_create_log_key(secrets_dir: Path) -> Signer:
    """The log's Ed25519 note key; generated (with a fresh origin name) at first open."""
    path = secrets_dir / LOG_KEY_FILE
    if path.exists():
        return parse_skey(read_private(path))
    # c2sp.org/tlog-checkpoint: the origin should be a unique schema-less URL.
    signer = Signer.generate(f"sovra.local/ledger/{secrets.token_hex(8)}", ED25519)
    try:
        write_private(path, signer.skey + "\n", exclusive=True)
    except FileExistsError:
        return parse_skey(read_private(path))  # another process created it first
    except OSError as exc:
        raise ConfigError(f"cannot write the ledger key to {path}: {exc}") from exc
    return signer
