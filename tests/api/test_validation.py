"""The pure edge checks (sovra.api.validation): what they refuse, where they say it is."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from sovra.api.validation import (
    INT64_MAX,
    INT64_MIN,
    MAX_DEPTH,
    Problem,
    integer_text_problem,
    json_problems,
    parameter_problems,
    text_problem,
)

# Every code point a str can hold except NUL and the surrogates.
_STORABLE = st.text(st.characters(exclude_characters="\x00",
                                  exclude_categories=("Cs",)))


@given(_STORABLE)
def test_storable_text_passes(value: str) -> None:
    assert text_problem(value) is None
    value.encode("utf-8")  # what the check stands for: never raises for what passes


@given(_STORABLE, _STORABLE, st.sampled_from(["\x00", "\ud800", "\udbff", "\udc00", "\udfff"]))
def test_nul_or_lone_surrogate_anywhere_is_refused(before: str, after: str, bad: str) -> None:
    message = text_problem(before + bad + after)
    assert message is not None
    assert ("NUL" in message) == (bad == "\x00")
    assert ("surrogate" in message) == (bad != "\x00")


def test_integer_text_bounds_are_the_signed_64_bit_range() -> None:
    assert integer_text_problem(str(INT64_MAX)) is None
    assert integer_text_problem(str(INT64_MIN)) is None
    assert integer_text_problem("0000000000000000000000000007") is None
    assert integer_text_problem(str(INT64_MAX + 1)) is not None
    assert integer_text_problem(str(INT64_MIN - 1)) is not None
    assert integer_text_problem("99999999999999999999999") is not None
    assert integer_text_problem("not-a-number") is None  # the parameter's own check


def test_parameters_name_the_offender() -> None:
    problems = parameter_problems("path", [("collection_id", "ok"), ("hold_id", "9" * 30),
                                           ("document_id", "a\x00")],
                                  frozenset({"hold_id"}))
    assert [p.loc for p in problems] == [("path", "hold_id"), ("path", "document_id")]
    # A long run of digits is only a problem where an integer is declared.
    assert parameter_problems("query", [("name", "9" * 30)]) == []
    assert parameter_problems("query", [("a\x00", "v")])[0].loc == ("query", "a\x00")


def test_json_problems_locate_values_keys_and_integers() -> None:
    body = json.loads('{"a": ["ok", "\\u0000"], "b": {"c": "\\udfff"}, "n": 1e400,'
                      ' "i": 99999999999999999999, "t": true, "\\u0000k": 1}')
    assert json_problems(body) == [
        Problem(("body", "a", 1), json_problems("\x00")[0].message),
        Problem(("body", "b", "c"), json_problems("\ud800")[0].message.replace("D800",
                                                                                "DFFF")),
        Problem(("body", "i"), json_problems(2**70)[0].message),
        Problem(("body",), "has a key that " + (text_problem("\x00") or "")),
    ]


def test_json_nesting_is_bounded() -> None:
    deep: object = "x"
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    problems = json_problems(deep)
    assert len(problems) == 1 and "nested deeper" in problems[0].message
