"""What the answer step shows the model: passages within a character budget, the session's recent turns, and the
sources list that records which passages were in the prompt.

The budget keeps prompts short for small CPU-served models, whose prompt processing dominates latency. Passages
go in best first (knowledge and web results alternating on a hybrid route) until the budget is spent; the first
passage always goes in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from inferstack.agents.chat_model import ChatMessage
from inferstack.agents.evidence import Evidence
from inferstack.agents.knowledge import Retrieval
from inferstack.agents.query import SNIPPET_CHARS, Source
from inferstack.agents.sessions import Turn
from inferstack.agents.web_search import WebSearchResult
from inferstack.retrieval.stores.base import SearchHit

_PRONOUNS = ("it", "its", "that", "this", "these", "those", "they", "them", "their", "he", "she", "his", "her")
_BACK_REFERENCES = ("more", "else", "also", "same", "above", "previous")
_REFERRING_WORDS = frozenset((*_PRONOUNS, *_BACK_REFERENCES))
FOLLOW_UP_MAX_WORDS = 12


@dataclass(frozen=True)
class AnswerLimits:
    passage_chars: int  # each passage is cut to this many characters
    context_chars: int  # all passages together, at most (the first one always fits)
    history_chars: int  # earlier turns of the session, at most


@dataclass(frozen=True)
class PromptContext:
    text: str
    chunk_ids: frozenset[str]
    urls: frozenset[str]
    lead: tuple[str, str] | None = None  # (source, text) of the first passage: the fallback when the model fails


def build_context(hits: Sequence[SearchHit], web: WebSearchResult | None, limits: AnswerLimits) -> PromptContext:
    """Numbered passages, best first, within `limits.context_chars`."""
    cut = limits.passage_chars
    knowledge = [(hit.source, hit.text[:cut], hit.id, None) for hit in hits]
    online: list[tuple[str, str, str | None, str | None]] = []
    if web is not None:
        if web.answer:
            online.append(("web summary", web.answer[:cut], None, None))
        online += [(r.url, f"{r.title}: {r.content[:cut]}", None, r.url) for r in web.results]
    ordered = [item for pair in zip_longest(knowledge, online) for item in pair if item is not None]
    lines: list[str] = []
    chunk_ids: set[str] = set()
    urls: set[str] = set()
    used = 0
    for source, passage, chunk_id, url in ordered:
        text = f"({source}) {passage}"
        if lines and used + len(text) > limits.context_chars:
            break
        used += len(text)
        lines.append(f"[{len(lines) + 1}] {text}")
        if chunk_id is not None:
            chunk_ids.add(chunk_id)
        if url is not None:
            urls.add(url)
    lead = (ordered[0][0], ordered[0][1]) if ordered else None
    return PromptContext(text="\n".join(lines), chunk_ids=frozenset(chunk_ids), urls=frozenset(urls), lead=lead)


def knowledge_sources(hits: Sequence[SearchHit], in_prompt: frozenset[str] | None = None) -> list[Source]:
    """Sources of retrieved chunks; `in_prompt` names the chunks the model saw (None: all of them)."""
    return [
        Source(
            kind="knowledge",
            source=hit.source,
            snippet=hit.text[:SNIPPET_CHARS],
            score=round(hit.score, 4),
            chunk_id=hit.id,
            metadata=dict(hit.metadata),
            in_prompt=in_prompt is None or hit.id in in_prompt,
        )
        for hit in hits
    ]


def web_sources(web: WebSearchResult, in_prompt: frozenset[str] | None = None) -> list[Source]:
    return [
        Source(
            kind="web",
            source=result.url or result.title,
            snippet=result.content[:SNIPPET_CHARS],
            score=result.score,
            in_prompt=in_prompt is None or result.url in in_prompt,
        )
        for result in web.results
    ]


def history_messages(history: Sequence[Turn], budget_chars: int) -> list[ChatMessage]:
    """The most recent turns that fit in `budget_chars`, oldest first, as user/assistant messages."""
    kept: list[Turn] = []
    used = 0
    for turn in reversed(history):
        used += len(turn.question) + len(turn.answer)
        if used > budget_chars:
            break
        kept.append(turn)
    messages: list[ChatMessage] = []
    for turn in reversed(kept):
        messages += [ChatMessage("user", turn.question), ChatMessage("assistant", turn.answer)]
    return messages


def is_follow_up(question: str) -> bool:
    """A short question that refers back ("tell me more about that") rather than naming its subject."""
    words = re.findall(r"[a-z']+", question.lower())
    return len(words) <= FOLLOW_UP_MAX_WORDS and any(word in _REFERRING_WORDS for word in words)


def retrieval_query(question: str, history: Sequence[Turn]) -> str:
    """The question; a follow-up is searched together with the session's previous question it refers to."""
    if history and is_follow_up(question):
        return f"{history[-1].question} {question}"
    return question


def retrieved_entries(retrieval: Retrieval) -> tuple[dict[str, Any], ...]:
    """Every retrieved passage, best first, with where the dense and keyword rankings placed it."""
    return tuple(
        {"source": hit.source, "chunk_id": hit.id, "score": round(hit.score, 4), **retrieval.ranks.get(hit.id, {})}
        for hit in retrieval.hits
    )


SECOND_EVIDENCE_MARGIN = 0.1  # a second unit joins the answer when it scores within this of the best


def answer_evidence(evidence: Sequence[Evidence], min_score: float) -> tuple[Evidence, ...]:
    """The units an extractive answer quotes: the best one, and the runner-up when it is nearly as good."""
    if not evidence:
        return ()
    best = evidence[0]
    chosen = [best]
    for unit in evidence[1:]:
        if unit.identifiers_present and unit.score >= max(min_score, best.score - SECOND_EVIDENCE_MARGIN):
            if unit.text != best.text:
                chosen.append(unit)
            break
    return tuple(chosen)


def extractive_answer(evidence: Sequence[Evidence]) -> str:
    """The evidence as written in the source, each unit cited by its source: `<text> [source]`."""
    parts = []
    for unit in evidence:
        text = unit.text.rstrip()
        if not text.endswith((".", "!", "?", "…")):
            text += "."
        parts.append(f"{text} [{unit.source}]")
    return " ".join(parts)


def seen_evidence(evidence: Sequence[Evidence], in_prompt: frozenset[str]) -> tuple[Evidence, ...]:
    """Evidence from passages the model was shown (a generated answer never cites what it did not see)."""
    return tuple(unit for unit in evidence if unit.chunk_id in in_prompt)
