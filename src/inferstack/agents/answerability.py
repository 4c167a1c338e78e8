"""Answerability: do the retrieved passages hold an answer to the question, or are they only about its topic?

Similarity says "related"; this says "answers". The grade combines, for each candidate evidence unit (see
`evidence`), the rarity-weighted share of the question's key terms the unit covers (lexical coverage) with the
cosine similarity of the unit and the question (the embedding model, one extra call for a handful of short
texts): `score = (1 - w) * coverage + w * cosine`. The question is answerable when its best unit scores at least
`min_score` and every identifier the question names (part number, code, version, year) occurs in that unit's
document. Deterministic, cheap, and it works with the smallest chat model, which is never asked.

A question/context record (a FAQ row: the loaders' form of a CSV with question and context columns) states the
question it answers, so there the retrieval similarity of the record is the calibrated signal: a record at or
above `record_min_similarity` answers the question even when the wording shares few terms with it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from inferstack.agents.evidence import Evidence, IdfFunction, leading_units, select_evidence
from inferstack.core.errors import InferstackError
from inferstack.retrieval.embedders.base import Embedder
from inferstack.retrieval.stores.base import SearchHit

log = logging.getLogger(__name__)

CANDIDATES = 8  # units whose cosine is measured
QUESTION_CHARS = 500  # within the embedding model's input limit, as the retrieval windows are


@dataclass(frozen=True)
class AnswerabilityGrade:
    answerable: bool
    score: float
    coverage: float
    cosine: float | None
    method: str
    reason: str
    evidence: tuple[Evidence, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "answerable": self.answerable,
            "score": round(self.score, 4),
            "coverage": round(self.coverage, 4),
            "cosine": None if self.cosine is None else round(self.cosine, 4),
            "method": self.method,
            "reason": self.reason,
        }


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm > 0 else 0.0


class AnswerabilityGrader:
    def __init__(
        self,
        embedder: Embedder | None,
        *,
        min_score: float = 0.55,
        cosine_weight: float = 0.5,
        record_min_similarity: float | None = None,
    ) -> None:
        if not 0.0 <= cosine_weight <= 1.0:
            raise ValueError("cosine_weight must be within [0, 1]")
        self._embedder = embedder
        self._min_score = min_score
        self._weight = cosine_weight
        self._record_min = record_min_similarity

    async def grade(self, question: str, hits: Sequence[SearchHit], idf: IdfFunction) -> AnswerabilityGrade:
        candidates = select_evidence(question, hits, idf, limit=CANDIDATES)
        if not candidates:
            return AnswerabilityGrade(
                False, 0.0, 0.0, None, "evidence", "no passage shares a term with the question", ()
            )
        cosines = await self._cosines(question, candidates)
        method = "evidence+cosine" if cosines is not None else "evidence"
        scored = [
            replace(unit, score=self._combine(unit.score, None if cosines is None else cosines[i]))
            for i, unit in enumerate(candidates)
        ]
        order = sorted(range(len(scored)), key=lambda i: (not scored[i].identifiers_present, -scored[i].score))
        ranked = tuple(scored[i] for i in order)
        best = order[0]
        coverage = candidates[best].score
        cosine = None if cosines is None else cosines[best]
        top = ranked[0]
        if not top.identifiers_present:
            reason = "the passages do not name " + ", ".join(t for t in top.missing if any(c.isdigit() for c in t))
            return AnswerabilityGrade(False, top.score, coverage, cosine, method, reason, ranked)
        if top.score < self._min_score:
            record = self._answering_record(hits, ranked)
            if record is not None:
                return record
            missing = ", ".join(top.missing[:4]) or "-"
            reason = f"best evidence scores {top.score:.2f} < {self._min_score:.2f} (terms not found: {missing})"
            return AnswerabilityGrade(False, top.score, coverage, cosine, method, reason, ranked)
        return AnswerabilityGrade(True, top.score, coverage, cosine, method, "evidence found", ranked)

    def _answering_record(self, hits: Sequence[SearchHit], ranked: Sequence[Evidence]) -> AnswerabilityGrade | None:
        """The grade from the best question/context record, when its similarity clears the record threshold."""
        if self._record_min is None:
            return None
        for hit in hits:
            if hit.metadata.get("type") == "qa" and hit.score >= self._record_min:
                units = tuple(unit for unit in ranked if unit.chunk_id == hit.id and unit.identifiers_present)
                units = units or leading_units(hit)
                if units:
                    reason = f"a question/context record matches the question (similarity {hit.score:.2f})"
                    return AnswerabilityGrade(
                        True, units[0].score, units[0].score, None, "record-similarity", reason, units
                    )
        return None

    def _combine(self, coverage: float, cosine: float | None) -> float:
        if cosine is None:
            return coverage
        return (1.0 - self._weight) * coverage + self._weight * max(0.0, cosine)

    async def _cosines(self, question: str, units: Sequence[Evidence]) -> list[float] | None:
        if self._embedder is None or self._weight == 0.0:
            return None
        try:
            asked = sorted({unit.asks for unit in units if unit.asks})
            vectors = await self._embedder.embed([question[:QUESTION_CHARS], *(u.text for u in units), *asked])
        except InferstackError as exc:
            # Lexical coverage alone still grades; the grade's method says so.
            log.warning("answerability: embedding the evidence failed, grading on terms alone: %s", exc.message)
            return None
        # A question/context record answers the question it states: a unit of it is as close to the user's
        # question as the nearer of the unit itself and the record's question.
        record = {
            text: _cosine(vectors[0], vector) for text, vector in zip(asked, vectors[1 + len(units) :], strict=True)
        }
        return [
            max(_cosine(vectors[0], vector), record.get(unit.asks, -1.0))
            for unit, vector in zip(units, vectors[1 : 1 + len(units)], strict=True)
        ]
