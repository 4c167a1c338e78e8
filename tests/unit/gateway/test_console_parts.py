"""The console's framework-free parts: usage sums and CSV, the SVG charts, replayed requests and
trace links."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from pathlib import Path
from typing import Any

import pytest

from inferstack.core.errors import InvalidRequestError
from inferstack.gateway.console.charts import bar_chart, waterfall
from inferstack.gateway.console.replay import is_replayable, replay_request, trace_link_bases, trace_links
from inferstack.gateway.console.usage import summarize, to_csv
from inferstack.observability.trace_store import StoredSpan


def _row(token: str, model: str, spend: float, day: float) -> dict[str, object]:
    return {
        "token": token,
        "model": model,
        "prompt_tokens": 3,
        "completion_tokens": 2,
        "total_tokens": 5,
        "spend": spend,
        "status": "success",
        "started_at": day,
        "duration_ms": 10,
    }


def test_usage_sums_by_key_model_and_day_and_csv_cells_are_never_formulas() -> None:
    day1, day2 = 1_767_225_600.0, 1_767_225_600.0 + 86_400
    rows = [_row("aa", "alpha", 0.5, day1), _row("aa", "beta", 0.25, day2), _row("bb", "alpha", 1.0, day2)]
    summary = summarize(rows, {"aa": "=cmd|' /C calc'!A0", "bb": "team-b"})
    assert summary["totals"] == {"requests": 3, "prompt_tokens": 9, "completion_tokens": 6, "spend": 1.75}
    by_model = {r["name"]: r for r in summary["by"]["model"]}
    assert by_model["alpha"] == {"name": "alpha", "requests": 2, "tokens": 10, "spend": 1.5}
    assert [r["name"] for r in summary["by"]["day"]] == ["2026-01-01", "2026-01-02"]
    parsed = list(csv.reader(io.StringIO(to_csv(rows, {"aa": "=cmd|' /C calc'!A0", "bb": "team-b"}))))
    assert parsed[1][1] == "'=cmd|' /C calc'!A0" and parsed[3][1] == "team-b"


def test_charts_escape_labels() -> None:
    svg = bar_chart("requests by key", [("<script>alert(1)</script>", 2.0), ("b&c", 1.0)])
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "b&amp;c" in svg
    assert "no requests yet" in bar_chart("empty", [])
    now = time.time_ns()
    spans = [
        {
            "span_id": "1",
            "parent_id": "",
            "name": "POST /v1/chat/completions",
            "start_ns": now,
            "end_ns": now + 10_000_000,
            "status": "UNSET",
            "duration_ms": 10.0,
        },
        {
            "span_id": "2",
            "parent_id": "1",
            "name": "<upstream>",
            "start_ns": now + 1_000_000,
            "end_ns": now + 9_000_000,
            "status": "ERROR",
            "duration_ms": 8.0,
        },
    ]
    drawn = waterfall(spans)
    assert drawn.count("<rect") == 2 and "&lt;upstream&gt;" in drawn and "#a4161a" in drawn


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)"])
def test_formula_prefixes_are_quoted(value: str) -> None:
    parsed = list(csv.reader(io.StringIO(to_csv([_row("aa", value, 0.0, 0.0)], {}))))
    assert parsed[1][2] == "'" + value


def _stored(attributes: dict[str, object]) -> StoredSpan:
    return StoredSpan("a" * 32, "b" * 16, "", "upstream alpha#0", "gateway", "CLIENT", 1, 2, "OK", attributes, [])


def test_a_replay_request_is_rebuilt_from_captured_attributes_only() -> None:
    captured = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "alpha",
        "gen_ai.input.messages": '[{"role": "user", "content": "hi"}]',
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.seed": 3,
        "inferstack.request.tool_choice": '"auto"',
        "inferstack.request.response_format": '{"type": "json_object"}',
    }
    assert is_replayable(_stored(captured))
    assert replay_request(_stored(captured)) == {
        "model": "alpha",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.2,
        "seed": 3,
        "tool_choice": "auto",
        "response_format": {"type": "json_object"},
    }
    uncaptured = {k: v for k, v in captured.items() if k != "gen_ai.input.messages"}
    embeddings = {**captured, "gen_ai.operation.name": "embeddings"}
    garbled = {**captured, "gen_ai.input.messages": "[not json"}
    assert not is_replayable(_stored(uncaptured)) and not is_replayable(_stored(embeddings))
    for attributes, words in ((uncaptured, "capture_content"), (embeddings, "chat"), (garbled, "read back")):
        with pytest.raises(InvalidRequestError, match=words) as raised:
            replay_request(_stored(attributes))
        assert raised.value.code == "not_replayable"


def test_trace_links_come_from_the_console_urls_or_the_langfuse_export_host() -> None:
    assert trace_link_bases("", "", "") == {}
    assert trace_link_bases("", "", "https://cloud.langfuse.com") == {"Langfuse": "https://cloud.langfuse.com"}
    bases = trace_link_bases("http://lf.local:3000/", "http://127.0.0.1:6006", "https://cloud.langfuse.com")
    assert trace_links(bases, "ab" * 16) == [
        {"name": "Langfuse", "url": "http://lf.local:3000/trace/" + "ab" * 16},
        {"name": "Phoenix", "url": "http://127.0.0.1:6006/redirects/traces/" + "ab" * 16},
    ]


async def test_a_trace_not_stored_yet_is_waited_for_and_an_unknown_one_is_not_found(tmp_path: Path) -> None:
    from inferstack.gateway.console.service import ConsoleService
    from inferstack.observability.trace_store import TraceStore

    store = TraceStore(tmp_path / "traces.db")
    nothing: Any = None  # the trace lookup needs no key registry and no sessions
    service = ConsoleService(nothing, dict, sessions=nothing, trace_store=tmp_path / "traces.db")

    async def arrives_later() -> None:
        await asyncio.sleep(0.6)
        store.add([_stored({})])

    arriving = asyncio.create_task(arrives_later())
    spans = await service.trace("a" * 32, wait_s=10)
    await arriving
    assert [s.name for s in spans or []] == ["upstream alpha#0"]
    assert await service.trace("c" * 32, wait_s=0.3) == []
