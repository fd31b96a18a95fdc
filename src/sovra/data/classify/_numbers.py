"""Digit-run detectors: payment cards, numeric national identifiers, phones, IPv4, dates.

One compiled regex finds maximal runs of digit groups (``4111 1111 1111 1111``,
``85.07.30-033.28``, ``+34 612 345 678``). Because the pattern starts with ``\\d``, the
regex engine skips prose in C without trying a match at each letter, which is what keeps
the scan fast. Each run is split into windows of consecutive groups and the windows are
tried against python-stdnum's validators, longest first, so a table row of numbers still
yields the identifier hiding in it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

from stdnum import luhn
from stdnum.at import vnr as at_vnr
from stdnum.be import nn as be_nn
from stdnum.de import idnr as de_idnr
from stdnum.dk import cpr as dk_cpr
from stdnum.es import dni as es_dni
from stdnum.fi import hetu as fi_hetu
from stdnum.fr import nir as fr_nir
from stdnum.ie import pps as ie_pps
from stdnum.nl import bsn as nl_bsn
from stdnum.pl import pesel as pl_pesel
from stdnum.pt import cc as pt_cc
from stdnum.pt import nif as pt_nif
from stdnum.se import personnummer as se_pnr

from sovra.data.classify._gates import DIGIT_GATES, hetu_check_character
from sovra.data.classify._patterns import DIGIT_RUN, GROUP, LETTER_SUFFIXED
from sovra.data.classify._prefilter import inert_digit_run
from sovra.data.classify._types import Finding, Kind

_MAX_DIGITS = 19  # the longest payment card (ISO/IEC 7812) is the longest thing we look for


@dataclass(frozen=True, slots=True)
class DateCandidate:
    """A date written with digits; a date of birth when its context says so."""

    start: int
    end: int
    iso: str


def _safe(check: Callable[[str], bool], value: str) -> bool:
    # stdnum validators return False for bad input, but some raise on odd lengths or
    # characters in older releases; a detector must never crash a scan.
    try:
        return bool(check(value))
    except Exception:  # noqa: BLE001 - third-party validator, any failure means "no"
        return False


# Issuer identification number prefixes (ISO/IEC 7812) of the schemes in use in the EU.
def _card_scheme(digits: str) -> str | None:  # noqa: PLR0911 - one return per scheme
    n = len(digits)
    two, four = int(digits[:2]), int(digits[:4])
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= two <= 55 or 2221 <= four <= 2720) and n == 16:
        return "mastercard"
    if two in (34, 37) and n == 15:
        return "amex"
    if (digits.startswith(("6011", "65")) or 644 <= int(digits[:3]) <= 649) and n in (16, 19):
        return "discover"
    if 3528 <= four <= 3589 and 16 <= n <= 19:
        return "jcb"
    if (two in (36, 38, 39) or 300 <= int(digits[:3]) <= 305) and 14 <= n <= 19:
        return "diners"
    if (two in (50, 56, 57, 58) or 60 <= two <= 69) and 12 <= n <= 19:
        return "maestro"
    return None


def _passes(label: str, check: Callable[[str], bool], digits: str,
            value: str | None = None) -> bool:
    """stdnum's ``check`` on ``value`` (default ``digits``), after the label's cheap gate:
    a failing gate means the validator would fail too (``_gates``), so it is not asked."""
    gate = DIGIT_GATES.get(label)
    if gate is not None and not gate(digits):
        return False
    return _safe(check, digits if value is None else value)


def _national(digits: str, raw: str, seps: str) -> str | None:
    """The first numeric national identifier whose checksum accepts ``digits``."""
    n = len(digits)
    labels: list[str] = []
    if n == 15 and _safe(fr_nir.is_valid, digits):
        labels.append("fr.nir")
    elif n == 11:
        # Structure before checksums: PESEL and the Belgian number start with a birth
        # date (PESEL adds 20/40/60/80 to the month for the century), an IdNr never
        # starts with 0. Cheap tests that spare most stdnum calls on other numbers.
        month = int(digits[2:4])
        candidates = []
        if digits[0] != "0":
            candidates.append(("de.idnr", de_idnr.is_valid))
        if month % 20 in range(1, 13):
            candidates.append(("pl.pesel", pl_pesel.is_valid))
        if month <= 12 or 21 <= month <= 32 or 41 <= month <= 52:
            candidates.append(("be.nn", be_nn.is_valid))
        labels.extend(label for label, check in candidates if _passes(label, check, digits))
    elif n == 10:
        if _passes("se.personnummer", se_pnr.is_valid, digits,
                   raw if seps in ("-", "+") else digits):
            labels.append("se.personnummer")
        # Danish CPR numbers carry no mandatory checksum since 2007, only a date: accept
        # them in their written form DDMMYY-SSSS so that ten-digit phone numbers are not.
        if seps == "-" and raw[6] == "-" and _passes("dk.cpr", dk_cpr.is_valid, digits):
            labels.append("dk.cpr")
        # Austrian social insurance numbers are written "1237 010180" (serial+check, date).
        if seps in ("", " ") and _passes("at.vnr", at_vnr.is_valid, digits):
            labels.append("at.vnr")
    elif n == 9:
        for label, check in (("nl.bsn", nl_bsn.is_valid), ("pt.nif", pt_nif.is_valid)):
            if _passes(label, check, digits):
                labels.append(label)
    return ",".join(labels) or None


def _phone(digits: str, raw: str, sizes: list[int]) -> bool:
    # ITU-T E.164: at most 15 digits after the international prefix.
    if raw.startswith("+"):
        return 8 <= len(digits) <= 15 and digits[0] != "0"
    if raw.startswith("00"):
        return 10 <= len(digits) <= 17 and digits[2] != "0"
    # National format: trunk prefix 0, 9-11 digits, written in groups: an area or mobile
    # prefix of 2-5 digits first, no single trailing digit.
    return (digits[0] == "0" and digits[1] != "0" and 9 <= len(digits) <= 11
            and len(sizes) >= 2 and 2 <= sizes[0] <= 5 and sizes[-1] >= 2)


def _ipv4(raw: str, groups: list[tuple[int, int]], text: str) -> bool:
    if len(groups) != 4 or any(text[e] != "." for _, e in groups[:-1]):
        return False
    try:
        ipaddress.IPv4Address(raw)
    except ValueError:
        return False
    return True


def _date(raw: str, groups: list[tuple[int, int]], text: str) -> str | None:
    if len(groups) != 3:
        return None
    seps = {text[e] for _, e in groups[:-1]}
    if len(seps) != 1 or seps.pop() not in "./-":
        return None
    parts = [text[s:e] for s, e in groups]
    if len(parts[0]) == 4 and len(parts[1]) <= 2 and len(parts[2]) <= 2:
        year, month, day = parts
    elif len(parts[0]) <= 2 and len(parts[1]) <= 2 and len(parts[2]) in (2, 4):
        day, month, year = parts
        if len(year) == 2:
            year = ("19" if int(year) > 30 else "20") + year
    else:
        return None
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def _window(text: str, groups: list[tuple[int, int]], raw_start: int,  # noqa: PLR0911
            whole_start: bool) -> tuple[Finding | None, DateCandidate | None]:
    # One return per kind, tried in priority order.
    start, end = raw_start, groups[-1][1]
    raw = text[start:end]
    digits = "".join(text[s:e] for s, e in groups)
    seps = "".join(sorted({text[e] for _, e in groups[:-1]}))
    if _ipv4(raw, groups, text):
        return Finding(Kind.IP_ADDRESS, "ipv4", start, end, raw), None
    iso = _date(raw, groups, text)
    if iso is not None:
        return None, DateCandidate(start, end, iso)
    if len(digits) < 9:  # every remaining kind (phone, NIF/BSN, cards...) is longer
        return None, None
    if len(digits) > _MAX_DIGITS + 3 or seps not in ("", " ", "-", ".", "-.", "+", " -"):
        return None, None
    # 13 digits at least (ISO/IEC 7812): shorter Luhn-valid digit runs are mostly chance.
    if 13 <= len(digits) <= 19 and seps in ("", " ", "-") and luhn.is_valid(digits):
        scheme = _card_scheme(digits)
        if scheme is not None:
            return Finding(Kind.PAYMENT_CARD, scheme, start, end, digits), None
    # National identifiers are never written with an international dialling prefix, so
    # "+34 612 345 678" is a phone number without asking eleven-digit validators first.
    international = raw.startswith(("+", "00"))
    national = None if international else _national(digits, raw, seps)
    if national is not None:
        return Finding(Kind.NATIONAL_ID, national, start, end, digits), None
    # A phone number is a whole run: the tail of a longer number is not one.
    if whole_start and _phone(digits, raw, [e - b for b, e in groups]):
        normal = "+" + digits if raw.startswith("+") else digits
        return Finding(Kind.PHONE, "phone", start, end, normal), None
    return None, None


def scan_digit_runs(text: str) -> tuple[list[Finding], list[DateCandidate]]:
    """Every numeric identifier and every date written with digits in ``text``."""
    findings: list[Finding] = []
    dates: list[DateCandidate] = []
    for match in DIGIT_RUN.finditer(text):
        start, end = match.span()
        # Nothing we look for is shorter than "1.1.85" or "1234567X"; most runs in
        # prose are short numbers, dismissed here before any other work.
        if end - start < 6 and not (end < len(text) and text[end].isalpha()):
            continue
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_+-./"):
            continue  # inside a word, token or longer identifier: other passes own it
        if inert_digit_run(text, start, end):
            continue  # a timestamp's date, a plain number: nothing to find (_prefilter)
        suffixed = _letter_suffixed(text, start, end)
        if suffixed is not None:
            findings.append(suffixed)
            continue
        groups = [m.span() for m in GROUP.finditer(text, start, end)]
        if groups and end < len(text) and text[end].isalnum():
            groups.pop()  # the last group is glued to a word ("258S"): not a number alone
        if not groups:
            continue  # a lone "+" (DIGIT_RUN allows it) before a letter: no number here
        plus = 1 if text[start] == "+" else 0
        for found, when in _windows(text, groups, start, plus):
            if found is not None:
                findings.append(found)
            if when is not None:
                dates.append(when)
    return findings, dates


_SUFFIXED = {
    "dni": ("es.dni", es_dni.is_valid),
    "hetu": ("fi.hetu", fi_hetu.is_valid),
    "pps": ("ie.pps", ie_pps.is_valid),
    "cc": ("pt.cc", pt_cc.is_valid),
}


def _letter_suffixed(text: str, start: int, end: int) -> Finding | None:
    """es.dni, fi.hetu, ie.pps, pt.cc: digits followed by letters (only then tried)."""
    after = text[end:end + 2]
    hetu_shaped = end - start == 11 and text[start + 6] in "-+"
    if not hetu_shaped and not (after and (after[0].isupper() or after[0] in "-+"
                                           or after[-1:].isupper())):
        return None
    match = LETTER_SUFFIXED.match(text, start)
    if match is None or match.lastgroup is None:
        return None
    label, check = _SUFFIXED[match.lastgroup]
    value = match.group(0)
    # Danish CPR numbers (DDMMYY-SSSS) have the HETU's shape: most fail its check
    # character, which the gate computes before stdnum cleans and parses them.
    if label == "fi.hetu" and not hetu_check_character(value):
        return None
    if not _safe(check, value):
        return None
    compact = value.replace(" ", "").replace("-", "").upper()
    if label == "fi.hetu" and value[6] == "-" and _safe(dk_cpr.is_valid, value):
        label = "fi.hetu,dk.cpr"  # same written form; a CPR number has no checksum
    return Finding(Kind.NATIONAL_ID, label, match.start(), match.end(), compact)


def _windows(text: str, groups: list[tuple[int, int]], run_start: int, plus: int
             ) -> Iterator[tuple[Finding | None, DateCandidate | None]]:
    """Try windows of consecutive groups, longest first, without overlaps."""
    i = 0
    while i < len(groups):
        matched = False
        total = 0
        last = i
        while last < len(groups) and total + (groups[last][1] - groups[last][0]) <= 24:
            total += groups[last][1] - groups[last][0]
            last += 1
        for j in range(last, i, -1):
            window = groups[i:j]
            start = run_start if (i == 0 and plus) else window[0][0]
            found, date = _window(text, window, start, whole_start=(i == 0))
            if found is not None or date is not None:
                yield found, date
                i, matched = j, True
                break
        if not matched:
            i += 1


__all__ = ["DateCandidate", "scan_digit_runs"]
