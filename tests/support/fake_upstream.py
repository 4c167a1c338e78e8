"""FakeUpstream: the one scriptable OpenAI-compatible upstream that every test and benchmark talks to.

It speaks the real wire protocol over HTTP (JSON and SSE) for /v1/chat/completions, /v1/completions,
/v1/embeddings, /v1/models and /health, and runs either inside the test's event loop or as its own process:

    async with FakeUpstream(name="a") as upstream:      # in-process on a free loopback port
        upstream.script = ["first reply", {"name": "web_search", "arguments": {"query": "x"}}]
        client = AsyncOpenAI(base_url=upstream.base_url, api_key="x")   # base_url ends in /v1

    with fake_upstream_process(tmp_path, "a", token_delay_ms=2) as proc:   # its own process
        control(proc, fail=503)                                           # POST /_control
        stats(proc)["requests"]                                           # GET /_stats

What a chat request gets, first match wins:
  1. `fail_status` set (`/_control {"fail": 500}`): that status with an OpenAI error body (also on /health).
  2. a model name that picks a behaviour, for clients that can only choose a model (the bench):
       fake-unauthorized  401          fake-needs-key  401 unless `Authorization: Bearer sk-fake`
       fake-html          200 text/html (not an OpenAI response)
       fake-slow          waits 60 s before answering (a client timeout must fire)
       fake-cut-stream    streams two tokens, then drops the connection
       fake-stream-error  streams one token, then an OpenAI error event
       fake-model         `max_tokens` (default 8) tokens "word0 word1 ...", finish "length", 5 prompt tokens
       fake-no-usage      like fake-model but never reports usage (the client must count the stream)
       fake-sse-garbage, fake-sse-cut-mid-event, fake-sse-no-done, fake-sse-huge-line, fake-sse-endless-line
                          a malformed SSE stream (MALFORMED_STREAMS), whatever `stream` says
  3. the next entry of `script` (text, or a tool call {"name": ..., "arguments": {...}}),
  4. else `reply(body)`; by default "[<name>] <last user text>", so a test sees who answered and what it got.
Usage counts whitespace-split words; a stream reports it in a final chunk when `stream_options.include_usage`.
`delay_s` waits before answering; `token_delay_s` waits before each streamed token (and per token when not
streaming). Every request body is recorded in `requests`; streams are counted as started, finished or cut.

    python -m tests.support.fake_upstream --port 9001 --name a [--token-delay-ms 2]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import orjson
from aiohttp import web

from tests.support.processes import RunningProcess, module_process

Reply = Callable[[dict[str, Any]], str]
ToolCall = dict[str, Any]  # {"name": ..., "arguments": {...}}
ScriptedReply = str | ToolCall

BENCH_MODELS = {"fake-model", "fake-no-usage", "fake-cut-stream", "fake-stream-error", "fake-slow", "fake-needs-key"}
BENCH_PROMPT_TOKENS = 5
KEPT_BODIES = 1000
_GOOD_CHUNK = b'data: {"id":"chatcmpl-fake","object":"chat.completion.chunk","created":0,"model":"m",' + (
    b'"choices":[{"index":0,"delta":{"role":"assistant","content":"ok"},"finish_reason":null}]}\n\n'
)
# What broken upstreams and proxies send: (blocks written in order, then "close" the connection or "eof").
MALFORMED_STREAMS: dict[str, tuple[list[bytes], str]] = {
    "fake-sse-garbage": (
        [_GOOD_CHUNK, b"this line is not SSE\n\n", b"data: {not json\n\n", b'data: {"usage":{"broken\n\n'],
        "eof",
    ),
    "fake-sse-cut-mid-event": ([_GOOD_CHUNK, b'data: {"id":"chatcmpl-fake","choices":[{"delta":{"cont'], "close"),
    "fake-sse-no-done": ([_GOOD_CHUNK, _GOOD_CHUNK], "eof"),
    "fake-sse-huge-line": ([_GOOD_CHUNK, b"data: " + b"x" * (8 * 1024 * 1024) + b"\n\n"], "eof"),
    "fake-sse-endless-line": ([_GOOD_CHUNK, *[b"x" * (1024 * 1024)] * 64], "eof"),
}


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the last user message (or the completions prompt) of a request body."""
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content)
    prompt = body.get("prompt")
    return prompt if isinstance(prompt, str) else ""


