"""FakeUpstream: a fast OpenAI-compatible upstream for gateway tests and benchmarks, run as its own process.

It speaks the real wire protocol (JSON and SSE) for /v1/chat/completions, /v1/completions, /v1/embeddings and
/v1/models. Replies echo the last user message after `--name` ("[name] <text>"), so tests can see which
upstream answered and what it received. Usage is reported as whitespace-split word counts.

Control (for failure tests): POST /_control {"fail": 500|429|null, "delay_ms": 0, "chunk_delay_ms": 0} changes
behaviour (delay before answering; delay between streamed chunks);
GET /_stats returns {"requests": n, "last_body": {...}}; POST /_reset zeroes the counters.

    python -m tests.support.fake_upstream --port 9001 --name a [--stream-chunks 8]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import orjson
from aiohttp import web

STATE = web.AppKey("state", dict)


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content)
    prompt = body.get("prompt")
    return prompt if isinstance(prompt, str) else ""


async def _gate(request: web.Request) -> tuple[dict[str, Any], web.Response | None]:
    state = request.app[STATE]
    body = orjson.loads(await request.read())
    state["requests"] += 1
    state["last_body"] = body
    state["last_auth"] = request.headers.get("Authorization")
    if state["delay_ms"]:
        await asyncio.sleep(state["delay_ms"] / 1000)
    if state["fail"]:
        status = int(state["fail"])
        error = {"error": {"message": f"injected {status}", "type": "server_error", "param": None, "code": None}}
        return body, web.Response(status=status, body=orjson.dumps(error), content_type="application/json")
    return body, None


def _json(payload: dict[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


async def chat(request: web.Request) -> web.StreamResponse:
    body, failed = await _gate(request)
    if failed is not None:
        return failed
    name = request.app[STATE]["name"]
    text = f"[{name}] {_last_user_text(body)}"
    words = text.split(" ")
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": len(words),
        "total_tokens": prompt_tokens + len(words),
    }
    created = int(time.time())
    if not body.get("stream"):
        return _json(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": created,
                "model": body.get("model"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": usage,
            }
        )
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    for index, piece in enumerate(pieces):
        delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
        chunk = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.get("model"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
        }
        await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
        if request.app[STATE]["chunk_delay_ms"]:
            await asyncio.sleep(request.app[STATE]["chunk_delay_ms"] / 1000)
    final = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": created,
        "model": body.get("model"),
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    }
    await response.write(b"data: " + orjson.dumps(final) + b"\n\n")
    if with_usage:
        usage_chunk = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.get("model"),
            "choices": [],
            "usage": usage,
        }
        await response.write(b"data: " + orjson.dumps(usage_chunk) + b"\n\n")
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def completions(request: web.Request) -> web.StreamResponse:
    body, failed = await _gate(request)
    if failed is not None:
        return failed
    text = f"[{request.app[STATE]['name']}] {_last_user_text(body)}"
    n = len(text.split())
    return _json(
        {
            "id": "cmpl-fake",
            "object": "text_completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": n, "completion_tokens": n, "total_tokens": 2 * n},
        }
    )


async def embeddings(request: web.Request) -> web.StreamResponse:
    body, failed = await _gate(request)
    if failed is not None:
        return failed
    inputs = body.get("input")
    items = [inputs] if isinstance(inputs, str) else list(inputs or [])
    data = [
        {"object": "embedding", "index": i, "embedding": [float(len(t) % 7), 1.0, 0.5]} for i, t in enumerate(items)
    ]
    tokens = sum(len(str(t).split()) for t in items)
    return _json(
        {
            "object": "list",
            "data": data,
            "model": body.get("model"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


async def models(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if state["fail"]:
        return web.Response(status=int(state["fail"]))
    return _json({"object": "list", "data": [{"id": "fake", "object": "model", "created": 0, "owned_by": "fake"}]})


async def control(request: web.Request) -> web.Response:
    state = request.app[STATE]
    update = orjson.loads(await request.read())
    for field in ("fail", "delay_ms", "chunk_delay_ms"):
        if field in update:
            state[field] = update[field]
    return _json({"ok": True})


async def stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return _json({"requests": state["requests"], "last_body": state["last_body"], "last_auth": state["last_auth"]})


async def reset(request: web.Request) -> web.Response:
    request.app[STATE].update(requests=0, last_body=None, last_auth=None)
    return _json({"ok": True})


def make_app(name: str) -> web.Application:
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[STATE] = {
        "name": name,
        "requests": 0,
        "last_body": None,
        "last_auth": None,
        "fail": None,
        "delay_ms": 0,
        "chunk_delay_ms": 0,
    }
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/health", models)
    app.router.add_post("/_control", control)
    app.router.add_get("/_stats", stats)
    app.router.add_post("/_reset", reset)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="fake")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(make_app(args.name), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
