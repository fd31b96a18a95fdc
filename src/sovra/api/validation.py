"""Hostile values at the edge: what no request value may carry, as pure checks.

Both storage profiles must accept every value a request can leave in the database or the
ledger, and PostgreSQL is the stricter one: its ``text`` type cannot hold NUL (U+0000),
so a NUL in a path, query parameter or JSON string that reaches a statement fails that
statement, and in a ledger batch every caller's entry with it (issue 13). Lone surrogates
(U+D800..U+DFFF unpaired, which JSON's ``\\udfff`` escapes can smuggle in) are not
Unicode scalar values: no UTF-8 encoder accepts them, so they fail wherever the value is
encoded (hashing, the driver, the ledger's canonical JSON). Integers beyond the signed
64-bit range fit no database integer column (SQLite raises ``OverflowError``).

These functions take values and return the problems found, each with its location in
FastAPI's ``loc`` form (``("path", "hold_id")``, ``("body", "collections", 0)``) and a
message that says what is wrong and how to fix it; ``sovra.api.deps.refuse_hostile_input``
applies them to every request before authorization. Nothing here imports FastAPI.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

# Signed 64-bit: SQLite's INTEGER and PostgreSQL's bigint.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# NUL, and any surrogate code point: in a Python str decoded from valid UTF-8 or from
# JSON with properly paired escapes, surrogates never appear, so any one found is lone.
_HOSTILE = re.compile("[\x00\ud800-\udfff]")
_INTEGER = re.compile(r"[+-]?[0-9]+")
# JSON nesting beyond this is refused rather than walked (the parser allows ~1000).
MAX_DEPTH = 64

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One refused value: where it is and why."""

    loc: Loc
    message: str


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored on both profiles, or None if it can."""
    # The usual case first, without the regex: ASCII (a flag CPython keeps on every
    # str) holds no surrogate, and a NUL is found by a memchr.
    if value.isascii() and "\x00" not in value:
        return None
    found = _HOSTILE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return ("contains a NUL character (U+0000), which cannot be stored; "
                "remove it from the value")
    return (f"contains a lone surrogate (U+{ord(found.group()):04X}), which is not valid "
            "Unicode; send the value as valid UTF-8 text")


def int_problem(value: int) -> str | None:
    """Why ``value`` fits no database integer, or None if it fits."""
    if INT64_MIN <= value <= INT64_MAX:
        return None
    return (f"is an integer outside the signed 64-bit range ({INT64_MIN} to "
            f"{INT64_MAX}); send a smaller number")


def integer_text_problem(text: str) -> str | None:
    """For a parameter declared as an integer: the range problem of its text, if any.

    Text that is not an integer at all is left to the parameter's own validation.
    """
    if _INTEGER.fullmatch(text) is None:
        return None
    if len(text.lstrip("+-0")) < 19:  # fewer than 19 digits always fits: skip int()
        return None
    return int_problem(int(text))


def parameter_problems(kind: str, items: Iterable[tuple[str, str]],
                       integers: frozenset[str] = frozenset()) -> list[Problem]:
    """Problems in path or query parameters (``kind``: "path" or "query"), given as
    (name, raw text) pairs; names in ``integers`` are declared integers."""
    problems: list[Problem] = []
    for name, text in items:
        message = text_problem(name)
        if message is not None:
            problems.append(Problem((kind, name), f"the parameter name {message}"))
            continue
        message = text_problem(text)
        if message is None and name in integers:
            message = integer_text_problem(text)
        if message is not None:
            problems.append(Problem((kind, name), message))
    return problems


def json_problems(value: object, loc: Loc = ("body",)) -> list[Problem]:
    """Problems in a parsed JSON value: hostile strings (keys included), integers out of
    range, nesting deeper than ``MAX_DEPTH``."""
    return list(_walk(value, loc, 0))


def _walk(value: object, loc: Loc, depth: int) -> Iterator[Problem]:
    if isinstance(value, str):
        message = text_problem(value)
        if message is not None:
            yield Problem(loc, message)
    elif isinstance(value, bool) or value is None or isinstance(value, float):
        return
    elif isinstance(value, int):
        message = int_problem(value)
        if message is not None:
            yield Problem(loc, message)
    elif depth >= MAX_DEPTH:
        yield Problem(loc, f"is nested deeper than {MAX_DEPTH} levels; flatten it")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                message = text_problem(key)
                if message is not None:
                    yield Problem(loc, f"has a key that {message}")
                    continue
            yield from _walk(item, (*loc, str(key)), depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, (*loc, index), depth + 1)


__all__ = ["INT64_MAX", "INT64_MIN", "MAX_DEPTH", "Problem", "int_problem",
           "integer_text_problem", "json_problems", "parameter_problems", "text_problem"]
