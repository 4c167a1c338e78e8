"""Tracing settings, propagation and GenAI attributes, with the SDK's in-memory exporter."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.types import Message, Receive, Scope, Send

from inferstack.http.otlp_receiver import decode_spans
from inferstack.http.tracing import TraceContext
from inferstack.observability import tracing
from inferstack.observability.http_client import TracingTransport
from inferstack.observability.trace_store import StoredSpan, TraceStore, from_readable
from inferstack.observability.tracing_settings import tracing_settings_from
from tests.support.span_capture import captured_spans


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    with captured_spans() as capture:
        yield capture


def test_otel_variables_override_the_section_and_langfuse_keys_fall_back_to_their_variables() -> None:
    section = {"exporter": "console", "resource_attributes": {"team": "a"}, "langfuse": {"host": "https://lf.test/"}}
    environ = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318/",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-token=a%20b,other=1",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_RESOURCE_ATTRIBUTES": "openinference.project.name=demo",
        "LANGFUSE_PUBLIC_KEY": "pk-1",
        "LANGFUSE_SECRET_KEY": "sk-2",
    }
    settings = tracing_settings_from(section, environ)
    assert settings.exporter == "otlp"
    assert settings.endpoint == "http://127.0.0.1:4318/v1/traces"
    assert settings.headers == {"x-token": "a b", "other": "1"}
    assert settings.sample_ratio == 0.25
    assert settings.resource_attributes == {"team": "a", "openinference.project.name": "demo"}
    assert settings.langfuse.host == "https://lf.test"
    headers = settings.langfuse_headers()
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"pk-1:sk-2").decode()
    assert "sk-2" not in repr(settings)


def test_tracing_off_builds_no_middleware_layer_and_no_client() -> None:
    from inferstack.http.tracing import trace_layers
    from inferstack.observability.http_client import traced_http_client

    tracing.reset_for_tests()
    assert trace_layers() == []
    assert traced_http_client() is None
    assert tracing_settings_from({}, {}).enabled is False


async def test_inbound_traceparent_is_continued_and_outbound_calls_carry_it(exporter: InMemorySpanExporter) -> None:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    seen: dict[str, str] = {}

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.update(request.headers)
        usage = {"prompt_tokens": 7, "completion_tokens": 3}
        body = {"id": "c1", "model": "m", "usage": usage, "choices": [{"finish_reason": "stop"}]}
        return httpx.Response(200, json=body)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        transport = TracingTransport(httpx.MockTransport(upstream))
        async with httpx.AsyncClient(transport=transport) as client:
            await client.post("http://gw.test/v1/chat/completions", json={"model": "m", "messages": []})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/query",
        "headers": [(b"traceparent", f"00-{trace_id}-{parent_id}-01".encode())],
    }
    await TraceContext(app)(scope, receive, send)

    spans = {s.name: from_readable(s) for s in exporter.get_finished_spans()}
    server, client = spans["POST /query"], spans["chat m"]
    assert server.trace_id == client.trace_id == trace_id
    assert server.parent_id == parent_id and client.parent_id == server.span_id
    assert seen["traceparent"] == f"00-{trace_id}-{client.span_id}-01"
    assert client.attributes["gen_ai.usage.input_tokens"] == 7
    assert client.attributes["gen_ai.usage.output_tokens"] == 3
    assert client.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert server.attributes["http.response.status_code"] == 200


def test_an_untraced_path_opens_no_span(exporter: InMemorySpanExporter) -> None:
    import asyncio

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    asyncio.run(TraceContext(app)({"type": "http", "path": "/health", "headers": []}, None, None))  # type: ignore[arg-type]
    assert exporter.get_finished_spans() == ()


def _span(trace_id: str, span_id: str, start: int, parent: str = "") -> StoredSpan:
    return StoredSpan(trace_id, span_id, parent, f"s{span_id}", "svc", "SERVER", start, start + 10, "UNSET", {}, [])


def test_the_store_keeps_the_newest_traces_and_reads_them_by_prefix(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "traces.db", max_traces=2)
    for n in range(3):
        store.add([_span(f"{n:032x}", f"{n:016x}", start=n * 100)])
    store.add([_span(f"{2:032x}", "ff" * 8, start=205, parent=f"{2:016x}")])
    listed = store.list_traces()
    assert [t.trace_id for t in listed] == [f"{2:032x}", f"{1:032x}"]
    assert listed[0].span_count == 2 and listed[0].root_name == f"s{2:016x}"
    assert store.spans(f"{0:032x}") == []
    assert [s.span_id for s in store.spans(f"{2:032x}")] == [f"{2:016x}", "ff" * 8]


def test_the_receiver_decodes_an_otlp_export_from_the_sdk_exporter(exporter: InMemorySpanExporter) -> None:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("outer"), tracer.start_as_current_span("inner") as inner:
        inner.set_attribute("gen_ai.usage.input_tokens", 5)
    message = ExportTraceServiceRequest()
    message.ParseFromString(encode_spans(exporter.get_finished_spans()).SerializeToString())
    decoded = {s.name: s for s in decode_spans(message)}
    assert decoded["inner"].parent_id == decoded["outer"].span_id
    assert decoded["inner"].attributes == {"gen_ai.usage.input_tokens": 5}
    assert decoded["inner"].trace_id == decoded["outer"].trace_id


async def test_a_streamed_reply_keeps_its_span_open_until_the_stream_is_closed(
    exporter: InMemorySpanExporter,
) -> None:
    def upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=b"data: [DONE]\n\n")

    transport = TracingTransport(httpx.MockTransport(upstream))
    async with httpx.AsyncClient(transport=transport) as client:
        request = client.build_request("POST", "http://gw.test/v1/chat/completions", json={"model": "m"})
        response = await client.send(request, stream=True)
        assert exporter.get_finished_spans() == ()
        assert [chunk async for chunk in response.aiter_bytes()] == [b"data: [DONE]\n\n"]
        await response.aclose()
    (span,) = exporter.get_finished_spans()
    assert span.name == "chat m" and span.attributes is not None
    assert span.attributes["http.response.status_code"] == 200


async def test_each_gateway_upstream_attempt_is_its_own_span(tmp_path: Path, exporter: InMemorySpanExporter) -> None:
    from inferstack.gateway.upstreams.fake import FakeAnswer, UpstreamRequest
    from tests.unit.gateway.proxy_harness import chat_reply, deployment, proxy_under_test

    seen: list[str] = []

    def first_attempt_fails(request: UpstreamRequest) -> FakeAnswer:
        seen.append(request.deployment_id)
        return FakeAnswer(status=503) if len(seen) == 1 else chat_reply()

    router = {"num_retries": 2, "policy": "least-busy"}
    async with proxy_under_test(
        tmp_path, first_attempt_fails, deployments=[deployment("a"), deployment("b")], router=router
    ) as proxy:
        proxy.service.streams.attempts.tracing = True  # the attempts object both paths share
        with trace.get_tracer("test").start_as_current_span("request") as parent:
            reply = await proxy.reply()
    assert reply.status == 200
    attempts = [from_readable(s) for s in exporter.get_finished_spans() if s.name.startswith("upstream ")]
    assert [s.name for s in attempts] == [f"upstream {d}" for d in seen] and len(seen) == 2
    assert {s.parent_id for s in attempts} == {f"{parent.get_span_context().span_id:016x}"}
    failed, succeeded = attempts
    assert failed.status == "ERROR" and failed.attributes["error.type"] == "status"
    assert succeeded.attributes["http.response.status_code"] == 200
    assert succeeded.attributes["gen_ai.request.model"] == "m" and succeeded.kind == "CLIENT"


async def test_strands_agent_spans_join_the_current_trace(exporter: InMemorySpanExporter) -> None:
    import openai
    from strands import Agent
    from strands.models.openai import OpenAIModel

    first = {"index": 0, "delta": {"role": "assistant", "content": "Hello"}}
    last = {"index": 0, "delta": {}, "finish_reason": "stop"}
    usage = {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
    chunks: list[dict[str, Any]] = [
        {"id": "c1", "object": "chat.completion.chunk", "model": "m", "choices": [first]},
        {"id": "c1", "object": "chat.completion.chunk", "model": "m", "choices": [last], "usage": usage},
    ]
    sse = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"

    def gateway(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse)

    http = httpx.AsyncClient(transport=TracingTransport(httpx.MockTransport(gateway)))
    client = openai.AsyncOpenAI(base_url="http://gw.test/v1", api_key="k", http_client=http)
    agent = Agent(model=OpenAIModel(client=client, model_id="m"), callback_handler=None)
    with trace.get_tracer("test").start_as_current_span("invoke_agent agentic") as parent:
        result = await agent.invoke_async("hi")
    await http.aclose()
    assert "Hello" in str(result)
    spans = [from_readable(s) for s in exporter.get_finished_spans()]
    trace_id = f"{parent.get_span_context().trace_id:032x}"
    strands = [s for s in spans if s.name != "invoke_agent agentic" and s.name != "chat m"]
    assert strands, [s.name for s in spans]
    assert {s.trace_id for s in spans} == {trace_id}
    ours = next(s for s in spans if s.name == "chat m")
    assert ours.parent_id in {s.span_id for s in strands}  # the HTTP call nests under Strands' model span


async def test_the_receiver_stores_otlp_and_serves_the_read_api(tmp_path: Path, exporter: InMemorySpanExporter) -> None:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from inferstack.http.otlp_receiver import build_receiver_app

    with trace.get_tracer("test").start_as_current_span("root"), trace.get_tracer("test").start_as_current_span("leaf"):
        pass
    body = encode_spans(exporter.get_finished_spans()).SerializeToString()
    app = build_receiver_app(TraceStore(tmp_path / "traces.db"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://store") as client:
        stored = await client.post("/v1/traces", content=body, headers={"content-type": "application/x-protobuf"})
        assert stored.status_code == 200 and stored.headers["content-type"] == "application/x-protobuf"
        listed = (await client.get("/api/traces")).json()["data"]
        assert [(t["root_name"], t["span_count"]) for t in listed] == [("root", 2)]
        spans = (await client.get(f"/api/traces/{listed[0]['trace_id']}")).json()["spans"]
        assert [s["name"] for s in spans] == ["root", "leaf"] and spans[1]["parent_id"] == spans[0]["span_id"]
        missing = await client.get("/api/traces/" + "0" * 32)
        assert missing.status_code == 404 and missing.json()["error"]["message"] == "no such trace"
        garbage = await client.post(
            "/v1/traces", content=b"\xff\x00", headers={"content-type": "application/x-protobuf"}
        )
        assert garbage.status_code == 400
        wrong_type = await client.post("/v1/traces", content=b"{}", headers={"content-type": "application/json"})
        assert wrong_type.status_code == 400


def test_trace_last_prints_the_span_tree(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from inferstack.cli.main import app

    store = TraceStore(tmp_path / "traces.db")
    trace_id = "ab" * 16
    root = StoredSpan(
        trace_id, "1" * 16, "", "POST /query", "inferstack-agent", "SERVER", 0, 9_000_000, "UNSET", {}, []
    )
    usage = {"gen_ai.usage.output_tokens": 7}
    child = StoredSpan(
        trace_id, "2" * 16, "1" * 16, "generate", "inferstack-serve", "INTERNAL", 1, 5_000_001, "UNSET", usage, []
    )
    store.add([root, child])
    result = CliRunner().invoke(app, ["trace", "last", "--store", str(tmp_path / "traces.db")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert trace_id in lines[0]
    assert "POST /query" in lines[1] and "9.0 ms" in lines[1]
    assert "generate" in lines[2] and "5.0 ms" in lines[2] and "output_tokens=7" in lines[2]
    assert lines[2].index("generate") > lines[1].index("POST /query")  # nested one level deeper
    missing = CliRunner().invoke(app, ["trace", "show", "ffff", "--store", str(tmp_path / "traces.db")])
    assert missing.exit_code == 1


def test_the_local_store_gets_its_spans_each_second_unless_otel_says_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    from inferstack.observability.trace_store import StoreSpanExporter
    from inferstack.observability.tracing import _schedule_delay_ms

    monkeypatch.delenv("OTEL_BSP_SCHEDULE_DELAY", raising=False)
    store = StoreSpanExporter(TraceStore(tmp_path / "traces.db", 10))
    assert _schedule_delay_ms(store) == 1000
    assert _schedule_delay_ms(ConsoleSpanExporter()) is None  # the SDK's 5 s
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
    assert _schedule_delay_ms(store) is None  # the variable decides
