"""Governed analytics: SQL over collections' tabular documents, and the outbound diode.

``instance.analytics`` (an ``AnalyticsService``) runs one read-only SELECT under Cedar,
with row filters and column masks by classification, on a locked in-memory DuckDB
(ADR 1100). ``sovra.analytics.export`` is the one way data leaves the site.
``check_sql`` is the pure allowlist, usable without a database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sovra._lazy import load_export
from sovra.analytics.service import AnalyticsService, QueryResult, TableInfo, open_analytics
from sovra.analytics.sqlcheck import CheckedQuery, TableRef, check_sql

if TYPE_CHECKING:
    from sovra.analytics.arrow import MEDIA_TYPE, result_arrow
    from sovra.analytics.export import (
        ExportInfo,
        ExportService,
        VerifiedExport,
        open_exports,
        verify_export,
    )
    from sovra.analytics.export.rooms import room_sources
    from sovra.analytics.nl import GatewayProposer

# Loaded on first use (sovra._lazy): these bring the room's services, which a caller
# importing the room for the names above should not pay for.
_HOMES = {
    "MEDIA_TYPE": "sovra.analytics.arrow",
    "result_arrow": "sovra.analytics.arrow",
    "ExportInfo": "sovra.analytics.export",
    "ExportService": "sovra.analytics.export",
    "VerifiedExport": "sovra.analytics.export",
    "open_exports": "sovra.analytics.export",
    "verify_export": "sovra.analytics.export",
    "GatewayProposer": "sovra.analytics.nl",
    "room_sources": "sovra.analytics.export.rooms",
}


def __getattr__(name: str) -> Any:
    return load_export(__name__, _HOMES, name)


__all__ = [
    "MEDIA_TYPE",
    "AnalyticsService",
    "CheckedQuery",
    "ExportInfo",
    "ExportService",
    "GatewayProposer",
    "QueryResult",
    "TableInfo",
    "TableRef",
    "VerifiedExport",
    "check_sql",
    "open_analytics",
    "open_exports",
    "result_arrow",
    "room_sources",
    "verify_export",
]