def _error_body(message: str, kind: str = "server_error", code: str | None = None) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})


def _json(payload: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json")


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class FakeUpstream:
    """An OpenAI-compatible server whose replies, failures and delays a test sets as attributes."""

    def __init__(self, name: str = "fake", *, reply: Reply | None = None, token_delay_s: float = 0.0) -> None:
        self.name = name
        self.reply: Reply = reply or (lambda body: f"[{self.name}] {last_user_text(body)}")
        self.script: list[ScriptedReply] = []
        self.fail_status: int | None = None
        self.delay_s = 0.0
        self.token_delay_s = token_delay_s
        self.requests: list[dict[str, Any]] = []  # the bodies received (at least the latest KEPT_BODIES)
        self.request_count = 0
        self.last_auth: str | None = None
        self.streams_started = 0
        self.streams_finished = 0
        self.streams_cut = 0
        self.base_url = ""  # http://127.0.0.1:<port>/v1 once started, as the OpenAI SDK wants it
        self._runner: web.AppRunner | None = None

    # ---- lifecycle (in-process) ----

    async def start(self, port: int = 0) -> None:
        self._runner = web.AppRunner(self.app(), shutdown_timeout=0.1, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeUpstream:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._models)
        app.router.add_post("/_control", self._control)
        app.router.add_get("/_stats", self._stats)
        app.router.add_post("/_reset", self._reset)
        return app

    # ---- what tests read ----

    def prompts(self) -> list[str]:
        """The text of every user message of every recorded request, joined per request."""
        return [
            "\n".join(str(m.get("content")) for m in body.get("messages", []) if m.get("role") == "user")
            for body in self.requests
        ]

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.request_count,
            "last_body": self.requests[-1] if self.requests else None,
            "last_auth": self.last_auth,
            "streams_started": self.streams_started,
            "streams_finished": self.streams_finished,
            "streams_cut": self.streams_cut,
        }

    def reset(self) -> None:
        self.requests.clear()
        self.request_count = 0
        self.last_auth = None
        self.streams_started = self.streams_finished = self.streams_cut = 0

    # ---- handlers ----

    async def _gate(self, request: web.Request) -> tuple[dict[str, Any], web.Response | None]:
        body: dict[str, Any] = orjson.loads(await request.read())
        self.requests.append(body)
        self.request_count += 1
        if len(self.requests) > 2 * KEPT_BODIES:  # a long benchmark must not grow without bound
            del self.requests[:KEPT_BODIES]
        self.last_auth = request.headers.get("Authorization")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_status is not None:
            failed = web.Response(
                status=self.fail_status,
                body=_error_body(f"injected {self.fail_status}"),
                content_type="application/json",
            )
            return body, failed
        return body, None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body, failed = await self._gate(request)
        if failed is not None:
            return failed
        model = str(body.get("model") or "")
        refused = self._refusal(request, model)
        if refused is not None:
            return refused
        if model in MALFORMED_STREAMS:
            return await self._malformed_stream(request, *MALFORMED_STREAMS[model])
        if model == "fake-slow":
            await asyncio.sleep(60)
        if model in BENCH_MODELS:
            tokens = int(body.get("max_tokens") or 8)
            pieces = [f" word{i}" for i in range(tokens)]
            usage = None if model == "fake-no-usage" else _usage(BENCH_PROMPT_TOKENS, tokens)
            return await self._answer(request, body, pieces, "length", usage)
        scripted = self.script.pop(0) if self.script else None
        if isinstance(scripted, dict):
            return await self._tool_call(request, body, scripted)
        text = scripted if scripted is not None else self.reply(body)
        words = text.split(" ")
        pieces = [word if i == 0 else " " + word for i, word in enumerate(words)]
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        return await self._answer(request, body, pieces, "stop", _usage(prompt_tokens, len(words)))

    def _refusal(self, request: web.Request, model: str) -> web.Response | None:
        if model == "fake-unauthorized" or (
            model == "fake-needs-key" and request.headers.get("Authorization") != "Bearer sk-fake"
        ):
            body = _error_body("bad key", "authentication_error", "invalid_api_key")
            return web.Response(status=401, body=body, content_type="application/json")
        if model == "fake-html":
            return web.Response(text="<html><body>Welcome to nginx!</body></html>", content_type="text/html")
        return None

    def _chunk(self, body: dict[str, Any], delta: dict[str, Any], finish: str | None = None) -> bytes:
        return _event(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    async def _answer(
        self,
        request: web.Request,
        body: dict[str, Any],
        pieces: list[str],
        finish: str,
        usage: dict[str, int] | None,
    ) -> web.StreamResponse:
        if not body.get("stream"):
            await asyncio.sleep(self.token_delay_s * len(pieces))
            message = {"role": "assistant", "content": "".join(pieces).lstrip(" ")}
            completion: dict[str, Any] = {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            }
            if usage is not None:
                completion["usage"] = usage
            return _json(completion)
        model = body.get("model")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        self.streams_started += 1
        try:
            for index, piece in enumerate(pieces):
                await asyncio.sleep(self.token_delay_s)
                delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
                await response.write(self._chunk(body, delta))
                if model == "fake-cut-stream" and index == 1:
                    assert request.transport is not None
                    request.transport.close()
                    self.streams_cut += 1
                    return response
                if model == "fake-stream-error":
                    await response.write(b"data: " + _error_body("engine failed") + b"\n\ndata: [DONE]\n\n")
                    self.streams_finished += 1
                    return response
            await response.write(self._chunk(body, {}, finish))
            if usage is not None and (body.get("stream_options") or {}).get("include_usage"):
                chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time())}
                await response.write(_event({**chunk, "model": model, "choices": [], "usage": usage}))
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):  # aiohttp raises ConnectionError("Connection lost")
            self.streams_cut += 1
            raise
        self.streams_finished += 1
        return response

    async def _malformed_stream(self, request: web.Request, blocks: list[bytes], end: str) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        self.streams_started += 1
        for block in blocks:
            await response.write(block)
        if end == "close":
            assert request.transport is not None
            request.transport.close()
            self.streams_cut += 1
        else:
            await response.write_eof()
            self.streams_finished += 1
        return response

    async def _tool_call(self, request: web.Request, body: dict[str, Any], call: ToolCall) -> web.StreamResponse:
        tool_call = {
            "id": f"call_{self.request_count}",
            "type": "function",
            "function": {"name": call["name"], "arguments": orjson.dumps(call["arguments"]).decode()},
        }
        if not body.get("stream"):
            message = {"role": "assistant", "content": None, "tool_calls": [tool_call]}
            choice = {"index": 0, "message": message, "finish_reason": "tool_calls"}
            return _json({"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "choices": [choice]})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(self._chunk(body, {"role": "assistant", "tool_calls": [{"index": 0, **tool_call}]}))
        await response.write(self._chunk(body, {}, "tool_calls"))
        await response.write(b"data: [DONE]\n\n")
        return response

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body, failed = await self._gate(request)
        if failed is not None:
            return failed
        text = f"[{self.name}] {last_user_text(body)}"
        n = len(text.split())
        choice = {"index": 0, "text": text, "finish_reason": "stop"}
        return _json(
            {
                "id": "cmpl-fake",
                "object": "text_completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [choice],
                "usage": _usage(n, n),
            }
        )

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        body, failed = await self._gate(request)
        if failed is not None:
            return failed
        inputs = body.get("input")
        items = [inputs] if isinstance(inputs, str) else list(inputs or [])
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(str(t)) % 7), 1.0, 0.5]}
            for i, t in enumerate(items)
        ]
        tokens = sum(len(str(t).split()) for t in items)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return _json({"object": "list", "data": data, "model": body.get("model"), "usage": usage})

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        """A minimal Responses API: `[name] <input text>` as one output_text, usage as input/output tokens."""
        body, failed = await self._gate(request)
        if failed is not None:
            return failed
        prompt = body.get("input")
        prompt_text = prompt if isinstance(prompt, str) else str(prompt)
        words = f"[{self.name}] {prompt_text}".split(" ")
        usage = {"input_tokens": len(prompt_text.split()), "output_tokens": len(words)}
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        text = " ".join(words)
        part = {"type": "output_text", "text": text, "annotations": []}
        item = {"type": "message", "id": "msg_fake", "status": "completed", "role": "assistant", "content": [part]}
        response = {
            "id": "resp_fake",
            "object": "response",
            "created_at": int(time.time()),
            "model": body.get("model"),
            "status": "completed",
            "output": [item],
            "usage": usage,
        }
        if not body.get("stream"):
            return _json(response)
        stream = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await stream.prepare(request)
        created = {**response, "status": "in_progress", "output": [], "usage": None}
        events: list[dict[str, Any]] = [{"type": "response.created", "sequence_number": 0, "response": created}]
        for index, word in enumerate(words):
            delta = word if index == 0 else " " + word
            events.append(
                {
                    "type": "response.output_text.delta",
                    "sequence_number": index + 1,
                    "item_id": "msg_fake",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": delta,
                }
            )
        events.append({"type": "response.completed", "sequence_number": len(words) + 1, "response": response})
        for event in events:
            await stream.write(f"event: {event['type']}\n".encode() + _event(event))
        await stream.write_eof()
        return stream

    async def _models(self, request: web.Request) -> web.Response:
        if self.fail_status is not None:
            return web.Response(status=self.fail_status, body=_error_body("injected"), content_type="application/json")
        model = {"id": "fake", "object": "model", "created": 0, "owned_by": "fake"}
        return _json({"object": "list", "data": [model]})

    async def _control(self, request: web.Request) -> web.Response:
        update = orjson.loads(await request.read())
        if "fail" in update:
            self.fail_status = None if update["fail"] is None else int(update["fail"])
        if "delay_ms" in update:
            self.delay_s = float(update["delay_ms"]) / 1000
        if "token_delay_ms" in update:
            self.token_delay_s = float(update["token_delay_ms"]) / 1000
        if "script" in update:
            self.script = list(update["script"])
        return _json({"ok": True})

    async def _stats(self, request: web.Request) -> web.Response:
        return _json(self.stats())

    async def _reset(self, request: web.Request) -> web.Response:
        self.reset()
        return _json({"ok": True})


