"""FakeOpenAIServer: a small OpenAI-compatible chat server for bench tests, run as its own process.

It speaks the real wire protocol over HTTP (JSON and SSE). The requested model name picks a behaviour:

    fake-model          streams `max_tokens` one-word tokens, `--token-delay-ms` apart, usage on request
    fake-no-usage       the same but never reports usage (the client must count the stream)
    fake-unauthorized   401 with an OpenAI error body
    fake-html           200 text/html (a non-OpenAI response)
    fake-slow           waits 60 s before answering (the client's timeout must fire)
    fake-cut-stream     sends two chunks, then drops the connection
    fake-stream-error   sends one chunk, then an OpenAI error event
    fake-needs-key      answers like fake-model only with `Authorization: Bearer sk-fake`, else 401

GET /health answers 200; GET /stats reports how many chat requests arrived.

    python -m tests.support.fake_openai_server --port 8123 [--token-delay-ms 2]
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import orjson
from aiohttp import web

STATS = web.AppKey("stats", dict)
DELAY = web.AppKey("delay_s", float)


def _chunk(delta: dict[str, Any] | None, finish: str | None = None, usage: dict[str, Any] | None = None) -> bytes:
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake-model",
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
        "usage": usage,
    }
    return b"data: " + orjson.dumps(body) + b"\n\n"


def _usage(tokens: int) -> dict[str, int]:
    return {"prompt_tokens": 5, "completion_tokens": tokens, "total_tokens": 5 + tokens}


async def _stream(request: web.Request, body: dict[str, Any], model: str, tokens: int) -> web.StreamResponse:
    delay = request.app[DELAY]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(_chunk({"role": "assistant", "content": ""}))
    for index in range(tokens):
        await asyncio.sleep(delay)
        await response.write(_chunk({"content": f" word{index}"}))
        if model == "fake-cut-stream" and index == 1:
            assert request.transport is not None
            request.transport.close()
            return response
        if model == "fake-stream-error":
            error = {"error": {"message": "engine failed", "type": "server_error", "param": None, "code": None}}
            await response.write(b"data: " + orjson.dumps(error) + b"\n\ndata: [DONE]\n\n")
            return response
    await response.write(_chunk({}, "length"))
    wants_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    if wants_usage and model != "fake-no-usage":
        await response.write(_chunk(None, usage=_usage(tokens)))
    await response.write(b"data: [DONE]\n\n")
    return response


async def chat(request: web.Request) -> web.StreamResponse:
    request.app[STATS]["requests"] += 1
    body = await request.json(loads=orjson.loads)
    model = body.get("model", "")
    tokens = int(body.get("max_tokens") or 8)
    if model == "fake-unauthorized" or (
        model == "fake-needs-key" and request.headers.get("Authorization") != "Bearer sk-fake"
    ):
        error = {"error": {"message": "bad key", "type": "authentication_error", "code": "invalid_api_key"}}
        return web.json_response(error, status=401)
    if model == "fake-html":
        return web.Response(text="<html><body>Welcome to nginx!</body></html>", content_type="text/html")
    if model == "fake-slow":
        await asyncio.sleep(60)
    if body.get("stream"):
        return await _stream(request, body, model, tokens)
    await asyncio.sleep(request.app[DELAY] * tokens)
    message = {"role": "assistant", "content": " ".join(f"word{i}" for i in range(tokens))}
    completion = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "length"}],
    }
    if model != "fake-no-usage":
        completion["usage"] = _usage(tokens)
    return web.json_response(completion, dumps=lambda o: orjson.dumps(o).decode())


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ready"})


async def stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATS])


def make_app(token_delay_s: float) -> web.Application:
    app = web.Application()
    app[STATS] = {"requests": 0}
    app[DELAY] = token_delay_s
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/health", health)
    app.router.add_get("/stats", stats)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token-delay-ms", type=float, default=2.0)
    args = parser.parse_args()
    app = make_app(args.token_delay_ms / 1000)
    # Do not wait for fake-slow handlers on shutdown: tests stop this server with SIGTERM.
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, shutdown_timeout=0.5)


if __name__ == "__main__":
    main()
