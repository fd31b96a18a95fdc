"""Sovra: an open, self-hosted sovereign AI cloud."""

from __future__ import annotations

from sovra.errors import SovraError

__version__ = "0.1.0"

__all__ = ["SovraError", "__version__"]
