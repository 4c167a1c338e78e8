"""The console's framework-free parts: the session table, usage sums and CSV, and the SVG charts."""

from __future__ import annotations

import csv
import io
import time

import pytest

from inferstack.gateway.console.charts import bar_chart, waterfall
from inferstack.gateway.console.sessions import SessionTable
from inferstack.gateway.console.usage import summarize, to_csv


def test_sessions_are_found_by_their_id_only_and_expire() -> None:
    table = SessionTable(ttl_s=60)
    session_id, session = table.create(key="sk-secret", role="key", token="t1", name="alias")
    assert table.get(session_id) is session
    assert table.get(session_id + "x") is None and table.get(None) is None
    assert "sk-secret" not in repr(session) and session.csrf not in repr(session)
    assert session.csrf_matches(session.csrf) and not session.csrf_matches("wrong") and not session.csrf_matches(None)
    expired = SessionTable(ttl_s=-1)
    old_id, _ = expired.create(key="k", role="admin", token="", name="m")
    assert expired.get(old_id) is None and len(expired) == 0


def test_the_session_table_is_bounded_and_drops_a_revoked_keys_sessions() -> None:
    table = SessionTable(max_sessions=3)
    ids = [table.create(key=f"k{i}", role="key", token=f"t{i % 2}", name="n")[0] for i in range(5)]
    assert len(table) == 3 and table.get(ids[0]) is None and table.get(ids[4]) is not None
    table.drop_token("t0")
    assert [table.get(i) is not None for i in ids[2:]] == [False, True, False]
    table.drop(ids[3])
    assert len(table) == 0


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
