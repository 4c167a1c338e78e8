"""POST /query with the default grounded answers: extractive and cited, graded for answerability, no model call."""

from __future__ import annotations

from typing import Any

from tests.support.fake_upstream import FakeUpstream
from tests.unit.agents.conftest import DOCUMENTS, FakeWebSearch

ANSWERABLE = "Which treatment is used for bell palsy facial paralysis?"
RELATED_ONLY = "bell palsy surgery success rate"  # shares the topic's words, asks what no passage says


async def ask(client: Any, question: str, **fields: Any) -> dict[str, Any]:
    response = await client.post("/query", json={"question": question, **fields})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_answerable_question_gets_the_evidence_as_written_with_its_source(
    make_client: Any, upstream: FakeUpstream
) -> None:
    body = await ask(make_client(answer_style="extractive"), ANSWERABLE)
    assert body["route"] == "knowledge" and body["answer_style"] == "extractive"
    assert body["answer"] == "bell palsy facial paralysis nerve corticosteroids treatment. [palsy.csv]"
    assert upstream.requests == []  # the answer is the source's text: the model is not asked
    assert body["grade"]["answerable"] is True and body["grade"]["score"] >= 0.55
    [evidence] = body["evidence"]
    assert evidence["source"] == "palsy.csv" and evidence["span"] == [0, len(DOCUMENTS["palsy.csv"])]
    assert evidence["text"].startswith("bell palsy")
    # The cited passage is the one marked as used; the others were retrieved but not used.
    used = [s["source"] for s in body["sources"] if s["in_prompt"]]
    assert used == ["palsy.csv"]
    assert body["retrieved"][0]["source"] == "palsy.csv" and "dense_rank" in body["retrieved"][0]


async def test_a_related_but_unanswered_question_is_not_answered_from_the_knowledge_base(
    make_client: Any, upstream: FakeUpstream, web: FakeWebSearch
) -> None:
    low = {"threshold": 0.2, "hybrid_threshold": 0.1}  # similarity alone would answer from the knowledge base
    body = await ask(make_client(answer_style="extractive", relevance=low), RELATED_ONLY)
    assert body["route"] == "none"
    assert body["grade"]["answerable"] is False and "surgery" in body["grade"]["reason"]
    assert body["evidence"] == [] and body["sources"] == []
    assert body["retrieved"] and body["retrieved"][0]["source"] == "palsy.csv"  # retrieval still reported
    assert "could not find" in body["answer"]
    # With web search, the same question goes to the web.
    web_body = await ask(make_client(web=web, answer_style="extractive", relevance=low), RELATED_ONLY)
    assert web_body["route"] == "web" and web.queries == [RELATED_ONLY]
    # Similarity alone (grading off) would have answered it from the knowledge base.
    off = await ask(make_client(answer_style="extractive", relevance={**low, "answerability": "off"}), RELATED_ONLY)
    assert off["route"] == "knowledge" and off["grade"] is None
    assert upstream.requests  # without evidence the answer is generated


async def test_a_generated_answer_carries_only_evidence_the_model_saw(make_client: Any, upstream: FakeUpstream) -> None:
    body = await ask(make_client(answer_style="generative", context_chars=60, max_context_chars=60), ANSWERABLE)
    assert body["answer"] == "The answer is in the context." and body["answer_style"] == "generative"
    seen = {s["chunk_id"] for s in body["sources"] if s["in_prompt"]}
    assert body["evidence"] and {unit["chunk_id"] for unit in body["evidence"]} <= seen


async def test_the_stream_sends_the_grade_first_and_the_extractive_answer_as_one_token(make_client: Any) -> None:
    client = make_client(answer_style="extractive")
    response = await client.post("/query/stream", json={"question": ANSWERABLE})
    assert response.status_code == 200
    text = response.text
    assert text.index("event: route") < text.index("event: token") < text.index("event: done")
    assert '"answerable":true' in text.replace(" ", "") and "[palsy.csv]" in text
