"""The console's trace API against a real gateway that captures content: replaying a model call (roles, refusals),
traces filtered by session, and no Langfuse/Phoenix links when none is configured."""

from __future__ import annotations

import time
from contextlib import closing
from typing import Any

import httpx
import pytest

from inferstack.observability.trace_store import StoredSpan, TraceStore
from tests.integration.console.test_console_api import signed_in
from tests.support.gateway import MASTER_KEY, RunningProcess, new_key

pytestmark = pytest.mark.integration

TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]


def _chat(client: httpx.Client, csrf: str, body: dict[str, Any]) -> str:
    with client.stream("POST", "/ui/api/chat", json=body, headers={"X-CSRF-Token": csrf}) as response:
        assert response.status_code == 200
        return "".join(response.iter_text())


def _model_call(admin: httpx.Client, marker: str) -> dict[str, Any]:
    """The replayable upstream span whose captured messages hold `marker` (the exporter writes in batches)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for trace in admin.get("/ui/api/traces").json()["traces"]:
            if "chat" not in trace["root_name"]:
                continue
            spans = admin.get(f"/ui/api/traces/{trace['trace_id']}").json()["spans"]
            for span in spans:
                if span["replayable"] and marker in span["attributes"].get("gen_ai.input.messages", ""):
                    return {"span": span, "spans": spans}
        time.sleep(0.2)
    raise AssertionError(f"no replayable span with {marker!r}")


def test_a_model_call_is_replayed_for_its_key_holder_and_the_admin_only(console_gateway: RunningProcess) -> None:
    holder_key = new_key(console_gateway, key_alias="replayer")
    holder, csrf = signed_in(console_gateway, holder_key)
    other, _ = signed_in(console_gateway, new_key(console_gateway, key_alias="not-the-replayer"))
    admin, _ = signed_in(console_gateway, MASTER_KEY)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "replay marker 41"}]
    sent = {
        "model": "alpha",
        "messages": messages,
        "stream": True,
        "temperature": 0.3,
        "top_p": 0.9,
        "max_tokens": 16,
        "seed": 7,
        "tools": TOOLS,
        "tool_choice": "auto",
    }
    with closing(holder), closing(other), closing(admin):
        assert '"finish_reason":"stop"' in _chat(holder, csrf, sent)
        found = _model_call(admin, "replay marker 41")
        span = found["span"]
        path = f"/ui/api/traces/{span['trace_id']}/spans/{span['span_id']}/replay"
        replayed = holder.get(path)
        assert replayed.status_code == 200, replayed.text
        expected = {k: v for k, v in sent.items() if k != "stream"}
        assert replayed.json()["request"] == expected
        assert admin.get(path).json()["request"] == expected
        refused = other.get(path)
        assert refused.status_code == 403 and refused.json()["error"]["type"] == "permission_error"
        mine = [t["trace_id"] for t in holder.get("/ui/api/traces").json()["traces"]]
        assert mine == [span["trace_id"]]  # a key holder lists the traces of their own key's requests only
        assert holder.get(f"/ui/api/traces/{span['trace_id']}").json()["spans"] == found["spans"]
        assert other.get("/ui/api/traces").json()["traces"] == []
        assert other.get(f"/ui/api/traces/{span['trace_id']}").status_code == 403
        assert holder_key not in replayed.text
        not_a_model_call = next(s for s in found["spans"] if not s["replayable"])
        plain = admin.get(f"/ui/api/traces/{span['trace_id']}/spans/{not_a_model_call['span_id']}/replay")
        assert plain.status_code == 400 and plain.json()["error"]["code"] == "not_replayable"
        assert admin.get(f"/ui/api/traces/{span['trace_id']}/spans/{'0' * 16}/replay").status_code == 404
        assert admin.get(f"/ui/api/traces/{span['trace_id']}/spans/nothex/replay").status_code == 400
    assert httpx.get(console_gateway.base_url + path).status_code == 401


def test_a_span_without_captured_content_is_not_replayable(console_gateway: RunningProcess) -> None:
    """A model call recorded by a gateway without capture_content (written straight into the shared store)."""
    store = TraceStore(console_gateway.log_path.parent / "traces.db")
    trace_id, span_id = "ab" * 16, "cd" * 8
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "alpha", "gen_ai.request.temperature": 1.0}
    now = time.time_ns()
    store.add(
        [StoredSpan(trace_id, span_id, "", "upstream alpha#0", "gateway", "CLIENT", now, now + 1, "OK", attributes, [])]
    )
    admin, _ = signed_in(console_gateway, MASTER_KEY)
    with closing(admin):
        spans = admin.get(f"/ui/api/traces/{trace_id}").json()["spans"]
        assert [s["replayable"] for s in spans] == [False]
        refused = admin.get(f"/ui/api/traces/{trace_id}/spans/{span_id}/replay")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "not_replayable" and "capture_content" in error["message"]


def test_traces_are_filtered_by_session_and_carry_no_links_when_none_is_configured(
    console_gateway: RunningProcess,
) -> None:
    store = TraceStore(console_gateway.log_path.parent / "traces.db")
    now = time.time_ns()
    spans = []
    for n, session in enumerate(("sess-alpha", "sess-alpha", "sess-beta")):
        trace_id = f"{n + 1:02x}" * 16
        attributes = {"session.id": session, "gen_ai.operation.name": "invoke_agent"}
        spans.append(
            StoredSpan(
                trace_id,
                "11" * 8,
                "",
                "invoke_agent supervisor",
                "agent",
                "SERVER",
                now + n,
                now + n + 5,
                "OK",
                attributes,
                [],
            )
        )
    store.add(spans)
    admin, _ = signed_in(console_gateway, MASTER_KEY)
    with closing(admin):
        alpha = admin.get("/ui/api/traces", params={"session": "sess-alpha"}).json()
        beta = admin.get("/ui/api/traces", params={"session": "sess-beta"}).json()["traces"]
        none = admin.get("/ui/api/traces", params={"session": "sess-nobody"}).json()["traces"]
        bad = admin.get("/ui/api/traces", params={"session": "no spaces please"})
        everything = admin.get("/ui/api/traces").json()
        detail = admin.get(f"/ui/api/traces/{'01' * 16}").json()
    assert [t["trace_id"] for t in alpha["traces"]] == ["02" * 16, "01" * 16]
    assert {t["session_id"] for t in alpha["traces"]} == {"sess-alpha"}
    assert [t["trace_id"] for t in beta] == ["03" * 16] and none == []
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "session"
    assert alpha["links"] == [] and everything["links"] == [] and detail["links"] == []
    assert all(t["links"] == [] for t in everything["traces"])
