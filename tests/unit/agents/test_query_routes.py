"""POST /query through the supervisor with a fake chat upstream: routes, sources, prompts, sessions, timings."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import orjson

from tests.support.fake_upstream import FakeUpstream
from tests.unit.agents.conftest import FakeWebSearch

RELEVANT = "bell palsy facial paralysis treatment"
UNRELATED = "quantum chromodynamics lattice gluon"


async def ask(client: Any, question: str, **fields: Any) -> dict[str, Any]:
    response = await client.post("/query", json={"question": question, **fields})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_relevant_question_is_answered_from_the_knowledge_base_with_retrieved_sources(
    make_client: Any, upstream: FakeUpstream, web: FakeWebSearch
) -> None:
    body = await ask(make_client(web=web), RELEVANT)
    assert body["route"] == "knowledge"
    assert body["answer"] == "The answer is in the context."
    assert body["sources"][0]["source"] == "palsy.csv"
    assert body["sources"][0]["kind"] == "knowledge"
    assert body["relevance"] >= 0.5
    assert body["relevance_detail"]["method"] == "similarity+answerability"
    assert body["grade"]["answerable"] is True
    assert web.queries == []
    # The retrieved passage is in the prompt; the answer's sources do not come from the model's text.
    assert "corticosteroids" in upstream.prompts()[0]
    assert set(body["timings"]) >= {"retrieval_ms", "grading_ms", "generation_ms", "total_ms"}
    assert body["timings"]["total_ms"] >= body["timings"]["generation_ms"] >= body["timings"]["first_token_ms"] > 0


async def test_time_sensitive_question_goes_to_web_search_without_retrieval(
    make_client: Any, upstream: FakeUpstream, web: FakeWebSearch
) -> None:
    body = await ask(make_client(web=web), "What is the weather in Paris today?")
    assert body["route"] == "web"
    assert web.queries == ["What is the weather in Paris today?"]
    assert body["time_sensitive"] == "weather"
    assert body["relevance"] is None
    assert [s["source"] for s in body["sources"]] == ["https://example.org/w"]
    assert body["timings"]["retrieval_ms"] == 0
    assert "Sunny, 21 C" in upstream.prompts()[0]


async def test_irrelevant_question_falls_back_to_web_search(make_client: Any, web: FakeWebSearch) -> None:
    body = await ask(make_client(web=web), UNRELATED)
    assert body["route"] == "web"
    assert body["relevance"] < 0.3
    assert web.queries == [UNRELATED]


async def test_middling_relevance_mixes_knowledge_and_web(make_client: Any, web: FakeWebSearch) -> None:
    # Half the words match the palsy document: similarity lands between the two thresholds (with answerability
    # grading off; an answerable verdict would lift it to the knowledge route).
    relevance = {"threshold": 0.95, "hybrid_threshold": 0.1, "answerability": "off"}
    body = await ask(make_client(web=web, relevance=relevance), RELEVANT)
    assert body["route"] == "hybrid"
    assert {s["kind"] for s in body["sources"]} == {"knowledge", "web"}


async def test_use_web_search_true_adds_web_to_a_relevant_answer(make_client: Any, web: FakeWebSearch) -> None:
    body = await ask(make_client(web=web), RELEVANT, use_web_search=True)
    assert body["route"] == "hybrid"


async def test_use_web_search_false_never_searches_the_web(
    make_client: Any, upstream: FakeUpstream, web: FakeWebSearch
) -> None:
    body = await ask(make_client(web=web), "latest news about " + UNRELATED, use_web_search=False)
    assert body["route"] == "none"
    assert web.queries == []
    assert body["sources"] == []
    assert "knowledge base" in body["answer"] and "not requested" in body["answer"]
    assert upstream.requests == []  # 'not found' is said plainly, without asking the model


async def test_web_search_down_still_answers_from_knowledge_and_says_so(make_client: Any, web: FakeWebSearch) -> None:
    web.down = True
    client = make_client(web=web)
    relevant = await ask(client, RELEVANT, use_web_search=True)
    assert relevant["route"] == "knowledge"
    assert any("web search unavailable" in w for w in relevant["warnings"])
    unrelated = await ask(client, UNRELATED)
    assert unrelated["route"] == "none"
    assert "not available" in unrelated["answer"]
    # A time-sensitive question whose web search fails is still tried against the knowledge base.
    weather = await ask(client, "weather and bell palsy facial paralysis treatment")
    assert weather["route"] == "knowledge"
    assert weather["relevance"] is not None


async def test_no_web_search_configured_gives_route_none(make_client: Any) -> None:
    body = await ask(make_client(), UNRELATED)
    assert body["route"] == "none"
    assert "not configured" in body["answer"]


async def test_top_k_limits_the_sources(make_client: Any) -> None:
    body = await ask(make_client(), RELEVANT, top_k=2)
    assert len(body["sources"]) == 2
    body = await ask(make_client(), RELEVANT)
    assert len(body["sources"]) == 3  # the whole (3-chunk) knowledge base, under the default top_k of 5


async def test_relevance_of_an_empty_knowledge_base_is_zero_not_nan(make_client: Any, store: Any) -> None:
    await store.drop()
    body = await ask(make_client(), RELEVANT)
    assert body["relevance"] == 0.0 and not math.isnan(body["relevance"])
    assert body["route"] == "none"


async def test_follow_up_uses_its_own_session_history(make_client: Any, upstream: FakeUpstream) -> None:
    client = make_client()
    upstream.reply = lambda body: f"reply to {body['messages'][-1]['content'][0]['text'][-20:]}"
    first = await ask(client, RELEVANT, session_id="s-1")
    await ask(client, "asthma airway inhaler", session_id="s-2")
    await ask(client, "and its treatment?", session_id="s-1")
    follow_up = upstream.requests[-1]["messages"]
    texts = [str(m["content"]) for m in follow_up]
    assert any(RELEVANT in t for t in texts)
    assert any(first["answer"] in t for t in texts)
    assert not any("asthma airway inhaler" in t for t in texts)
    history = (await client.get("/sessions/s-1")).json()
    assert [t["question"] for t in history["turns"]] == [RELEVANT, "and its treatment?"]


async def test_a_new_session_id_is_made_when_none_is_given(make_client: Any) -> None:
    client = make_client()
    a = await ask(client, RELEVANT)
    b = await ask(client, RELEVANT)
    assert a["session_id"] != b["session_id"]
    assert (await client.get(f"/sessions/{a['session_id']}")).status_code == 200


async def test_concurrent_sessions_never_see_each_other(make_client: Any, upstream: FakeUpstream) -> None:
    client = make_client(session_turns=4)
    upstream.token_delay_s = 0.002  # interleave the streams
    topics = [f"topic{i} bell palsy" for i in range(8)]

    async def conversation(i: int) -> None:
        await ask(client, topics[i], session_id=f"c{i}")
        await ask(client, f"follow-up {i}", session_id=f"c{i}")

    await asyncio.gather(*(conversation(i) for i in range(8)))
    for body in upstream.requests:
        text = orjson.dumps(body["messages"]).decode()
        if "follow-up" not in text:
            continue
        i = int(text.split("follow-up ")[1][0])
        assert topics[i] in text
        assert not any(topics[j] in text for j in range(8) if j != i)
    for i in range(8):
        turns = (await client.get(f"/sessions/c{i}")).json()["turns"]
        assert [t["question"] for t in turns] == [topics[i], f"follow-up {i}"]
