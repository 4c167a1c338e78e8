"""Grades how well retrieved chunks answer a question: similarity, an optional judge, and answerability.

The similarity score is the best cosine similarity among the hits, clamped to [0, 1]; it never is NaN (non-finite
scores are ignored, no hits give 0.0). A `RelevanceJudge` (an LLM estimating context precision) can be blended
in when configured; if it fails, the similarity score stands alone and the grade says so.

Similarity says a passage is related, not that it answers. With an `AnswerabilityGrader` the grade's `score`
(what routing compares with the thresholds) follows its verdict: answerable lifts it to at least the relevance
threshold, not answerable caps it just under the hybrid threshold, so the question goes to web search when that
is allowed and is otherwise answered plainly as not found.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from inferstack.agents.answerability import AnswerabilityGrade, AnswerabilityGrader
from inferstack.agents.evidence import IdfFunction
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
    answerability: AnswerabilityGrade | None = None


def uniform_idf(term: str) -> float:
    """Every term weighs the same (a store without term statistics)."""
    return 1.0


@dataclass(frozen=True)
class AnswerGate:
    """Routing thresholds the answerability verdict moves the score across."""

    relevant: float
    hybrid: float


IdfSource = Callable[[], Awaitable[IdfFunction | None]]


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
        self,
        judge: RelevanceJudge | None = None,
        *,
        judge_weight: float = 0.5,
        judge_chunks: int = 3,
        answerability: AnswerabilityGrader | None = None,
        gate: AnswerGate | None = None,
        idf: IdfSource | None = None,
    ) -> None:
        if not 0.0 <= judge_weight <= 1.0:
            raise ValueError("judge_weight must be within [0, 1]")
        if answerability is not None and gate is None:
            raise ValueError("answerability needs the routing gate")
        self._judge = judge
        self._weight = judge_weight
        self._judge_chunks = judge_chunks
        self._answerability = answerability
        self._gate = gate
        self._idf = idf

    async def grade(self, question: str, hits: Sequence[SearchHit]) -> RelevanceGrade:
        grade = await self._relevance(question, hits)
        if self._answerability is None or self._gate is None:
            return grade
        idf = (await self._idf() if self._idf is not None else None) or uniform_idf
        verdict = await self._answerability.grade(question, hits, idf)
        if verdict.answerable:
            score = max(grade.score, self._gate.relevant)
        else:
            score = min(grade.score, max(0.0, self._gate.hybrid - 0.01))
        return replace(grade, score=score, method=f"{grade.method}+answerability", answerability=verdict)

    async def _relevance(self, question: str, hits: Sequence[SearchHit]) -> RelevanceGrade:
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
