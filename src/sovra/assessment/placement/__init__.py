"""Workload placement: which workload runs where, decided by rules that are data.

Pure core (``inventory``, ``rules``, ``engine``): values in, placements with their
reasons out. ``service.advise`` authorises and records the advice in the ledger.
"""

from __future__ import annotations

from sovra.assessment.placement.engine import Placement, place, place_all
from sovra.assessment.placement.inventory import Workload, load_inventory
from sovra.assessment.placement.rules import (
    RuleSet,
    default_rules,
    default_rules_text,
    load_rules,
)
from sovra.assessment.placement.targets import Target

__all__ = ["Placement", "RuleSet", "Target", "Workload", "default_rules",
           "default_rules_text", "load_inventory", "load_rules", "place", "place_all"]
