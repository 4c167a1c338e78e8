"""The trace store lists the traces of one session (`session.id`, else `gen_ai.conversation.id`) or of one key
(`inferstack.key.id`) and names each trace's session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inferstack.observability.trace_store import StoredSpan, TraceStore


def _span(trace: str, span: str, start: int, attributes: dict[str, Any], parent: str = "") -> StoredSpan:
    return StoredSpan(trace, span, parent, f"s{span}", "svc", "SERVER", start, start + 10, "OK", attributes, [])


def test_traces_are_filtered_by_session(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "traces.db")
    store.add([_span("a" * 32, "1" * 16, 1, {"session.id": "chat-1"})])
    store.add([_span("b" * 32, "2" * 16, 2, {}), _span("b" * 32, "3" * 16, 3, {"gen_ai.conversation.id": "chat-2"})])
    store.add([_span("c" * 32, "4" * 16, 4, {"session.id": "chat-1"}), _span("d" * 32, "5" * 16, 5, {})])
    assert [t.trace_id for t in store.list_traces(session="chat-1")] == ["c" * 32, "a" * 32]
    assert [t.trace_id for t in store.list_traces(session="chat-2")] == ["b" * 32]
    assert store.list_traces(session="nobody") == []
    listed = {t.trace_id[0]: t.session_id for t in store.list_traces()}
    assert listed == {"a": "chat-1", "b": "chat-2", "c": "chat-1", "d": ""}
    assert [t.trace_id for t in store.list_traces(1, session="chat-1")] == ["c" * 32]


def test_traces_are_filtered_by_the_key_that_made_them(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "traces.db")
    store.add([_span("a" * 32, "1" * 16, 1, {}), _span("a" * 32, "2" * 16, 2, {"inferstack.key.id": "k1"}, "1" * 16)])
    store.add([_span("b" * 32, "3" * 16, 3, {"inferstack.key.id": "k2", "session.id": "s"})])
    store.add([_span("c" * 32, "4" * 16, 4, {"inferstack.key.id": "k1", "session.id": "s"})])
    assert [t.trace_id for t in store.list_traces(key_id="k1")] == ["c" * 32, "a" * 32]
    assert [t.trace_id for t in store.list_traces(key_id="k2")] == ["b" * 32]
    assert [t.trace_id for t in store.list_traces(session="s", key_id="k1")] == ["c" * 32]
    assert store.list_traces(key_id="k3") == []
