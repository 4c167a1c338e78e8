"""MCP sessions a client never closes (a health check's bare `initialize`) are closed once idle, and the open
sessions and the idle timeout are in /metrics; a DELETE still closes a session at once."""

from __future__ import annotations

import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from inferstack.mcp_servers.assembly import build_http_app
from inferstack.mcp_servers.filesystem import build_filesystem_service
from inferstack.mcp_servers.settings import FilesystemServerSettings
from tests.unit.mcp_servers.test_mcp_path import HEADERS, INITIALIZE


def gauge(http: TestClient, name: str) -> float:
    for family in text_string_to_metric_families(http.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"{name} is not in /metrics")


def wait_for_sessions(http: TestClient, count: float) -> float:
    seen = gauge(http, "inferstack_mcp_sessions")
    for _ in range(200):
        if seen == count:
            break
        time.sleep(0.05)
        seen = gauge(http, "inferstack_mcp_sessions")
    return seen


def test_sessions_left_open_are_closed_when_idle(tmp_path: Path) -> None:
    service = build_filesystem_service(FilesystemServerSettings(root=tmp_path))
    app = build_http_app(service, host="127.0.0.1", session_idle_s=0.5)
    with TestClient(app, base_url="http://127.0.0.1:8002") as http:
        assert gauge(http, "inferstack_mcp_session_idle_timeout_seconds") == 0.5
        for _ in range(3):
            assert http.post("/mcp", json=INITIALIZE, headers=HEADERS).status_code == 200
        assert gauge(http, "inferstack_mcp_sessions") == 3
        assert wait_for_sessions(http, 0) == 0


def test_a_deleted_session_is_gone_at_once(tmp_path: Path) -> None:
    service = build_filesystem_service(FilesystemServerSettings(root=tmp_path))
    app = build_http_app(service, host="127.0.0.1")
    with TestClient(app, base_url="http://127.0.0.1:8002") as http:
        session = http.post("/mcp", json=INITIALIZE, headers=HEADERS).headers["mcp-session-id"]
        assert gauge(http, "inferstack_mcp_sessions") == 1
        assert http.delete("/mcp", headers={**HEADERS, "mcp-session-id": session}).status_code == 200
        assert wait_for_sessions(http, 0) == 0
