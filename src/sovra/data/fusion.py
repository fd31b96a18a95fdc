"""Reciprocal rank fusion (Cormack, Clarke, Büttcher, SIGIR 2009): score(d) = Σ 1/(k + rank).

Ranks, not scores, are fused, so BM25 and cosine similarity need no common scale.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

RRF_K = 60  # the constant of the paper; damps the weight of the very first ranks


def reciprocal_rank_fusion(rankings: Sequence[Sequence[K]], k: int = RRF_K
                           ) -> list[tuple[K, float]]:
    """Items of all rankings, best first, with their fused scores (ties by first seen)."""
    scores: dict[K, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


__all__ = ["RRF_K", "reciprocal_rank_fusion"]
