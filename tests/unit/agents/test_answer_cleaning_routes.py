"""The agent API never returns prompt scaffolding or a repetition loop, streamed or not (fake chat upstream)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.fake_upstream import FakeUpstream
from tests.unit.agents.test_api_operations import parse_sse

QUESTION = "bell palsy facial paralysis treatment"
SCAFFOLDED = (
    "[1] (palsy.csv) Question: How is Bell palsy treated?\nContext: Bell palsy is treated with corticosteroids "
    "started early. Most people recover within weeks.\n[2] (palsy.csv) Question: What causes Bell palsy?\nContext:"
)
LOOP_SENTENCE = "Corticosteroids are the usual treatment for Bell palsy in adults."


async def test_a_scaffolded_answer_is_cleaned_in_the_json_answer(make_client: Any, upstream: FakeUpstream) -> None:
    upstream.reply = lambda body: SCAFFOLDED
    response = await make_client().post("/query", json={"question": QUESTION})
    assert response.status_code == 200, response.text
    assert response.json()["answer"] == (
        "Bell palsy is treated with corticosteroids started early. Most people recover within weeks."
    )


async def test_a_looping_stream_is_cut_and_generation_stopped(make_client: Any, upstream: FakeUpstream) -> None:
    upstream.reply = lambda body: " ".join([LOOP_SENTENCE] * 60)
    upstream.token_delay_s = 0.005
    response = await make_client().post("/query/stream", json={"question": QUESTION})
    assert response.status_code == 200
    events = parse_sse(response.content)
    streamed = "".join(data["delta"] for name, data in events if name == "token")
    assert events[-1][0] == "done"
    assert streamed == events[-1][1]["answer"] == LOOP_SENTENCE
    for _ in range(300):  # the upstream notices the closed connection at its next write
        if upstream.streams_cut:
            break
        await asyncio.sleep(0.01)
    assert upstream.streams_cut == 1 and upstream.streams_finished == 0


async def test_an_answer_that_only_echoes_the_prompt_says_so_and_quotes_the_best_passage(
    make_client: Any, upstream: FakeUpstream
) -> None:
    upstream.reply = lambda body: "Question: How is Bell palsy treated?"
    response = await make_client().post("/query/stream", json={"question": QUESTION})
    events = parse_sse(response.content)
    streamed = "".join(data["delta"] for name, data in events if name == "token")
    assert streamed == events[-1][1]["answer"]
    assert streamed.startswith("The model did not give a usable answer. The most relevant passage, from palsy.csv")
    assert "corticosteroids" in streamed and "Question:" not in streamed


async def test_an_agentic_answer_is_cleaned_too(make_client: Any, upstream: FakeUpstream) -> None:
    upstream.script = [" ".join([LOOP_SENTENCE] * 5)]
    response = await make_client(mode="agentic").post("/query", json={"question": QUESTION})
    assert response.status_code == 200, response.text
    assert response.json()["answer"] == LOOP_SENTENCE
