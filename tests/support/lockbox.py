"""Settings for tests of a room's own behaviour by an administrator, with the lockbox off.

With the lockbox enforced (the default outside development mode) an administrator reads
documents, erases data and destroys keys only under an approved grant (ADR 0700
addendum). Tests of the data, keys, compliance or continuity rooms exercise what those
actions do, not who may do them, so their setup runs as development mode does: the
lockbox off, said so by name. tests/lockbox/test_admin_boxed.py covers the enforced rule.
"""

from __future__ import annotations

from sovra.config import Settings


def lockbox_off(settings: Settings) -> Settings:
    """``settings`` with ``lockbox_enforced=False`` (development mode's behaviour)."""
    return settings.model_copy(update={"lockbox_enforced": False})


# The secret collection an operator asks the lockbox to read (end-to-end lockbox flows).
VAULT_COLLECTION: dict[str, object] = {
    "id": "vault", "owner": "Treasury", "purpose": "payments",
    "subject_categories": ["clients"], "data_categories": ["bank details"],
    "retention_days": 365, "jurisdiction": "EU", "ceiling": "secret"}
