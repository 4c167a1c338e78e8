"""What a query is and what answering it produces: the request, its sources, timings and streamed events.

Framework-free dataclasses shared by the supervisor, the agentic strategy and the HTTP routes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inferstack.agents.evidence import Evidence
from inferstack.agents.relevance import RelevanceGrade
from inferstack.agents.routing import Route

SNIPPET_CHARS = 300


@dataclass(frozen=True)
class Query:
    question: str
    session_id: str
    top_k: int
    use_web_search: bool | None = None


@dataclass(frozen=True)
class Source:
    """A passage the answer was given from: a knowledge chunk or a web result."""

    kind: str  # "knowledge" | "web"
    source: str
    snippet: str
    score: float
    chunk_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    in_prompt: bool = True  # False: retrieved, but left out of the answer's prompt by its size budget

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "source": self.source,
            "snippet": self.snippet,
            "score": self.score,
            "kind": self.kind,
            "in_prompt": self.in_prompt,
        }
        if self.chunk_id is not None:
            body["chunk_id"] = self.chunk_id
        if self.metadata:
            body["metadata"] = dict(self.metadata)
        return body


class StageClock:
    """Milliseconds spent per stage of one query; stages that did not run report 0."""

    STAGES = ("retrieval", "grading", "web_search", "generation")

    def __init__(self) -> None:
        self._started = time.perf_counter()
        self.ms: dict[str, float] = dict.fromkeys(self.STAGES, 0.0)
        self.first_token_ms: float | None = None

    def add(self, stage: str, started: float) -> float:
        elapsed = (time.perf_counter() - started) * 1000.0
        self.ms[stage] += elapsed
        return elapsed

    def mark_first_token(self, generation_started: float) -> None:
        """Time from the answer request to its first token (prompt processing, queueing, network)."""
        if self.first_token_ms is None:
            self.first_token_ms = (time.perf_counter() - generation_started) * 1000.0

    def as_dict(self) -> dict[str, float]:
        body = {f"{stage}_ms": round(value, 1) for stage, value in self.ms.items()}
        if self.first_token_ms is not None:
            body["first_token_ms"] = round(self.first_token_ms, 1)
        body["total_ms"] = round((time.perf_counter() - self._started) * 1000.0, 1)
        return body


@dataclass(frozen=True)
class QueryPlan:
    """Decided before the answer is generated: streamed first."""

    route: Route
    sources: tuple[Source, ...]
    relevance: RelevanceGrade | None
    session_id: str
    time_sensitive: str | None
    warnings: tuple[str, ...]
    # Every passage retrieval returned, best first, whatever the route (the sources are what the answer used).
    retrieved: tuple[Mapping[str, Any], ...] = ()
    # What the answer relies on: evidence units of passages the answer was built from (or the model saw).
    evidence: tuple[Evidence, ...] = ()
    answer_style: str | None = None  # "extractive" | "generative"; None when no answer is composed

    def as_dict(self) -> dict[str, Any]:
        return {
            "route": self.route.value,
            "sources": [source.as_dict() for source in self.sources],
            "relevance": None if self.relevance is None else round(self.relevance.score, 4),
            "relevance_detail": relevance_dict(self.relevance),
            "grade": grade_dict(self.relevance),
            "evidence": [unit.as_dict() for unit in self.evidence],
            "answer_style": self.answer_style,
            "retrieved": [dict(entry) for entry in self.retrieved],
            "session_id": self.session_id,
            "time_sensitive": self.time_sensitive,
            "warnings": list(self.warnings),
        }


def grade_dict(grade: RelevanceGrade | None) -> dict[str, Any] | None:
    """The answerability verdict (None when it was not graded: web-only routes, grading off)."""
    if grade is None or grade.answerability is None:
        return None
    return grade.answerability.as_dict()


def relevance_dict(grade: RelevanceGrade | None) -> dict[str, Any] | None:
    if grade is None:
        return None
    return {
        "score": round(grade.score, 4),
        "similarity": round(grade.similarity, 4),
        "precision": None if grade.precision is None else round(grade.precision, 4),
        "method": grade.method,
        "answerable": None if grade.answerability is None else grade.answerability.answerable,
    }


@dataclass(frozen=True)
class QueryResult:
    answer: str
    plan: QueryPlan
    timings: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {"answer": self.answer, **self.plan.as_dict(), "timings": self.timings}


@dataclass(frozen=True)
class PlanEvent:
    """The plan, with the milliseconds spent so far by the stages that produced it."""

    plan: QueryPlan
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DeltaEvent:
    text: str


@dataclass(frozen=True)
class DoneEvent:
    result: QueryResult


QueryEvent = PlanEvent | DeltaEvent | DoneEvent
