"""`TavilyClient`: web and news search through Tavily's HTTP API, on aiohttp.

It sends `POST {base_url}/search` with the key as `Authorization: Bearer`, and returns Tavily's results as they
came, or raises a typed error (no key, rejected key, limits, Tavily down, unreachable, timeout); it never
invents a result. The error tree, under `WebSearchError`:

    SearchKeyMissingError    401  no key configured and none given for the request
    SearchAuthError          401  Tavily rejected the key
    SearchForbiddenError     403  Tavily refused the request (plan or usage limits: 403, 432, 433)
    SearchRateLimitError     429  Tavily's rate limit
    SearchRequestError       400  a bad argument, caught here or by Tavily
    SearchUpstreamError      502  Tavily failed (5xx) or answered something that is not its API
    SearchUnavailableError   502  Tavily cannot be reached (DNS, refused connection, TLS)
    SearchTimeoutError       502  no complete answer within the timeout
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Literal

import aiohttp
import orjson
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from inferstack.core.errors import (
    AuthenticationError,
    InferstackError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitError,
    UpstreamError,
)

DEFAULT_BASE_URL = "https://api.tavily.com"
DEFAULT_TIMEOUT_S = 30.0
MAX_RESULTS_LIMIT = 10
MAX_DAYS_BACK = 365
_DETAIL_CHARS = 300

SearchDepth = Literal["basic", "advanced"]
SearchTopic = Literal["general", "news"]


class WebSearchError(InferstackError):
    """Base of every error a search raises; the HTTP status comes from the core class mixed in."""


class SearchKeyMissingError(WebSearchError, AuthenticationError):
    default_code = "missing_api_key"


class SearchAuthError(WebSearchError, AuthenticationError):
    pass


class SearchForbiddenError(WebSearchError, PermissionDeniedError):
    pass


class SearchRateLimitError(WebSearchError, RateLimitError):
    pass


class SearchRequestError(WebSearchError, InvalidRequestError):
    pass


class SearchUpstreamError(WebSearchError, UpstreamError):
    pass


class SearchUnavailableError(WebSearchError, UpstreamError):
    pass


class SearchTimeoutError(WebSearchError, UpstreamError):
    pass


class SearchResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    title: str
    url: str
    content: str
    score: float
    published_date: str | None = None


class SearchResponse(BaseModel):
    model_config = ConfigDict(frozen=True)

    query: str
    topic: SearchTopic
    answer: str | None = None
    results: list[SearchResult]


class _TavilyAnswer(BaseModel):
    """The part of Tavily's `/search` response we use; other fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    answer: str | None = None
    results: list[SearchResult]


class TavilyClient:
    """One client per process: it keeps a connection pool open until `aclose()` (or `async with` exit)."""

    def __init__(
        self,
        *,
        api_key: SecretStr | str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        if isinstance(api_key, str):
            api_key = SecretStr(api_key)
        self._api_key = api_key if api_key is not None and api_key.get_secret_value() else None
        self._search_url = base_url.rstrip("/") + "/search"
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    @property
    def has_api_key(self) -> bool:
        return self._api_key is not None

    async def web_search(
        self,
        query: str,
        *,
        max_results: int = 5,
        search_depth: SearchDepth = "basic",
        include_answer: bool = True,
        api_key: str | None = None,
    ) -> SearchResponse:
        """Search the web; `api_key` (one request) is used when given, else the configured key."""
        if search_depth not in ("basic", "advanced"):
            raise SearchRequestError(f"search_depth must be 'basic' or 'advanced', not {search_depth!r}")
        body = self._body(query, max_results, topic="general", search_depth=search_depth, include_answer=include_answer)
        return await self._search(body, api_key)

    async def news_search(
        self, query: str, *, max_results: int = 5, days_back: int = 7, api_key: str | None = None
    ) -> SearchResponse:
        """Search recent news (Tavily's `topic: news`) published in the last `days_back` days."""
        if not 1 <= days_back <= MAX_DAYS_BACK:
            raise SearchRequestError(f"days_back must be between 1 and {MAX_DAYS_BACK}, not {days_back}")
        body = self._body(query, max_results, topic="news", search_depth="basic", include_answer=True)
        body["days"] = days_back
        return await self._search(body, api_key)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> TavilyClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    @staticmethod
    def _body(
        query: str, max_results: int, *, topic: SearchTopic, search_depth: SearchDepth, include_answer: bool
    ) -> dict[str, Any]:
        if not query.strip():
            raise SearchRequestError("the query is empty")
        if not 1 <= max_results <= MAX_RESULTS_LIMIT:
            raise SearchRequestError(f"max_results must be between 1 and {MAX_RESULTS_LIMIT}, not {max_results}")
        return {
            "query": query.strip(),
            "topic": topic,
            "search_depth": search_depth,
            "max_results": max_results,
            "include_answer": include_answer,
            "include_raw_content": False,
            "include_images": False,
        }

    async def _search(self, body: dict[str, Any], api_key: str | None) -> SearchResponse:
        key = api_key or (self._api_key.get_secret_value() if self._api_key is not None else None)
        if not key:
            raise SearchKeyMissingError("no Tavily API key is configured (set TAVILY_API_KEY)")
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout_s))
        try:
            async with self._session.post(self._search_url, data=orjson.dumps(body), headers=_headers(key)) as response:
                status, raw = response.status, await response.read()
        except TimeoutError:
            raise SearchTimeoutError(f"Tavily did not answer within {self._timeout_s:g} s") from None
        except aiohttp.ClientError as exc:
            raise SearchUnavailableError(f"cannot reach Tavily at {self._base_url}: {exc}") from None
        if status != 200:
            raise _status_error(status, _detail(raw))
        try:
            answer = _TavilyAnswer.model_validate(orjson.loads(raw))
        except (orjson.JSONDecodeError, ValidationError):
            raise SearchUpstreamError("Tavily answered with something that is not a search response") from None
        return SearchResponse(query=body["query"], topic=body["topic"], answer=answer.answer, results=answer.results)


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def _detail(raw: bytes) -> str:
    """Tavily's error text (`{"detail": {"error": ...}}`), else the start of the body, kept short."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:_DETAIL_CHARS].decode("utf-8", "replace").strip()
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, dict) and isinstance(detail.get("error"), str):
        return str(detail["error"])[:_DETAIL_CHARS]
    if isinstance(detail, str):
        return detail[:_DETAIL_CHARS]
    return ""


def _status_error(status: int, detail: str) -> WebSearchError:
    said = f": {detail}" if detail else ""
    if status == 401:
        return SearchAuthError(f"Tavily rejected the API key (HTTP 401){said}")
    if status in (403, 432, 433):
        return SearchForbiddenError(f"Tavily refused the request (HTTP {status}, plan or usage limit){said}")
    if status == 429:
        return SearchRateLimitError(f"Tavily's rate limit was hit (HTTP 429){said}")
    if status == 400:
        return SearchRequestError(f"Tavily rejected the request (HTTP 400){said}")
    return SearchUpstreamError(f"Tavily failed (HTTP {status}){said}")
