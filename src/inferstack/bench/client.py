"""The request driver: sends one chat completion over a pooled aiohttp session and records what it saw.

It timestamps the send, every content chunk of a stream and the last byte, takes token counts from
`usage` (falling back to counting content chunks), and turns every failure into an error type instead
of raising, so one bad response never stops a run. Every wait is bounded by the configured timeouts.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

import aiohttp
import orjson

from inferstack import __version__
from inferstack.bench import records
from inferstack.bench.records import RequestRecord
from inferstack.bench.settings import Target, Timeouts

_ERROR_DETAIL_BYTES = 2048


class InvalidResponseError(Exception):
    """The target answered 200 with something that is not an OpenAI chat completion."""

    def __init__(self, message: str, *, error_type: str = records.INVALID_RESPONSE) -> None:
        super().__init__(message)
        self.error_type = error_type


def _usage(payload: dict[str, Any], record: RequestRecord) -> None:
    usage = payload.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
        record.completion_tokens = usage["completion_tokens"]
        prompt = usage.get("prompt_tokens")
        record.prompt_tokens = prompt if isinstance(prompt, int) else None
        record.tokens_from_usage = True


def _has_output(choice: dict[str, Any]) -> bool:
    delta = choice.get("delta")
    if isinstance(delta, dict) and (delta.get("content") or delta.get("reasoning_content") or delta.get("tool_calls")):
        return True
    return bool(choice.get("text"))


def parse_completion(raw: bytes, record: RequestRecord) -> None:
    """Check a non-streamed body is a chat completion and take its usage."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidResponseError(f"body is not JSON: {raw[:200]!r}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("choices"), list) or not payload["choices"]:
        raise InvalidResponseError(f"JSON without 'choices': {raw[:200]!r}")
    _usage(payload, record)


class StreamParser:
    """Feeds SSE lines one at a time; records chunk times, usage and whether the stream ended properly."""

    def __init__(self, record: RequestRecord) -> None:
        self.record = record
        self.events = 0
        self.chunks = 0
        self.finished = False
        self.done = False
        self.foreign: bytes | None = None

    def feed(self, line: bytes, now: float) -> None:
        if not line.startswith(b"data:"):
            # Blank separators, comments (": ping") and event/id/retry fields are SSE; keep anything
            # else to show what the target sent instead.
            if self.foreign is None and line.strip() and not line.startswith((b":", b"event:", b"id:", b"retry:")):
                self.foreign = line.strip()[:200]
            return
        data = line[5:].strip()
        if data == b"[DONE]":
            self.done = True
            return
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise InvalidResponseError(f"stream event is not JSON: {data[:200]!r}") from None
        if not isinstance(event, dict):
            raise InvalidResponseError(f"stream event is not an object: {data[:200]!r}")
        self.events += 1
        if "error" in event and "choices" not in event:
            raise InvalidResponseError(f"error event in stream: {data[:300]!r}", error_type=records.STREAM_ERROR)
        _usage(event, self.record)
        for choice in event.get("choices") or ():
            if not isinstance(choice, dict):
                raise InvalidResponseError(f"malformed choice in stream: {data[:200]!r}")
            if _has_output(choice):
                self.chunks += 1
                self.record.chunk_times.append(now)
            if choice.get("finish_reason"):
                self.finished = True

    def close(self) -> None:
        if self.events == 0:
            began = "" if self.foreign is None else f"; it began {self.foreign!r}"
            raise InvalidResponseError(f"the response held no server-sent events{began}")
        if not (self.done or self.finished):
            raise InvalidResponseError(
                "the stream ended without a finish_reason or [DONE]", error_type=records.INCOMPLETE_STREAM
            )
        record = self.record
        if record.chunk_times:
            record.first_token = record.chunk_times[0]
        if record.completion_tokens is None:
            record.completion_tokens = self.chunks
            record.tokens_from_usage = False


class BenchClient:
    """One pooled HTTP session against one target; `send` never raises for a failed request."""

    def __init__(self, target: Target, timeouts: Timeouts) -> None:
        self.target = target
        self._url = target.chat_url
        self._timeouts = timeouts
        self._timeout = aiohttp.ClientTimeout(total=timeouts.request_s, sock_connect=timeouts.connect_s)
        headers = {"Content-Type": "application/json", "User-Agent": f"inferstack-bench/{__version__}"}
        if target.api_key is not None:
            headers["Authorization"] = f"Bearer {target.api_key.get_secret_value()}"
        self._headers = headers
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> BenchClient:
        # No pool limit: the runner bounds concurrency; connections are kept alive across levels.
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60)
        self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, body: bytes, *, stream: bool, scheduled: float | None = None) -> RequestRecord:
        if self._session is None:
            raise RuntimeError("BenchClient used outside 'async with'")
        record = RequestRecord(start=time.perf_counter(), scheduled=scheduled)
        try:
            async with self._session.post(self._url, data=body, headers=self._headers) as response:
                if response.status != 200:
                    start = await response.content.read(_ERROR_DETAIL_BYTES)
                    record.error = records.http_error(response.status)
                    record.error_detail = f"HTTP {response.status}: {start.decode(errors='replace')}"
                elif stream:
                    parser = StreamParser(record)
                    async for line in response.content:
                        parser.feed(line, time.perf_counter())
                        if parser.done:
                            break
                    parser.close()
                else:
                    parse_completion(await response.read(), record)
        except InvalidResponseError as exc:
            record.error, record.error_detail = exc.error_type, str(exc)
        except aiohttp.ConnectionTimeoutError as exc:
            detail = str(exc) or f"no connection within {self._timeouts.connect_s:g} s"
            record.error, record.error_detail = records.CONNECT_TIMEOUT, detail
        except aiohttp.ClientConnectorError as exc:
            record.error, record.error_detail = records.CONNECT_ERROR, str(exc)
        except TimeoutError as exc:
            detail = str(exc) or f"no complete answer within {self._timeouts.request_s:g} s"
            record.error, record.error_detail = records.TIMEOUT, detail
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            record.error, record.error_detail = records.DISCONNECTED, str(exc)
        except aiohttp.ClientResponseError as exc:
            record.error, record.error_detail = records.INVALID_RESPONSE, str(exc)
        except aiohttp.ClientError as exc:
            record.error, record.error_detail = records.CLIENT_ERROR, f"{type(exc).__name__}: {exc}"
        except ValueError as exc:  # aiohttp's reader refuses an SSE line longer than its buffer
            record.error, record.error_detail = records.INVALID_RESPONSE, str(exc)
        record.end = time.perf_counter()
        if record.error is not None:
            record.chunk_times.clear()
            record.first_token = None
        return record
