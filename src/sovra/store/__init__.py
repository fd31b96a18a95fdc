"""Storage: engines for both profiles, tables, and migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sovra._lazy import load_export
from sovra.store.engine import make_engine
from sovra.store.profile import mark_external_database

if TYPE_CHECKING:
    from sovra.store.migrate import current_heads, pending, upgrade
    from sovra.store.notify import ChangeFeed

# Loaded on first use (sovra._lazy): the change feed brings the room's services and the
# migrations bring Alembic (about 0.17 s), which a command that only reads a table, such
# as ``sovra ledger tail``, should not pay for.
_HOMES = {
    "ChangeFeed": "sovra.store.notify",
    "current_heads": "sovra.store.migrate",
    "pending": "sovra.store.migrate",
    "upgrade": "sovra.store.migrate",
}


def __getattr__(name: str) -> Any:
    return load_export(__name__, _HOMES, name)


__all__ = [
    "ChangeFeed",
    "current_heads",
    "make_engine",
    "mark_external_database",
    "pending",
    "upgrade",
]
