"""Grades how well retrieved chunks answer a question: a deterministic similarity score, plus an optional judge.

The similarity score is the best cosine similarity among the hits, clamped to [0, 1]; it never is NaN (non-finite
scores are ignored, no hits give 0.0). A `RelevanceJudge` (an LLM estimating context precision) can be blended
in when configured; if it fails, the similarity score stands alone and the grade says so.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from inferstack.core.errors import InferstackError
from inferstack.retrieval.stores.base import SearchHit

log = logging.getLogger(__name__)


class RelevanceJudge(Protocol):
    async def precision(self, question: str, chunks: Sequence[str]) -> float:
        """Context precision in [0, 1]: how much of `chunks` (best first) is useful for `question`."""
        ...


@dataclass(frozen=True)
class RelevanceGrade:
    """`score` is what routing compares with the thresholds; the parts explain it."""

    score: float
    similarity: float
    precision: float | None
    method: str


def finite_unit(value: float) -> float:
    """`value` clamped into [0, 1]; NaN and infinities count as 0."""
    if not math.isfinite(value):
        return 0.0
    return min(1.0, max(0.0, value))


def similarity_score(hits: Sequence[SearchHit]) -> float:
    """Best finite cosine similarity of `hits`, clamped to [0, 1]; 0.0 when there is none."""
    finite = [hit.score for hit in hits if math.isfinite(hit.score)]
    return finite_unit(max(finite)) if finite else 0.0


class RelevanceGrader:
    """Similarity always; with a judge, `score = (1 - w) * similarity + w * precision`."""

    def __init__(
        self, judge: RelevanceJudge | None = None, *, judge_weight: float = 0.5, judge_chunks: int = 3
    ) -> None:
        if not 0.0 <= judge_weight <= 1.0:
            raise ValueError("judge_weight must be within [0, 1]")
        self._judge = judge
        self._weight = judge_weight
        self._judge_chunks = judge_chunks

    async def grade(self, question: str, hits: Sequence[SearchHit]) -> RelevanceGrade:
        similarity = similarity_score(hits)
        if self._judge is None or not hits:
            return RelevanceGrade(score=similarity, similarity=similarity, precision=None, method="similarity")
        chunks = [hit.text for hit in hits[: self._judge_chunks]]
        try:
            precision = finite_unit(await self._judge.precision(question, chunks))
        except InferstackError as exc:
            # The judge is an optional refinement: its failure must not fail the query.
            log.warning("relevance judge failed, using similarity alone: %s", exc.message)
            return RelevanceGrade(
                score=similarity, similarity=similarity, precision=None, method="similarity (judge failed)"
            )
        score = finite_unit((1.0 - self._weight) * similarity + self._weight * precision)
        return RelevanceGrade(score=score, similarity=similarity, precision=precision, method="similarity+llm_judge")
