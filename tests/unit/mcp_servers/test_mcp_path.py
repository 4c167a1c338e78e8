"""MCP is served at `/mcp` and at `/mcp/` alike: a POST to either answers, never a 307 redirect."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from inferstack.mcp_servers.assembly import build_http_app
from inferstack.mcp_servers.filesystem import build_filesystem_service
from inferstack.mcp_servers.settings import FilesystemServerSettings

# What the reference app's health check sends (JSON-RPC `initialize`, protocol 2024-11-05).
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2024-11-05",
        "capabilities": {},
        "clientInfo": {"name": "health-check", "version": "1.0"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.mark.parametrize("path", ["/mcp", "/mcp/"])
def test_initialize_answers_on_both_paths(tmp_path: Path, path: str) -> None:
    service = build_filesystem_service(FilesystemServerSettings(root=tmp_path))
    app = build_http_app(service, host="127.0.0.1")
    with TestClient(app, base_url="http://127.0.0.1:8002", follow_redirects=False) as http:
        response = http.post(path, json=INITIALIZE, headers=HEADERS)
    assert response.status_code == 200, response.text
    assert '"serverInfo"' in response.text and '"protocolVersion"' in response.text
