"""LiteLLM's key fields (budget_duration, max_parallel_requests, aliases), wildcard routing and the Responses API
on the gateway's hot path: a real SQLite key store, the fake upstream, no sockets."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from inferstack.core.errors import RateLimitError
from inferstack.gateway.keys.registry import BudgetExceededError
from inferstack.gateway.upstreams.fake import FakeAnswer, UpstreamRequest
from inferstack.openai_api.sse import sse_event
from tests.unit.gateway.proxy_harness import MASTER, chat_reply, deployment, proxy_under_test

RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "status": "completed",
    "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "hi"}]}],
    "usage": {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10},
}


async def test_max_parallel_requests_is_enforced_per_key_and_freed_when_a_request_ends(tmp_path: Path) -> None:
    async with proxy_under_test(tmp_path) as proxy:
        key = await proxy.new_key(max_parallel_requests=1)
        state = await proxy.registry.authenticate(key)
        await proxy.registry.admit(state, "m")  # one request of this key in flight
        with pytest.raises(RateLimitError) as refused:
            await proxy.reply(key=key)
        assert refused.value.code == "max_parallel_requests_exceeded" and refused.value.status_code == 429
        proxy.registry.finished(state)
        assert (await proxy.reply(key=key)).status == 200
        assert state.in_flight == 0  # the proxied request released its slot


async def test_budget_duration_resets_spend_when_the_period_ends(tmp_path: Path) -> None:
    async with proxy_under_test(tmp_path) as proxy:
        past = time.time() - 5
        plaintext, record = await proxy.store.create(max_budget=0.5, budget_duration="1h", budget_reset_at=past + 1)
        proxy.registry.apply(record)
        state = await proxy.registry.authenticate(f"Bearer {plaintext}")
        proxy.registry.charge(state, 10, 1.0)
        await proxy.usage.flush()
        await proxy.registry.admit(state, "m")  # the period is over: the old spend no longer counts
        await proxy.registry.sync()
        stored = await proxy.store.get(record.token)
        assert stored is not None and stored.spend == 0
        assert stored.budget_reset_at is not None and stored.budget_reset_at > time.time() + 3000
        proxy.registry.charge(state, 10, 1.0)
        with pytest.raises(BudgetExceededError, match="resets at"):
            await proxy.registry.admit(state, "m")


async def test_key_aliases_name_served_models(tmp_path: Path) -> None:
    seen: list[str] = []

    def handler(request: UpstreamRequest) -> FakeAnswer:
        seen.append(request.json()["model"])
        return chat_reply()

    async with proxy_under_test(tmp_path, handler) as proxy:
        key = await proxy.new_key(models=["m"], aliases={"my-gpt": "m"})
        assert (await proxy.reply(key=key, model="my-gpt")).status == 200
        assert seen == ["up-a"]


async def test_wildcard_model_names_forward_the_requested_model(tmp_path: Path) -> None:
    seen: list[str] = []

    def handler(request: UpstreamRequest) -> FakeAnswer:
        seen.append(request.json()["model"])
        return chat_reply()

    wildcard = deployment("w", model="openai/*").model_copy(update={"model": "*"})
    async with proxy_under_test(tmp_path, handler, deployments=(wildcard,)) as proxy:
        assert (await proxy.reply(model="openai/gpt-4o-mini")).status == 200
        assert seen == ["gpt-4o-mini"]
        rows = await proxy.usage_rows()
        assert [r.model for r in rows] == ["openai/gpt-4o-mini"]
        assert proxy.metric("inferstack_gateway_requests_total", model="openai/*", deployment="w", status="200") == 1


async def test_responses_usage_is_accounted_for_json_and_streams(tmp_path: Path) -> None:
    def handler(request: UpstreamRequest) -> FakeAnswer:
        if not request.stream:
            return FakeAnswer.json(RESPONSE)
        events = [
            b"event: response.created\n" + sse_event({"type": "response.created", "response": {"id": "resp_1"}}),
            b"event: response.output_text.delta\n" + sse_event({"type": "response.output_text.delta", "delta": "hi"}),
            b"event: response.completed\n" + sse_event({"type": "response.completed", "response": RESPONSE}),
        ]
        return FakeAnswer(events=events)

    async with proxy_under_test(tmp_path, handler, deployments=(deployment("a", input_cost_per_token=0.01),)) as proxy:
        body = orjson.dumps({"model": "m", "input": "hello"})
        reply = await proxy.service.handle("responses", body, MASTER)
        assert getattr(reply, "status", None) == 200
        streamed = orjson.dumps({"model": "m", "input": "x", "stream": True})
        stream = await proxy.service.handle("responses", streamed, MASTER)
        blocks = [block async for block in stream.events]  # type: ignore[union-attr]
        assert b"response.completed" in b"".join(blocks)
        rows = await proxy.usage_rows()
        assert [(r.prompt_tokens, r.completion_tokens) for r in rows] == [(7, 3), (7, 3)]
        assert rows[0].spend == pytest.approx(0.07)
        assert proxy.upstream.requests[-1].path == "/responses"
        assert "stream_options" not in proxy.upstream.requests[-1].json()
