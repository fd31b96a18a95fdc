"""Classification of text: a pure core (no files, sockets or sessions).

``scan`` finds personal and secret data with spans; ``classify`` turns findings and a
declared label into a level with reasons; ``redact`` blanks the spans. Candidates are
found with a few compiled regexes and validated with python-stdnum's checksums.
"""

from __future__ import annotations

from sovra.data.classify._scan import scan
from sovra.data.classify._types import SECRET_KINDS, Finding, Kind
from sovra.data.classify.levels import (
    DEFAULT_MAPPING,
    ClassificationResult,
    LevelMapping,
    classify,
    decide,
)
from sovra.data.classify.redact import redact
from sovra.vocabulary import Classification

__all__ = [
    "DEFAULT_MAPPING",
    "SECRET_KINDS",
    "Classification",
    "ClassificationResult",
    "Finding",
    "Kind",
    "LevelMapping",
    "classify",
    "decide",
    "redact",
    "scan",
]
