"""The console's Ask and Knowledge pages in headless Chromium, against a real gateway and a fake agent: an answer
with its route, sources and trace link; the knowledge list, an ingest followed to the end, a removal; axe clean."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Watched, no_serious_violations, sign_in
from tests.browser.test_console_browser import shot
from tests.support.fake_agent import FakeAgentProcess, gateway_with_fake_agent
from tests.support.gateway import RunningProcess, fake_upstream

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture(scope="module")
def agent_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningProcess, FakeAgentProcess, Path]]:
    tmp = tmp_path_factory.mktemp("browser-agent")
    with fake_upstream(tmp, "a") as upstream, gateway_with_fake_agent(tmp, upstream) as (gateway, agent):
        yield gateway, agent, tmp


def test_ask_then_manage_the_knowledge_base(
    watched: Watched, agent_stack: tuple[RunningProcess, FakeAgentProcess, Path], screenshots: Path
) -> None:
    gateway, _, tmp = agent_stack
    page = watched.page
    sign_in(page, gateway.base_url)
    page.get_by_role("link", name="Ask", exact=True).click()
    page.get_by_label("Question").fill("How long do returns take?")
    page.get_by_label("Stream the answer").uncheck()  # the whole answer from /query
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.locator("#ask-answer")).to_have_text("Fake agent answer to: How long do returns take?")
    expect(page.locator("[data-fact=route]")).to_have_text("route: knowledge")
    expect(page.locator("[data-fact=relevance]")).to_have_text("relevance: 0.82")
    expect(page.locator("[data-fact=grade]")).to_have_text("grade: answerable (0.71)")
    expect(page.locator("[data-fact=total]")).to_have_text("total: 58 ms")
    sources = page.get_by_role("table", name="Sources")
    expect(sources).to_contain_text("sample/returns-policy.md")
    expect(sources).to_contain_text("Passage 1 of sample/returns-policy.md")
    expect(page.locator("#ask-evidence")).to_contain_text("sample/returns-policy.md")
    trace = page.get_by_role("link", name="Open its trace")
    expect(trace).to_have_attribute("href", re.compile(r"^#traces/[0-9a-f]{32}$"))
    whole_trace = trace.get_attribute("href")

    page.get_by_label("Stream the answer").check()  # the agent's /query/stream, shown as it arrives
    page.get_by_label("Question").fill("Which carriers ship overnight?")
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.locator("#ask-answer")).to_have_text("Fake agent answer to: Which carriers ship overnight?")
    expect(page.locator("[data-fact=route]")).to_have_text("route: knowledge")
    expect(page.locator("[data-fact=relevance]")).to_have_text("relevance: 0.82")
    expect(page.locator("[data-fact=total]")).to_have_text("total: 58 ms")
    expect(page.locator("[data-fact=first_token]")).to_have_text(re.compile(r"first_token: \d+ ms"))
    expect(sources).to_contain_text("Passage 1 of sample/returns-policy.md about Which carriers ship overnight.")
    expect(page.locator("[data-fact=grade]")).to_have_text("grade: answerable (0.71)")
    expect(page.locator("#ask-evidence")).to_contain_text("about Which carriers ship overnight")
    expect(trace).to_have_attribute("href", re.compile(r"^#traces/[0-9a-f]{32}$"))
    assert trace.get_attribute("href") != whole_trace, "each question is its own trace"
    page.get_by_role("link", name="Traces of this session").click()
    expect(page.get_by_label("Session id")).to_have_value("fake-session-1")
    expect(page.locator("#trace-table caption")).to_have_text("Traces in session fake-session-1")
    page.go_back()
    no_serious_violations(page)
    shot(page, screenshots, "ask")

    page.get_by_role("link", name="Knowledge", exact=True).click()
    documents = page.get_by_role("table", name="Documents")
    expect(documents).to_contain_text("sample/shipping-times.md")
    expect(page.locator("#kb-totals")).to_have_text("2 documents, 7 chunks")
    handbook = tmp / "docs" / "handbook"
    handbook.mkdir(parents=True)
    for name in ("leave.md", "travel.md"):
        (handbook / name).write_text(f"# {name}\n")
    page.get_by_label("Folder to ingest (inside the agent's ingest roots)").fill(str(handbook))
    page.get_by_role("button", name="Ingest").click()
    expect(page.locator("#kb-job-text")).to_have_text("succeeded: 2 of 2 files, 4 chunks written")
    expect(documents).to_contain_text("handbook/travel.md")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove sample/shipping-times.md").click()
    expect(page.locator("#notice")).to_have_text("Removed 1 file(s), 3 chunks.")
    expect(documents).not_to_contain_text("sample/shipping-times.md")
    no_serious_violations(page)
    shot(page, screenshots, "knowledge")


def test_health_lists_every_service_of_the_stack(
    watched: Watched, agent_stack: tuple[RunningProcess, FakeAgentProcess, Path], screenshots: Path
) -> None:
    gateway, _, _ = agent_stack
    page = watched.page
    sign_in(page, gateway.base_url)
    page.get_by_role("link", name="Health").click()
    services = page.locator("#health-services tbody tr")
    expect(services).to_have_count(6)
    expect(services.nth(0)).to_contain_text("gateway")
    expect(services.nth(1)).to_contain_text("agent")
    expect(services.filter(has_text="knowledge store")).to_contain_text("42 chunks")
    expect(services.filter(has_text="web-search MCP")).to_contain_text("degraded")
    expect(services.filter(has_text="filesystem MCP")).to_contain_text("ok")
    expect(page.locator("#health-agent-note")).to_be_hidden()
    no_serious_violations(page)
    shot(page, screenshots, "health")


def test_without_an_agent_the_nav_says_not_configured(watched: Watched, gateway: RunningProcess) -> None:
    page = watched.page
    sign_in(page, gateway.base_url)
    page.get_by_role("link", name="Ask (agent not configured)").click()
    expect(page.locator("#page-ask").get_by_text("Agent not configured: set")).to_be_visible()
    expect(page.get_by_label("Question")).to_be_hidden()
