"""HTTP API: the app factory. Routers are thin; every route goes through ``api.auth``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sovra._lazy import load_export
from sovra.api.app import create_app

if TYPE_CHECKING:
    from sovra.api.errors import status_for
    from sovra.api.request_log import json_log_config
    from sovra.api.routers.analytics import QueryOut, result_csv

# Loaded on first use (sovra._lazy): these bring the room's services, which a caller
# importing the room for the names above should not pay for.
_HOMES = {
    "status_for": "sovra.api.errors",
    "json_log_config": "sovra.api.request_log",
    "QueryOut": "sovra.api.routers.analytics",
    "result_csv": "sovra.api.routers.analytics",
}


def __getattr__(name: str) -> Any:
    return load_export(__name__, _HOMES, name)


__all__ = [
    "QueryOut",
    "create_app",
    "json_log_config",
    "result_csv",
    "status_for",
]
