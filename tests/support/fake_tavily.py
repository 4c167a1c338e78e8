"""FakeTavilyServer: Tavily's search API on loopback with deterministic results, for tests of anything that searches.

It speaks Tavily's wire protocol: `POST /search` with a JSON body, the key as `Authorization: Bearer <key>` or
as `api_key` in the body, errors as `{"detail": {"error": "..."}}` (401 bad or missing key, 400 bad argument).
Results are derived from the query, so the same request always gets the same answer:

    title   "<query> - result <n>"             url   "https://example.com/<query-slug>/<n>"
    content "Result <n> about <query>: ..."    score 0.95, 0.90, 0.85, ...   (news: news.example.com, with a
    answer  "Fake answer for: <query>" when include_answer is set, else null     published_date per result)

In process (async; the server runs on the caller's event loop):

    async with FakeTavilyServer(api_keys=["tvly-test"]) as fake:
        fake.base_url                 # e.g. http://127.0.0.1:40123 (point the client's base URL here)
        fake.requests                 # list[RecordedRequest], every /search received, failures included
        fake.fail_with(500, times=1)  # the next search answers 500; fail_with(None) heals
        fake.delay_s = 2.0            # every search waits this long first (timeouts)

As a process (any test suite, or by hand), with the same control over HTTP:

    python -m tests.support.fake_tavily --port 8123 [--api-key K ...] [--fail-with 500] [--delay-ms 0]

    with fake_tavily_process(log_dir) as fake:   # starts it on a free port and waits for GET /health
        fake.base_url; fake.requests(); fake.fail_with(500); fake.set_delay(1.5); fake.clear()

Control endpoints: GET /health, GET /_fake/requests, DELETE /_fake/requests,
POST /_fake/failure {"status": 500 | null, "times": 1 | null}, POST /_fake/delay {"seconds": 0.5}.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from aiohttp import web

from tests.support.processes import RunningProcess, module_process

DEFAULT_API_KEY = "tvly-test-key"
MAX_RESULTS = 20  # Tavily's own ceiling
_NEWS_EPOCH = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class RecordedRequest:
    """One request to POST /search as received: the key (and where it came from) and the JSON body."""

    path: str
    api_key: str | None
    key_source: str | None  # "header" | "body" | None
    body: dict[str, Any]
    status: int


@dataclass
class _FakeState:
    api_keys: set[str]
    requests: list[RecordedRequest] = field(default_factory=list)
    fail_status: int | None = None
    fail_times: int | None = None  # None: every request while fail_status is set
    delay_s: float = 0.0

    def take_failure(self) -> int | None:
        if self.fail_status is None:
            return None
        status = self.fail_status
        if self.fail_times is not None:
            self.fail_times -= 1
            if self.fail_times <= 0:
                self.fail_status, self.fail_times = None, None
        return status


STATE = web.AppKey("state", _FakeState)


def fake_results(query: str, max_results: int, topic: str) -> list[dict[str, Any]]:
    """The deterministic results for a query, as Tavily would return them."""
    slug = "-".join(re.findall(r"\w+", query.lower()))[:60] or "query"
    host = "news.example.com" if topic == "news" else "example.com"
    results = []
    for index in range(max_results):
        number = index + 1
        result: dict[str, Any] = {
            "title": f"{query} - result {number}",
            "url": f"https://{host}/{slug}/{number}",
            "content": f"Result {number} about {query}: deterministic content from the fake Tavily server.",
            "score": round(0.95 - 0.05 * index, 4),
            "raw_content": None,
        }
        if topic == "news":
            result["published_date"] = format_datetime(_NEWS_EPOCH - timedelta(days=index), usegmt=True)
        results.append(result)
    return results


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"detail": {"error": message}}, status=status)


def _key_of(request: web.Request, body: dict[str, Any]) -> tuple[str | None, str | None]:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and header[7:].strip():
        return header[7:].strip(), "header"
    if isinstance(body.get("api_key"), str) and body["api_key"]:
        return body["api_key"], "body"
    return None, None


def _invalid_argument(body: dict[str, Any]) -> str | None:
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        return "Query is missing or empty."
    max_results = body.get("max_results", 5)
    if not isinstance(max_results, int) or isinstance(max_results, bool) or not 0 <= max_results <= MAX_RESULTS:
        return f"max_results must be an integer between 0 and {MAX_RESULTS}."
    if body.get("search_depth", "basic") not in ("basic", "advanced"):
        return "search_depth must be 'basic' or 'advanced'."
    if body.get("topic", "general") not in ("general", "news", "finance"):
        return "topic must be 'general', 'news' or 'finance'."
    days = body.get("days", 7)
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        return "days must be a positive integer."
    return None


async def search(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        state.requests.append(RecordedRequest(request.path, None, None, {}, 400))
        return _error(400, "The request body must be a JSON object.")
    key, source = _key_of(request, body)
    status, response = 200, None
    if (failure := state.take_failure()) is not None:
        status, response = failure, _error(failure, f"Simulated failure (HTTP {failure}).")
    elif key is None or key not in state.api_keys:
        status, response = 401, _error(401, "Unauthorized: missing or invalid API key.")
    elif (problem := _invalid_argument(body)) is not None:
        status, response = 400, _error(400, problem)
    state.requests.append(RecordedRequest(request.path, key, source, body, status))
    if state.delay_s:
        await asyncio.sleep(state.delay_s)
    if response is not None:
        return response
    query, topic = body["query"], body.get("topic", "general")
    return web.json_response(
        {
            "query": query,
            "follow_up_questions": None,
            "answer": f"Fake answer for: {query}" if body.get("include_answer") else None,
            "images": [],
            "results": fake_results(query, body.get("max_results", 5), topic),
            "response_time": 0.01,
        }
    )


async def health(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def list_requests(request: web.Request) -> web.Response:
    return web.json_response([asdict(r) for r in request.app[STATE].requests])


async def clear_requests(request: web.Request) -> web.Response:
    request.app[STATE].requests.clear()
    return web.json_response({"cleared": True})


async def set_failure(request: web.Request) -> web.Response:
    body = await request.json()
    state = request.app[STATE]
    state.fail_status, state.fail_times = body.get("status"), body.get("times")
    return web.json_response({"status": state.fail_status, "times": state.fail_times})


async def set_delay(request: web.Request) -> web.Response:
    request.app[STATE].delay_s = float((await request.json())["seconds"])
    return web.json_response({"seconds": request.app[STATE].delay_s})


def build_app(state: _FakeState) -> web.Application:
    app = web.Application()
    app[STATE] = state
    app.router.add_post("/search", search)
    app.router.add_get("/health", health)
    app.router.add_get("/_fake/requests", list_requests)
    app.router.add_delete("/_fake/requests", clear_requests)
    app.router.add_post("/_fake/failure", set_failure)
    app.router.add_post("/_fake/delay", set_delay)
    return app


class FakeTavilyServer:
    """The fake on the running event loop, on a free loopback port unless `port` is given."""

    def __init__(self, *, api_keys: Sequence[str] = (DEFAULT_API_KEY,), port: int = 0) -> None:
        self._state = _FakeState(api_keys=set(api_keys))
        self._port = port
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._state.requests

    @property
    def delay_s(self) -> float:
        return self._state.delay_s

    @delay_s.setter
    def delay_s(self, seconds: float) -> None:
        self._state.delay_s = seconds

    def fail_with(self, status: int | None, times: int | None = None) -> None:
        """Answer the next `times` searches (all, if None) with `status`; `None` stops failing."""
        self._state.fail_status, self._state.fail_times = status, times

    async def start(self) -> str:
        sock = socket.socket()
        sock.bind(("127.0.0.1", self._port))
        self._runner = web.AppRunner(build_app(self._state), access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTavilyServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


@dataclass
class FakeTavilyProcess:
    """Handle on `python -m tests.support.fake_tavily` started by `fake_tavily_process`."""

    process: RunningProcess

    @property
    def base_url(self) -> str:
        return self.process.base_url

    def requests(self) -> list[RecordedRequest]:
        response = httpx.get(self.base_url + "/_fake/requests", timeout=10)
        response.raise_for_status()
        return [RecordedRequest(**item) for item in response.json()]

    def clear(self) -> None:
        httpx.delete(self.base_url + "/_fake/requests", timeout=10).raise_for_status()

    def fail_with(self, status: int | None, times: int | None = None) -> None:
        body = {"status": status, "times": times}
        httpx.post(self.base_url + "/_fake/failure", json=body, timeout=10).raise_for_status()

    def set_delay(self, seconds: float) -> None:
        httpx.post(self.base_url + "/_fake/delay", json={"seconds": seconds}, timeout=10).raise_for_status()


@contextmanager
def fake_tavily_process(log_dir: Path, *args: str) -> Iterator[FakeTavilyProcess]:
    """Run the fake as its own process on a free port (extra `args` go to its command line)."""
    with module_process("tests.support.fake_tavily", log_dir, args) as running:
        yield FakeTavilyProcess(running)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Tavily search API with deterministic results.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--api-key", action="append", dest="api_keys", help=f"accepted key [{DEFAULT_API_KEY}]")
    parser.add_argument("--fail-with", type=int, default=None, help="answer every search with this status")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="wait this long before each answer")
    options = parser.parse_args(argv)
    state = _FakeState(
        api_keys=set(options.api_keys or [DEFAULT_API_KEY]),
        fail_status=options.fail_with,
        delay_s=options.delay_ms / 1000,
    )
    print(f"fake tavily on http://{options.host}:{options.port}", flush=True)
    web.run_app(build_app(state), host=options.host, port=options.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
