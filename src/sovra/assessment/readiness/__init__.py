"""Sovereignty readiness assessment: seven layers scored from facts.

Pure core: ``criteria`` (the catalogue, Purview weights, SOV objectives),
``questionnaire`` (answers for what Sovra cannot see), ``scoring`` (layers, objectives,
SEAL level with weakest-link caps), ``plan`` (gaps and the OSCAL POA&M), ``questions``
(the buyer's eight), ``document`` (the JSON and its diff), ``render`` (HTML, PDF).
IO: ``observe`` and ``dependencies`` read the instance; ``service.run`` records the run.
docs/assessment.md is the guide. This module imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sovra._lazy import load_export
from sovra.assessment.readiness.criteria import CRITERIA, LAYERS, OBJECTIVES, Criterion, Kind
from sovra.assessment.readiness.facts import Fact, Status

if TYPE_CHECKING:
    from sovra.assessment.readiness.document import check as check_document
    from sovra.assessment.readiness.document import diff as diff_documents
    from sovra.assessment.readiness.questionnaire import template as questionnaire_template
    from sovra.assessment.readiness.service import digest as readiness_digest
    from sovra.assessment.readiness.service import run as run_readiness

# Loaded on first use (sovra._lazy): these do IO on an instance, which a caller
# importing the room for its pure parts should not pay for.
_HOMES = {
    "run_readiness": "sovra.assessment.readiness.service:run",
    "readiness_digest": "sovra.assessment.readiness.service:digest",
    "check_document": "sovra.assessment.readiness.document:check",
    "diff_documents": "sovra.assessment.readiness.document:diff",
    "questionnaire_template": "sovra.assessment.readiness.questionnaire:template",
}


def __getattr__(name: str) -> Any:
    return load_export(__name__, _HOMES, name)


__all__ = [
    "CRITERIA",
    "LAYERS",
    "OBJECTIVES",
    "Criterion",
    "Fact",
    "Kind",
    "Status",
    "check_document",
    "diff_documents",
    "questionnaire_template",
    "readiness_digest",
    "run_readiness",
]
