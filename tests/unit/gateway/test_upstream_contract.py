"""One contract for every `Upstream`: the aiohttp transport (against the in-process fake OpenAI server on
loopback) and the in-memory `FakeUpstream` must answer the same requests the same way, so tests of the hot
path through the fake say something about production."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
import pytest
from aiohttp import web

from inferstack.gateway.routing.deployment import Deployment
from inferstack.gateway.settings import DeploymentConfig
from inferstack.gateway.upstreams.aiohttp_upstream import AiohttpUpstream
from inferstack.gateway.upstreams.base import Upstream, UpstreamFailure, UpstreamReply
from inferstack.gateway.upstreams.fake import FakeAnswer, FakeUpstream, UpstreamRequest
from tests.support.fake_upstream import FakeUpstream as FakeOpenAIServer
from tests.support.processes import free_port
from tests.unit.gateway.proxy_harness import chat_reply, chat_stream


def _answer(request: UpstreamRequest) -> FakeAnswer:
    """The in-memory fake scripted to behave like the fake server for the models these tests use."""
    model = request.json()["model"]
    if model == "fake-unauthorized":
        return FakeAnswer.json({"error": {"message": "bad key", "type": "authentication_error"}}, status=401)
    if model == "fake-slow":
        return FakeAnswer(delay_s=60)
    if model == "fake-cut-stream":
        return chat_stream(["a", "b", "c"], break_after=2)
    if request.stream:
        return chat_stream()
    return chat_reply()


def _deployment(api_base: str) -> Deployment:
    return Deployment(DeploymentConfig(model_name="m", model="x", api_base=api_base, id="d"), "d")


@asynccontextmanager
async def _upstream(kind: str) -> AsyncIterator[tuple[Upstream, Deployment]]:
    if kind == "fake":
        fake = FakeUpstream(_answer, probe_answers={"d": None})
        yield fake, _deployment("http://fake.test/v1")
        return
    async with FakeOpenAIServer(name="contract") as server:
        upstream = AiohttpUpstream()
        await upstream.start()
        try:
            yield upstream, _deployment(server.base_url)
        finally:
            await upstream.close()


KINDS = pytest.mark.parametrize("kind", ["aiohttp", "fake"])


def _chat(model: str, *, stream: bool = False) -> bytes:
    return orjson.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream})


@KINDS
async def test_post_returns_the_answer_whatever_its_status(kind: str) -> None:
    async with _upstream(kind) as (upstream, deployment):
        ok = await upstream.post(deployment, "/chat/completions", _chat("m"), 10)
        assert ok.status == 200 and orjson.loads(ok.body)["choices"][0]["message"]["content"]
        assert ok.content_type.startswith("application/json")
        refused = await upstream.post(deployment, "/chat/completions", _chat("fake-unauthorized"), 10)
        assert refused.status == 401 and orjson.loads(refused.body)["error"]["message"] == "bad key"


@KINDS
async def test_stream_yields_events_to_done_and_a_refusal_is_a_complete_reply(kind: str) -> None:
    async with _upstream(kind) as (upstream, deployment):
        stream = await upstream.open_stream(deployment, "/chat/completions", _chat("m", stream=True), 10)
        assert not isinstance(stream, UpstreamReply)
        try:
            received = b"".join([chunk async for chunk in stream.chunks()])
        finally:
            stream.release()
        assert received.startswith(b"data: ") and received.rstrip().endswith(b"data: [DONE]")
        refused = await upstream.open_stream(
            deployment, "/chat/completions", _chat("fake-unauthorized", stream=True), 10
        )
        assert isinstance(refused, UpstreamReply) and refused.status == 401


@KINDS
async def test_a_stream_cut_mid_way_raises_a_stream_failure(kind: str) -> None:
    async with _upstream(kind) as (upstream, deployment):
        stream = await upstream.open_stream(deployment, "/chat/completions", _chat("fake-cut-stream", stream=True), 10)
        assert not isinstance(stream, UpstreamReply)
        with pytest.raises(UpstreamFailure) as failure:
            try:
                async for _ in stream.chunks():
                    pass
            finally:
                stream.release()
        assert failure.value.kind == "stream" and failure.value.retryable


@KINDS
async def test_no_answer_in_time_is_a_timeout_failure(kind: str) -> None:
    async with _upstream(kind) as (upstream, deployment):
        with pytest.raises(UpstreamFailure) as failure:
            await upstream.post(deployment, "/chat/completions", _chat("fake-slow"), 0.2)
        assert failure.value.kind == "timeout" and "0.2 s" in failure.value.summary


@KINDS
async def test_probe_says_healthy(kind: str) -> None:
    async with _upstream(kind) as (upstream, deployment):
        assert await upstream.probe(deployment, "/models", 5) is None


async def test_aiohttp_connection_refused_is_a_connect_failure_without_secrets() -> None:
    upstream = AiohttpUpstream()
    await upstream.start()
    try:
        config = DeploymentConfig(
            model_name="m", model="x", api_base=f"http://127.0.0.1:{free_port()}/v1", api_key="sk-secret-upstream"
        )
        dead = Deployment(config, "dead")
        with pytest.raises(UpstreamFailure) as failure:
            await upstream.post(dead, "/chat/completions", _chat("m"), 5)
        assert failure.value.kind == "connect" and "sk-secret" not in failure.value.summary
        assert (await upstream.probe(dead, "/models", 5) or "").startswith("cannot connect")
    finally:
        await upstream.close()


async def test_aiohttp_sends_the_deployment_key_and_asks_for_no_compression() -> None:
    seen: dict[str, str] = {}

    async def record(request: web.Request) -> web.Response:
        seen.update(request.headers)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    upstream = AiohttpUpstream()
    await upstream.start()
    try:
        config = DeploymentConfig(
            model_name="m", model="x", api_base=f"http://127.0.0.1:{port}/v1", api_key="sk-upstream"
        )
        reply = await upstream.post(Deployment(config, "d"), "/chat/completions", _chat("m"), 5)
    finally:
        await upstream.close()
        await runner.cleanup()
    assert reply.status == 200
    assert seen["Authorization"] == "Bearer sk-upstream" and seen["Content-Type"] == "application/json"
    assert "Accept-Encoding" not in seen, "relayed bodies must arrive uncompressed"
