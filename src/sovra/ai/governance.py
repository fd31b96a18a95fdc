"""The pure governance decision for one request: may this model see this data?

Issue 7, "Governance on every request": the effective classification is the highest of
the prompt's (the data layer's detectors) and the retrieved chunks'. If the model is not
approved for it, the request is refused with the reason or, where the setting says so,
the personal data is redacted (using the detectors' finding spans) before the model sees
it. Values in, a value out: no IO here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from sovra.ai.levels import exceeds, highest
from sovra.ai.models import Assessment, Span

Mode = Literal["refuse", "redact"]


@dataclass(frozen=True)
class Verdict:
    """What the gateway may send to the model, and why."""

    allowed: bool
    effective: str  # classification of what the model is asked to see (after redaction)
    original: str  # classification before any redaction
    texts: tuple[str, ...]  # the texts to send (redacted where redaction happened)
    redacted_spans: int
    reasons: tuple[str, ...]


def redact(text: str, spans: Sequence[Span]) -> str:
    """Replace every span with a typed placeholder; overlapping spans merge."""
    if not spans:
        return text
    out: list[str] = []
    cursor = 0
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        start, end = max(span.start, cursor), min(span.end, len(text))
        if end <= start:
            continue
        out.append(text[cursor:start])
        out.append(f"[REDACTED {span.kind}]")
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def floored(assessment: Assessment, floor: str) -> Assessment:
    """An assessment raised to at least ``floor`` (a chunk's stored classification)."""
    return Assessment(highest([assessment.level, floor]), assessment.spans)


def decide(texts: Sequence[str], assessments: Sequence[Assessment], *, ceiling: str,
           mode: Mode, classify: Callable[[str], Assessment],
           floors: Sequence[str] | None = None) -> Verdict:
    """Decide for the texts (prompt parts and retrieved chunks) and their assessments.

    ``floors`` are levels the texts have regardless of what the detectors find (a
    retrieved chunk's stored classification): redaction cannot take a text below them.
    """
    floors = list(floors) if floors is not None else ["public"] * len(texts)
    assessments = [floored(a, f) for a, f in zip(assessments, floors, strict=True)]
    original = highest(a.level for a in assessments)
    if not exceeds(original, ceiling):
        return Verdict(allowed=True, effective=original, original=original, texts=tuple(texts),
                       redacted_spans=0, reasons=(
                           f"effective classification {original} within model ceiling {ceiling}",))
    if mode == "refuse":
        return Verdict(allowed=False, effective=original, original=original,
                       texts=tuple(texts), redacted_spans=0, reasons=(
                           f"effective classification {original} exceeds model ceiling {ceiling}",))
    redacted: list[str] = []
    after: list[str] = []
    count = 0
    for text, assessment, floor in zip(texts, assessments, floors, strict=True):
        if exceeds(assessment.level, ceiling) and assessment.spans:
            cleaned = redact(text, assessment.spans)
            count += len(assessment.spans)
            after.append(floored(classify(cleaned), floor).level)
        else:
            cleaned = text
            after.append(assessment.level)
        redacted.append(cleaned)
    effective = highest(after)
    if exceeds(effective, ceiling):
        return Verdict(allowed=False, effective=effective, original=original,
                       texts=tuple(texts), redacted_spans=0, reasons=(
                           (f"effective classification {original} exceeds model ceiling "
                           f"{ceiling}; still {effective} after redacting {count} "
                           "personal-data spans"),))
    return Verdict(allowed=True, effective=effective, original=original,
                   texts=tuple(redacted), redacted_spans=count, reasons=(
                       (f"effective classification {original} exceeds model ceiling "
                       f"{ceiling}; redacted {count} personal-data spans, now {effective}"),))
