"""HTTP API: the app factory. Routers are thin; every route goes through ``api.auth``."""

from __future__ import annotations

from sovra.api.app import create_app

__all__ = ["create_app"]
