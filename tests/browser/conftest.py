"""Headless Chromium (Debian `chromium`, driven by playwright) against a real gateway and two fake upstreams.

Every page fails its test on a request to any host but 127.0.0.1 and on any browser console error (a CSP
violation is one). Screenshots go to one temporary folder whose path is printed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Browser, Page, Playwright, Route, sync_playwright

from tests.support.gateway import MASTER_KEY, RunningProcess, console_gateway_process

# Web UIs the traces page links to (never opened by a test: the links only have to point at the right trace).
LANGFUSE_URL = "http://127.0.0.1:3999"
PHOENIX_URL = "http://127.0.0.1:6999"
TRACE_LINKS = {
    "INFERSTACK_GATEWAY_CONSOLE__LANGFUSE_URL": LANGFUSE_URL,
    "INFERSTACK_GATEWAY_CONSOLE__PHOENIX_URL": PHOENIX_URL,
}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="package")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    tmp: Path = tmp_path_factory.mktemp("browser")
    with console_gateway_process(tmp, token_delay_ms=20, extra_env=TRACE_LINKS) as running:
        yield running


@pytest.fixture(scope="package")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("console-screenshots")
    print(f"\nconsole screenshots: {folder}")
    return folder


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    binary = shutil.which("chromium")
    assert binary, "chromium is missing: run `make test-services` (make test does)"
    launched = playwright.chromium.launch(executable_path=binary, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


class Watched:
    """A page with its off-host requests and console errors recorded."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.foreign: list[str] = []
        self.errors: list[str] = []


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    page = context.new_page()
    result = Watched(page)

    def only_loopback(route: Route) -> None:
        host = urlparse(route.request.url).hostname
        if route.request.url.startswith(("blob:", "data:")) or host == "127.0.0.1":
            route.continue_()
        else:
            result.foreign.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    page.on("console", lambda msg: result.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: result.errors.append(str(exc)))
    yield result
    context.close()
    assert result.foreign == [], f"requests to other hosts: {result.foreign}"
    # A 401 before sign-in is the console asking whether a session exists; anything else is a failure.
    errors = [e for e in result.errors if "401" not in e]
    assert errors == [], f"browser console errors: {errors}"


def sign_in(page: Page, base_url: str, key: str = MASTER_KEY) -> None:
    page.goto(base_url + "/ui/")
    page.get_by_label("Master key or virtual key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Pages").wait_for()


def no_serious_violations(page: Page) -> None:
    results = Axe().run(page)
    serious = [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], serious
