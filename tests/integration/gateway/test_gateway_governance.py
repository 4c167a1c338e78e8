"""The real gateway over two fake upstream processes: keys, limits, budgets, cache, guardrails, usage, errors."""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionToolParam

from tests.support.gateway import (
    MASTER_KEY,
    RunningProcess,
    admin,
    control,
    deployment,
    fake_upstream,
    gateway_process,
    new_key,
    upstream_stats,
)

PRICE_IN = 0.001
PRICE_OUT = 0.002


@pytest.fixture(scope="module")
def upstreams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningProcess]]:
    log_dir = tmp_path_factory.mktemp("upstreams")
    with fake_upstream(log_dir, "a") as a, fake_upstream(log_dir, "b") as b:
        yield {"a": a, "b": b}


def _config(up: dict[str, RunningProcess]) -> dict[str, Any]:
    priced = {"input_cost_per_token": PRICE_IN, "output_cost_per_token": PRICE_OUT}
    return {
        "model_list": [
            deployment("chat", up["a"], api_key="up-secret-123", **priced),
            deployment("other", up["b"]),
            deployment("guarded", up["a"], guardrails=["pii-block"]),
            deployment("masked", up["a"], guardrails=["pii-mask"]),
            deployment("masked-out", up["a"], guardrails=["pii-mask-out"]),
        ],
        "router": {"num_retries": 1, "health_check_interval_s": 0},
        "cache": {"enabled": True, "backend": "memory"},
        "guardrails": [
            {"name": "pii-block", "mode": "pre_call", "action": "block"},
            {"name": "pii-mask", "mode": "pre_call", "action": "mask"},
            {"name": "pii-mask-out", "mode": "post_call", "action": "mask"},
        ],
        "usage_flush_interval_s": 0.2,
    }


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, upstreams: dict[str, RunningProcess]) -> Iterator[RunningProcess]:
    with gateway_process(tmp_path_factory.mktemp("gateway"), _config(upstreams)) as proc:
        yield proc


