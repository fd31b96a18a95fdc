"""From findings to a classification level, by a configurable mapping.

A document's level is the highest of its declared label and the levels its findings map
to. The result is a value with reasons (which kinds raised it), so that the ledger entry
and the compliance report can say why a document is ``confidential``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sovra.data.classify._scan import scan
from sovra.data.classify._types import Finding, Kind
from sovra.errors import InvalidInputError
from sovra.vocabulary import Classification

_DEFAULT_LEVELS: Mapping[Kind, Classification] = MappingProxyType({
    # Contact data: personal data (GDPR Art. 4(1)), routine in business documents.
    Kind.EMAIL: Classification.INTERNAL,
    Kind.PHONE: Classification.INTERNAL,
    Kind.IP_ADDRESS: Classification.INTERNAL,
    Kind.VAT: Classification.INTERNAL,
    # Identifiers that enable fraud or identity theft.
    Kind.IBAN: Classification.CONFIDENTIAL,
    Kind.PAYMENT_CARD: Classification.CONFIDENTIAL,
    Kind.NATIONAL_ID: Classification.CONFIDENTIAL,
    Kind.DATE_OF_BIRTH: Classification.CONFIDENTIAL,
    # Credentials: whoever reads them can act as their owner.
    Kind.PRIVATE_KEY: Classification.SECRET,
    Kind.API_TOKEN: Classification.SECRET,
    Kind.PASSWORD: Classification.SECRET,
})


@dataclass(frozen=True)
class LevelMapping:
    """Which level each kind of finding implies. Kinds not listed imply ``PUBLIC``."""

    levels: Mapping[Kind, Classification] = field(default_factory=lambda: _DEFAULT_LEVELS)

    @classmethod
    def from_config(cls, config: Mapping[str, str]) -> LevelMapping:
        """Build from ``{"email": "confidential", ...}``; unnamed kinds keep the default."""
        levels = dict(_DEFAULT_LEVELS)
        for name, level in config.items():
            try:
                kind = Kind(name)
            except ValueError as exc:
                kinds = ", ".join(k.value for k in Kind)
                raise InvalidInputError(
                    f"unknown finding kind {name!r} in the classification mapping; "
                    f"expected one of {kinds}") from exc
            levels[kind] = Classification.parse(level)
        return cls(MappingProxyType(levels))

    def level_for(self, kind: Kind) -> Classification:
        return self.levels.get(kind, Classification.PUBLIC)


DEFAULT_MAPPING = LevelMapping()


@dataclass(frozen=True)
class ClassificationResult:
    """The level of a text, why, and the findings (with spans) that say so."""

    level: Classification
    declared: Classification
    findings: tuple[Finding, ...]
    raised_by: tuple[Kind, ...]

    def counts(self) -> dict[str, int]:
        """Findings per kind: what the ledger records (never the values)."""
        return dict(sorted(Counter(f.kind.value for f in self.findings).items()))


def decide(findings: tuple[Finding, ...], declared: Classification = Classification.PUBLIC,
           mapping: LevelMapping = DEFAULT_MAPPING) -> ClassificationResult:
    """The level for already-scanned findings: max(declared, mapped findings)."""
    level = declared
    for finding in findings:
        level = max(level, mapping.level_for(finding.kind))
    raised_by = tuple(sorted({f.kind for f in findings
                              if mapping.level_for(f.kind) == level and level > declared}))
    return ClassificationResult(level=level, declared=declared, findings=findings,
                                raised_by=raised_by)


def classify(text: str, declared: Classification = Classification.PUBLIC,
             mapping: LevelMapping = DEFAULT_MAPPING) -> ClassificationResult:
    """Scan ``text`` and decide its level."""
    return decide(scan(text), declared, mapping)


__all__ = ["DEFAULT_MAPPING", "ClassificationResult", "LevelMapping", "classify", "decide"]
