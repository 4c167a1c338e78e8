"""A playground conversation is a session: its chats go through `/ui/api/chat` with the conversation's id as
`metadata.session_id` (as the playground sends them), and the Traces page's session filter lists exactly them."""

from __future__ import annotations

import time
import uuid
from contextlib import closing
from typing import Any

import httpx
import pytest

from tests.integration.console.test_console_api import signed_in
from tests.support.gateway import RunningProcess, new_key

pytestmark = pytest.mark.integration


def _session_traces(client: httpx.Client, session: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        traces: list[dict[str, Any]] = client.get("/ui/api/traces", params={"session": session}).json()["traces"]
        if len(traces) >= count:
            return traces
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} traces of session {session!r}")


def test_a_playground_conversation_is_listed_by_its_session(console_gateway: RunningProcess) -> None:
    holder, csrf = signed_in(console_gateway, new_key(console_gateway, key_alias="conversations"))
    session = f"playground-{uuid.uuid4().hex[:10]}"
    with closing(holder):
        for text in ("first turn", "second turn"):
            body = {
                "model": "alpha",
                "messages": [{"role": "user", "content": text}],
                "stream": True,
                "metadata": {"session_id": session},
            }
            with holder.stream("POST", "/ui/api/chat", json=body, headers={"X-CSRF-Token": csrf}) as response:
                assert response.status_code == 200
                assert "[DONE]" in "".join(response.iter_text())
        traces = _session_traces(holder, session, 2)
        assert len(traces) == 2 and {t["session_id"] for t in traces} == {session}
        for trace in traces:
            spans = holder.get(f"/ui/api/traces/{trace['trace_id']}").json()["spans"]
            upstream = next(s for s in spans if s["name"].startswith("upstream "))
            assert upstream["attributes"]["session.id"] == session
            assert upstream["attributes"]["gen_ai.usage.output_tokens"] > 0
        assert holder.get("/ui/api/traces", params={"session": "playground-nobody"}).json()["traces"] == []
