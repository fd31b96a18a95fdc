"""The pure governance decision: effective classification, refusal, redaction."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from sovra.ai.governance import decide, redact
from sovra.ai.levels import LEVELS, exceeds, highest, level_name, rank
from sovra.ai.models import Assessment, Span
from sovra.policy.classification import Classification

_EMAIL = re.compile(r"[a-z]+@[a-z]+\.example")


def toy_classify(text: str) -> Assessment:
    """A tiny detector for these tests: e-mail addresses are confidential."""
    spans = tuple(Span(m.start(), m.end(), "email", "confidential")
                  for m in _EMAIL.finditer(text))
    return Assessment("confidential" if spans else "public", spans)


def test_levels_accept_the_policy_enum_names_and_ranks() -> None:
    assert level_name(Classification.SECRET) == "secret"
    assert level_name(2) == "confidential"
    assert level_name(" Internal ") == "internal"
    assert [rank(level) for level in LEVELS] == [c.value for c in Classification]


def test_highest_of_nothing_is_public() -> None:
    assert highest([]) == "public"
    assert highest(["internal", "secret", "public"]) == "secret"


def test_within_ceiling_is_allowed_unchanged() -> None:
    texts = ["hello", "mail bob@corp.example"]
    verdict = decide(texts, [toy_classify(t) for t in texts], ceiling="confidential",
                     mode="refuse", classify=toy_classify)
    assert verdict.allowed
    assert verdict.effective == "confidential"
    assert verdict.texts == tuple(texts)


def test_above_ceiling_is_refused_with_the_reason() -> None:
    texts = ["mail bob@corp.example"]
    verdict = decide(texts, [toy_classify(t) for t in texts], ceiling="internal",
                     mode="refuse", classify=toy_classify)
    assert not verdict.allowed
    assert "confidential exceeds model ceiling internal" in verdict.reasons[0]


def test_redact_mode_removes_the_personal_data_and_allows() -> None:
    texts = ["write to bob@corp.example and amy@corp.example today", "plain"]
    verdict = decide(texts, [toy_classify(t) for t in texts], ceiling="internal",
                     mode="redact", classify=toy_classify)
    assert verdict.allowed
    assert verdict.redacted_spans == 2
    assert "@" not in verdict.texts[0]
    assert verdict.texts[0] == "write to [REDACTED email] and [REDACTED email] today"
    assert verdict.original == "confidential"
    assert verdict.effective == "public"


def test_redact_mode_still_refuses_without_spans() -> None:
    # A chunk classified secret by its collection, not by detector findings: nothing to
    # redact, so the model must not see it.
    verdict = decide(["budget"], [Assessment("secret")], ceiling="internal", mode="redact",
                     classify=toy_classify)
    assert not verdict.allowed
    assert "still secret" in verdict.reasons[0]


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=60), st.lists(st.tuples(st.integers(0, 70), st.integers(0, 70)),
                                      max_size=5))
def test_redaction_removes_every_span_character(text: str, raw: list[tuple[int, int]]) -> None:
    spans = [Span(min(a, b), max(a, b), "x", "secret") for a, b in raw]
    out = redact(text, spans)
    covered = {i for s in spans for i in range(s.start, min(s.end, len(text)))}
    if not covered:
        assert out == text
    kept = "".join(ch for i, ch in enumerate(text) if i not in covered)
    assert out.replace("[REDACTED x]", "") == kept


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(LEVELS), min_size=1, max_size=6), st.sampled_from(LEVELS))
def test_refuse_mode_allows_exactly_when_nothing_exceeds(levels: list[str], ceiling: str) -> None:
    verdict = decide(["t"] * len(levels), [Assessment(level) for level in levels],
                     ceiling=ceiling, mode="refuse", classify=toy_classify)
    assert verdict.allowed == (not any(exceeds(level, ceiling) for level in levels))
    assert verdict.effective == highest(levels)


def test_a_stored_classification_is_a_floor_redaction_cannot_lower() -> None:
    texts = ["question", "chunk with bob@corp.example"]
    assessments = [toy_classify(t) for t in texts]
    verdict = decide(texts, assessments, ceiling="internal", mode="redact",
                     classify=toy_classify, floors=["public", "internal"])
    assert verdict.allowed and verdict.effective == "internal"
    secret_chunk = decide(texts, assessments, ceiling="internal", mode="redact",
                          classify=toy_classify, floors=["public", "secret"])
    assert not secret_chunk.allowed
    assert secret_chunk.effective == "secret"
