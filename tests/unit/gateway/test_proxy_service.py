"""The gateway's hot path through `FakeUpstream`: cache, guardrails (held streams too), usage and spend, the 499
path, retries, fallbacks, cool-down, timeouts, metrics and the overhead header. No sockets, no processes."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from inferstack.core.errors import AuthenticationError, ModelNotFoundError, RateLimitError
from inferstack.gateway.guardrails.base import GuardrailBlockedError
from inferstack.gateway.proxy import ProxyReply, ProxyStream
from inferstack.gateway.routing.router import AllUpstreamsFailedError
from inferstack.gateway.settings import GuardrailConfig
from inferstack.gateway.upstreams.fake import FakeAnswer, UpstreamRequest
from tests.unit.gateway.proxy_harness import (
    chat_reply,
    chat_stream,
    deployment,
    proxy_under_test,
)

REQUESTS = "inferstack_gateway_requests_total"


async def _drain(stream: ProxyStream) -> list[bytes]:
    return [block async for block in stream.events]


def _events(blocks: list[bytes]) -> list[bytes]:
    return [e for block in blocks for e in block.split(b"\n\n") if e.strip()]


async def test_json_reply_reaches_the_client_with_usage_spend_metrics_and_headers(tmp_path: Path) -> None:
    priced = deployment("a", input_cost_per_token=0.5, output_cost_per_token=1.0)
    async with proxy_under_test(tmp_path, deployments=[priced]) as proxy:
        key = await proxy.new_key(models=["m"], tpm_limit=1000)
        reply = await proxy.reply("hello", key=key, timeout=7)
        assert reply.status == 200
        assert orjson.loads(reply.body)["choices"][0]["message"]["content"] == "hello there"
        assert float(reply.headers["x-inferstack-overhead-ms"]) >= 0
        assert reply.headers["x-inferstack-deployment"] == "a" and reply.headers["x-request-id"]
        sent = proxy.upstream.requests[0]
        assert sent.path == "/chat/completions" and sent.timeout_s == 7
        assert sent.json()["model"] == "up-a" and "timeout" not in sent.json(), "upstream name, no gateway fields"
        [row] = await proxy.usage_rows()
        assert (row.status, row.deployment, row.prompt_tokens, row.completion_tokens) == (200, "a", 3, 2)
        assert row.spend == pytest.approx(3 * 0.5 + 2 * 1.0) and row.request_id == reply.headers["x-request-id"]
        assert proxy.registry.live_spend(row.token) == pytest.approx(3.5)
        assert proxy.metric(REQUESTS, model="m", deployment="a", status="200") == 1
        assert proxy.metric("inferstack_gateway_tokens_total", model="m", kind="completion") == 2
        assert proxy.metric("inferstack_gateway_upstream_seconds_count", deployment="a") == 1
        assert proxy.metric("inferstack_gateway_overhead_seconds_count") == 1
        assert proxy.metric("inferstack_gateway_in_flight") == 0
        assert proxy.router.by_model["m"][0].tokens.total(proxy.clock()) == 5


async def test_request_ids_are_unique(tmp_path: Path) -> None:
    async with proxy_under_test(tmp_path) as proxy:
        ids = {(await proxy.reply()).headers["x-request-id"] for _ in range(20)}
        assert len(ids) == 20


async def test_cache_miss_then_hit_calls_the_upstream_once(tmp_path: Path) -> None:
    async with proxy_under_test(tmp_path, cache=True) as proxy:
        first = await proxy.reply("same", temperature=0)
        second = await proxy.reply("same", temperature=0, user="someone-else")
        sampled = await proxy.reply("same", temperature=0.7)
        assert (first.headers["x-inferstack-cache"], second.headers["x-inferstack-cache"]) == ("miss", "hit")
        assert "x-inferstack-cache" not in sampled.headers, "sampled replies are not cached by default"
        assert second.body == first.body and len(proxy.upstream.requests) == 2
        assert proxy.metric("inferstack_gateway_cache_total", result="hit") == 1
        assert proxy.metric("inferstack_gateway_cache_total", result="miss") == 1
        rows = await proxy.usage_rows()
        hit = next(r for r in rows if r.cache_hit)
        assert (hit.deployment, hit.spend, hit.status) == (None, 0.0, 200)
        assert proxy.metric(REQUESTS, model="m", deployment="cache", status="200") == 1


async def test_pre_call_guardrail_blocks_before_the_upstream_and_masks_what_it_may(tmp_path: Path) -> None:
    guards = [
        GuardrailConfig(name="no-cards", entities=("credit_card",), action="block", default_on=True),
        GuardrailConfig(name="mask-mail", entities=("email",), action="mask", default_on=True),
    ]
    async with proxy_under_test(tmp_path, guardrails=guards) as proxy:
        with pytest.raises(GuardrailBlockedError):
            await proxy.chat("card 4111-1111-1111-1111")
        assert proxy.upstream.requests == []
        assert proxy.metric("inferstack_gateway_guardrail_hits_total", guardrail="request", action="block") == 1
        await proxy.reply("write to a.b@mail.example.org")
        sent = proxy.upstream.requests[0].json()["messages"][0]["content"]
        assert "a.b@mail.example.org" not in sent
        assert [r.status for r in await proxy.usage_rows()] == [400, 200]


async def test_post_call_guardrail_masks_a_json_reply(tmp_path: Path) -> None:
    guards = [GuardrailConfig(name="out", entities=("email",), action="mask", mode="post_call", default_on=True)]

    def leaky(request: UpstreamRequest) -> FakeAnswer:
        return chat_reply("mail me at x.y@corp.example.com")

    async with proxy_under_test(tmp_path, leaky, guardrails=guards) as proxy:
        reply = await proxy.reply()
        content = orjson.loads(reply.body)["choices"][0]["message"]["content"]
        assert "x.y@corp.example.com" not in content and content.startswith("mail me at ")
        assert proxy.metric("inferstack_gateway_guardrail_hits_total", guardrail="response", action="mask") == 1


async def test_held_stream_is_masked_whole_or_blocked_before_a_byte_is_sent(tmp_path: Path) -> None:
    guards = [
        GuardrailConfig(name="mask", entities=("email",), action="mask", mode="post_call"),
        GuardrailConfig(name="block", entities=("credit_card",), action="block", mode="post_call"),
    ]
    answers = {
        "mask": chat_stream(["mail x.y@corp", ".example.com now"]),
        "block": chat_stream(["4111-1111-", "1111-1111"]),
    }

    def by_model(request: UpstreamRequest) -> FakeAnswer:
        return answers[request.json()["model"].removeprefix("up-")]

    deployments = [deployment("mask", model="masked"), deployment("block", model="blocked")]
    model_guardrails = {"masked": ("mask",), "blocked": ("block",)}
    async with proxy_under_test(
        tmp_path, by_model, deployments=deployments, guardrails=guards, model_guardrails=model_guardrails
    ) as proxy:
        stream = await proxy.chat(model="masked", stream=True)
        assert isinstance(stream, ProxyStream)
        events = _events(await _drain(stream))
        deltas = [orjson.loads(e[6:])["choices"][0]["delta"]["content"] for e in events if e != b"data: [DONE]"]
        assert "x.y@corp.example.com" not in "".join(deltas) and deltas[1] == "", "masked text in the first delta"
        assert events[-1] == b"data: [DONE]"
        with pytest.raises(GuardrailBlockedError):
            await proxy.chat(model="blocked", stream=True)
        assert proxy.upstream.open_streams == 0, "held streams are released"
        assert proxy.metric("inferstack_gateway_guardrail_hits_total", guardrail="response", action="block") == 1


async def test_stream_relays_events_hides_injected_usage_and_accounts_it(tmp_path: Path) -> None:
    async with proxy_under_test(tmp_path) as proxy:
        stream = await proxy.chat(stream=True)
        assert isinstance(stream, ProxyStream) and stream.headers["x-inferstack-deployment"] == "a"
        events = _events(await _drain(stream))
        assert proxy.upstream.requests[0].json()["stream_options"] == {"include_usage": True}
        assert not any(b'"usage":{' in e for e in events), "the client did not ask for usage"
        assert events[-1] == b"data: [DONE]" and len(events) == 3
        asked = await proxy.chat(stream=True, stream_options={"include_usage": True})
        assert isinstance(asked, ProxyStream)
        assert any(b'"usage":{' in e for e in _events(await _drain(asked)))
        rows = await proxy.usage_rows()
        assert [(r.status, r.prompt_tokens, r.completion_tokens) for r in rows] == [(200, 4, 2), (200, 4, 2)]
        assert proxy.upstream.open_streams == 0 and proxy.router.by_model["m"][0].in_flight == 0
        assert proxy.metric("inferstack_gateway_in_flight") == 0


async def test_client_gone_mid_stream_is_499_and_releases_everything(tmp_path: Path) -> None:
    async with proxy_under_test(tmp_path) as proxy:
        stream = await proxy.chat(stream=True)
        assert isinstance(stream, ProxyStream)
        first = await anext(stream.events)
        assert first.startswith(b"data: ")
        assert proxy.metric("inferstack_gateway_in_flight") == 1
        await stream.events.aclose()
        [row] = await proxy.usage_rows()
        assert row.status == 499
        assert proxy.upstream.open_streams == 0 and proxy.router.by_model["m"][0].in_flight == 0
        assert proxy.metric(REQUESTS, model="m", deployment="a", status="499") == 1
        assert proxy.metric("inferstack_gateway_in_flight") == 0


async def test_stream_broken_mid_way_ends_with_an_openai_error_event(tmp_path: Path) -> None:
    def breaking(request: UpstreamRequest) -> FakeAnswer:
        return chat_stream(["a", "b", "c"], break_after=2)

    async with proxy_under_test(tmp_path, breaking) as proxy:
        stream = await proxy.chat(stream=True)
        assert isinstance(stream, ProxyStream)
        events = _events(await _drain(stream))
        error = orjson.loads(events[-1][6:])["error"]
        assert error["type"] == "upstream_error" and "broke" in error["message"]
        [row] = await proxy.usage_rows()
        assert row.status == 502
        assert proxy.metric("inferstack_gateway_upstream_errors_total", deployment="a", kind="stream") == 1
        assert proxy.upstream.open_streams == 0


async def test_retry_moves_to_another_deployment_and_a_failing_one_cools_down(tmp_path: Path) -> None:
    def a_is_down(request: UpstreamRequest) -> FakeAnswer:
        return FakeAnswer(status=503) if request.deployment_id == "a" else chat_reply()

    router = {"num_retries": 2, "allowed_fails": 1, "cooldown_s": 30, "policy": "least-busy"}
    async with proxy_under_test(
        tmp_path, a_is_down, deployments=[deployment("a"), deployment("b")], router=router
    ) as proxy:
        for _ in range(4):
            reply = await proxy.reply()
            assert reply.status == 200 and reply.headers["x-inferstack-deployment"] == "b"
        tried = [r.deployment_id for r in proxy.upstream.requests]
        assert tried.count("a") == 1, f"after one failure 'a' cools down: {tried}"
        assert proxy.metric("inferstack_gateway_upstream_errors_total", deployment="a", kind="status") == 1
        proxy.clock.advance(31)
        await proxy.reply()
        await proxy.reply()
        assert [r.deployment_id for r in proxy.upstream.requests].count("a") == 2, "'a' is tried again after cool-down"


async def test_streams_retry_until_the_first_byte_and_pass_refusals_through(tmp_path: Path) -> None:
    def answer(request: UpstreamRequest) -> FakeAnswer:
        if request.deployment_id == "a":
            return FakeAnswer(fail="connect")
        if "refuse" in request.json()["messages"][0]["content"]:
            return FakeAnswer.json({"error": {"message": "bad", "type": "invalid_request_error"}}, status=400)
        return chat_stream()

    router = {"num_retries": 1, "allowed_fails": 99}
    deployments = [deployment("a", weight=1e6), deployment("b")]  # "a" is all but certainly tried first
    async with proxy_under_test(tmp_path, answer, deployments=deployments, router=router) as proxy:
        stream = await proxy.chat(stream=True)
        assert isinstance(stream, ProxyStream) and stream.headers["x-inferstack-deployment"] == "b"
        await _drain(stream)
        refused = await proxy.chat("refuse", stream=True)
        assert isinstance(refused, ProxyReply) and refused.status == 400
        assert orjson.loads(refused.body)["error"]["message"] == "bad"
        assert proxy.metric("inferstack_gateway_upstream_errors_total", deployment="a", kind="connect") == 2
        assert all(d.in_flight == 0 for d in proxy.router.all_deployments())


async def test_non_retryable_json_status_passes_through_unretried(tmp_path: Path) -> None:
    def bad_request(request: UpstreamRequest) -> FakeAnswer:
        return FakeAnswer.json({"error": {"message": "context too long"}}, status=400)

    async with proxy_under_test(tmp_path, bad_request, router={"num_retries": 3}) as proxy:
        reply = await proxy.reply()
        assert reply.status == 400 and len(proxy.upstream.requests) == 1
        [row] = await proxy.usage_rows()
        assert (row.status, row.spend) == (400, 0.0)


async def test_fallback_model_then_one_clear_error_when_everything_fails(tmp_path: Path) -> None:
    failing = {"a"}

    def answer(request: UpstreamRequest) -> FakeAnswer:
        return FakeAnswer(status=500) if request.deployment_id in failing else chat_reply("from spare")

    deployments = [deployment("a"), deployment("z", model="spare")]
    router = {"num_retries": 1, "fallbacks": {"m": ("spare",)}, "allowed_fails": 99}
    async with proxy_under_test(tmp_path, answer, deployments=deployments, router=router) as proxy:
        reply = await proxy.reply()
        assert reply.headers["x-inferstack-deployment"] == "z"
        assert [r.deployment_id for r in proxy.upstream.requests] == ["a", "a", "z"], "one retry, then the fallback"
        failing.add("z")
        with pytest.raises(AllUpstreamsFailedError, match="HTTP 500"):
            await proxy.chat()
        rows = await proxy.usage_rows()
        assert rows[-1].status == 502
        assert proxy.metric("inferstack_gateway_rejected_total", reason="upstream_failed") == 1


async def test_timeouts_come_from_the_request_then_the_deployment_then_the_router(tmp_path: Path) -> None:
    def slow_on_a(request: UpstreamRequest) -> FakeAnswer:
        return FakeAnswer(delay_s=60) if request.deployment_id == "a" else chat_reply()

    deployments = [deployment("a", timeout_s=0.01), deployment("b")]
    router = {"num_retries": 1, "timeout_s": 45, "policy": "least-busy", "allowed_fails": 99}
    async with proxy_under_test(tmp_path, slow_on_a, deployments=deployments, router=router) as proxy:
        for _ in range(3):
            assert (await proxy.reply()).headers["x-inferstack-deployment"] == "b"
        by_deployment = {r.deployment_id: r.timeout_s for r in proxy.upstream.requests}
        assert by_deployment == {"a": 0.01, "b": 45}
        assert proxy.metric("inferstack_gateway_upstream_errors_total", deployment="a", kind="timeout") >= 1
        await proxy.reply(timeout=0.02)
        assert proxy.upstream.requests[-1].timeout_s == 0.02


async def test_refusals_before_routing_are_counted_and_recorded_once(tmp_path: Path) -> None:
    async with proxy_under_test(tmp_path) as proxy:
        with pytest.raises(AuthenticationError):
            await proxy.chat(key="Bearer sk-wrong")
        with pytest.raises(ModelNotFoundError):
            await proxy.chat(model="nope")
        key = await proxy.new_key(models=["m"], rpm_limit=1)
        await proxy.reply(key=key)
        with pytest.raises(RateLimitError):
            await proxy.chat(key=key)
        statuses = sorted(r.status for r in await proxy.usage_rows())
        assert statuses == [200, 404, 429], "an unauthenticated request has no key to record against"
        assert proxy.metric("inferstack_gateway_rejected_total", reason="model_not_found") == 1
        assert len(proxy.upstream.requests) == 1


async def test_a_rate_limited_deployment_is_chosen_again_once_its_window_passes(tmp_path: Path) -> None:
    async with proxy_under_test(tmp_path, deployments=[deployment("a", rpm=2)]) as proxy:
        await proxy.reply()
        await proxy.reply()
        with pytest.raises(RateLimitError):
            await proxy.chat()
        proxy.clock.advance(61)
        assert (await proxy.reply()).status == 200


async def test_a_stream_that_stalls_past_its_timeout_ends_with_an_error_event(tmp_path: Path) -> None:
    def stalling(request: UpstreamRequest) -> FakeAnswer:
        return chat_stream(["a", "b"], chunk_delay_s=60)

    async with proxy_under_test(tmp_path, stalling, deployments=[deployment("a", timeout_s=0.01)]) as proxy:
        stream = await proxy.chat(stream=True)
        assert isinstance(stream, ProxyStream)
        events = _events(await _drain(stream))
        assert len(events) == 1 and b"no data within the read timeout" in events[0]
        [row] = await proxy.usage_rows()
        assert row.status == 502 and proxy.upstream.open_streams == 0
        assert proxy.router.by_model["m"][0].in_flight == 0
