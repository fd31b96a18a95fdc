"""Redaction of what is about to leave, and the reviewer's diff. Pure: text in, values out.

Every finding of the data room's detectors (``sovra.data.classify.scan``) in a file is
replaced by its label (``[IBAN]``); the kinds redacted are the policy's, and by default
all of them (personal data and secrets alike). The redacted text is scanned again: a
finding left over means the redaction failed, and the whole export is refused, so
nothing partial ever leaves. The level of what leaves is the highest declared level
of its sources (the findings are gone).
"""

from __future__ import annotations

import bisect
import difflib
import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sovra.data.classify import Finding, Kind, redact, scan
from sovra.errors import InvalidInputError
from sovra.policy import Classification

ALL_KINDS: frozenset[Kind] = frozenset(Kind)
MARGIN = 96
INNER = 48
# The labels ``sovra.data.classify.redact`` writes in place of a finding ([IBAN]).
_SEPARATOR = "\n" * 64
_LABEL = re.compile("|".join(re.escape(f"[{k.value.upper()}]") for k in Kind))


@dataclass(frozen=True)
class SourceFile:
    """One file an export would carry, before redaction."""

    name: str
    text: str
    declared: Classification


@dataclass(frozen=True)
class RedactedFile:
    name: str
    original: str
    redacted: str
    declared: Classification
    counts: dict[str, int]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.redacted.encode("utf-8")).hexdigest()

    def listing(self) -> dict[str, object]:
        return {"name": self.name, "bytes": len(self.redacted.encode("utf-8")),
                "sha256": self.sha256, "declared": self.declared.label,
                "redacted": self.counts}


def redact_file(source: SourceFile, kinds: frozenset[Kind] = ALL_KINDS) -> RedactedFile:
    """Redact one file; raises ``InvalidInputError`` if any finding survives."""
    found = [f for f in scan(source.text) if f.kind in kinds]
    redacted = redact(source.text, found)
    left = [f for f in residual(redacted) if f.kind in kinds]
    if left:
        raise InvalidInputError(
            f"redaction of {source.name} failed: {_counts(left)} remain after redacting; "
            "the export is refused and nothing leaves")
    return RedactedFile(source.name, source.text, redacted, source.declared, _counts(found))


def residual(redacted: str) -> list[Finding]:
    """Findings left in ``redacted`` near a replacement: the second look, in windows.

    Outside the windows the text is the original's, with the original's context for
    every detector (its longest look-behind is 48 characters), where the first scan
    found nothing it did not replace; only around a replacement can a value the first
    scan could not see appear (a run of digits joined, a keyword moved closer). So the
    second scan reads MARGIN characters each side of every label and counts the findings
    within INNER of it (a number cut at a window's edge cannot raise a false alarm),
    and redaction runs at the classifier's own speed instead of half of it.
    """
    windows: list[tuple[int, int, list[tuple[int, int]]]] = []
    for label in _LABEL.finditer(redacted):
        start = max(0, label.start() - MARGIN)
        end = min(len(redacted), label.end() + MARGIN)
        near = (label.start() - INNER, label.end() + INNER)
        if windows and start <= windows[-1][1]:
            windows[-1][2].append(near)
            windows[-1] = (windows[-1][0], max(windows[-1][1], end), windows[-1][2])
        else:
            windows.append((start, end, [near]))
    # One scan over every window, joined by a separator no detector reads across (its
    # look-behind is shorter), instead of one scan call per window.
    joined, offsets, cursor = [], [], 0
    for start, end, _nears in windows:
        offsets.append((cursor, start))
        joined.append(redacted[start:end])
        cursor += end - start + len(_SEPARATOR)
    left = []
    starts = [o[0] for o in offsets]
    for finding in scan(_SEPARATOR.join(joined)):
        index = bisect.bisect_right(starts, finding.start) - 1
        at, start = offsets[index]
        a, b = finding.start - at + start, finding.end - at + start
        if any(a < hi and b > lo for lo, hi in windows[index][2]):
            left.append(finding)
    return left


def redact_all(sources: Sequence[SourceFile], kinds: frozenset[Kind] = ALL_KINDS
               ) -> list[RedactedFile]:
    if not sources:
        raise InvalidInputError("nothing to export: the collection or source is empty")
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise InvalidInputError("two files of the export share a name")
    return [redact_file(s, kinds) for s in sources]


def level_of(files: Iterable[RedactedFile]) -> Classification:
    return max((f.declared for f in files), default=Classification.PUBLIC)


def review_diff(files: Iterable[RedactedFile]) -> str:
    """A unified diff of each file, unredacted view against what will leave."""
    parts: list[str] = []
    for f in files:
        parts.extend(difflib.unified_diff(
            _lines(f.original), _lines(f.redacted),
            fromfile=f"{f.name} (on site)", tofile=f"{f.name} (leaves)"))
    return "".join(parts)


def _lines(text: str) -> list[str]:
    # Every line ends with a newline, so the last line of one file never runs on.
    return [line if line.endswith("\n") else line + "\n"
            for line in text.splitlines(keepends=True)]


def _counts(findings: Iterable[Finding]) -> dict[str, int]:
    return dict(sorted(Counter(f.kind.value for f in findings).items()))


__all__ = ["ALL_KINDS", "RedactedFile", "SourceFile", "level_of", "redact_all", "redact_file",
           "review_diff"]