def _chat(gateway: RunningProcess, key: str | None, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(gateway.base_url + "/v1/chat/completions", json=body, headers=headers, timeout=30, **kwargs)


def _hello(model: str = "chat", text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def _error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    assert set(body) >= {"message", "type", "code"}
    return body


def test_openai_sdk_chat_and_stream_through_gateway(gateway: RunningProcess) -> None:
    key = new_key(gateway, models=["chat", "other"])
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=key, max_retries=0)
    reply = client.chat.completions.create(model="other", messages=[{"role": "user", "content": "ping pong"}])
    assert reply.choices[0].message.content == "[b] ping pong"
    assert reply.usage is not None and reply.usage.completion_tokens == 3
    chunks = list(
        client.chat.completions.create(model="other", messages=[{"role": "user", "content": "a b c"}], stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "[b] a b c"
    assert all(c.usage is None for c in chunks), "usage chunk the gateway injected must not reach the client"
    with_usage = list(
        client.chat.completions.create(
            model="other",
            messages=[{"role": "user", "content": "a b"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert with_usage[-1].usage is not None and with_usage[-1].usage.completion_tokens == 3
    models = {m.id for m in client.models.list()}
    assert models == {"chat", "other"}


def test_upstream_key_is_sent_and_never_exposed(gateway: RunningProcess, upstreams: dict[str, RunningProcess]) -> None:
    response = _chat(gateway, MASTER_KEY, _hello(text="secret check"))
    assert response.status_code == 200
    assert upstream_stats(upstreams["a"])["last_auth"] == "Bearer up-secret-123"
    assert upstream_stats(upstreams["a"])["last_body"]["model"] == "fake"
    assert "up-secret-123" not in gateway.log()
    assert float(response.headers["x-inferstack-overhead-ms"]) >= 0


def test_key_lifecycle(gateway: RunningProcess) -> None:
    created = admin(gateway, "POST", "/key/generate", json={"key_alias": "alice", "models": ["chat"], "max_budget": 5})
    assert created.status_code == 200
    key, token = created.json()["key"], created.json()["token"]
    assert key.startswith("sk-") and token != key and len(token) == 64
    assert key not in gateway.log()
    info = admin(gateway, "GET", "/key/info", params={"key": "alice"}).json()
    assert info["key"] == token and info["info"]["max_budget"] == 5 and "sk-" not in info["key"]
    own = httpx.get(gateway.base_url + "/key/info", headers={"Authorization": f"Bearer {key}"}).json()
    assert own["key"] == token
    listed = admin(gateway, "GET", "/key/list").json()["keys"]
    assert token in {k["token"] for k in listed}
    assert all("key" not in k for k in listed)
    assert admin(gateway, "POST", "/key/update", json={"key": token, "models": ["chat", "other"]}).status_code == 200
    assert _chat(gateway, key, _hello("other")).status_code == 200
    assert admin(gateway, "POST", "/key/delete", json={"keys": [token]}).json() == {"deleted_keys": [token]}
    assert _chat(gateway, key, _hello()).status_code == 401
    assert admin(gateway, "POST", "/key/delete", json={"keys": [token]}).status_code == 404
    # A virtual key cannot administer keys.
    other = new_key(gateway)
    assert (
        httpx.post(
            gateway.base_url + "/key/generate", json={}, headers={"Authorization": f"Bearer {other}"}
        ).status_code
        == 403
    )


def test_error_statuses(gateway: RunningProcess) -> None:
    assert _error(_chat(gateway, None, _hello()))["type"] == "authentication_error"
    assert _chat(gateway, "sk-wrong", _hello()).status_code == 401
    limited = new_key(gateway, models=["chat"])
    denied = _chat(gateway, limited, _hello("other"))
    assert denied.status_code == 403 and _error(denied)["code"] == "model_not_allowed"
    unknown = _chat(gateway, limited, _hello("nope"))
    assert unknown.status_code == 404 and _error(unknown)["code"] == "model_not_found"
    bad_json = httpx.post(
        gateway.base_url + "/v1/chat/completions", content=b"{not json", headers={"Authorization": f"Bearer {limited}"}
    )
    assert bad_json.status_code == 400
    no_messages = _chat(gateway, limited, {"model": "chat"})
    assert no_messages.status_code == 400 and "messages" in _error(no_messages)["message"]
    huge = _chat(gateway, limited, _hello(text="x" * (5 * 1024 * 1024)))
    assert huge.status_code == 413
    expiring = admin(gateway, "POST", "/key/generate", json={"duration": "1s"}).json()["key"]
    time.sleep(1.2)
    expired = _chat(gateway, expiring, _hello())
    assert expired.status_code == 401 and _error(expired)["code"] == "key_expired"


def test_rpm_limit_holds_under_concurrency(gateway: RunningProcess) -> None:
    key = new_key(gateway, rpm_limit=10)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda i: _chat(gateway, key, _hello(text=f"r{i}")), range(30)))
    codes = [r.status_code for r in statuses]
    assert codes.count(200) == 10 and codes.count(429) == 20
    limited = next(r for r in statuses if r.status_code == 429)
    assert int(limited.headers["Retry-After"]) >= 1 and _error(limited)["type"] == "rate_limit_error"


def test_tpm_limit(gateway: RunningProcess) -> None:
    key = new_key(gateway, tpm_limit=20)
    codes = [_chat(gateway, key, _hello(text="one two three four five")).status_code for _ in range(6)]
    # Each request uses 5 prompt + 6 completion tokens: the third finds 22 >= 20 in the window.
    assert codes[:2] == [200, 200] and set(codes[2:]) == {429}


def test_budget_holds_under_concurrency(gateway: RunningProcess) -> None:
    # Each "hello" costs 1 prompt token * 0.001 + 2 completion tokens * 0.002 = $0.005.
    cost = PRICE_IN * 1 + PRICE_OUT * 2
    key = new_key(gateway, max_budget=cost * 5)
    concurrency = 4
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda _: _chat(gateway, key, _hello()), range(40)))
    ok = [r for r in results if r.status_code == 200]
    refused = [r for r in results if r.status_code != 200]
    assert 5 <= len(ok) <= 5 + concurrency, "no overshoot beyond requests already in flight"
    assert refused and all(r.status_code == 400 and _error(r)["code"] == "budget_exceeded" for r in refused)
    info = httpx.get(gateway.base_url + "/key/info", headers={"Authorization": f"Bearer {key}"}).json()["info"]
    assert info["spend"] == pytest.approx(cost * len(ok))


def test_streamed_usage_is_charged_and_logged(gateway: RunningProcess, upstreams: dict[str, RunningProcess]) -> None:
    key = new_key(gateway, key_alias="streamer")
    with httpx.stream(
        "POST",
        gateway.base_url + "/v1/chat/completions",
        json=_hello(text="x y", stream=True),
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    ) as response:
        body = b"".join(response.iter_bytes())
    assert b'"usage"' not in body and body.endswith(b"data: [DONE]\n\n")
    assert upstream_stats(upstreams["a"])["last_body"]["stream_options"] == {"include_usage": True}
    logs = admin(gateway, "GET", "/spend/logs", params={"api_key": "streamer"}).json()
    assert len(logs) == 1 and logs[0]["prompt_tokens"] == 2 and logs[0]["completion_tokens"] == 3
    assert logs[0]["spend"] == pytest.approx(2 * PRICE_IN + 3 * PRICE_OUT)
    assert admin(gateway, "GET", "/spend/logs", params={"api_key": "streamer", "model": "other"}).json() == []
    future = admin(gateway, "GET", "/spend/logs", params={"api_key": "streamer", "start_date": "2999-01-01"})
    assert future.json() == []
    own = httpx.get(gateway.base_url + "/spend/logs", headers={"Authorization": f"Bearer {key}"}).json()
    assert [r["request_id"] for r in own] == [logs[0]["request_id"]]


def test_cache_hit_and_miss(gateway: RunningProcess, upstreams: dict[str, RunningProcess]) -> None:
    before = upstream_stats(upstreams["b"])["requests"]
    body = _hello("other", text="cache me", temperature=0)
    first = _chat(gateway, MASTER_KEY, body)
    second = _chat(gateway, MASTER_KEY, {**body, "messages": body["messages"]})
    assert first.headers["x-inferstack-cache"] == "miss" and second.headers["x-inferstack-cache"] == "hit"
    assert first.json() == second.json()
    assert upstream_stats(upstreams["b"])["requests"] == before + 1
    sampled = _chat(gateway, MASTER_KEY, _hello("other", text="cache me", temperature=0.7))
    assert "x-inferstack-cache" not in sampled.headers
    assert upstream_stats(upstreams["b"])["requests"] == before + 2


def test_pii_block_never_echoes_values(gateway: RunningProcess) -> None:
    text = "mail bob@example.com, card 4111 1111 1111 1111, ssn 123-45-6789, ip 10.1.2.3, call 415-555-0100"
    blocked = _chat(gateway, MASTER_KEY, _hello("guarded", text=text))
    assert blocked.status_code == 400
    error = _error(blocked)
    assert error["code"] == "guardrail_blocked"
    for kind in ("email", "credit_card", "ssn", "ipv4", "phone"):
        assert kind in error["message"]
    for value in ("bob@example.com", "4111", "123-45-6789", "10.1.2.3", "555-0100"):
        assert value not in blocked.text
    # A number failing the Luhn check is not a card.
    assert _chat(gateway, MASTER_KEY, _hello("guarded", text="order 4111 1111 1111 1112")).status_code == 200


def test_pii_mask_before_and_after(gateway: RunningProcess, upstreams: dict[str, RunningProcess]) -> None:
    masked = _chat(gateway, MASTER_KEY, _hello("masked", text="write to bob@example.com now"))
    assert masked.status_code == 200
    sent = upstream_stats(upstreams["a"])["last_body"]["messages"][0]["content"]
    assert sent == "write to [EMAIL] now"
    # Post-call: the upstream echoes the address back; the client sees it masked, streamed or not.
    out = _chat(gateway, MASTER_KEY, _hello("masked-out", text="reach 10.0.0.7 today"))
    assert out.json()["choices"][0]["message"]["content"] == "[a] reach [IPV4] today"
    with httpx.stream(
        "POST",
        gateway.base_url + "/v1/chat/completions",
        json=_hello("masked-out", text="reach 10.0.0.7 today", stream=True),
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
        timeout=30,
    ) as response:
        body = b"".join(response.iter_bytes()).decode()
    assert "10.0.0.7" not in body and "[IPV4]" in body and body.endswith("data: [DONE]\n\n")


def test_pii_mask_covers_the_responses_api_and_streamed_tool_calls(
    gateway: RunningProcess, upstreams: dict[str, RunningProcess]
) -> None:
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=MASTER_KEY, max_retries=0)
    reply = client.responses.create(model="masked-out", input="reach 10.0.0.7 today")
    assert reply.output_text == "[a] reach [IPV4] today"
    deltas, completed = "", None
    for event in client.responses.create(model="masked-out", input="reach 10.0.0.7 today", stream=True):
        if event.type == "response.output_text.delta":
            deltas += event.delta
        elif event.type == "response.completed":
            completed = event.response.output_text
    assert deltas == completed == "[a] reach [IPV4] today"
    # A tool call's arguments, streamed: the client's reassembled arguments are masked and still JSON.
    control(upstreams["a"], script=[{"name": "send", "arguments": {"to": "10.0.0.7", "n": 1}}])
    tool: ChatCompletionToolParam = {"type": "function", "function": {"name": "send", "parameters": {"type": "object"}}}
    stream = client.chat.completions.create(
        model="masked-out", messages=[{"role": "user", "content": "send it"}], tools=[tool], stream=True
    )
    arguments = "".join(
        call.function.arguments or ""
        for chunk in stream
        for choice in chunk.choices
        for call in choice.delta.tool_calls or ()
        if call.function is not None
    )
    assert json.loads(arguments) == {"to": "[IPV4]", "n": 1}


def test_embeddings_and_completions_routes(gateway: RunningProcess) -> None:
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=MASTER_KEY, max_retries=0)
    vectors = client.embeddings.create(model="other", input=["a", "bb"])
    assert len(vectors.data) == 2
    text = client.completions.create(model="other", prompt="tell me")
    assert text.choices[0].text == "[b] tell me"


def test_budget_over_free_models_is_flagged(gateway: RunningProcess) -> None:
    free = admin(gateway, "POST", "/key/generate", json={"models": ["other"], "max_budget": 1}).json()
    assert "never be reached" in free["warning"] and "other" in free["warning"]
    priced = admin(gateway, "POST", "/key/generate", json={"models": ["chat"], "max_budget": 1}).json()
    assert "warning" not in priced
    # All models: one of them is priced, so the budget can be reached; no budget, nothing to say.
    assert "warning" not in admin(gateway, "POST", "/key/generate", json={"max_budget": 1}).json()
    assert "warning" not in admin(gateway, "POST", "/key/generate", json={"models": ["other"]}).json()
    updated = admin(gateway, "POST", "/key/update", json={"key": priced["token"], "models": ["other"]}).json()
    assert "never be reached" in updated["warning"]


def test_every_queue_and_cache_reports_its_bound(gateway: RunningProcess) -> None:
    _chat(gateway, MASTER_KEY, _hello("other"))
    metrics = httpx.get(gateway.base_url + "/metrics").text
    for name, bound in (
        ("usage_rows_pending", "10000.0"),
        ("key_registry", "10000.0"),
        ("key_negative_cache", "10000.0"),
        ("response_cache", "10000.0"),
        ("usage_totals_pending", "10000.0"),
    ):
        assert f'inferstack_gateway_bounded_size{{name="{name}"}}' in metrics, name
        assert f'inferstack_gateway_bounded_limit{{name="{name}"}} {bound}' in metrics, name
    assert "inferstack_gateway_usage_rows_dropped " in metrics


def test_metrics_and_health(gateway: RunningProcess) -> None:
    _chat(gateway, MASTER_KEY, _hello("other"))
    metrics = httpx.get(gateway.base_url + "/metrics").text
    for series in (
        "inferstack_gateway_requests_total",
        "inferstack_gateway_overhead_seconds_bucket",
        "inferstack_gateway_tokens_total",
        "inferstack_gateway_cache_total",
        "inferstack_gateway_spend_usd_total",
        "inferstack_gateway_in_flight",
    ):
        assert series in metrics, series
    assert httpx.get(gateway.base_url + "/health/liveliness").status_code == 200
    assert "inferstack_gateway_in_flight 0.0" in metrics, "streams and replies must release their in-flight count"
    ready = httpx.get(gateway.base_url + "/health/readiness").json()
    assert ready["status"] == "ready" and set(ready["models"]) >= {"chat", "other"}


def test_spend_survives_restart(tmp_path: Path, upstreams: dict[str, RunningProcess]) -> None:
    with gateway_process(tmp_path, _config(upstreams)) as first:
        key = new_key(first, key_alias="persist")
        assert _chat(first, key, _hello()).status_code == 200
        spend = admin(first, "GET", "/key/info", params={"key": "persist"}).json()["info"]["spend"]
        assert spend > 0
    with gateway_process(tmp_path, _config(upstreams)) as second:
        info = admin(second, "GET", "/key/info", params={"key": "persist"}).json()["info"]
        assert info["spend"] == pytest.approx(spend)
        assert _chat(second, key, _hello()).status_code == 200
        assert len(admin(second, "GET", "/spend/logs", params={"api_key": "persist"}).json()) == 2
