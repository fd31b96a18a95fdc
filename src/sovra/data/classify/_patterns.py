"""The compiled regexes of the scan.

Only three patterns run over the whole text; each starts with an ASCII character class
(``[+0-9]``, ``[A-Z]``) or a literal (``@``, ``://``, ``sk-``), so CPython's regex engine
can skip prose quickly instead of trying a full match at every position (a pattern that
starts with a look-behind or ``\\d`` defeats that optimisation, so word-boundary checks
are done in Python on the few candidates). The other patterns are only ever ``match``-ed
at a candidate's position.
"""

from __future__ import annotations

import re

# --- whole-text passes ------------------------------------------------------------
# Digit groups joined by single separators, with an optional leading "+" (E.164).
DIGIT_RUN = re.compile(r"[+0-9][0-9]*(?:[ \-./][0-9]+)*")
# An upper-case letter that may start an IBAN, VAT number, NIE, codice fiscale, AWS or
# Google key, or a month name followed by a day or year.
UPPER = re.compile(
    r"[A-Z](?=[A-Z] ?[0-9A-Z][0-9]|[A-Z]{5}[0-9LMNP-V]|-?[0-9]{7}"
    r"|KIA|SIA|GPA|IDA|ROA|NPA|NVA|IPA|Iza|[a-z]{2,8}\.? [0-9])")
# Token prefixes that start with a lower-case letter, tried where "_" is found.
LOWER_TOKEN = re.compile(r"gh[pousr]_")

GROUP = re.compile(r"[0-9]+")

# --- anchored at a candidate ------------------------------------------------------
#   es.dni: 8 digits and a check letter; ie.pps: 7 digits and one or two letters;
#   fi.hetu: DDMMYY, century sign, 3 digits, check character; pt.cc: 8+1 digits, 2+1 chars.
LETTER_SUFFIXED = re.compile(
    r"(?P<dni>[0-9]{8}-?[A-Z])(?![\w])"
    r"|(?P<hetu>[0-9]{6}[-+A-FU-Y][0-9]{3}[0-9A-Y])(?![\w])"
    r"|(?P<pps>[0-9]{7}[A-W][A-IW]?)(?![\w])"
    r"|(?P<cc>[0-9]{8} ?[0-9] ?[A-Z0-9]{2}[0-9])(?![\w])"
)
#   es.nie: X/Y/Z, 7 digits, check letter; it.codicefiscale: 16 characters (omocodia
#   letters may stand for digits).
NIE = re.compile(r"[XYZ]-?[0-9]{7}-?[A-Z](?![\w])")
CODICE_FISCALE = re.compile(
    r"[A-Z]{6}[0-9LMNP-V]{2}[A-EHLMPR-T][0-9LMNP-V]{2}[A-Z][0-9LMNP-V]{3}[A-Z](?![\w])")
# ISO 13616 IBAN: country, 2 check digits, up to 30 alphanumerics, in groups of 4.
IBAN = re.compile(r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}(?![a-z0-9])")
# EU VAT numbers: country prefix (Greece EL, Northern Ireland XI), then the number.
VAT_COUNTRIES = frozenset(
    ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU",
     "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI"])
VAT = re.compile(r"[A-Z]{2} ?[0-9A-Z][0-9A-Z.\-]{6,13}[0-9A-Z](?![\w])")

EMAIL_LOCAL = re.compile(r"[A-Za-z0-9._%+\-]{1,64}\Z")
EMAIL_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
                          r"(?![\w\-])")

# IPv6: found from a colon pair, expanded left to its first hex digit.
IPV6_HINT = re.compile(r":[0-9A-Fa-f]{0,4}:")
IPV6 = re.compile(r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]{1,39}")
HEX_TAIL = re.compile(r"[0-9A-Fa-f:]{1,40}\Z")

_MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]{0,6}\.?"
MONTH_DAY_YEAR = re.compile(_MONTHS + r" ([0-9]{1,2})(?:st|nd|rd|th)?,? ([0-9]{4})(?![\w])")
MONTH_YEAR = re.compile(_MONTHS + r",? ([0-9]{4})(?![\w])")
DAY_BEFORE = re.compile(r"([0-9]{1,2})(?:st|nd|rd|th)?\.? \Z")

# Words that make a nearby date a date of birth (EN, DE, FR, ES, IT, NL, PT, PL, SE, FI, DK).
BIRTH_CONTEXT = re.compile(
    r"(?i)\b(?:born|birth|d\.?o\.?b|geboren|geb\.|geburtsdatum|n[ée]e?\b|naissance|nacid[oa]"
    r"|nacimiento|nat[oa]\b|nascita|geboortedatum|nascimento|urodzenia|urodzon[ya]"
    r"|f[öo]dd|f[öo]delsedatum|f[øo]dselsdato|f[øo]dt|syntym)"
)

PEM_HEADER = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----")
PEM_BODY = re.compile(r"[A-Za-z0-9+/=\s:\-,]{0,16384}")
TOKEN = re.compile(
    r"(?P<aws>(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16})"
    r"|(?P<github>gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})"
    r"|(?P<sk>sk-(?:[A-Za-z0-9]+-){0,3}[A-Za-z0-9_\-]{20,200})"
    r"|(?P<slack>xox[abposr]-[A-Za-z0-9\-]{10,200})"
    r"|(?P<stripe>[sr]k_live_[A-Za-z0-9]{20,200})"
    r"|(?P<google>AIza[0-9A-Za-z_\-]{35})"
)
TOKEN_END = re.compile(r"(?![\w\-])")
AWS_SECRET = re.compile(r"(?i)aws_secret_access_key\s*[=:]\s*\"?([A-Za-z0-9/+]{40})(?![\w/+])")
# scheme://user:password@host — the password is the finding, found from the "://".
URL_PASSWORD = re.compile(r"[^\s:/@]{1,256}:([^\s@/]{1,256})@[\w.\-\[\]:]+")
# Where a password key may start (in the lower-cased text).
PASS_WORD = re.compile(r"p(?:ass|wd)")
# key=value connection strings (libpq, ADO.NET, JDBC properties).
KV_PASSWORD = re.compile(r"(?i)(?:password|passwd|pwd)\s*[=:]\s*"
                         r"(\"[^\"\n]{1,256}\"|'[^'\n]{1,256}'|[^\s;'\"&,]{1,256})")
