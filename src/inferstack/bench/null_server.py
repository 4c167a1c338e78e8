"""A minimal HTTP/1.1 server that answers OpenAI chat completions (JSON and SSE) as fast as it can.

It exists to measure the bench client's own ceiling and to stand in for an infinitely fast model
server behind a gateway; it does no inference and keeps no state beyond a cache of response bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence
from typing import cast

import orjson
import yaml

from inferstack.bench.event_loop import run_async
from inferstack.openai_api.sse import DONE_EVENT, sse_event
from inferstack.openai_api.usage import usage_dict

NULL_MODEL = "null"
DEFAULT_COMPLETION_TOKENS = 16
_MAX_HEAD_BYTES = 64 * 1024
_PROMPT_TOKENS = 8


def _chat_chunk(delta: dict[str, object], finish: str | None, usage: dict[str, object] | None) -> bytes:
    return sse_event(
        {
            "id": "chatcmpl-null",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": NULL_MODEL,
            "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
            "usage": usage,
        }
    )


def completion_body(completion_tokens: int, *, stream: bool) -> bytes:
    """The body the null server sends for a chat completion of `completion_tokens` one-word tokens."""
    usage = usage_dict(_PROMPT_TOKENS, completion_tokens)
    if not stream:
        message = {"role": "assistant", "content": " tok" * completion_tokens}
        return orjson.dumps(
            {
                "id": "chatcmpl-null",
                "object": "chat.completion",
                "created": 0,
                "model": NULL_MODEL,
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "length"}],
                "usage": usage,
            }
        )
    events = [_chat_chunk({"role": "assistant", "content": ""}, None, None)]
    events += [_chat_chunk({"content": " tok"}, None, None) for _ in range(completion_tokens)]
    events.append(_chat_chunk({}, "length", None))
    events.append(_chat_chunk({}, None, usage))
    events.append(DONE_EVENT)
    return b"".join(events)


def _response(status: str, content_type: bytes, body: bytes) -> bytes:
    head = (f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: keep-alive\r\nContent-Type: ").encode()
    return head + content_type + b"\r\n\r\n" + body


_JSON = b"application/json"
_HEALTH = _response("200 OK", _JSON, b'{"status":"ready"}')
_MODELS = _response("200 OK", _JSON, orjson.dumps({"object": "list", "data": [{"id": NULL_MODEL, "object": "model"}]}))
_NOT_FOUND = _response("404 Not Found", _JSON, b'{"error":{"message":"not found","type":"not_found_error"}}')
_BAD_REQUEST = _response(
    "400 Bad Request", _JSON, b'{"error":{"message":"body is not JSON","type":"invalid_request_error"}}'
)


class ResponseCache:
    """Response bytes by (stream, completion tokens); a handful of entries in any real run."""

    def __init__(self, default_tokens: int) -> None:
        self._default_tokens = default_tokens
        self._cache: dict[tuple[bool, int], bytes] = {}

    def for_body(self, body: bytes) -> bytes:
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _BAD_REQUEST
        if not isinstance(request, dict):
            return _BAD_REQUEST
        stream = request.get("stream") is True
        tokens = request.get("max_completion_tokens") or request.get("max_tokens") or self._default_tokens
        key = (stream, max(1, int(tokens)))
        cached = self._cache.get(key)
        if cached is None:
            content_type = b"text/event-stream" if stream else _JSON
            cached = _response("200 OK", content_type, completion_body(key[1], stream=stream))
            self._cache[key] = cached
        return cached


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


class NullProtocol(asyncio.Protocol):
    """Parses pipelined HTTP/1.1 requests from one connection and answers each from the cache."""

    def __init__(self, cache: ResponseCache) -> None:
        self._cache = cache
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but they have the same methods.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        out: list[bytes] = []
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > _MAX_HEAD_BYTES:
                    self._close()
                break
            head = self._buffer[:end]
            try:
                length = _content_length(head)
            except ValueError:
                self._close()
                return
            total = end + 4 + length
            if len(self._buffer) < total:
                break
            body = self._buffer[end + 4 : total]
            self._buffer = self._buffer[total:]
            out.append(self._answer(head, body))
        if out and self._transport is not None:
            self._transport.write(b"".join(out))

    def _answer(self, head: bytes, body: bytes) -> bytes:
        method, _, rest = head.partition(b" ")
        path = rest.partition(b" ")[0].partition(b"?")[0]
        if method == b"POST" and path.endswith(b"/chat/completions"):
            return self._cache.for_body(body)
        if method == b"GET" and path == b"/health":
            return _HEALTH
        if method == b"GET" and path == b"/v1/models":
            return _MODELS
        return _NOT_FOUND

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def serve(host: str, port: int, *, completion_tokens: int = DEFAULT_COMPLETION_TOKENS) -> None:
    """Serve until cancelled; prints `listening on http://HOST:PORT` once bound (port 0 picks one)."""
    cache = ResponseCache(completion_tokens)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: NullProtocol(cache), host, port, backlog=4096)
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"listening on http://{host}:{bound}\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


def run(host: str, port: int, *, completion_tokens: int = DEFAULT_COMPLETION_TOKENS) -> None:
    """Run the server on the fastest event loop available (uvloop when installed) until interrupted."""
    with contextlib.suppress(KeyboardInterrupt):
        run_async(serve(host, port, completion_tokens=completion_tokens))


NULL_MODEL = "null"


def gateway_config(upstream: str, *, data_dir: str = ".inferstack/bench-gateway") -> str:
    """A config for `inferstack gateway --config` that serves model "null" from the null server at `upstream`.

    Its own key store (`data_dir`), so a gateway measured this way never touches the stack's keys.
    """
    base = upstream.rstrip("/")
    api_base = base if base.endswith("/v1") else base + "/v1"
    config = {
        "gateway": {
            "data_dir": data_dir,
            "model_list": [{"model_name": NULL_MODEL, "model": NULL_MODEL, "api_base": api_base}],
            "router": {"health_check_interval_s": 0},
        }
    }
    header = f"# inferstack gateway in front of the null server at {base}: model '{NULL_MODEL}' answers instantly.\n"
    return header + yaml.safe_dump(config, sort_keys=False)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="OpenAI-shaped null server for client calibration.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--completion-tokens", type=int, default=DEFAULT_COMPLETION_TOKENS)
    args = parser.parse_args(argv)
    run(args.host, args.port, completion_tokens=args.completion_tokens)


if __name__ == "__main__":
    main()
