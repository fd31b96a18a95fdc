"""Sovereignty readiness assessment: seven layers scored from facts.

Pure core: ``criteria`` (the catalogue, Purview weights, SOV objectives),
``questionnaire`` (answers for what Sovra cannot see), ``scoring`` (layers, objectives,
SEAL level with weakest-link caps), ``plan`` (gaps and the OSCAL POA&M), ``questions``
(the buyer's eight), ``document`` (the JSON and its diff), ``render`` (HTML, PDF).
IO: ``observe`` and ``dependencies`` read the instance; ``service.run`` records the run.
docs/assessment.md is the guide. This module imports nothing heavy.
"""

from __future__ import annotations

from sovra.assessment.readiness.criteria import CRITERIA, LAYERS, OBJECTIVES, Criterion, Kind
from sovra.assessment.readiness.facts import Fact, Status

__all__ = ["CRITERIA", "LAYERS", "OBJECTIVES", "Criterion", "Fact", "Kind", "Status"]
