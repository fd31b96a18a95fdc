"""Offline threat detection: packs from signed bundles, security events, Sigma,
indicators, YARA, alerts (docs/threat.md).

The service is ``sovra.threat.service.ThreatService`` (``instance.threat``); this module
exports the pure parts an offline tool can reuse without a database: the event
projection, the Sigma compiler and indicator parsing. The exports load on first use, so
importing the projection (``sovra.threat.events``) does not load pySigma.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sovra._lazy import load_export

if TYPE_CHECKING:
    from sovra.threat.events import FIELDS, project
    from sovra.threat.export import send_syslog, stix_sighting, write_json_lines
    from sovra.threat.indicators import IndicatorSet, parse_misp, parse_stix
    from sovra.threat.service import ThreatService
    from sovra.threat.sigma import (
        CompiledPack,
        CorrelationRule,
        RuleProblem,
        SingleRule,
        compile_pack,
    )

_HOMES = {
    "FIELDS": "sovra.threat.events",
    "project": "sovra.threat.events",
    "IndicatorSet": "sovra.threat.indicators",
    "parse_misp": "sovra.threat.indicators",
    "parse_stix": "sovra.threat.indicators",
    "CompiledPack": "sovra.threat.sigma",
    "CorrelationRule": "sovra.threat.sigma",
    "RuleProblem": "sovra.threat.sigma",
    "SingleRule": "sovra.threat.sigma",
    "compile_pack": "sovra.threat.sigma",
    "send_syslog": "sovra.threat.export",
    "stix_sighting": "sovra.threat.export",
    "write_json_lines": "sovra.threat.export",
    "ThreatService": "sovra.threat.service",
}


def __getattr__(name: str) -> Any:
    return load_export(__name__, _HOMES, name)


__all__ = [
    "FIELDS",
    "CompiledPack",
    "CorrelationRule",
    "IndicatorSet",
    "RuleProblem",
    "SingleRule",
    "ThreatService",
    "compile_pack",
    "parse_misp",
    "parse_stix",
    "project",
    "send_syslog",
    "stix_sighting",
    "write_json_lines",
]