# ---- as a process ----


@contextmanager
def fake_upstream_process(
    log_dir: Path, name: str = "fake", *, token_delay_ms: float = 0.0
) -> Iterator[RunningProcess]:
    """`python -m tests.support.fake_upstream` on a free loopback port, stopped when the block ends."""
    args = ["--name", name, "--token-delay-ms", str(token_delay_ms)]
    with module_process("tests.support.fake_upstream", log_dir, args, log_name=f"upstream-{name}") as running:
        yield running


def control(upstream: RunningProcess, **changes: Any) -> None:
    """Change a FakeUpstream process: fail=<status>|None, delay_ms=, token_delay_ms=, script=[...]."""
    httpx.post(upstream.base_url + "/_control", json=changes, timeout=5).raise_for_status()


def upstream_stats(upstream: RunningProcess) -> dict[str, Any]:
    """A FakeUpstream process's counters: requests, last_body, last_auth, streams_started/finished/cut."""
    stats: dict[str, Any] = httpx.get(upstream.base_url + "/_stats", timeout=5).json()
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="fake")
    parser.add_argument("--token-delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    upstream = FakeUpstream(args.name, token_delay_s=args.token_delay_ms / 1000)
    # Do not wait for fake-slow handlers on shutdown: tests stop this process with SIGTERM.
    web.run_app(upstream.app(), host="127.0.0.1", port=args.port, access_log=None, print=None, shutdown_timeout=0.5)


if __name__ == "__main__":
    main()
