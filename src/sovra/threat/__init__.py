"""Offline threat detection: packs from signed bundles, security events, Sigma,
indicators, YARA, alerts (docs/threat.md).

The service is ``sovra.threat.service.ThreatService`` (``instance.threat``); this module
exports the pure parts an offline tool can reuse without a database: the event
projection, the Sigma compiler, indicator parsing and the syslog formatting.
"""

from __future__ import annotations

from sovra.threat.events import FIELDS, project
from sovra.threat.indicators import IndicatorSet, parse_misp, parse_stix
from sovra.threat.sigma import CompiledPack, CorrelationRule, RuleProblem, SingleRule, compile_pack

__all__ = ["FIELDS", "CompiledPack", "CorrelationRule", "IndicatorSet", "RuleProblem",
           "SingleRule", "compile_pack", "parse_misp", "parse_stix", "project"]
