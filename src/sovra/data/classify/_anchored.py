"""Detectors found from a literal: e-mail (``@``), passwords in URLs (``://``) and in
key=value strings, PEM private keys, lower-case token prefixes, IPv6 (``:x:``), and dates
of birth (a date with a birth keyword just before it)."""

from __future__ import annotations

import ipaddress

from sovra.data.classify._numbers import DateCandidate
from sovra.data.classify._patterns import (
    AWS_SECRET,
    BIRTH_CONTEXT,
    EMAIL_DOMAIN,
    EMAIL_LOCAL,
    IPV6,
    IPV6_HINT,
    KV_PASSWORD,
    LOWER_TOKEN,
    PASS_WORD,
    PEM_BODY,
    PEM_HEADER,
    TOKEN,
    TOKEN_END,
    URL_PASSWORD,
)
from sovra.data.classify._prefilter import hex_tail_start
from sovra.data.classify._types import Finding, Kind

_BIRTH_WINDOW = 48  # characters before a date in which a birth keyword makes it a DOB
_PLACEHOLDERS = frozenset({"none", "null", "<password>", "***", "xxx", "changeme", "*****"})


def _all(haystack: str, needle: str) -> list[int]:
    found, at = [], haystack.find(needle)
    while at != -1:
        found.append(at)
        at = haystack.find(needle, at + 1)
    return found


def scan_emails(text: str) -> list[Finding]:
    """RFC 5322 addr-spec in its common dot-atom form, found from each ``@``."""
    found: list[Finding] = []
    for at in _all(text, "@"):
        left = EMAIL_LOCAL.search(text, max(0, at - 64), at)
        right = EMAIL_DOMAIN.match(text, at + 1, min(len(text), at + 256))
        if not (left and right):
            continue
        local = left.group(0).lstrip(".")
        if local and not local.endswith(".") and ".." not in local:
            start, end = at - len(local), right.end()
            found.append(Finding(Kind.EMAIL, "email", start, end, text[start:end].lower()))
    return found


def scan_secrets(text: str, lower: str) -> list[Finding]:
    """Private keys, lower-case-prefixed tokens, AWS secrets and passwords."""
    found: list[Finding] = []
    for at in _all(text, "-----BEGIN"):
        header = PEM_HEADER.match(text, at)
        if header is None:
            continue
        footer = text.find(f"-----END {header.group(1)}PRIVATE KEY-----", header.end())
        # A truncated key (no END line) is still a leaked key: take its base64 body.
        if footer != -1 and footer - header.end() <= 16384:
            end = footer + len(f"-----END {header.group(1)}PRIVATE KEY-----")
        else:
            end = PEM_BODY.match(text, header.end()).end()  # type: ignore[union-attr]
        found.append(Finding(Kind.PRIVATE_KEY, "pem", at, end, text[at:end]))
    for start in _token_starts(text):
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-"):
            continue
        token = TOKEN.match(text, start)
        if token and token.lastgroup and TOKEN_END.match(text, token.end()):
            found.append(Finding(Kind.API_TOKEN, token.lastgroup, start, token.end(),
                                 token.group(0)))
    for at in _all(lower, "aws_secret_access_key"):
        secret = AWS_SECRET.match(text, at)
        if secret:
            found.append(Finding(Kind.API_TOKEN, "aws_secret", secret.start(1), secret.end(1),
                                 secret.group(1)))
    found.extend(_passwords(text, lower))
    return found


def _token_starts(text: str) -> list[int]:
    """Where a lower-case token prefix may start, found with literal searches only (an
    alternation of literals is not optimised by the regex engine; ``str.find`` is)."""
    # "_pat_" and "k_live_" both contain an "_": found among the "_"s (one search of
    # the text instead of three).
    underscores = _all(text, "_")
    starts = [at - 3 for at in underscores if at >= 3 and LOWER_TOKEN.match(text, at - 3)]
    starts += [at - 6 for at in underscores if at >= 6 and text.startswith("_pat_", at)
               and text.startswith("github", at - 6)]
    starts += [at - 2 for at in underscores if at >= 2 and text.startswith("k_live_", at - 1)]
    starts += _all(text, "sk-") + _all(text, "xox")
    return sorted(set(starts))


def _passwords(text: str, lower: str) -> list[Finding]:
    found: list[Finding] = []
    for scheme in _all(text, "://"):
        match = URL_PASSWORD.match(text, scheme + 3, min(len(text), scheme + 600))
        if match:
            found.append(Finding(Kind.PASSWORD, "url", match.start(1), match.end(1),
                                 match.group(1)))
    # One pass finds both words (neither can overlap the other or itself, so the
    # non-overlapping matches are all the occurrences, in order).
    for at in [m.start() for m in PASS_WORD.finditer(lower)]:
        if at > 0 and lower[at - 1].isalnum():
            continue
        match = KV_PASSWORD.match(text, at)
        if match is None:
            continue
        value, start, end = match.group(1), match.start(1), match.end(1)
        if value[:1] in "\"'":
            start, end, value = start + 1, end - 1, value[1:-1]
        if value and value.lower() not in _PLACEHOLDERS:
            found.append(Finding(Kind.PASSWORD, "keyvalue", start, end, value))
    return found


def scan_ipv6(text: str) -> list[Finding]:
    found: list[Finding] = []
    resume = 0
    for hint in IPV6_HINT.finditer(text):
        if hint.start() < resume:
            continue
        start = hex_tail_start(text, hint.start())
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in ":_"):
            continue
        match = IPV6.match(text, start)
        if match is None:
            continue
        value = match.group(0).rstrip(".:")  # sentence punctuation is not part of it
        try:
            address = ipaddress.IPv6Address(value)
        except ValueError:
            continue
        end = start + len(value)
        found.append(Finding(Kind.IP_ADDRESS, "ipv6", start, end, address.compressed))
        resume = end
    return found


def birth_dates(text: str, dates: list[DateCandidate]) -> list[Finding]:
    """Dates of birth: a valid date closely preceded by a birth keyword."""
    found: list[Finding] = []
    for candidate in dates:
        before = text[max(0, candidate.start - _BIRTH_WINDOW):candidate.start]
        if BIRTH_CONTEXT.search(before):
            found.append(Finding(Kind.DATE_OF_BIRTH, "date", candidate.start, candidate.end,
                                 candidate.iso))
    return found


__all__ = ["birth_dates", "scan_emails", "scan_ipv6", "scan_secrets"]
