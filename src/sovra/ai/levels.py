"""Classification levels as the gateway compares them.

The ordering is the one ``sovra.policy`` and ``sovra.data.classify`` share
(public < internal < confidential < secret). The gateway speaks lower-case level names
at its boundaries (ledger entries, wire, registry rows) and ranks them here, so values
from either room — an IntEnum member or a plain string — compare the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

from sovra.errors import InvalidInputError

LEVELS: tuple[str, ...] = ("public", "internal", "confidential", "secret")
_RANK = {name: rank for rank, name in enumerate(LEVELS)}


def level_name(value: object) -> str:
    """Normalise a level given as a name, an enum member or its integer rank."""
    if type(value) is str and value in _RANK:  # the common case, on every request
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(LEVELS):
            return LEVELS[value]
        raise InvalidInputError(f"unknown classification rank {value}")
    name = getattr(value, "name", value)
    text = str(name).strip().lower()
    if text not in _RANK:
        raise InvalidInputError(
            f"unknown classification {value!r}; use one of {', '.join(LEVELS)}")
    return text


def rank(value: object) -> int:
    found = _RANK.get(value) if type(value) is str else None
    return found if found is not None else _RANK[level_name(value)]


def highest(values: Iterable[object]) -> str:
    """The highest of an iterable of levels; ``public`` for none."""
    best = 0
    for value in values:
        best = max(best, rank(value))
    return LEVELS[best]


def exceeds(level: object, ceiling: object) -> bool:
    return rank(level) > rank(ceiling)
