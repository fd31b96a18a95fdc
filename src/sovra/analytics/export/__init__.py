"""The outbound data diode: the one way anything leaves the site (docs/analytics.md).

``ExportService`` (``instance.exports``) collects, redacts, shows a reviewer the diff,
takes two approvals from people other than the requester, refuses anything above the
policy's ceiling, and only then signs the bundle (TUF, as imports are) and records it.
``verify_export`` checks a bundle on the receiving side, offline.
"""

from __future__ import annotations

from sovra.analytics.export.collect import KINDS
from sovra.analytics.export.service import (
    APPROVALS_NEEDED,
    ExportInfo,
    ExportReview,
    ExportService,
    open_exports,
)
from sovra.analytics.export.verify import VerifiedExport, verify_export

__all__ = ["APPROVALS_NEEDED", "KINDS", "ExportInfo", "ExportReview", "ExportService",
           "VerifiedExport", "open_exports", "verify_export"]
