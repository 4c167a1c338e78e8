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

from inferstack.agents.chat_model import ChatMessage
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
