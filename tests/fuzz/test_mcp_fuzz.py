"""Fuzz the MCP servers' HTTP endpoints: /health and /metrics, and /mcp with generated and hostile JSON-RPC.

The MCP servers serve no `/openapi.json`; the description below is written by hand from the streamable-HTTP
transport. An error from /mcp is a JSON-RPC error (`{"jsonrpc": "2.0", "id", "error": {"code": int, "message"}}`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.fuzz.runner import REQUEST_TIMEOUT_S, fuzz_service
from tests.support.processes import RunningProcess, inferstack_process

MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
PROTOCOL = "2025-06-18"
SECRET = "a secret 4f1c9e kept outside"
_JSON_RPC = {
    "type": "object",
    "required": ["jsonrpc", "method"],
    "properties": {
        "jsonrpc": {"const": "2.0"},
        "id": {"type": ["integer", "string"]},
        "method": {
            "enum": ["initialize", "ping", "tools/list", "tools/call", "notifications/initialized", "resources/list"]
        },
        "params": {"type": "object"},
    },
}
DESCRIPTION: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "inferstack MCP server (HTTP endpoints)", "version": "1"},
    "paths": {
        "/health": {"get": {"responses": {"200": {"description": "status"}}}},
        "/metrics": {"get": {"responses": {"200": {"description": "Prometheus text"}}}},
        "/mcp": {
            "post": {
                "requestBody": {"required": True, "content": {"application/json": {"schema": _JSON_RPC}}},
                "responses": {"200": {"description": "JSON-RPC answer (JSON or SSE)"}},
            }
        },
    },
}


def json_rpc_error_shape(status: int, body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    if body.get("jsonrpc") != "2.0" or not isinstance(error, dict):
        return "not a JSON-RPC error"
    if not isinstance(error.get("code"), int) or not isinstance(error.get("message"), str):
        return "error.code must be an integer and error.message a string"
    return None


@dataclass
class McpServer:
    process: RunningProcess
    root: Path
    secret: Path


@pytest.fixture(scope="module")
def filesystem_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpServer]:
    base = tmp_path_factory.mktemp("mcp-fuzz")
    root = base / "root"
    root.mkdir()
    secret = base / "secret.txt"
    secret.write_text(SECRET)
    args = ["mcp", "filesystem", "--root", str(root)]
    with inferstack_process(args, log_dir=base) as proc:
        yield McpServer(proc, root, secret)


def _post(server: RunningProcess, body: bytes, session: str | None = None) -> httpx.Response:
    headers = {**MCP_HEADERS, "Content-Type": "application/json", "MCP-Protocol-Version": PROTOCOL}
    if session is not None:
        headers["Mcp-Session-Id"] = session
    return httpx.post(server.base_url + "/mcp", content=body, headers=headers, timeout=REQUEST_TIMEOUT_S)


def _messages(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages of an answer, whether sent as JSON or as SSE `data:` lines."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return [orjson.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
    return [response.json()]


def _session(server: RunningProcess) -> str:
    hello = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}},
    }
    response = _post(server, orjson.dumps(hello))
    assert response.status_code == 200, response.text
    session = response.headers["mcp-session-id"]
    _post(server, orjson.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}), session)
    return session


def _healthy(server: RunningProcess) -> None:
    assert httpx.get(server.base_url + "/health", timeout=10).status_code == 200


def test_mcp_endpoints_survive_fuzzing(filesystem_server: McpServer) -> None:
    server = filesystem_server.process
    report = fuzz_service(
        server.base_url, headers=MCP_HEADERS, error_shape=json_rpc_error_shape, description=DESCRIPTION
    )
    assert not report.failures, "\n".join(report.failures)
    print(report.summary())
    _healthy(server)


HOSTILE_BODIES = [
    b"",
    b"not json",
    b"[]",
    b'"just a string"',
    b"{}",
    b'[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]',
    b'{"jsonrpc": "2.0", "id": {"an": "object"}, "method": "ping"}',
    b'{"jsonrpc": "1.0", "id": 1, "method": "ping"}',
    b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": null}',
    b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": 7, "arguments": []}}',
    b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "no_such_tool", "arguments": {}}}',
    b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "read_file", "arguments": {"path": 1}}}',
    b'{"jsonrpc": "2.0", "id": 1, "method": "' + b"x" * 100_000 + b'"}',
    b"[" * 10_000 + b"]" * 10_000,
    b'{"jsonrpc": "2.0", "id": 1e308, "method": "ping"}',
    b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"\\u0000": "\\ud800"}}',
]


@pytest.mark.parametrize("with_session", [False, True], ids=["no-session", "in-session"])
def test_hostile_json_rpc_bodies_get_json_rpc_errors(filesystem_server: McpServer, with_session: bool) -> None:
    server = filesystem_server.process
    session = _session(server) if with_session else None
    for body in HOSTILE_BODIES:
        response = _post(server, body, session)
        assert response.status_code < 500, (body[:80], response.status_code, response.text[:300])
        if response.status_code >= 400:
            problem = json_rpc_error_shape(response.status_code, response.json())
            assert problem is None, (body[:80], problem, response.text[:300])
        elif response.status_code != 202:  # 202: taken as a notification (the SDK does so for an object id)
            messages = _messages(response)
            assert all("error" in m or "result" in m for m in messages), (body[:80], response.text[:300])
    _healthy(server)


def test_paths_outside_the_sandbox_are_refused(filesystem_server: McpServer) -> None:
    server = filesystem_server.process
    session = _session(server)
    escapes = [str(filesystem_server.secret), "../secret.txt", "./../../secret.txt", "a/../../secret.txt", "\x00"]
    for tool in ("read_file", "get_path_info", "delete_path"):
        for path in escapes:
            call = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": tool, "arguments": {"path": path}},
            }
            response = _post(server, orjson.dumps(call), session)
            assert response.status_code == 200, response.text
            (message,) = _messages(response)
            assert message["result"]["isError"] is True, (tool, path, message)
            assert SECRET not in response.text
    assert filesystem_server.secret.read_text() == SECRET
    _healthy(server)
