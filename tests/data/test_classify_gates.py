"""The cheap gates in front of python-stdnum's validators never change a result (ADR 0403).

A gate may only reject what its validator rejects: every value stdnum accepts must pass
its gate, and a scan with the gates must find exactly what a scan without them finds.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.at import vnr
from stdnum.be import nn
from stdnum.de import idnr
from stdnum.dk import cpr
from stdnum.fi import hetu
from stdnum.nl import bsn
from stdnum.pl import pesel
from stdnum.pt import nif
from stdnum.se import personnummer

from sovra.data.classify import _numbers, scan
from sovra.data.classify._gates import DIGIT_GATES, hetu_check_character
from tests.data.corpus import _national, _positives, generate

VALIDATORS: dict[str, tuple[Callable[[str], bool], int]] = {
    "pl.pesel": (pesel.is_valid, 11), "de.idnr": (idnr.is_valid, 11),
    "be.nn": (nn.is_valid, 11), "se.personnummer": (personnummer.is_valid, 10),
    "dk.cpr": (cpr.is_valid, 10), "at.vnr": (vnr.is_valid, 10),
    "nl.bsn": (bsn.is_valid, 9), "pt.nif": (nif.is_valid, 9),
}


def _compact(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def test_every_validator_has_a_gate_and_every_gate_a_validator() -> None:
    assert set(DIGIT_GATES) == set(VALIDATORS)


@pytest.mark.parametrize("label", sorted(VALIDATORS))
def test_values_stdnum_accepts_pass_the_gate(label: str) -> None:
    """Valid values made by completing random bodies with every check digit stdnum takes."""
    validator, _length = VALIDATORS[label]
    rng = random.Random(label)
    makers = _national(rng)
    for _ in range(150):
        value = makers[label][0]()
        assert validator(value), value
        assert DIGIT_GATES[label](_compact(value)), value


@pytest.mark.parametrize("label", sorted(VALIDATORS))
def test_the_gate_rejects_most_other_numbers(label: str) -> None:
    """Not a gate that lets everything through (that would be correct, and useless)."""
    rng = random.Random(7)
    _validator, length = VALIDATORS[label]
    numbers = ["".join(rng.choice(string.digits) for _ in range(length)) for _ in range(2000)]
    rejected = sum(not DIGIT_GATES[label](n) for n in numbers)
    assert rejected > 0.5 * len(numbers)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(VALIDATORS)), st.data())
def test_a_random_number_the_validator_accepts_passes_the_gate(label: str,
                                                              data: st.DataObject) -> None:
    validator, length = VALIDATORS[label]
    digits = data.draw(st.text(alphabet=string.digits, min_size=length, max_size=length))
    # Try every last digit: about one in ten passes a mod-10/11 check, so most draws
    # exercise an accepted value.
    for last in string.digits:
        number = digits[:-1] + last
        if validator(number):
            assert DIGIT_GATES[label](number), number


def test_hetu_values_stdnum_accepts_pass_the_check_character_gate() -> None:
    rng = random.Random(3)
    maker = _national(rng)["fi.hetu"][0]
    for _ in range(300):
        value = maker()
        assert hetu.is_valid(value)
        assert hetu_check_character(value), value


def test_hetu_gate_rejects_danish_cpr_numbers_with_a_wrong_check_character() -> None:
    rng = random.Random(4)
    maker = _national(rng)["dk.cpr"][0]
    values = [maker() for _ in range(300)]
    rejected = [v for v in values if not hetu_check_character(v)]
    assert len(rejected) > 250
    assert not any(hetu.is_valid(v) for v in rejected)


def _ungated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_numbers, "DIGIT_GATES", {})
    monkeypatch.setattr(_numbers, "hetu_check_character", lambda value: True)


def test_scan_finds_the_same_with_and_without_gates(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [s.text for s in generate(seed=11, rounds=6)]
    rng = random.Random(2)  # dense text: every kind's valid values, side by side
    texts.append(" ".join(f"Ref {value}, see {value[::-1]}." for _ in range(8)
                          for value, _kind, _label in _positives(rng)))
    gated = [scan(t) for t in texts]
    _ungated(monkeypatch)
    assert [scan(t) for t in texts] == gated


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=string.digits, min_size=9, max_size=11), min_size=1,
                max_size=8),
       st.sampled_from([" ", "-", " / ", "; "]))
def test_scan_of_digit_runs_is_the_same_without_gates(numbers: list[str], sep: str) -> None:
    text = "Numbers: " + sep.join(numbers) + ", and 123456-7890 and 131052-308T."
    gated = scan(text)
    with pytest.MonkeyPatch.context() as patch:
        _ungated(patch)
        assert scan(text) == gated
