"""A real `inferstack mcp filesystem` server continues the trace the agent's MCP client starts: the context
travels in the request's `params._meta` (traceparent) and the server's span is a child of the client's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from inferstack.agents.mcp_tools import McpToolClient
from tests.support.fake_otlp_sink import FakeOtlpSink
from tests.support.processes import inferstack_process
from tests.support.span_capture import captured_spans


@pytest.fixture
def agent_spans() -> Iterator[InMemorySpanExporter]:
    with captured_spans() as capture:
        yield capture


async def test_the_mcp_server_continues_the_agents_trace(tmp_path: Path, agent_spans: InMemorySpanExporter) -> None:
    root = tmp_path / "files"
    root.mkdir()
    (root / "note.txt").write_text("hello")
    with FakeOtlpSink() as sink:
        config = tmp_path / "inferstack.yaml"
        observability = {"exporter": "otlp", "endpoint": f"{sink.base_url}/v1/traces"}
        config.write_text(yaml.safe_dump({"observability": observability}))
        args = ["mcp", "filesystem", "--root", str(root), "--config", str(config)]
        with inferstack_process(args, log_dir=tmp_path, health_path="/health", timeout=120) as server:
            client = McpToolClient(f"{server.base_url}/mcp", name="filesystem", timeout_s=30, health_timeout_s=5)
            with trace.get_tracer("test").start_as_current_span("query"):
                assert "hello" in str(await client.call("read_file", {"path": "note.txt"}))
            remote = sink.wait_for_spans(lambda got: any(s.name == "tools/call read_file" for s in got))

    local = {s.name: s for s in agent_spans.get_finished_spans()}
    tool, send = local["execute_tool read_file"], local["MCP send tools/call read_file"]
    tool_context, send_context = tool.get_span_context(), send.get_span_context()
    assert send.parent is not None and tool_context is not None and send_context is not None
    assert send.parent.span_id == tool_context.span_id
    served = next(s for s in remote if s.name == "tools/call read_file")
    assert served.trace_id == f"{send_context.trace_id:032x}"
    assert served.parent_id == f"{send_context.span_id:016x}"
    assert served.kind == "SERVER" and served.service == "inferstack-mcp-filesystem"
    assert served.attributes["gen_ai.tool.name"] == "read_file"
    assert tool.attributes is not None and tool.attributes["gen_ai.operation.name"] == "execute_tool"
