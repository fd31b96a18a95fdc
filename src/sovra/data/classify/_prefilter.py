"""A cheap test that rules a digit run out before the digit detectors look at it.

Most digit runs in logs are no identifier at all: the date of an ISO 8601 timestamp
(``2026-12-07`` glued to its ``T``), the seconds glued to a ``Z``, a plain count. The
full path (``_numbers.scan_digit_runs``) pays for a letter-suffix match, a group split
and up to three window tries on each before it finds nothing; on a support bundle that
is most of the classifier's time. ``inert_digit_run`` answers from a few string
operations, and only "certainly nothing": it never decides that something *is* an
identifier, so a wrong answer could only be a missed finding, which the property test
in tests/data/test_classify_prefilter.py rules out against the full path.

Why it is sound, from what the full path can find in a run:

* a letter-suffixed identifier (es.dni, fi.hetu, ie.pps, pt.cc) starts with at least
  six digits in a row, so a run whose first group is shorter has none;
* a window is an IPv4 address (four groups), a date (three groups) or has at least nine
  digits (cards, national identifiers, phones); a run whose groups, after dropping a
  last group glued to a word as the full path does, number fewer than three and hold
  fewer than nine digits has none of them.

A run that starts with ``+`` (E.164) is never ruled out here: its first group is
counted differently.
"""

from __future__ import annotations

import re

# The runs ruled out, as two patterns matched in C at the run's position (no slicing):
# the first group at most five digits (no letter suffix can start there), then
# * not glued to a word: at most two groups, at most eight digits in all;
# * glued to a word (its last group dropped, as the full path does): at most three
#   groups, the first two at most eight digits in all.
# The digit bounds are a little tighter than the rule (5 + 3, not "below nine in
# total"): a run they leave out only takes the full path.
_SEP = r"[ \-./]"
_FREE = re.compile(rf"[0-9]{{1,5}}(?:{_SEP}[0-9]{{1,3}})?")
_GLUED = re.compile(rf"[0-9]{{1,5}}(?:{_SEP}[0-9]{{1,3}}(?:{_SEP}[0-9]+)?|{_SEP}[0-9]+)?")


def inert_digit_run(text: str, start: int, end: int) -> bool:
    """True when the digit run ``text[start:end]`` (a ``DIGIT_RUN`` match) can hold no
    finding and no date; False means "look properly", never "found"."""
    glued = end < len(text) and text[end].isalnum()
    return (_GLUED if glued else _FREE).fullmatch(text, start, end) is not None


_HEX_OR_COLON = "0123456789abcdefABCDEF:"
_LONGEST_IPV6 = 40  # hex digits and colons before a colon pair, at most (HEX_TAIL)


def hex_tail_start(text: str, at: int) -> int:
    """Where the run of hex digits and colons that ends at ``at`` starts, looking back at
    most 40 characters (``at`` itself when there is none): the start of an IPv6 candidate
    whose colon pair is at ``at``. The same answer as ``HEX_TAIL.search`` over that
    window, which tries a match at each of the 40 positions; ``rstrip`` walks back once,
    in C. Every time of day (``03:12:45``) is such a colon pair, so on logs it counts."""
    window = text[max(0, at - _LONGEST_IPV6):at]
    return at - (len(window) - len(window.rstrip(_HEX_OR_COLON)))


__all__ = ["hex_tail_start", "inert_digit_run"]
