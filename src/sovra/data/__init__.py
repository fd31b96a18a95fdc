"""The data layer: collections, parsing, classification, the hybrid index, lifecycle."""

from __future__ import annotations

__all__: list[str] = []
