"""The words an inventory and a rules file may use, in one place.

A typo in a regime or a data class must be an error that names the allowed words, not
a silently unmatched rule: an unmatched rule places a workload less sovereignly than
its obligations require.
"""

from __future__ import annotations

from enum import IntEnum

from sovra.errors import InvalidInputError

DATA_CLASSES: frozenset[str] = frozenset({
    "personal",            # GDPR Art. 4(1)
    "special-category",    # GDPR Art. 9: health, biometric, religion, ...
    "health",
    "financial",
    "payment-card",
    "criminal-records",    # GDPR Art. 10
    "national-security",   # classified information under national law
    "trade-secret",
    "intellectual-property",
    "operational-technology",
    "public-information",
})

REGIMES: frozenset[str] = frozenset({
    "gdpr", "dora", "nis2", "eu-ai-act", "pci-dss", "national-security",
    "health-data-hosting", "banking-secrecy", "public-records",
})

AI_USES: frozenset[str] = frozenset({"none", "inference", "rag", "training", "fine-tuning"})

# What the workload needs to reach: "none" can run fully disconnected; "internet"
# serves or calls the public internet and so cannot be air-gapped.
CONNECTIVITY: frozenset[str] = frozenset({"none", "internal", "partner", "internet"})


class Criticality(IntEnum):
    LOW = 0
    MEDIUM = 1
    HIGH = 2
    CRITICAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()


def one_of(value: object, allowed: frozenset[str], field: str, where: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidInputError(
            f"{where}: unknown {field} {value!r}; use one of {', '.join(sorted(allowed))}")
    return value


def words(value: object, allowed: frozenset[str], field: str, where: str) -> frozenset[str]:
    """A list (YAML) or a ';'- or ','-separated cell (CSV) of allowed words."""
    if isinstance(value, str):
        items: list[object] = [w.strip() for w in value.replace(";", ",").split(",")
                               if w.strip()]
    elif isinstance(value, list):
        items = list(value)
    else:
        raise InvalidInputError(f"{where}: {field} must be a list of words")
    return frozenset(one_of(item, allowed, field, where) for item in items)


def criticality(value: object, where: str) -> Criticality:
    for level in Criticality:
        if value == level.label:
            return level
    raise InvalidInputError(f"{where}: unknown criticality {value!r}; use one of "
                            f"{', '.join(c.label for c in Criticality)}")


__all__ = ["AI_USES", "CONNECTIVITY", "DATA_CLASSES", "REGIMES", "Criticality", "criticality",
           "one_of", "words"]
