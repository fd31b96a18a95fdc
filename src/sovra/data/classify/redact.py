"""Redaction from findings' spans, without scanning again (the gateway's use)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sovra.data.classify._types import Finding


def _label(finding: Finding) -> str:
    return f"[{finding.kind.value.upper()}]"


def redact(text: str, findings: Iterable[Finding],
           replacement: Callable[[Finding], str] = _label) -> str:
    """``text`` with every finding's span replaced (overlapping spans merge)."""
    spans = sorted(findings, key=lambda f: (f.start, -f.end))
    out: list[str] = []
    cursor = 0
    for finding in spans:
        if finding.end <= cursor:
            continue  # inside a span already replaced
        out.append(text[cursor:max(cursor, finding.start)])
        out.append(replacement(finding))
        cursor = max(cursor, finding.end)
    out.append(text[cursor:])
    return "".join(out)


__all__ = ["redact"]
