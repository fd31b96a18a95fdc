"""Classification levels, ordered: public < internal < confidential < secret.

A pure module with no dependencies so that every room (``sovra.data.classify``, the AI
gateway, the policy engine) shares one ordering. Cedar sees a level as its integer
value, so a policy compares ``principal.clearance >= resource.classification``.
"""

from __future__ import annotations

from enum import IntEnum

from sovra.errors import InvalidInputError


class Classification(IntEnum):
    """A sensitivity level; comparisons follow the order of the levels."""

    PUBLIC = 0
    INTERNAL = 1
    CONFIDENTIAL = 2
    SECRET = 3

    @property
    def label(self) -> str:
        """The lower-case name used in settings, files and the API (``"secret"``)."""
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | int | Classification) -> Classification:
        """Accept a level, its name in any case, or its integer value."""
        if isinstance(value, Classification):
            return value
        if isinstance(value, bool):
            raise InvalidInputError(f"not a classification level: {value!r}")
        if isinstance(value, int):
            try:
                return cls(value)
            except ValueError as exc:
                raise InvalidInputError(f"no classification level {value}") from exc
        try:
            return cls[value.strip().upper()]
        except KeyError as exc:
            names = ", ".join(level.label for level in cls)
            raise InvalidInputError(
                f"unknown classification {value!r}; expected one of {names}") from exc


__all__ = ["Classification"]
