"""Cheap necessary conditions checked before python-stdnum's validators (ADR 0403).

A gate takes the compact digit string a detector is about to hand to a validator and
returns False only where that validator would return False too; a True gate decides
nothing, the validator still does. They exist because the validators are slow on the
numbers of *other* countries that reach them: an eleven-digit run is offered to the
German, Polish and Belgian validators in turn, and each one cleans its input with
``stdnum.util.clean`` and parses a birth date before it rejects (20-100 µs a call),
where the failing checksum, computed on the digits already in hand, takes 1-3 µs.

Every gate is stdnum's own checksum function where stdnum exposes one, otherwise a
plain range test on the birth date that the validator also requires; none of them
accepts a value on its own. ``tests/data/test_classify_gates.py`` checks, for every
gate, that each value its validator accepts passes the gate (valid values from the
corpus generators and from exhaustive check-digit completion of random bodies).
"""

from __future__ import annotations

from collections.abc import Callable

from stdnum import luhn
from stdnum.at import vnr as at_vnr
from stdnum.iso7064 import mod_11_10
from stdnum.nl import bsn as nl_bsn
from stdnum.pl import pesel as pl_pesel
from stdnum.pt import nif as pt_nif

Gate = Callable[[str], bool]

# The check-character alphabet of the Finnish personal identity code (HETU): the
# character at (DDMMYYNNN mod 31), as in the Population Information Act's decree and
# stdnum.fi.hetu; stdnum keeps that function private, so the gate writes the rule out.
_HETU_ALPHABET = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def _pesel(digits: str) -> bool:
    # stdnum.pl.pesel.validate: number[-1] != calc_check_digit(number[:-1]) -> invalid.
    return pl_pesel.calc_check_digit(digits[:-1]) == digits[-1]


def _de_idnr(digits: str) -> bool:
    # stdnum.de.idnr.validate ends with mod_11_10.validate: checksum must be 1.
    return mod_11_10.checksum(digits) == 1


def _be_nn(digits: str) -> bool:
    # stdnum.be.nn._checksum: 97 - (first nine digits mod 97) is the last two, for the
    # number itself (born before 2000) or with a "2" in front (born from 2000); both are
    # accepted here whatever the year, so the gate is never stricter than stdnum.
    check = int(digits[9:])
    return 97 - int(digits[:9]) % 97 == check or 97 - int("2" + digits[:9]) % 97 == check


def _se_personnummer(digits: str) -> bool:
    # stdnum.se.personnummer.validate ends with luhn.validate on the last ten digits.
    return luhn.checksum(digits[-10:]) == 0


def _dk_cpr(digits: str) -> bool:
    # stdnum.dk.cpr has no checksum; validate requires the birth date DDMMYY to be a
    # real date, so at least a day 01-31 and a month 01-12.
    return 1 <= int(digits[:2]) <= 31 and 1 <= int(digits[2:4]) <= 12


def _at_vnr(digits: str) -> bool:
    # stdnum.at.vnr.validate: calc_check_digit(number) != number[3] -> invalid.
    return at_vnr.calc_check_digit(digits) == digits[3]


def _nl_bsn(digits: str) -> bool:
    # stdnum.nl.bsn.validate: checksum(number) != 0 -> invalid.
    return nl_bsn.checksum(digits) == 0


def _pt_nif(digits: str) -> bool:
    # stdnum.pt.nif.validate: calc_check_digit(number[:-1]) != number[-1] -> invalid.
    return pt_nif.calc_check_digit(digits[:-1]) == digits[-1]


def hetu_check_character(value: str) -> bool:
    """``value`` as matched: DDMMYY, century sign, NNN, check character."""
    if len(value) != 11 or not (value[:6] + value[7:10]).isdigit():
        return True  # not the shape this gate knows: let the validator decide
    return _HETU_ALPHABET[int(value[:6] + value[7:10]) % 31] == value[10]


# Keyed by the detector label; each takes the compact digit string of that identifier.
DIGIT_GATES: dict[str, Gate] = {
    "pl.pesel": _pesel, "de.idnr": _de_idnr, "be.nn": _be_nn,
    "se.personnummer": _se_personnummer, "dk.cpr": _dk_cpr, "at.vnr": _at_vnr,
    "nl.bsn": _nl_bsn, "pt.nif": _pt_nif,
}


__all__ = ["DIGIT_GATES", "Gate", "hetu_check_character"]
