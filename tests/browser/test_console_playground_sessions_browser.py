"""A playground conversation in headless Chromium is a session: after two turns, *Traces of this conversation*
opens the Traces page filtered by the conversation's id, listing exactly its two requests."""

from __future__ import annotations

import time
from urllib.parse import unquote

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Watched, no_serious_violations, sign_in
from tests.support.gateway import RunningProcess

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_a_playground_conversation_opens_its_own_traces(watched: Watched, gateway: RunningProcess) -> None:
    page = watched.page
    sign_in(page, gateway.base_url)
    page.get_by_label("Model", exact=True).select_option("alpha")
    alpha = page.get_by_role("article", name="Reply from alpha")
    for text in ("a conversation's first turn", "and its second"):
        page.get_by_label("Message").fill(text)
        page.get_by_role("button", name="Send").click()
        expect(alpha.locator(".reply")).to_have_text(f"[a] {text}")
    link = page.get_by_role("link", name="Traces of this conversation")
    href = link.get_attribute("href") or ""
    session = unquote(href.partition("#traces/session=")[2])
    assert session.startswith("playground-"), href
    link.click()
    expect(page.get_by_label("Session id")).to_have_value(session)
    rows = page.locator("#trace-table tbody tr")
    deadline = time.monotonic() + 30
    while rows.count() < 2:  # the exporter writes in batches
        assert time.monotonic() < deadline, f"fewer than two traces of {session}"
        page.wait_for_timeout(300)
        page.get_by_role("button", name="Refresh").click()
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text=session)).to_have_count(2)
    no_serious_violations(page)
