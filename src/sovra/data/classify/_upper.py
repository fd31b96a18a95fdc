"""Detectors anchored on an upper-case letter: IBAN, VAT, es.nie, it.codicefiscale,
AWS and Google keys, and dates written with a month name."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from stdnum import iban as std_iban
from stdnum.es import nie as es_nie
from stdnum.eu import vat as eu_vat
from stdnum.it import codicefiscale as it_cf

from sovra.data.classify._numbers import DateCandidate
from sovra.data.classify._patterns import (
    CODICE_FISCALE,
    DAY_BEFORE,
    IBAN,
    MONTH_DAY_YEAR,
    MONTH_YEAR,
    NIE,
    TOKEN,
    TOKEN_END,
    UPPER,
    VAT,
    VAT_COUNTRIES,
)
from sovra.data.classify._types import Finding, Kind

_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


def _valid(check: Callable[[str], bool], value: str) -> bool:
    try:
        return bool(check(value))
    except Exception:  # noqa: BLE001 - a third-party validator failing means "not valid"
        return False


def scan_upper(text: str) -> tuple[list[Finding], list[DateCandidate]]:
    findings: list[Finding] = []
    dates: list[DateCandidate] = []
    resume = 0
    for match in UPPER.finditer(text):
        start = match.start()
        if start < resume or (start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-")):
            continue
        found = _identifier(text, start)
        if found is not None:
            findings.append(found)
            resume = found.end
            continue
        month = _MONTHS.get(text[start:start + 3].lower())
        if month is not None:
            candidate = _named_date(text, start, month)
            if candidate is not None:
                dates.append(candidate)
    return findings, dates


def _identifier(text: str, start: int) -> Finding | None:
    head = text[start:start + 2]
    if head in VAT_COUNTRIES or (head.isalpha() and head.isupper()):
        found = _iban(text, start) or _vat(text, start)
        if found is not None:
            return found
    for pattern, label, check in ((NIE, "es.nie", es_nie.is_valid),
                                  (CODICE_FISCALE, "it.codicefiscale", it_cf.is_valid)):
        match = pattern.match(text, start)
        if match and _valid(check, match.group(0)):
            compact = match.group(0).replace("-", "").upper()
            return Finding(Kind.NATIONAL_ID, label, start, match.end(), compact)
    token = TOKEN.match(text, start)
    if token and TOKEN_END.match(text, token.end()) and token.lastgroup in ("aws", "google"):
        return Finding(Kind.API_TOKEN, token.lastgroup, start, token.end(), token.group(0))
    return None


def _iban(text: str, start: int) -> Finding | None:
    match = IBAN.match(text, start)
    if match is None:
        return None
    # The pattern may run into a following upper-case word; shorten until valid.
    raw = match.group(0).rstrip()
    while len(raw.replace(" ", "")) >= 15:
        compact = raw.replace(" ", "")
        if _valid(std_iban.is_valid, compact):
            return Finding(Kind.IBAN, compact[:2].lower(), start, start + len(raw), compact)
        raw = raw[:-1].rstrip()
    return None


def _vat(text: str, start: int) -> Finding | None:
    if text[start:start + 2] not in VAT_COUNTRIES:
        return None
    match = VAT.match(text, start)
    if match is None or not _valid(eu_vat.is_valid, match.group(0)):
        return None
    compact = eu_vat.compact(match.group(0))
    return Finding(Kind.VAT, compact[:2].lower(), start, match.end(), compact)


def _named_date(text: str, start: int, month: int) -> DateCandidate | None:
    """"March 3, 1985" or "3 March 1985" (the day before the month)."""
    match = MONTH_DAY_YEAR.match(text, start)
    if match is not None:
        day, year, begin = int(match.group(1)), int(match.group(2)), start
    else:
        match = MONTH_YEAR.match(text, start)
        before = DAY_BEFORE.search(text, max(0, start - 6), start)
        if match is None or before is None:
            return None
        day, year, begin = int(before.group(1)), int(match.group(1)), before.start()
    try:
        iso = date(year, month, day).isoformat()
    except ValueError:
        return None
    return DateCandidate(begin, match.end(), iso)


__all__ = ["scan_upper"]
