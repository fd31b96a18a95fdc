"""Pre-filled notification drafts: the fields each regulator's template asks for.

Field names follow the DORA ITS on the content of major ICT-related incident reports
(initial, intermediate, final), NIS2 Art. 23(4) (early warning, incident notification,
final report) and GDPR Art. 33(3). What the register knows is filled in; the rest is
``null`` for the person who submits it. Pure.
"""

from __future__ import annotations

from typing import Any

from sovra.compliance.clocks import KINDS
from sovra.compliance.evidence import rfc3339
from sovra.compliance.incidents import Incident
from sovra.errors import InvalidInputError

_FIELDS: dict[str, tuple[str, ...]] = {
    "dora.initial": ("lei_code", "member_states_impacted", "how_the_incident_was_discovered",
                     "origin_of_the_incident", "business_continuity_plan_activated",
                     "other_information"),
    "dora.intermediate": ("date_time_of_occurrence", "date_time_of_recovery",
                          "number_of_clients_affected", "data_losses", "type_of_incident",
                          "threats_and_techniques_used", "affected_functional_areas",
                          "affected_infrastructure_components", "impact_on_financial_interests",
                          "reporting_to_other_authorities", "temporary_actions_taken"),
    "dora.final": ("root_cause", "date_time_of_resolution", "information_for_resolution",
                   "lessons_learned", "recurring_incident", "direct_and_indirect_costs"),
    "nis2.early_warning": ("suspected_unlawful_or_malicious_act", "cross_border_impact"),
    "nis2.notification": ("initial_assessment", "severity_and_impact",
                          "indicators_of_compromise"),
    "nis2.final": ("detailed_description", "type_of_threat_or_root_cause",
                   "mitigation_measures_applied_and_ongoing", "cross_border_impact"),
    "gdpr.authority": ("categories_of_data_subjects", "approximate_number_of_data_subjects",
                       "categories_of_personal_data_records", "approximate_number_of_records",
                       "dpo_name_and_contact", "likely_consequences",
                       "measures_taken_or_proposed", "reasons_for_delay"),
}


def draft(incident: Incident, kind: str, *, entity: str, now: float) -> dict[str, Any]:
    if kind not in KINDS:
        raise InvalidInputError(f"unknown notification {kind!r}; choose from "
                                f"{', '.join(sorted(KINDS))}")
    deadline = next((d for d in incident.deadlines(now) if d.kind == kind), None)
    if deadline is None:
        raise InvalidInputError(f"{incident.id} is not classified for {kind}")
    return {
        "notification": kind,
        "name_of_entity": entity,
        "incident_reference_code": incident.id,
        "title": incident.title,
        "description_of_the_incident": incident.description,
        "source": incident.source,
        "date_time_of_awareness": rfc3339(incident.aware_at),
        "date_time_of_classification": (None if incident.classified_at is None
                                        else rfc3339(incident.classified_at)),
        "classification": sorted(incident.classes),
        "deadline": None if deadline.due is None else rfc3339(deadline.due),
        "deadline_basis": deadline.basis,
        "deadline_state": deadline.state.value,
        "previous_notifications": {k: rfc3339(v) for k, v in sorted(incident.sent.items())},
        "ledger_entries": list(incident.steps),
        **dict.fromkeys(_FIELDS[kind]),
    }


__all__ = ["draft"]
