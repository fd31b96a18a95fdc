"""Where a workload can run, ordered from the least to the most sovereign.

The order is the whole point: a rule raises a workload's floor (``at_least``) or lowers
its ceiling (``at_most``) on this one axis, and the advice is the least sovereign
target inside the remaining range, because each step up costs elasticity, managed
services and money that a workload without the obligation should not pay.
"""

from __future__ import annotations

from enum import IntEnum

from sovra.errors import InvalidInputError


class Target(IntEnum):
    PUBLIC_CLOUD = 0
    SOVEREIGN_PUBLIC_CLOUD = 1
    PARTNER_SOVEREIGN_CLOUD = 2
    ON_PREMISES = 3
    DISCONNECTED = 4

    @property
    def label(self) -> str:
        """The identifier used in files and the API (``"on-premises"``)."""
        return self.name.lower().replace("_", "-")

    @property
    def title(self) -> str:
        return _TITLES[self]

    @classmethod
    def parse(cls, value: object, where: str) -> Target:
        for target in cls:
            if value == target.label:
                return target
        raise InvalidInputError(
            f"{where}: unknown placement target {value!r}; use one of "
            f"{', '.join(t.label for t in cls)}")


_TITLES = {
    Target.PUBLIC_CLOUD: "public cloud",
    Target.SOVEREIGN_PUBLIC_CLOUD: "sovereign public cloud",
    Target.PARTNER_SOVEREIGN_CLOUD: "partner-operated sovereign cloud",
    Target.ON_PREMISES: "on-premises (Sovra, connected)",
    Target.DISCONNECTED: "disconnected (Sovra, air-gapped)",
}

__all__ = ["Target"]
