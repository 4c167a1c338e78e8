"""The shared FakeUpstream speaks OpenAI's wire protocol as the official SDK reads it, and does what it is told."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import openai
import pytest
import pytest_asyncio
from openai import AsyncOpenAI

from tests.support.fake_upstream import FakeUpstream

HELLO = [{"role": "user", "content": "hello there"}]


@pytest_asyncio.fixture(loop_scope="function")
async def upstream() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream("a") as fake:
        yield fake


def client(upstream: FakeUpstream, key: str = "sk-any") -> AsyncOpenAI:
    return AsyncOpenAI(base_url=upstream.base_url, api_key=key, max_retries=0, timeout=10)


async def test_echoes_its_name_and_the_prompt_with_usage(upstream: FakeUpstream) -> None:
    reply = await client(upstream).chat.completions.create(model="fake", messages=HELLO)
    assert reply.choices[0].message.content == "[a] hello there"
    assert reply.usage is not None and (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (2, 3)
    assert upstream.requests[-1]["messages"] == HELLO and upstream.last_auth == "Bearer sk-any"


async def test_streams_the_same_text_then_usage_when_asked(upstream: FakeUpstream) -> None:
    stream = await client(upstream).chat.completions.create(
        model="fake",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "[a] hello there"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 5
    assert (upstream.streams_started, upstream.streams_finished, upstream.streams_cut) == (1, 1, 0)


async def test_scripted_replies_and_tool_calls_come_in_order(upstream: FakeUpstream) -> None:
    upstream.script = ["first", {"name": "web_search", "arguments": {"query": "x"}}]
    sdk = client(upstream)
    first = await sdk.chat.completions.create(model="fake", messages=HELLO)
    second = await sdk.chat.completions.create(model="fake", messages=HELLO)
    third = await sdk.chat.completions.create(model="fake", messages=HELLO)
    assert first.choices[0].message.content == "first"
    calls = second.choices[0].message.tool_calls
    assert (
        calls is not None and calls[0].function.name == "web_search" and calls[0].function.arguments == '{"query":"x"}'
    )
    assert second.choices[0].finish_reason == "tool_calls"
    assert third.choices[0].message.content == "[a] hello there"


async def test_injected_failure_has_openai_error_shape_on_every_route(upstream: FakeUpstream) -> None:
    upstream.fail_status = 503
    with pytest.raises(openai.InternalServerError) as failed:
        await client(upstream).chat.completions.create(model="fake", messages=HELLO)
    assert failed.value.status_code == 503 and "injected 503" in str(failed.value)
    async with httpx.AsyncClient() as http:
        assert (await http.get(upstream.base_url + "/models")).status_code == 503
        root = upstream.base_url.removesuffix("/v1")
        await http.post(root + "/_control", json={"fail": None})
        assert (await http.get(root + "/health")).status_code == 200


async def test_model_names_pick_the_bench_behaviours(upstream: FakeUpstream) -> None:
    sdk = client(upstream)
    counted = await sdk.chat.completions.create(model="fake-model", messages=HELLO, max_tokens=4)
    assert counted.choices[0].message.content == "word0 word1 word2 word3"
    assert counted.choices[0].finish_reason == "length" and counted.usage is not None
    uncounted = await sdk.chat.completions.create(model="fake-no-usage", messages=HELLO, max_tokens=2)
    assert uncounted.usage is None
    with pytest.raises(openai.AuthenticationError):
        await sdk.chat.completions.create(model="fake-needs-key", messages=HELLO)
    keyed = await client(upstream, "sk-fake").chat.completions.create(model="fake-needs-key", messages=HELLO)
    assert keyed.choices[0].message.content is not None


async def test_a_cut_stream_is_counted_as_cut(upstream: FakeUpstream) -> None:
    stream = await client(upstream).chat.completions.create(
        model="fake-cut-stream",
        messages=HELLO,
        max_tokens=8,
        stream=True,
    )
    with pytest.raises(httpx.RemoteProtocolError):
        async for _chunk in stream:
            pass
    assert upstream.streams_cut == 1 and upstream.streams_finished == 0


async def test_embeddings_and_stats_over_http(upstream: FakeUpstream) -> None:
    embedded = await client(upstream).embeddings.create(model="e", input=["a", "bb"])
    assert [len(item.embedding) for item in embedded.data] == [3, 3]
    async with httpx.AsyncClient() as http:
        stats = (await http.get(upstream.base_url.removesuffix("/v1") + "/_stats")).json()
    assert stats["requests"] == 1 and stats["last_body"]["input"] == ["a", "bb"]
