"""FakeChatUpstream: an OpenAI-compatible chat server on a loopback port, inside the test's event loop.

It speaks the real wire protocol (JSON and SSE), records every request body, and can be told to answer with a
fixed text, fail with an HTTP status, or stream slowly (to test client disconnects). GET /v1/models answers 200.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

Reply = Callable[[dict[str, Any]], str]
ToolCall = dict[str, Any]  # {"name": ..., "arguments": {...}}


def _default_reply(body: dict[str, Any]) -> str:
    return "The answer is in the context."


class FakeChatUpstream:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply: Reply = _default_reply
        self.script: list[str | ToolCall] = []  # when non-empty, each request pops its reply from here
        self.fail_status: int | None = None
        self.token_delay_s = 0.0
        self.streams_started = 0
        self.streams_finished = 0
        self.streams_cut = 0
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/v1"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def prompts(self) -> list[str]:
        """The text of every user message of every recorded request, joined per request."""
        return [
            "\n".join(str(m.get("content")) for m in body["messages"] if m.get("role") == "user")
            for body in self.requests
        ]

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fake-chat", "object": "model"}]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json(loads=orjson.loads)
        self.requests.append(body)
        if self.fail_status is not None:
            error = {"error": {"message": "fake upstream failure", "type": "server_error", "code": None}}
            return web.json_response(error, status=self.fail_status)
        scripted = self.script.pop(0) if self.script else None
        if isinstance(scripted, dict):
            return await self._tool_call(request, body, scripted)
        text = scripted if scripted is not None else self.reply(body)
        words = text.split(" ")
        if not body.get("stream"):
            message = {"role": "assistant", "content": text}
            return web.json_response(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body.get("model"),
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": len(words), "total_tokens": 1 + len(words)},
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        self.streams_started += 1
        try:
            for index, word in enumerate(words):
                await asyncio.sleep(self.token_delay_s)
                await response.write(self._chunk({"content": word if index == 0 else " " + word}))
            await response.write(self._chunk({}, "stop"))
            await response.write(b"data: [DONE]\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            self.streams_cut += 1
            raise
        self.streams_finished += 1
        return response

    async def _tool_call(self, request: web.Request, body: dict[str, Any], call: ToolCall) -> web.StreamResponse:
        assert body.get("stream"), "tool calls are only scripted for streaming requests"
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        function = {"name": call["name"], "arguments": orjson.dumps(call["arguments"]).decode()}
        delta = {
            "tool_calls": [{"index": 0, "id": f"call_{len(self.requests)}", "type": "function", "function": function}]
        }
        await response.write(self._chunk(delta))
        await response.write(self._chunk({}, "tool_calls"))
        await response.write(b"data: [DONE]\n\n")
        return response

    @staticmethod
    def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "fake-chat",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + orjson.dumps(body) + b"\n\n"
