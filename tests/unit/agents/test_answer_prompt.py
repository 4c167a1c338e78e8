"""The answer prompt: passages within the budget (best first, the first always), history within its budget."""

from __future__ import annotations

from inferstack.agents.answer_prompt import AnswerLimits, build_context, history_messages, knowledge_sources
from inferstack.agents.sessions import Turn
from inferstack.agents.web_search import WebResult, WebSearchResult
from inferstack.retrieval.stores.base import SearchHit

HITS = [
    SearchHit(id=f"c{i}", text=f"chunk {i} " + "x" * 90, source=f"doc{i}.csv", score=0.9 - i / 10) for i in range(4)
]
WEB = WebSearchResult(
    query="q",
    answer="summary",
    results=tuple(WebResult(title=f"t{i}", url=f"https://w/{i}", content="y" * 50, score=0.5) for i in range(2)),
)


def test_passages_fill_the_budget_best_first_and_are_cut() -> None:
    context = build_context(HITS, None, AnswerLimits(passage_chars=40, context_chars=120, history_chars=0))
    lines = context.text.splitlines()
    assert [line[:4] for line in lines] == ["[1] ", "[2] "]
    assert lines[0] == "[1] (doc0.csv) " + ("chunk 0 " + "x" * 90)[:40]
    assert context.chunk_ids == {"c0", "c1"}
    sources = knowledge_sources(HITS, context.chunk_ids)
    assert [s.in_prompt for s in sources] == [True, True, False, False]
    assert [s.as_dict()["in_prompt"] for s in sources] == [True, True, False, False]


def test_the_first_passage_always_goes_in() -> None:
    context = build_context(HITS, None, AnswerLimits(passage_chars=400, context_chars=10, history_chars=0))
    assert context.chunk_ids == {"c0"}
    assert context.text.startswith("[1] (doc0.csv) chunk 0")


def test_hybrid_alternates_knowledge_and_web() -> None:
    context = build_context(HITS[:2], WEB, AnswerLimits(passage_chars=400, context_chars=10_000, history_chars=0))
    labels = [line.split(") ")[0] + ")" for line in context.text.splitlines()]
    assert labels == ["[1] (doc0.csv)", "[2] (web summary)", "[3] (doc1.csv)", "[4] (https://w/0)", "[5] (https://w/1)"]
    assert context.urls == {"https://w/0", "https://w/1"}


def test_history_keeps_the_latest_turns_that_fit() -> None:
    turns = [Turn(f"q{i}", "a" * 10, "knowledge", 0.0) for i in range(5)]
    messages = history_messages(turns, budget_chars=30)
    assert [m.text for m in messages] == ["q3", "a" * 10, "q4", "a" * 10]
    assert history_messages(turns, budget_chars=0) == []
