"""The gateway's metrics that mirror LiteLLM's: in flight under the chart's name, failures by error type, stream
TTFT, fallbacks, deployment state with cool-downs, and remaining budget per key, each bounded by the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferstack.core.errors import InferstackError
from inferstack.gateway.metrics import (
    STATE_COOLING_DOWN,
    STATE_HEALTHY,
    BudgetView,
    GatewayMetrics,
    budget_views,
    deployment_views,
)
from inferstack.gateway.proxy import ProxyStream
from inferstack.gateway.upstreams.fake import FakeAnswer, UpstreamRequest
from tests.unit.gateway.proxy_harness import chat_reply, chat_stream, deployment, proxy_under_test


async def test_in_flight_under_both_names_while_a_stream_is_open(tmp_path: Path) -> None:
    async with proxy_under_test(tmp_path) as proxy:
        stream = await proxy.chat(stream=True)
        assert isinstance(stream, ProxyStream)
        assert proxy.metric("inferstack_gateway_requests_in_flight") == 1
        assert proxy.metric("inferstack_gateway_in_flight") == 1
        blocks = [block async for block in stream.events]
        assert blocks
        assert proxy.metric("inferstack_gateway_requests_in_flight") == 0
        assert proxy.metric("inferstack_gateway_time_to_first_token_seconds_count", model="m") == 1


async def test_failures_by_error_type_and_fallbacks_by_model(tmp_path: Path) -> None:
    def answer(request: UpstreamRequest) -> FakeAnswer:
        if "refuse" in request.json()["messages"][0]["content"]:
            return FakeAnswer.json({"error": {"message": "bad"}}, status=400)
        return FakeAnswer(status=500) if request.deployment_id == "a" else chat_reply()

    deployments = [deployment("a"), deployment("z", model="spare")]
    router = {"num_retries": 0, "fallbacks": {"m": ("spare",)}, "allowed_fails": 99}
    async with proxy_under_test(tmp_path, answer, deployments=deployments, router=router) as proxy:
        assert (await proxy.reply()).status == 200
        assert (await proxy.reply("refuse")).status == 400
        with pytest.raises(InferstackError):
            await proxy.chat(model="made-up")
        assert proxy.metric("inferstack_gateway_fallbacks_total", model="m", fallback_model="spare") == 1
        refused = proxy.metric(
            "inferstack_gateway_request_failures_total", model="m", error_type="invalid_request_error"
        )
        assert refused == 1
        assert (
            proxy.metric("inferstack_gateway_request_failures_total", model="(unknown)", error_type="not_found_error")
            == 1
        )
        assert proxy.metric("inferstack_gateway_request_failures_total", model="m", error_type="upstream_error") == 0


async def test_deployment_state_and_healthy_count_follow_cool_down(tmp_path: Path) -> None:
    def a_is_down(request: UpstreamRequest) -> FakeAnswer:
        return FakeAnswer(status=503) if request.deployment_id == "a" else chat_reply()

    router = {"num_retries": 2, "allowed_fails": 1, "cooldown_s": 30}
    async with proxy_under_test(
        tmp_path, a_is_down, deployments=[deployment("a", weight=1e6), deployment("b")], router=router
    ) as proxy:
        proxy.metrics.watch_deployments(lambda: deployment_views(proxy.router))
        assert proxy.metric("inferstack_gateway_healthy_deployments", model="m") == 2
        await proxy.reply()
        state = proxy.metric("inferstack_gateway_deployment_state", deployment="a", model="m")
        assert state == STATE_COOLING_DOWN
        assert proxy.metric("inferstack_gateway_deployment_state", deployment="b", model="m") == STATE_HEALTHY
        assert proxy.metric("inferstack_gateway_healthy_deployments", model="m") == 1
        proxy.clock.advance(31)
        assert proxy.metric("inferstack_gateway_deployment_state", deployment="a", model="m") == STATE_HEALTHY


async def test_remaining_budget_of_keys_with_a_budget(tmp_path: Path) -> None:
    def priced(request: UpstreamRequest) -> FakeAnswer:
        return chat_stream() if request.stream else chat_reply(prompt_tokens=1000, completion_tokens=0)

    deployments = [deployment("a", input_cost_per_token=0.001)]
    async with proxy_under_test(tmp_path, priced, deployments=deployments) as proxy:
        proxy.metrics.watch_budgets(lambda: budget_views(proxy.registry))
        capped = await proxy.new_key(key_alias="team-a", max_budget=5.0)
        await proxy.new_key(key_alias="no-budget")
        assert proxy.metric("inferstack_gateway_key_remaining_budget_usd", key="team-a") == 5.0
        await proxy.reply(key=capped)
        assert proxy.metric("inferstack_gateway_key_remaining_budget_usd", key="team-a") == pytest.approx(4.0)
        assert proxy.metric("inferstack_gateway_key_max_budget_usd", key="team-a") == 5.0
        labels = {
            sample.labels.get("key")
            for family in proxy.metrics.registry.collect()
            for sample in family.samples
            if "key" in sample.labels
        }
        assert labels == {"team-a"}, "keys without a budget are not labels"


def test_budget_gauges_are_capped_nearest_spent_first() -> None:
    metrics = GatewayMetrics()
    views = [BudgetView(f"k{i}", 10.0, float(i % 10)) for i in range(1000)]
    metrics.watch_budgets(lambda: views, limit=50)
    samples = [
        s
        for family in metrics.registry.collect()
        if family.name == "inferstack_gateway_key_remaining_budget_usd"
        for s in family.samples
    ]
    assert len(samples) == 50
    assert all(s.value == 1.0 for s in samples), "the 100 keys with 1 USD left come first"
