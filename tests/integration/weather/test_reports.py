"""POST /v1/reports on the agent app (in-memory knowledge base, scripted fake model) with the real filesystem MCP
server process: the report lands inside the sandbox root, the loop stops at its iteration cap, and paths that
lead outside the root are refused by the agent and by the server itself."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from inferstack.agents.app import AgentDependencies, build_app
from inferstack.agents.mcp_tools import McpToolClient, ToolCallError
from inferstack.retrieval.embedders.fake import FakeEmbedder
from tests.support.fake_upstream import FakeUpstream
from tests.support.processes import RunningProcess, inferstack_process
from tests.unit.agents.conftest import DIM, FakeIngestion, agent_settings, seeded_store

pytestmark = pytest.mark.weather

QUESTION = "How is Bell's palsy treated?"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningProcess, Path]]:
    tmp = tmp_path_factory.mktemp("reports")
    root = tmp / "sandbox"
    with inferstack_process(["mcp", "filesystem", "--root", str(root)], log_dir=tmp, timeout=60) as server:
        yield server, root


@pytest_asyncio.fixture(loop_scope="function")
async def upstream() -> AsyncIterator[FakeUpstream]:
    fake = FakeUpstream(reply=lambda body: "A short answer.")
    await fake.start()
    yield fake
    await fake.stop()


def agent(upstream: FakeUpstream, sandbox: tuple[RunningProcess, Path], tmp_path: Path, **overrides: Any) -> Any:
    async def make() -> httpx.AsyncClient:
        embedder = FakeEmbedder(DIM)
        server, root = sandbox
        settings = agent_settings(
            upstream, tmp_path, filesystem_url=server.base_url + "/mcp", output_dir=root, **overrides
        )
        deps = AgentDependencies(store=await seeded_store(embedder), embedder=embedder, ingest=FakeIngestion())
        app = build_app(settings, deps)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent", timeout=60)

    return make()


async def test_the_model_writes_the_report_inside_the_sandbox(
    upstream: FakeUpstream, sandbox: tuple[RunningProcess, Path], tmp_path: Path
) -> None:
    upstream.script = [{"name": "write_report", "arguments": {"content": "Corticosteroids, given early."}}, "Done."]
    async with await agent(upstream, sandbox, tmp_path) as client:
        answer = await client.post("/v1/reports", json={"question": QUESTION, "filename": "reports/palsy.md"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    written = sandbox[1] / "reports" / "palsy.md"
    assert body["path"] == "reports/palsy.md" and body["bytes"] == written.stat().st_size
    assert body["written_by"] == "model" and body["stopped"] == "answered"
    text = written.read_text()
    assert text.startswith(f"# {QUESTION}\n\nCorticosteroids, given early.")
    assert "## Sources" in text and "palsy.csv" in text
    assert upstream.requests[0]["tools"][1]["function"]["name"] == "write_report"


async def test_the_loop_stops_at_its_iteration_cap(
    upstream: FakeUpstream, sandbox: tuple[RunningProcess, Path], tmp_path: Path
) -> None:
    upstream.script = [{"name": "search_knowledge_base", "arguments": {"query": "palsy"}}] * 10
    async with await agent(upstream, sandbox, tmp_path, report_max_iterations=3) as client:
        answer = await client.post("/v1/reports", json={"question": QUESTION, "filename": "capped.md"})
        asked_more = await client.post(
            "/v1/reports", json={"question": QUESTION, "filename": "capped2.md", "max_iterations": 50}
        )
    body = answer.json()
    assert answer.status_code == 201, answer.text
    assert body["stopped"] == "max_rounds" and body["iterations"] == 3 and len(body["tool_calls"]) == 3
    assert body["written_by"] == "agent"  # the loop ended without write_report: the agent wrote the answer
    assert (sandbox[1] / "capped.md").read_text().startswith(f"# {QUESTION}")
    assert asked_more.status_code == 201 and asked_more.json()["iterations"] <= 3  # the setting caps the request


@pytest.mark.parametrize("filename", ["../escape.md", "/tmp/escape.md", "a/../../escape.md", "notes.txt", "C:/x.md"])
async def test_paths_outside_the_sandbox_are_refused(
    upstream: FakeUpstream, sandbox: tuple[RunningProcess, Path], tmp_path: Path, filename: str
) -> None:
    async with await agent(upstream, sandbox, tmp_path) as client:
        answer = await client.post("/v1/reports", json={"question": QUESTION, "filename": filename})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == "filename" or answer.json()["error"]["param"] == "path"
    assert not (sandbox[1].parent / "escape.md").exists()
    assert upstream.requests == []  # refused before any model call


async def test_the_filesystem_server_refuses_traversal_itself(sandbox: tuple[RunningProcess, Path]) -> None:
    server, root = sandbox
    client = McpToolClient(server.base_url + "/mcp", name="filesystem", timeout_s=30, health_timeout_s=2)
    with pytest.raises(ToolCallError, match="outside"):
        await client.call("write_file", {"path": "../escape.md", "content": "x"})
    assert not (root.parent / "escape.md").exists()


async def test_no_filesystem_server_is_a_clear_error(upstream: FakeUpstream, tmp_path: Path) -> None:
    settings = agent_settings(upstream, tmp_path, filesystem_url="")
    embedder = FakeEmbedder(DIM)
    deps = AgentDependencies(store=await seeded_store(embedder), embedder=embedder, ingest=FakeIngestion())
    transport = httpx.ASGITransport(app=build_app(settings, deps))
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
        answer = await client.post("/v1/reports", json={"question": QUESTION})
    assert answer.status_code == 503 and "filesystem MCP server" in answer.json()["error"]["message"]
