"""`OpenMeteoClient`: GET requests to Open-Meteo's geocoding and forecast APIs, with a timeout and bounded retries.

Retried: timeouts, refused or broken connections, HTTP 429 and 5xx (at most `retries` times, with a doubling
back-off). Not retried: 4xx, which Open-Meteo sends as `{"error": true, "reason": "..."}`. It returns the JSON
object as sent; parsing it into results is `service`'s job.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from inferstack.tools.weather.errors import (
    WeatherRequestError,
    WeatherTimeoutError,
    WeatherUnavailableError,
    WeatherUpstreamError,
)

log = logging.getLogger(__name__)

DEFAULT_GEOCODING_URL = "https://geocoding-api.open-meteo.com/v1"
DEFAULT_FORECAST_URL = "https://api.open-meteo.com/v1"
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF_S = 0.5
_REASON_CHARS = 300


class OpenMeteoClient:
    """One per process (or per test); holds a connection pool until `aclose()`."""

    def __init__(
        self,
        *,
        geocoding_url: str = DEFAULT_GEOCODING_URL,
        forecast_url: str = DEFAULT_FORECAST_URL,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        backoff_s: float = DEFAULT_BACKOFF_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.geocoding_url = geocoding_url.rstrip("/")
        self.forecast_url = forecast_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self._http = httpx.AsyncClient(timeout=timeout_s, transport=transport, headers={"User-Agent": "inferstack"})

    async def search(self, name: str, count: int) -> dict[str, Any]:
        """Geocoding `/search`: places called `name`, best match first."""
        params = {"name": name, "count": count, "language": "en", "format": "json"}
        return await self._get(f"{self.geocoding_url}/search", params, "Open-Meteo geocoding")

    async def forecast(self, params: dict[str, Any]) -> dict[str, Any]:
        """Forecast `/forecast` with the given query parameters."""
        return await self._get(f"{self.forecast_url}/forecast", params, "Open-Meteo forecast")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get(self, url: str, params: dict[str, Any], what: str) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                response = await self._http.get(url, params=params)
            except httpx.TimeoutException:
                failure: Exception = WeatherTimeoutError(f"{what} did not answer within {self.timeout_s:g} s")
            except httpx.TransportError as exc:
                failure = WeatherUnavailableError(
                    f"cannot reach {what} at {_origin(url)} ({type(exc).__name__}); the weather tools need "
                    "internet access to Open-Meteo, or mcp.weather base URLs pointing at a reachable mirror"
                )
            else:
                if response.status_code == 200:
                    return _json_object(response, what)
                reason = _reason(response)
                if response.status_code < 500 and response.status_code != 429:
                    raise WeatherRequestError(f"{what} refused the request (HTTP {response.status_code}): {reason}")
                failure = WeatherUpstreamError(f"{what} failed (HTTP {response.status_code}): {reason}")
            if attempt >= self.retries:
                raise failure
            attempt += 1
            log.info("%s: %s; retry %d of %d", what, failure, attempt, self.retries)
            await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))


def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise WeatherUpstreamError(f"{what} answered with something that is not JSON") from None
    if not isinstance(body, dict):
        raise WeatherUpstreamError(f"{what} answered with a JSON {type(body).__name__}, not an object")
    return body


def _reason(response: httpx.Response) -> str:
    """Open-Meteo's `reason` text, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:_REASON_CHARS].strip() or "no reason given"
    if isinstance(body, dict) and isinstance(body.get("reason"), str):
        return str(body["reason"])[:_REASON_CHARS]
    return "no reason given"
