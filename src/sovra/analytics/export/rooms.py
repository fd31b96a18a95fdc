"""Export kinds that other rooms produce: the compliance report and threat sightings.

They leave only through the diode, like everything else: collected here, then redacted,
reviewed, approved by two people other than the requester, held to the ceiling, signed
and recorded by ``ExportService``. Each collector first asks Cedar whether the requester
may produce the thing at all (``compliance.report``, ``threat.read``): asking for an
export is no way round the room's own rule.

* ``compliance``: the compliance room's signed evidence report (``sovra.compliance.
  report.generate``) over a period, ``SINCE..UNTIL`` (dates or RFC 3339 times; empty:
  the last year). Generating it is recorded by the compliance room as usual. The report
  is redacted like any file: its own signature still verifies when nothing in it was
  redacted (the listing says), and the bundle's signature covers what left either way.
* ``threat``: the threat room's alerts (``open``, ``closed``..., or all when empty) as
  a STIX 2.1 bundle of Sightings by this site's Identity, for the connected side's
  threat sharing. A sighting points at the STIX Indicator the alert came from when the
  rule is one (``indicator--...``), else at an indicator id derived from the rule id.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sovra.analytics.export.redact import SourceFile
from sovra.errors import InvalidInputError
from sovra.identity import Caller
from sovra.policy import Classification, Resource

if TYPE_CHECKING:
    from sovra.instance import Instance

Source = Callable[[Caller, str], list[SourceFile]]
YEAR_S = 365 * 86400.0
# A fixed namespace: the same site and rule always give the same STIX ids.
_NAMESPACE = uuid.UUID("5b1e9f0a-6c1d-4c36-9d0e-2f6a1c7e5a21")
_STATUSES = ("open", "acknowledged", "assigned", "incident", "closed")


def room_sources(inst: Instance) -> dict[str, Source]:
    """The collectors ``ExportService.use_sources`` takes, bound to ``inst``."""
    return {"compliance": lambda caller, subject: compliance_report(inst, caller, subject),
            "threat": lambda caller, subject: threat_sightings(inst, caller, subject)}


def period(subject: str, now: float) -> tuple[float, float]:
    """``SINCE..UNTIL`` (either side may be empty) as epoch seconds; default a year."""
    from sovra.compliance import parse_time

    since_text, sep, until_text = subject.partition("..")
    if subject and not sep:
        raise InvalidInputError(f"compliance export period {subject!r}: write SINCE..UNTIL "
                                "(e.g. 2026-01-01..2026-12-31; either side may be empty)")
    until = parse_time(until_text, "until") if until_text else now
    since = parse_time(since_text, "since") if since_text else until - YEAR_S
    return since, until


def compliance_report(inst: Instance, caller: Caller, subject: str) -> list[SourceFile]:
    from sovra.compliance import generate_report as generate

    inst.policy.require(caller, "compliance.report", Resource("Compliance"))
    since, until = period(subject, time.time())
    made = generate(inst, since=since, until=until, actor=caller.principal_id)
    text = json.dumps(made.document, indent=2, sort_keys=True) + "\n"
    return [SourceFile("compliance/report.json", text, Classification.INTERNAL)]


def threat_sightings(inst: Instance, caller: Caller, subject: str) -> list[SourceFile]:
    if subject and subject not in _STATUSES:
        raise InvalidInputError(f"threat export status {subject!r}: one of "
                                f"{', '.join(_STATUSES)}, or empty for every alert")
    alerts = inst.threat.list_alerts(caller, subject or None)
    if not alerts:
        raise InvalidInputError("nothing to export: no threat alerts"
                                + (f" with status {subject}" if subject else ""))
    origin = inst.ledger.checkpoints.verifier.name
    return [SourceFile("threat/sightings.stix.json",
                       json.dumps(stix_bundle(origin, alerts), indent=2, sort_keys=True)
                       + "\n", Classification.INTERNAL)]


def stix_bundle(origin: str, alerts: list[Any]) -> dict[str, Any]:
    """A STIX 2.1 bundle: this site's Identity and one Sighting per alert."""
    import stix2

    from sovra.threat import stix_sighting

    identity = stix2.v21.Identity(id=f"identity--{uuid.uuid5(_NAMESPACE, origin)}",
                                  name=origin, identity_class="system")
    objects: list[dict[str, Any]] = [dict(json.loads(identity.serialize()))]
    for alert in alerts:
        rule = str(alert.rule_id)
        indicator = (rule if rule.startswith("indicator--")
                     else f"indicator--{uuid.uuid5(_NAMESPACE, rule)}")
        objects.append(stix_sighting(alert, indicator, identity.id))
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}


__all__ = ["Source", "compliance_report", "period", "room_sources", "stix_bundle",
           "threat_sightings"]
