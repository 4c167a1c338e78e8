"""Scores one agent reply against its labelled question, and aggregates the scores of a run.

* hit@k / reciprocal rank: where the first retrieved passage of an expected source ranks (a source matches by
  equal id or by path suffix, so `travel.md` matches `docs/travel.md`);
* accuracy: the answer contains every `answer_contains` string, case-insensitive, whitespace-normalised;
* honesty (unanswerable questions): the route is `none` or `web`, never the knowledge base;
* answered (answerable questions): the route used the knowledge base.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from inferstack.evaluation.dataset import EvalQuestion

NOT_ANSWERED_ROUTES = frozenset({"none", "web"})
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Lower case, Unicode NFKC, runs of whitespace as one space, thin/no-break spaces included."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def contains_all(answer: str, expected: Sequence[str]) -> bool:
    said = normalise(answer)
    return all(normalise(item) in said for item in expected)


def source_matches(source: str, expected: str) -> bool:
    return source == expected or source.endswith("/" + expected.lstrip("/"))


def retrieved_sources(reply: Mapping[str, Any]) -> list[str]:
    """Sources of the retrieved knowledge passages, best first: `retrieved` when the agent reports it (also on
    routes that did not use the knowledge base), else the knowledge entries of `sources`."""
    entries = reply.get("retrieved")
    if not isinstance(entries, list):
        entries = [s for s in reply.get("sources") or [] if isinstance(s, dict) and s.get("kind") == "knowledge"]
    return [str(entry.get("source", "")) for entry in entries if isinstance(entry, dict)]


def first_rank(sources: Sequence[str], expected: Sequence[str]) -> int | None:
    """1-based rank of the first source matching any expected one, or None."""
    for rank, source in enumerate(sources, start=1):
        if any(source_matches(source, wanted) for wanted in expected):
            return rank
    return None


@dataclass(frozen=True)
class QuestionScore:
    id: str
    question: str
    split: str | None
    unanswerable: bool
    route: str | None
    answer: str
    rank: int | None  # of the first expected source among the retrieved passages; None: not retrieved
    correct: bool | None  # answer holds every expected string (answerable questions only)
    honest: bool | None  # unanswerable questions only: not answered from the knowledge base
    answered: bool | None  # answerable questions only: answered from the knowledge base
    latency_s: float
    error: str | None = None
    grade: Any = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_reply(
    question: EvalQuestion, reply: Mapping[str, Any] | None, latency_s: float, error: str | None
) -> QuestionScore:
    if reply is None:
        return QuestionScore(
            id=question.id,
            question=question.question,
            split=question.split,
            unanswerable=question.unanswerable,
            route=None,
            answer="",
            rank=None,
            correct=None if question.unanswerable else False,
            honest=False if question.unanswerable else None,
            answered=None if question.unanswerable else False,
            latency_s=latency_s,
            error=error,
        )
    route = str(reply.get("route"))
    answer = str(reply.get("answer") or "")
    knowledge_route = route not in NOT_ANSWERED_ROUTES
    rank = first_rank(retrieved_sources(reply), question.expected_sources) if question.expected_sources else None
    return QuestionScore(
        id=question.id,
        question=question.question,
        split=question.split,
        unanswerable=question.unanswerable,
        route=route,
        answer=answer,
        rank=rank,
        correct=None if question.unanswerable else contains_all(answer, question.answer_contains),
        honest=not knowledge_route if question.unanswerable else None,
        answered=None if question.unanswerable else knowledge_route,
        latency_s=latency_s,
        grade=reply.get("grade"),
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (`q` in [0, 100]); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, math.ceil(q / 100 * len(ordered)) - 1)
    return ordered[index]


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def aggregate(scores: Sequence[QuestionScore], k: int) -> dict[str, Any]:
    """The run's figures; a share is None where no question of its kind was asked."""
    answerable = [s for s in scores if not s.unanswerable]
    unanswerable = [s for s in scores if s.unanswerable]
    ranked = [s for s in answerable if s.error is None]
    latencies = [s.latency_s for s in scores if s.error is None]
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    return {
        "questions": len(scores),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "errors": sum(s.error is not None for s in scores),
        "k": k,
        f"hit@{k}": _share([s.rank is not None and s.rank <= k for s in ranked]),
        "mrr": round(sum(1.0 / s.rank for s in ranked if s.rank is not None and s.rank <= k) / len(ranked), 4)
        if ranked
        else None,
        "answer_accuracy": _share([bool(s.correct) for s in answerable]),
        "answered_rate": _share([bool(s.answered) for s in answerable]),
        "unanswerable_honesty": _share([bool(s.honest) for s in unanswerable]),
        "latency_p50_s": None if p50 is None else round(p50, 3),
        "latency_p95_s": None if p95 is None else round(p95, 3),
    }
