"""Run every detector over a text and resolve overlapping findings."""

from __future__ import annotations

import bisect

from sovra.data.classify._anchored import birth_dates, scan_emails, scan_ipv6, scan_secrets
from sovra.data.classify._numbers import scan_digit_runs
from sovra.data.classify._types import Finding, Kind
from sovra.data.classify._upper import scan_upper

# When two findings overlap, the more specific (and more sensitive) one wins.
_PRIORITY: dict[Kind, int] = {
    Kind.PRIVATE_KEY: 0, Kind.API_TOKEN: 1, Kind.PASSWORD: 2, Kind.IBAN: 3,
    Kind.PAYMENT_CARD: 4, Kind.NATIONAL_ID: 5, Kind.VAT: 6, Kind.EMAIL: 7,
    Kind.DATE_OF_BIRTH: 8, Kind.IP_ADDRESS: 9, Kind.PHONE: 10,
}


def scan(text: str) -> tuple[Finding, ...]:
    """All findings in ``text``, sorted by position, without overlaps.

    Pure: no IO, no global state; the same text always gives the same findings.
    """
    # A lower-cased copy finds case-insensitive keywords with fast literal search; it is
    # only usable when lower-casing kept every offset (a few characters, like "İ", grow).
    lower = text.lower()
    if len(lower) != len(text):
        lower = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    numeric, digit_dates = scan_digit_runs(text)
    upper, named_dates = scan_upper(text)
    found = [*scan_secrets(text, lower), *upper, *numeric, *scan_emails(text),
             *scan_ipv6(text), *birth_dates(text, digit_dates + named_dates)]
    return _resolve(found)


def _resolve(found: list[Finding]) -> tuple[Finding, ...]:
    # Highest priority first, then longest: each later finding survives only if it
    # overlaps nothing kept so far. ``starts``/``kept`` stay sorted by start, and kept
    # spans never overlap, so one neighbour on each side decides (O(n log n)).
    starts: list[int] = []
    kept: list[Finding] = []
    for finding in sorted(found, key=lambda f: (_PRIORITY[f.kind], -f.length, f.start)):
        at = bisect.bisect_right(starts, finding.start)
        if at > 0 and kept[at - 1].end > finding.start:
            continue
        if at < len(kept) and kept[at].start < finding.end:
            continue
        starts.insert(at, finding.start)
        kept.insert(at, finding)
    return tuple(kept)


__all__ = ["scan"]
