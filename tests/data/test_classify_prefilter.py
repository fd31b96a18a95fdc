"""The classifier's prefilter (``sovra.data.classify._prefilter``) only ever skips work.

Whatever it rules out, the full path would have found nothing in: checked against the
full path itself on generated text dense with digits, separators and letters, and on
the shapes that matter (timestamps, identifiers that must still be found).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sovra.data.classify import Kind, scan
from sovra.data.classify import _numbers as numbers
from sovra.data.classify._patterns import DIGIT_RUN, GROUP, HEX_TAIL
from sovra.data.classify._prefilter import hex_tail_start, inert_digit_run

_ALPHABET = "0123456789" * 4 + " -./:+TZXAabcdef_\n"


def _full_path_finds(text: str, start: int, end: int) -> bool:
    """What ``scan_digit_runs`` would do with the run, without the prefilter."""
    if numbers._letter_suffixed(text, start, end) is not None:
        return True
    groups = [m.span() for m in GROUP.finditer(text, start, end)]
    if groups and end < len(text) and text[end].isalnum():
        groups.pop()
    if not groups:
        return False
    plus = 1 if text[start] == "+" else 0
    return any(found is not None or when is not None
               for found, when in numbers._windows(text, groups, start, plus))


# Digit runs as identifiers are written: groups of digits joined by one separator, with
# what may come before and after them (a word, a letter suffix, a colon, an end).
_RUN = st.builds(
    lambda before, groups, seps, after: before + "".join(
        g + (seps[i % len(seps)] if i < len(groups) - 1 else "") for i, g in enumerate(groups)
    ) + after,
    st.sampled_from(["", " ", "+", ":", "T", "x"]),
    st.lists(st.text(alphabet="0123456789", min_size=1, max_size=8), min_size=1, max_size=5),
    st.text(alphabet=" -./", min_size=1, max_size=3),
    st.sampled_from(["", " ", "Z", "T", "A", "-", ":", "W", "AB", "b"]))


@settings(max_examples=1500, deadline=None)
@given(st.one_of(_RUN, st.text(alphabet=_ALPHABET, min_size=1, max_size=80)))
def test_a_run_ruled_out_holds_nothing_the_full_path_finds(text: str) -> None:
    for match in DIGIT_RUN.finditer(text):
        start, end = match.span()
        if inert_digit_run(text, start, end):
            assert not _full_path_finds(text, start, end), (text, start, end)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789abcdefABCDEF::: xg.", max_size=90),
       st.integers(min_value=0, max_value=90))
def test_the_ipv6_start_is_the_regex_answer(text: str, at: int) -> None:
    at = min(at, len(text))
    tail = HEX_TAIL.search(text, max(0, at - 40), at)
    assert hex_tail_start(text, at) == (tail.start() if tail else at)


def test_timestamps_and_counts_are_ruled_out() -> None:
    line = "2026-12-07T03:12:45.120Z INFO done entries=12 wait_ms=3"
    runs = [m.span() for m in DIGIT_RUN.finditer(line)]
    date, seconds = runs[0], runs[3]
    assert line[date[0]:date[1]] == "2026-12-07"
    assert inert_digit_run(line, *date)
    assert inert_digit_run(line, *seconds)  # "45.120" glued to its Z


def test_what_must_be_found_is_never_ruled_out() -> None:
    for text in ("DNI 12345678Z", "card 4111 1111 1111 1111", "born 30.07.1985",
                 "from 10.0.0.7 ok", "tel +34 612 345 678", "bsn 111222333"):
        run = next(m.span() for m in DIGIT_RUN.finditer(text) if m.end() - m.start() > 3)
        assert not inert_digit_run(text, *run), text
    kinds = {f.kind for f in scan("2026-12-07T03:12:45Z login from 10.1.2.7 as a@b.eu, "
                                  "born 30.07.1985, DNI 12345678Z, ::1 and fe80::1:2")}
    assert {Kind.IP_ADDRESS, Kind.EMAIL, Kind.DATE_OF_BIRTH, Kind.NATIONAL_ID} <= kinds
