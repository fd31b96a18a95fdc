"""Sovra's own controls and the regulation articles each one evidences.

No official OSCAL content exists for DORA or NIS2, so this table is Sovra's reading of
the articles (docs/compliance.md): each control names what the ledger or the instance
must show, and which articles of GDPR (Regulation (EU) 2016/679), DORA (Regulation (EU)
2022/2554, with RTS (EU) 2024/1774), NIS2 (Directive (EU) 2022/2555) and the EU AI Act
(Regulation (EU) 2024/1689) it serves. ``sovra.compliance.oscal`` renders the same
table as an OSCAL catalog, profiles and a component-definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from sovra.errors import InvalidInputError


@dataclass(frozen=True)
class Control:
    """One Sovra control: what must hold, which room evidences it."""

    id: str
    title: str
    statement: str
    room: str  # the module whose events or state evidence it


CONTROLS: tuple[Control, ...] = (
    Control("sov-key-1", "Root key under split custody",
            "The root key is held by custodians with a threshold of at least two shares, "
            "or by a hardware security module; never in development mode.", "sovra.keys"),
    Control("sov-pol-1", "Policy changes approved by a second person",
            "Every activated policy version was proposed and approved by different "
            "principals and is recorded with its hash.", "sovra.policy"),
    Control("sov-dec-1", "Every access decision recorded",
            "Each allowed and denied access decision is recorded in the ledger with the "
            "policies that decided it.", "sovra.policy"),
    Control("sov-lbx-1", "Break-glass access reviewed within 24 hours",
            "Every emergency grant is reviewed by the quorum of approvers before its "
            "review is due (24 hours).", "sovra.lockbox"),
    Control("sov-era-1", "Erasure proven by certificates",
            "Erasure of a data subject's data or a document ends in a recorded "
            "certificate.", "sovra.data"),
    Control("sov-ret-1", "Retention enforced",
            "Retention runs delete what is past its period, and legal holds stop them; "
            "both recorded.", "sovra.data"),
    Control("sov-ai-1", "Only approved models used",
            "Every model used for inference was approved, with its weights' SHA-256, "
            "before its first use.", "sovra.ai"),
    Control("sov-pat-1", "Patches applied within 90 days",
            "A signed update bundle was activated within the last 90 days.",
            "sovra.transfer"),
    Control("sov-thr-1", "Threat intelligence current",
            "A signed threat pack was activated within the last 30 days.", "sovra.threat"),
    Control("sov-wit-1", "Ledger witnessed",
            "The ledger's checkpoints in the period carry independent witness "
            "cosignatures.", "sovra.ledger"),
    Control("sov-bck-1", "Backups made",
            "At least one backup succeeded in the period.", "sovra.continuity"),
    Control("sov-drl-1", "Restore tested within 12 months",
            "A restore drill passed within the 12 months before the end of the period.",
            "sovra.continuity"),
    Control("sov-inc-1", "Incidents notified on time",
            "Every classified incident's notifications were sent before their legal "
            "deadlines.", "sovra.compliance"),
)

CONTROL_IDS = frozenset(c.id for c in CONTROLS)

# Regime -> article -> the controls that evidence it. Article labels follow the
# regulation's own numbering.
REGIMES: MappingProxyType[str, MappingProxyType[str, tuple[str, ...]]] = MappingProxyType({
    "gdpr": MappingProxyType({
        "Art. 5(1)(f)": ("sov-key-1", "sov-dec-1", "sov-era-1"),
        "Art. 17": ("sov-era-1", "sov-ret-1"),
        "Art. 25": ("sov-pol-1", "sov-dec-1"),
        "Art. 30": ("sov-dec-1",),
        "Art. 32": ("sov-key-1", "sov-bck-1", "sov-drl-1", "sov-pat-1", "sov-wit-1"),
        "Art. 33": ("sov-inc-1",),
    }),
    "dora": MappingProxyType({
        "Art. 9": ("sov-key-1", "sov-pol-1", "sov-dec-1", "sov-lbx-1"),
        "Art. 10": ("sov-thr-1", "sov-dec-1"),
        "Art. 11": ("sov-bck-1", "sov-drl-1"),
        "Art. 12": ("sov-bck-1", "sov-drl-1"),
        "Art. 17": ("sov-inc-1",),
        "Art. 18": ("sov-inc-1",),
        "Art. 19": ("sov-inc-1",),
        "Art. 28": ("sov-pat-1",),
        "RTS 2024/1774 Art. 12": ("sov-dec-1", "sov-wit-1"),
    }),
    "nis2": MappingProxyType({
        "Art. 21(2)(a)": ("sov-pol-1",),
        "Art. 21(2)(b)": ("sov-inc-1",),
        "Art. 21(2)(c)": ("sov-bck-1", "sov-drl-1"),
        "Art. 21(2)(d)": ("sov-pat-1",),
        "Art. 21(2)(e)": ("sov-pat-1", "sov-thr-1"),
        "Art. 21(2)(f)": ("sov-wit-1",),
        "Art. 21(2)(g)": ("sov-pol-1",),
        "Art. 21(2)(h)": ("sov-key-1",),
        "Art. 21(2)(i)": ("sov-dec-1", "sov-lbx-1"),
        "Art. 21(2)(j)": ("sov-dec-1",),
        "Art. 23": ("sov-inc-1",),
    }),
    "ai-act": MappingProxyType({
        "Art. 12": ("sov-ai-1", "sov-dec-1"),
        "Art. 19": ("sov-wit-1", "sov-ai-1"),
    }),
})


def control(control_id: str) -> Control:
    for found in CONTROLS:
        if found.id == control_id:
            return found
    raise InvalidInputError(f"unknown control {control_id!r}; known: "
                            f"{', '.join(sorted(CONTROL_IDS))}")


def regimes(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Check regime names (``gdpr``, ``dora``, ``nis2``, ``ai-act``); all when empty."""
    if not names:
        return tuple(REGIMES)
    unknown = [n for n in names if n not in REGIMES]
    if unknown:
        raise InvalidInputError(f"unknown regime {', '.join(map(repr, unknown))}; choose "
                                f"from {', '.join(REGIMES)}")
    return tuple(dict.fromkeys(names))


def controls_for(regime_names: tuple[str, ...]) -> tuple[Control, ...]:
    """The controls any of the regimes maps an article to, in catalog order."""
    wanted = {c for r in regime_names for ids in REGIMES[r].values() for c in ids}
    return tuple(c for c in CONTROLS if c.id in wanted)


__all__ = ["CONTROLS", "CONTROL_IDS", "REGIMES", "Control", "control", "controls_for",
           "regimes"]
