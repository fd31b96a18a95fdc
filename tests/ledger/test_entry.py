"""Entries: canonical RFC 8785 bytes, validation, caps, payload references."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from sovra.errors import InvalidInputError
from sovra.ledger import entry as entries
from sovra.ledger import payload_ref

# JSON-like values, including what the fast path must hand to rfc8785: floats, integers
# beyond 2^53, astral-plane keys and text, and surrogate code points.
_TEXT = st.text(alphabet=st.characters(codec=None), max_size=12)
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**60), max_value=2**60),
                     st.floats(allow_nan=False, allow_infinity=False), _TEXT)
_JSON = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_TEXT, _JSON, max_size=5), _TEXT, _TEXT, st.booleans())
def test_prepared_entry_equals_rfc8785_of_the_whole_entry(details: dict[str, Any],
                                                          actor: str, resource: str,
                                                          as_mapping: bool) -> None:
    actor, resource = actor or "a", resource or "r"
    whole: Any = {"action": "data.ingest", "actor": actor, "details": details,
                  "outcome": "success", "resource": resource, "seq": 42,
                  "time": "2026-11-22T12:00:00.000000Z"}
    # A read-only mapping takes the same path as a dict after one copy.
    given_details = MappingProxyType(details) if as_mapping else details
    try:
        expected = rfc8785.dumps(whole)
    except (rfc8785.CanonicalizationError, ValueError, TypeError):
        with pytest.raises(InvalidInputError):
            entries.prepare(actor, "data.ingest", resource, "success", given_details)
        return
    try:
        prefix = entries.prepare(actor, "data.ingest", resource, "success", given_details)
    except InvalidInputError as exc:  # only the size cap may refuse a canonical entry,
        # and NUL in the text-column fields, which PostgreSQL cannot store (issue 13)
        if "\x00" in actor + resource:
            assert "NUL" in str(exc)
            return
        assert "cap" in str(exc)
        assert len(expected) - len(b',"seq":42,"time":"2026-11-22T12:00:00.000000Z"') > (
            entries.MAX_DETAILS_BYTES)
        return
    assert entries.seal(prefix, 42, "2026-11-22T12:00:00.000000Z") == expected


@pytest.mark.parametrize("details", [
    None, {}, {"b": 1, "a": "x"}, {"n": [1, {"z": None, "y": True}]}, {"é": "ü\n\"q\""},
    {"f": 1.5}, {"edge": -(2**53 - 1)}, {"\U0001f600": 1},
    {"deep": [[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]},
])
def test_fast_and_rfc8785_paths_agree_on_chosen_details(details: dict[str, Any] | None) -> None:
    prefix = entries.prepare("user:é", "data.ingest", "doc:\u2028", "denied", details)
    whole: Any = {"action": "data.ingest", "actor": "user:é", "details": details or {},
                  "outcome": "denied", "resource": "doc:\u2028", "seq": 0,
                  "time": "2026-11-22T12:00:00.000000Z"}
    assert entries.seal(prefix, 0, "2026-11-22T12:00:00.000000Z") == rfc8785.dumps(whole)


def test_entry_bytes_and_decode_round_trip() -> None:
    body = entries.seal(entries.prepare("user:alice", "keys.unseal", "keyring:k", "success",
                                        {"b": [1, "x"], "a": None}),
                        7, entries.format_time(1_700_000_000.25))
    assert body == (b'{"action":"keys.unseal","actor":"user:alice","details":{"a":null,'
                    b'"b":[1,"x"]},"outcome":"success","resource":"keyring:k","seq":7,'
                    b'"time":"2023-11-14T22:13:20.250000Z"}')
    decoded = entries.decode(body)
    assert (decoded.seq, decoded.actor, decoded.details) == (7, "user:alice",
                                                            {"a": None, "b": [1, "x"]})
    assert entries.TAIL.search(body) is not None


@pytest.mark.parametrize(("args", "reason"), [
    (("", "data.ingest", "r", "success", None), "actor"),
    (("a", "Data Ingest", "r", "success", None), "dotted"),
    (("a", "ingest", "r", "success", None), "dotted"),
    (("a", "data.ingest", "r", "maybe", None), "outcome"),
    (("a", "data.ingest", "r" * 513, "success", None), "resource"),
    (("a", "data.ingest", "r", "success", {"x": float("nan")}), "canonical"),
    (("a", "data.ingest", "r", "success", {"x": object()}), "canonical"),
    (("a", "data.ingest", "r", "success", {"x": "\ud800"}), "canonical"),
    (("a", "data.ingest", "r", "success", ["not", "a", "mapping"]), "mapping"),
])
def test_invalid_entries_are_refused(args: tuple[Any, ...], reason: str) -> None:
    with pytest.raises(InvalidInputError, match=reason):
        entries.prepare(*args)


def test_details_are_capped_with_a_pointer_to_payload_ref() -> None:
    with pytest.raises(InvalidInputError, match="payload_ref"):
        entries.prepare("a", "data.ingest", "r", "success", {"blob": "x" * 20_000})


def test_payload_ref_references_by_hash() -> None:
    ref = payload_ref(b"hello", media_type="text/plain")
    assert ref == {"sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
                   "size": 5, "media_type": "text/plain"}
    prefix = entries.prepare("a", "data.ingest", "r", "success", {"payload": ref})
    assert json.loads(prefix + b"}")["details"]["payload"]["size"] == 5


def test_decode_rejects_non_canonical_or_foreign_objects() -> None:
    good = entries.seal(entries.prepare("a", "x.y", "r", "success", None), 0, "T0Z")
    for bad in (b"[]", good.replace(b'{"action"', b'{ "action"'),
                good.replace(b'"seq":0', b'"seq":"0"'), b'{"a":1}'):
        with pytest.raises(ValueError):
            entries.decode(bad)


def test_seal_many_equals_seal_one_by_one() -> None:
    prefixes = [entries.prepare(f"user:{i}", "data.ingest", "r", "success", {"i": i})
                for i in range(5)]
    stamp = entries.format_time(1_700_000_000.5)
    assert entries.seal_many(prefixes, 998, stamp) == [
        entries.seal(p, 998 + i, stamp) for i, p in enumerate(prefixes)]


@pytest.mark.parametrize("action", [["data", "ingest"], "a" * 120 + ".bcdefghij", "x.y\n",
                                    None])
def test_malformed_actions_are_refused_even_after_valid_ones(action: Any) -> None:
    entries.prepare("a", "data.ingest", "r", "success", None)  # a valid one, remembered
    with pytest.raises(InvalidInputError, match="action"):
        entries.prepare("a", action, "r", "success", None)


def _datetime_format(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@settings(max_examples=500, deadline=None)
@given(st.one_of(
    st.floats(min_value=0, max_value=4e9, allow_nan=False),
    st.integers(min_value=0, max_value=4_000_000_000),
    # exact half microseconds and values just below a whole second: the rounding edges
    st.integers(min_value=0, max_value=4_000_000_000 * 2_000_000).map(lambda n: n / 2e6),
    st.integers(min_value=1, max_value=4_000_000_000).map(lambda n: n - 1e-7)))
def test_format_time_equals_datetime_strftime(epoch_s: float) -> None:
    assert entries.format_time(epoch_s) == _datetime_format(epoch_s)
    formatter = entries.TimeFormatter()  # the ledger's own, keeping the last second
    assert formatter(epoch_s) == _datetime_format(epoch_s)
    assert formatter(epoch_s) == _datetime_format(epoch_s)  # from its cache
    assert formatter(epoch_s + 1.0) == _datetime_format(epoch_s + 1.0)  # the next second


def test_format_time_outside_four_digit_years_defers_to_datetime() -> None:
    assert entries.format_time(-1.5) == _datetime_format(-1.5)
    assert entries.format_time(253_402_300_799.25) == "9999-12-31T23:59:59.250000Z"
    with pytest.raises((ValueError, OverflowError)):
        entries.format_time(253_402_300_800.0)
