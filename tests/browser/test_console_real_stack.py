"""The console in headless Chromium against the real stack (`inferstack up`: SmolLM2 model server, gateway, agent,
MCP servers): a playground reply from the real model, a streamed answer from the real agent with its sources and a
trace spanning agent, gateway and model server, the Services table, and sign-out; axe clean on the answer."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

from inferstack.observability.trace_store import TraceStore
from tests.browser.conftest import Watched, no_serious_violations, sign_in
from tests.browser.test_console_browser import shot
from tests.e2e.running_stack import Stack, write_config

pytestmark = [pytest.mark.browser, pytest.mark.realmodel, pytest.mark.e2e]
# Deadlines against hangs on two shared cores (the real model answers in seconds; these are never assertions).
ANSWER_S = 180_000
SERVICES = {"inferstack-agent", "inferstack-gateway", "inferstack-serve"}
GENERATION = ("POST /v1/chat/completions", "inferstack-serve")
ROOT = ("POST /query/stream", "inferstack-agent")


@pytest.fixture(scope="module")
def labelled() -> dict[str, str]:
    from inferstack.sample_knowledge import eval_questions_path

    first: dict[str, str] = json.loads(eval_questions_path().read_text().splitlines()[0])
    return first


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, labelled: dict[str, str]) -> Iterator[Stack]:
    from inferstack.sample_knowledge import documents_dir

    tmp = tmp_path_factory.mktemp("browser-real-stack")
    # One sample document (the labelled question's own) keeps the ingestion at start-up short.
    knowledge = tmp / "knowledge"
    knowledge.mkdir()
    shutil.copy(documents_dir() / labelled["source"], knowledge)
    config = tmp / "inferstack.yaml"
    # A generated answer (not one quoted from a passage): the Ask page streams the real model's tokens.
    write_config(config, stack={"knowledge": str(knowledge)}, agent={"answer_style": "generative"})
    with Stack(config, tmp / "data", tmp / "up.log").running() as running:
        yield running


def _gateway_url(stack: Stack) -> str:
    ports = yaml.safe_load(stack.config.read_text())["stack"]["ports"]
    return f"http://127.0.0.1:{ports['gateway']}"


def _wait_for_whole_trace(stack: Stack, trace_id: str) -> None:
    """Each service writes its finished spans to the trace store in batches: wait until the question's trace holds
    the agent's root span (the last to end) and a span of every service, as a reader clicking later would find it."""
    store = TraceStore(stack.data_dir / "traces.db")
    deadline = time.monotonic() + 60
    while True:
        spans = {(s.name, s.service) for s in store.spans(trace_id)}
        if ROOT in spans and GENERATION in spans and {service for _, service in spans} >= SERVICES:
            return
        assert time.monotonic() < deadline, f"the trace's spans in the store: {sorted(spans)}"
        time.sleep(0.5)


def test_playground_ask_trace_health_and_sign_out_on_the_real_stack(
    watched: Watched, stack: Stack, labelled: dict[str, str], screenshots: Path
) -> None:
    page = watched.page
    base_url = _gateway_url(stack)
    sign_in(page, base_url, (stack.data_dir / "master.key").read_text().strip())

    # Playground: the real chat model streams a reply, with its first-token time and token counts.
    expect(page.get_by_role("heading", name="Playground")).to_be_visible()
    model = page.get_by_label("Model", exact=True)
    expect(model).not_to_have_value("")
    chat_model = model.input_value()
    page.get_by_label("max_tokens").fill("16")
    page.get_by_label("Message").fill("Say hello in one short sentence.")
    page.get_by_role("button", name="Send").click()
    reply = page.get_by_role("article", name=f"Reply from {chat_model}")
    expect(reply.locator("[data-stat=latency]")).to_have_text(re.compile(r"latency: \d+ ms"), timeout=ANSWER_S)
    expect(reply.locator(".reply")).to_have_text(re.compile(r"\S"))
    expect(reply.locator("[data-stat=TTFT]")).to_have_text(re.compile(r"TTFT: \d+ ms"))
    expect(reply.locator("[data-stat=tokens]")).to_have_text(re.compile(r"tokens: \d+ in / [1-9]\d* out"))
    shot(page, screenshots, "real-playground")

    # Ask: the agent's streamed answer, its route and relevance, and the labelled document among the sources.
    page.get_by_role("link", name="Ask", exact=True).click()
    page.get_by_label("Question").fill(labelled["question"])
    expect(page.get_by_label("Stream the answer")).to_be_checked()
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.locator("[data-fact=total]")).to_have_text(re.compile(r"total: \d+ ms"), timeout=ANSWER_S)
    expect(page.locator("#ask-answer")).to_have_text(re.compile(r"\S"))
    expect(page.locator("[data-fact=route]")).to_have_text(re.compile(r"route: \w+"))
    expect(page.locator("[data-fact=relevance]")).to_have_text(re.compile(r"relevance: \d\.\d\d"))
    expect(page.locator("[data-fact=first_token]")).to_have_text(re.compile(r"first_token: \d+ ms"))
    expect(page.get_by_role("table", name="Sources")).to_contain_text(labelled["source"])
    trace = page.get_by_role("link", name="Open its trace")
    expect(trace).to_have_attribute("href", re.compile(r"^#traces/[0-9a-f]{32}$"))
    no_serious_violations(page)
    shot(page, screenshots, "real-ask")

    # Traces: one trace holds the spans of the agent, the gateway and the model server, drawn as a waterfall.
    trace_id = (trace.get_attribute("href") or "").removeprefix("#traces/")
    _wait_for_whole_trace(stack, trace_id)
    trace.click()
    expect(page.get_by_role("heading", name=re.compile(f"^Trace {trace_id[:16]}"))).to_be_visible()
    spans = page.get_by_role("table", name="Spans").locator("tbody tr")
    for name, service in (ROOT, GENERATION, ("POST /v1/chat/completions", "inferstack-gateway")):
        expect(spans.filter(has_text=name).filter(has_text=service).first).to_be_visible()
    waterfall = page.locator("#trace-waterfall")
    expect(waterfall).to_have_attribute("src", f"/ui/api/traces/{trace_id}/waterfall.svg")
    expect(waterfall).to_have_js_property("complete", True)
    assert waterfall.evaluate("img => img.naturalWidth") > 0
    shot(page, screenshots, "real-traces")

    # Health: the gateway, the agent and the agent's dependencies.
    page.get_by_role("link", name="Health").click()
    rows = page.locator("#health-services tbody tr")
    agent = rows.filter(has=page.locator("td:first-child", has_text=re.compile(r"^agent$")))
    expect(agent.locator("td").nth(2)).to_have_text(re.compile(r"^(\d+) of \1 dependencies ok$"))
    names = [row.locator("td").first.inner_text() for row in rows.all()]
    for name in ("gateway", "knowledge store", "web-search MCP", "filesystem MCP"):
        assert name in names, names
    for row in rows.all():
        expect(row.locator("td").nth(1)).to_have_text("ok")
    shot(page, screenshots, "real-health")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
