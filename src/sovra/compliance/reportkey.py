"""The instance's report key: Ed25519, a C2SP note key kept beside the log key.

A key of its own rather than the log's: the log key signs only checkpoints, so nothing
a report says can ever be mistaken for (or replayed as) a signed tree head.
"""

from __future__ import annotations

from pathlib import Path

from sovra.errors import ConfigError
from sovra.ledger import read_private, write_private
from sovra.ledger.note import ED25519, Signer, parse_skey

REPORT_KEY_FILE = "compliance-report.key"


def report_key_name(origin: str) -> str:
    return f"{origin}/compliance-report"


def load_or_create_report_key(secrets_dir: Path, origin: str) -> Signer:
    path = secrets_dir / REPORT_KEY_FILE
    if path.exists():
        return parse_skey(read_private(path))
    signer = Signer.generate(report_key_name(origin), ED25519)
    try:
        write_private(path, signer.skey + "\n", exclusive=True)
    except FileExistsError:
        return parse_skey(read_private(path))
    except OSError as exc:
        raise ConfigError(f"cannot write the report key to {path}: {exc}") from exc
    return signer


__all__ = ["REPORT_KEY_FILE", "load_or_create_report_key", "report_key_name"]
