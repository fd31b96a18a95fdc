"""Storage: engines for both profiles, tables, and migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sovra._lazy import load_export
from sovra.store.engine import make_engine
from sovra.store.migrate import current_heads, pending, upgrade

if TYPE_CHECKING:
    from sovra.store.notify import ChangeFeed

# Loaded on first use (sovra._lazy): these bring the room's services, which a caller
# importing the room for the names above should not pay for.
_HOMES = {
    "ChangeFeed": "sovra.store.notify",
}


def __getattr__(name: str) -> Any:
    return load_export(__name__, _HOMES, name)


__all__ = [
    "ChangeFeed",
    "current_heads",
    "make_engine",
    "pending",
    "upgrade",
]
