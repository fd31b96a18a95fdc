"""Governed analytics: SQL over collections' tabular documents, and the outbound diode.

``instance.analytics`` (an ``AnalyticsService``) runs one read-only SELECT under Cedar,
with row filters and column masks by classification, on a locked in-memory DuckDB
(ADR 1100). ``sovra.analytics.export`` is the one way data leaves the site.
``check_sql`` is the pure allowlist, usable without a database.
"""

from __future__ import annotations

from sovra.analytics.service import AnalyticsService, QueryResult, TableInfo, open_analytics
from sovra.analytics.sqlcheck import CheckedQuery, TableRef, check_sql

__all__ = ["AnalyticsService", "CheckedQuery", "QueryResult", "TableInfo", "TableRef",
           "check_sql", "open_analytics"]
