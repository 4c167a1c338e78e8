"""Reciprocal rank fusion: one ranking from several, each item scoring sum(weight / (k + rank)).

RRF needs no score calibration between lists (cosine similarities and BM25 scores are not comparable), and
k = 60 is the constant of Cormack et al. (2009), robust across collections.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], *, k: int = DEFAULT_K, weights: Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """(id, fused score) best first; ties keep the order in which ids were first seen (earlier lists first)."""
    if k < 0:
        raise ValueError("k must not be negative")
    if weights is not None and len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    scores: dict[str, float] = {}
    for index, ranking in enumerate(rankings):
        weight = 1.0 if weights is None else weights[index]
        seen: set[str] = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:
                continue  # a duplicate within one list counts once, at its best rank
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    order = {item: i for i, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))
