"""Storage: engines for both profiles, tables, and migrations."""

from __future__ import annotations

from sovra.store.engine import make_engine
from sovra.store.migrate import current_heads, pending, upgrade

__all__ = ["current_heads", "make_engine", "pending", "upgrade"]
