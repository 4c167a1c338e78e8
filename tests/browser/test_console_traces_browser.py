"""The console's traces and tools in headless Chromium: a model call replayed from its trace into the playground
(which then streams a reply), links to Langfuse and Phoenix, traces filtered by session, and the playground's tools
editor (a clear error for bad JSON, then a reply's tool call shown); axe finds no serious violation."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from inferstack.observability.trace_store import StoredSpan, TraceStore
from tests.browser.conftest import LANGFUSE_URL, PHOENIX_URL, Watched, no_serious_violations, sign_in
from tests.browser.test_console_browser import shot
from tests.support.gateway import RunningProcess

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _upstream_url(gateway: RunningProcess, name: str) -> str:
    """The fake upstream `name` beside the gateway (its log file names its port)."""
    (log,) = gateway.log_path.parent.glob(f"upstream-{name}-*.log")
    return "http://127.0.0.1:" + log.stem.rsplit("-", 1)[1]


def _open_trace_with(page: Page, marker: str) -> None:
    """Show the newest chat trace whose spans mention `marker` (the exporter writes in batches: refresh until then)."""
    page.get_by_role("link", name="Traces", exact=True).click()
    deadline = time.monotonic() + 30
    while True:
        rows = page.locator("#trace-table tbody tr").filter(has_text="chat")
        if rows.count():
            rows.first.get_by_role("button", name=re.compile("Show trace")).click()
            expect(page.locator("#span-table tbody tr").first).to_be_visible()
            if marker in page.locator("#span-table").inner_text():
                return
        assert time.monotonic() < deadline, f"no trace with {marker!r}"
        page.wait_for_timeout(300)
        page.get_by_role("button", name="Refresh").click()


def test_a_traced_model_call_is_replayed_in_the_playground(
    watched: Watched, gateway: RunningProcess, screenshots: Path
) -> None:
    page = watched.page
    sign_in(page, gateway.base_url)
    page.get_by_label("Model", exact=True).select_option("alpha")
    page.get_by_label("System prompt").fill("Answer like a pirate.")
    page.get_by_label("Temperature").fill("0.2")
    page.get_by_label("max_tokens").fill("32")
    page.get_by_label("Seed").fill("5")
    page.get_by_label("Message").fill("replay me from the trace")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("article", name="Reply from alpha").locator(".reply")).to_have_text(
        "[a] replay me from the trace"
    )
    page.get_by_role("button", name="New conversation").click()
    page.get_by_label("System prompt").fill("")
    page.get_by_label("Temperature").fill("1")
    page.get_by_label("Seed").fill("")
    _open_trace_with(page, "replay me from the trace")
    trace_id = page.locator("#trace-waterfall").get_attribute("src").split("/")[-2]  # type: ignore[union-attr]
    links = page.locator("#trace-links")
    expect(links.get_by_role("link", name=re.compile("Langfuse"))).to_have_attribute(
        "href", f"{LANGFUSE_URL}/trace/{trace_id}"
    )
    expect(links.get_by_role("link", name=re.compile("Phoenix"))).to_have_attribute(
        "href", f"{PHOENIX_URL}/redirects/traces/{trace_id}"
    )
    row_links = page.locator("#trace-table tbody tr").first.get_by_role("link")
    expect(row_links).to_have_count(2)
    no_serious_violations(page)
    shot(page, screenshots, "traces")
    replays = page.get_by_role("button", name=re.compile(r"^Replay .* in the playground$"))
    expect(replays).to_have_count(1)  # only the gateway's upstream attempt carries captured content
    replays.focus()  # by keyboard, with the focus ring visible
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    expect(replays).to_be_focused()
    assert replays.evaluate("b => getComputedStyle(b).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Playground")).to_be_visible()
    expect(page.locator("#notice")).to_contain_text("Loaded the request")
    expect(page.get_by_label("Model", exact=True)).to_have_value("alpha")
    expect(page.get_by_label("System prompt")).to_have_value("Answer like a pirate.")
    expect(page.get_by_label("Message")).to_have_value("replay me from the trace")
    expect(page.get_by_label("Temperature")).to_have_value("0.2")
    expect(page.get_by_label("max_tokens")).to_have_value("32")
    expect(page.get_by_label("Seed")).to_have_value("5")
    expect(page.get_by_label("Message")).to_be_focused()
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("article", name="Reply from alpha").locator(".reply")).to_have_text(
        "[a] replay me from the trace"
    )
    expect(page.locator("[data-stat=TTFT]")).to_have_text(re.compile(r"TTFT: \d+ ms"))


def test_traces_are_filtered_by_session(watched: Watched, gateway: RunningProcess) -> None:
    store = TraceStore(gateway.log_path.parent / "traces.db")  # as the agent writes it under `inferstack up`
    now = time.time_ns()
    store.add(
        [
            StoredSpan(
                f"{n:032x}",
                "22" * 8,
                "",
                "invoke_agent supervisor",
                "agent",
                "SERVER",
                now + n,
                now + n + 9,
                "OK",
                {"session.id": session},
                [],
            )
            for n, session in ((0xA1, "browser-session"), (0xA2, "other-session"))
        ]
    )
    page = watched.page
    sign_in(page, gateway.base_url)
    page.get_by_role("link", name="Traces", exact=True).click()
    page.get_by_label("Session id").fill("browser-session")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#trace-table tbody tr")
    expect(page.locator("#trace-table caption")).to_have_text("Traces in session browser-session")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("invoke_agent supervisor")
    page.get_by_role("button", name="All traces").click()
    expect(rows.filter(has_text="other-session")).to_have_count(1)
    rows.filter(has_text="other-session").get_by_role("button", name="Only traces of session other-session").click()
    expect(rows).to_have_count(1)
    expect(page.get_by_label("Session id")).to_have_value("other-session")
    no_serious_violations(page)


def test_the_playground_sends_tools_and_shows_the_tool_call(
    watched: Watched, gateway: RunningProcess, screenshots: Path
) -> None:
    upstream = _upstream_url(gateway, "a")
    page = watched.page
    sign_in(page, gateway.base_url)
    page.get_by_label("Model", exact=True).select_option("alpha")
    tools = page.get_by_label("Tools (JSON array of function tools, optional)")
    expect(tools).to_be_hidden()  # folded away until asked for
    page.get_by_text("Structured output and tools (optional)").click()
    tools.fill('[{"type": "function", "function": {"name": "get_weather"}')
    page.get_by_label("Message").fill("weather in Paris?")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#pg-tools-error")).to_contain_text("Tools: not valid JSON")
    expect(tools).to_have_attribute("aria-invalid", "true")
    expect(tools).to_be_focused()
    tools.fill('[{"type": "function"}]')
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#pg-tools-error")).to_have_text(
        'Tools: item 1 needs "type": "function" and a "function" with a "name"'
    )
    definition = (
        '[{"type": "function", "function": {"name": "get_weather", "parameters": '
        '{"type": "object", "properties": {"city": {"type": "string"}}}}}]'
    )
    tools.fill(definition)
    page.get_by_label("tool_choice").select_option("required")
    httpx.post(
        upstream + "/_control", json={"script": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}, timeout=5
    ).raise_for_status()
    page.get_by_role("button", name="Send").click()
    calls = page.get_by_role("list", name="Tool calls from alpha")
    expect(calls).to_have_text('Tool call: get_weather({"city":"Paris"})')
    expect(tools).not_to_have_attribute("aria-invalid", "true")
    sent = httpx.get(upstream + "/_stats", timeout=5).json()["last_body"]
    assert sent["tool_choice"] == "required"
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    no_serious_violations(page)
    shot(page, screenshots, "playground-tools")
