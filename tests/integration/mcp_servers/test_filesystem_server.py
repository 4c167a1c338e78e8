"""`inferstack mcp filesystem` as a real process, driven by the official MCP client over streamable HTTP and stdio."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration.mcp_servers.sessions import error_text, http_session, stdio_session
from tests.support.processes import RunningProcess, inferstack_process

TOOLS = {"read_file", "write_file", "list_directory", "create_directory", "delete_path", "get_path_info"}
SECRET = "must stay untouched"


@dataclass
class Sandbox:
    server: RunningProcess
    root: Path
    outside: Path


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    base = tmp_path_factory.mktemp("mcp-filesystem")
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    root = base / "root"  # created by the server
    args = ["mcp", "filesystem", "--root", str(root)]
    with inferstack_process(args, log_dir=base, health_path="/health", timeout=120) as server:
        (root / "out").symlink_to(outside)
        (root / "loop").symlink_to(root / "loop")
        yield Sandbox(server=server, root=root, outside=outside)


async def test_lists_exactly_the_six_tools(sandbox: Sandbox) -> None:
    async with http_session(sandbox.server.base_url) as session:
        tools = (await session.list_tools()).tools
    assert {tool.name for tool in tools} == TOOLS
    assert all(tool.description and tool.output_schema for tool in tools)


async def test_every_tool_works_on_the_real_disk(sandbox: Sandbox) -> None:
    root = sandbox.root
    async with http_session(sandbox.server.base_url) as session:
        created = await session.call_tool("create_directory", {"path": "work/drafts"})
        written = await session.call_tool("write_file", {"path": "work/drafts/plan.md", "content": "step 1\n"})
        appended = await session.call_tool(
            "write_file", {"path": "work/drafts/plan.md", "content": "step 2\n", "append": True}
        )
        read = await session.call_tool("read_file", {"path": "work/drafts/plan.md"})
        listed = await session.call_tool("list_directory", {"path": "work/drafts"})
        info = await session.call_tool("get_path_info", {"path": "work/drafts/plan.md"})
        deleted_file = await session.call_tool("delete_path", {"path": "work/drafts/plan.md"})
        deleted_dir = await session.call_tool("delete_path", {"path": "work/drafts"})
    assert created.structured_content == {"path": "work/drafts", "created": True}
    assert written.structured_content is not None and written.structured_content["bytes_written"] == 7
    assert appended.structured_content is not None and appended.structured_content["size_bytes"] == 14
    assert read.structured_content == {"path": "work/drafts/plan.md", "content": "step 1\nstep 2\n", "size_bytes": 14}
    assert listed.structured_content is not None
    assert listed.structured_content["entries"] == [{"name": "plan.md", "type": "file", "size_bytes": 14}]
    assert info.structured_content is not None
    assert (info.structured_content["type"], info.structured_content["size_bytes"]) == ("file", 14)
    assert deleted_file.structured_content == {"path": "work/drafts/plan.md", "type": "file"}
    assert deleted_dir.structured_content == {"path": "work/drafts", "type": "directory"}
    assert (root / "work").is_dir() and not (root / "work/drafts").exists()


ESCAPES = [
    ("read_file", {"path": "../outside/secret.txt"}, "outside the sandbox root"),
    ("read_file", {"path": "OUTSIDE/secret.txt"}, "outside the sandbox root"),  # absolute path outside the root
    ("read_file", {"path": "/etc/passwd"}, "outside the sandbox root"),
    ("read_file", {"path": "out/secret.txt"}, "outside the sandbox root"),  # through a symlink
    ("write_file", {"path": "../outside/secret.txt", "content": "pwned"}, "outside the sandbox root"),
    ("write_file", {"path": "out/new.txt", "content": "pwned"}, "outside the sandbox root"),
    ("write_file", {"path": "a/b/../../../outside/new.txt", "content": "pwned"}, "outside the sandbox root"),
    ("list_directory", {"path": ".."}, "outside the sandbox root"),
    ("list_directory", {"path": "out"}, "outside the sandbox root"),
    ("create_directory", {"path": "../outside/newdir"}, "outside the sandbox root"),
    ("delete_path", {"path": "../outside/secret.txt"}, "outside the sandbox root"),
    ("delete_path", {"path": "out/secret.txt"}, "outside the sandbox root"),
    ("delete_path", {"path": "."}, "sandbox root itself"),
    ("delete_path", {"path": "ROOT"}, "sandbox root itself"),
    ("get_path_info", {"path": "OUTSIDE"}, "outside the sandbox root"),
    ("read_file", {"path": "loop"}, "symbolic link loop"),
    ("read_file", {"path": "notes\u0000.txt"}, "NUL byte"),
    ("write_file", {"path": "x" * 2000, "content": "x"}, "limit is 1024"),
]


async def test_escape_attempts_all_fail_with_a_reason(sandbox: Sandbox) -> None:
    async with http_session(sandbox.server.base_url) as session:
        for tool, arguments, reason in ESCAPES:
            path = arguments["path"].replace("OUTSIDE", str(sandbox.outside)).replace("ROOT", str(sandbox.root))
            result = await session.call_tool(tool, {**arguments, "path": path})
            assert reason in error_text(result), (tool, arguments)
        alive = await session.call_tool("list_directory", {"path": "."})
    assert not alive.is_error
    assert [p.name for p in sandbox.outside.iterdir()] == ["secret.txt"]
    assert (sandbox.outside / "secret.txt").read_text() == SECRET
    assert sandbox.root.is_dir()


async def test_metrics_count_tool_calls_by_outcome(sandbox: Sandbox) -> None:
    async def count(http: httpx.AsyncClient, outcome: str) -> float:
        prefix = f'inferstack_mcp_tool_calls_total{{outcome="{outcome}",tool="get_path_info"}}'
        for line in (await http.get("/metrics")).text.splitlines():
            if line.startswith(prefix):
                return float(line.split()[-1])
        raise AssertionError(f"{prefix} missing")

    async with httpx.AsyncClient(base_url=sandbox.server.base_url) as http:
        ok, error = await count(http, "ok"), await count(http, "error")
        async with http_session(sandbox.server.base_url) as session:
            await session.call_tool("get_path_info", {"path": "."})
            await session.call_tool("get_path_info", {"path": "/"})
        assert (await count(http, "ok"), await count(http, "error")) == (ok + 1, error + 1)
        health = await http.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"


async def test_stdio_transport_serves_the_same_tools(tmp_path: Path) -> None:
    root = tmp_path / "stdio-root"
    stderr = tmp_path / "stderr.log"
    async with stdio_session(["mcp", "filesystem", "--transport", "stdio", "--root", str(root)], stderr) as session:
        tools = {tool.name for tool in (await session.list_tools()).tools}
        written = await session.call_tool("write_file", {"path": "hello.txt", "content": "over stdio"})
        read = await session.call_tool("read_file", {"path": "hello.txt"})
        escape = await session.call_tool("read_file", {"path": "../stderr.log"})
    assert tools == TOOLS and not written.is_error
    assert read.structured_content is not None and read.structured_content["content"] == "over stdio"
    assert "outside the sandbox root" in error_text(escape)
    assert (root / "hello.txt").read_text() == "over stdio"
    assert "filesystem MCP server on stdio" in stderr.read_text()  # logs go to stderr, never into the protocol


def test_missing_root_is_a_clear_startup_error(tmp_path: Path) -> None:
    with inferstack_process(["mcp", "filesystem"], log_dir=tmp_path, wait=False) as server:
        code = server.process.wait(timeout=60)
    assert code == 2 and "no sandbox root is configured" in server.log()
