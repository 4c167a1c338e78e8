"""The filesystem MCP server in process (the SDK's in-memory client): tool contract, structured results, tool errors.

Clients are opened inside each test: an async fixture would enter and leave the SDK's task groups in different tasks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client
from mcp_types import CallToolResult, TextContent
from starlette.testclient import TestClient

from inferstack.mcp_servers.assembly import McpService, build_http_app
from inferstack.mcp_servers.filesystem import build_filesystem_service, open_sandbox
from inferstack.mcp_servers.settings import FilesystemServerSettings
from inferstack.tools.filesystem import SandboxRootError

TOOLS = {"read_file", "write_file", "list_directory", "create_directory", "delete_path", "get_path_info"}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "sandbox"  # does not exist yet: the server creates it


@pytest.fixture
def service(root: Path) -> McpService:
    return build_filesystem_service(FilesystemServerSettings(root=root, max_file_bytes=100))


def error_text(result: CallToolResult) -> str:
    assert result.is_error, result
    [block] = result.content
    assert isinstance(block, TextContent)
    return block.text


async def test_tools_and_their_arguments(service: McpService) -> None:
    async with Client(service.server) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    assert tools["write_file"].input_schema["required"] == ["path", "content"]
    assert set(tools["write_file"].input_schema["properties"]) == {"path", "content", "append"}
    assert tools["list_directory"].input_schema["properties"]["path"]["default"] == "."
    assert all(tool.output_schema is not None for tool in tools.values())
    assert tools["read_file"].annotations is not None and tools["read_file"].annotations.read_only_hint
    assert tools["delete_path"].annotations is not None and tools["delete_path"].annotations.destructive_hint


async def test_results_are_structured_and_mirrored_as_json_text(service: McpService, root: Path) -> None:
    async with Client(service.server) as client:
        written = await client.call_tool("write_file", {"path": "docs/a.md", "content": "# A"})
        read = await client.call_tool("read_file", {"path": "docs/a.md"})
    assert not written.is_error
    assert written.structured_content == {"path": "docs/a.md", "bytes_written": 3, "size_bytes": 3, "appended": False}
    [block] = written.content
    assert isinstance(block, TextContent) and json.loads(block.text) == written.structured_content
    assert (root / "docs/a.md").read_text() == "# A"
    assert read.structured_content == {"path": "docs/a.md", "content": "# A", "size_bytes": 3}


async def test_refusals_are_tool_errors_with_the_reason(service: McpService) -> None:
    async with Client(service.server) as client:
        escape = await client.call_tool("read_file", {"path": "../../etc/passwd"})
        missing = await client.call_tool("read_file", {"path": "nope.txt"})
        too_big = await client.call_tool("write_file", {"path": "big.txt", "content": "x" * 101})
        root_delete = await client.call_tool("delete_path", {"path": "."})
        no_args = await client.call_tool("read_file", {})
        still_alive = await client.call_tool("list_directory", {})
    assert "outside the sandbox root" in error_text(escape)
    assert "'nope.txt' does not exist" in error_text(missing)
    assert "write limit is 100" in error_text(too_big)
    assert "sandbox root itself" in error_text(root_delete)
    assert "path" in error_text(no_args)  # the SDK's argument validation, also an isError result
    assert not still_alive.is_error and still_alive.structured_content is not None


async def test_http_face_health_and_metrics(service: McpService) -> None:
    async with Client(service.server) as client:
        await client.call_tool("write_file", {"path": "x.txt", "content": "x"})
        await client.call_tool("read_file", {"path": "/etc/passwd"})
    with TestClient(build_http_app(service, host="127.0.0.1")) as http:
        health = http.get("/health")
        metrics = http.get("/metrics").text
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "service": "filesystem", "root_exists": True, "max_file_bytes": 100}
    assert 'inferstack_mcp_tool_calls_total{outcome="ok",tool="write_file"} 1.0' in metrics
    assert 'inferstack_mcp_tool_calls_total{outcome="error",tool="read_file"} 1.0' in metrics


def test_health_is_503_when_the_root_has_gone(service: McpService, root: Path) -> None:
    root.rmdir()
    with TestClient(build_http_app(service, host="127.0.0.1")) as http:
        response = http.get("/health")
    assert response.status_code == 503 and response.json()["root_exists"] is False


def test_root_is_required_and_created_when_missing(tmp_path: Path) -> None:
    with pytest.raises(SandboxRootError, match="--root"):
        open_sandbox(FilesystemServerSettings())
    sandbox = open_sandbox(FilesystemServerSettings(root=tmp_path / "new" / "deeper"))
    assert sandbox.root == (tmp_path / "new" / "deeper").resolve() and sandbox.root.is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(SandboxRootError, match="not a directory"):
        open_sandbox(FilesystemServerSettings(root=tmp_path / "file"))
