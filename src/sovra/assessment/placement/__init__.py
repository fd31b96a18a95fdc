"""Workload placement: which workload runs where, decided by rules that are data.

Pure core (``inventory``, ``rules``, ``engine``): values in, placements with their
reasons out. ``service.advise`` authorises and records the advice in the ledger.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sovra._lazy import load_export
from sovra.assessment.placement.engine import Placement, place, place_all
from sovra.assessment.placement.inventory import Workload, load_inventory
from sovra.assessment.placement.rules import (
    RuleSet,
    default_rules,
    default_rules_text,
    load_rules,
)
from sovra.assessment.placement.targets import Target

if TYPE_CHECKING:
    from sovra.assessment.placement.service import advise

# Loaded on first use (sovra._lazy): these do IO on an instance, which a caller
# importing the room for its pure parts should not pay for.
_HOMES = {
    "advise": "sovra.assessment.placement.service",
}


def __getattr__(name: str) -> Any:
    return load_export(__name__, _HOMES, name)


__all__ = [
    "Placement",
    "RuleSet",
    "Target",
    "Workload",
    "advise",
    "default_rules",
    "default_rules_text",
    "load_inventory",
    "load_rules",
    "place",
    "place_all",
]
