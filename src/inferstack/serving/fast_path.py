"""The generation routes (`POST /v1/chat/completions`, `/v1/completions`) as a bare ASGI app in front of
FastAPI, inside the shared middleware (metrics, body limit, API key) like every other route.

FastAPI's routing, exception and exit-stack layers and Starlette's streaming response (an anyio task group
per stream) were about 40% of the model server's CPU per request; every request pays it before its first
token. Here the body is read and parsed, the service prepares (every refusal before a response starts),
and the answer or SSE stream is sent directly. A client that leaves cancels the generation either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inferstack.core.errors import InferstackError
from inferstack.http.body import parse_json_body
from inferstack.http.disconnect import ClientDisconnectedError, until_disconnected, wait_for_disconnect
from inferstack.http.middleware import send_error
from inferstack.http.responses import JSON_HEADER, SSE_HEADERS
from inferstack.openai_api.chat import ChatCompletionRequest
from inferstack.openai_api.completions import CompletionRequest
from inferstack.openai_api.errors import error_body
from inferstack.openai_api.responses import ResponsesRequest
from inferstack.serving.admission import Ticket

if TYPE_CHECKING:
    from inferstack.serving.app import ServerState

log = logging.getLogger(__name__)

# 499 is nginx's "client closed request": logged and counted, never seen by the (gone) client.
CLIENT_CLOSED = 499


class _Prepared(Protocol):
    ticket: Ticket


class _GenerationService(Protocol):
    """What `ChatService` and `CompletionService` have in common."""

    async def prepare(self, request: Any, model: str) -> Any: ...

    def stream(self, prep: Any) -> AsyncGenerator[bytes, None]: ...

    async def complete(self, prep: Any) -> dict[str, Any]: ...


class _ClientGoneError(Exception):
    pass


class GenerationFastPath:
    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state
        self._routes: dict[str, tuple[type[BaseModel], _GenerationService]] = {
            "/v1/chat/completions": (ChatCompletionRequest, state.chat),
            "/v1/completions": (CompletionRequest, state.completions),
            "/v1/responses": (ResponsesRequest, state.responses),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await _send_json(send, 405, error_body("Method Not Allowed", "invalid_request_error"), allow=True)
            return
        try:
            raw = await _read_body(receive)  # outside the handlers below: the body limit raises through here
        except _ClientGoneError:
            return
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        schema, service = route
        try:
            await self._generate(service, parse_json_body(raw, schema), receive, tracked_send)
        except InferstackError as exc:
            if not started:
                await send_error(send, exc)
        except Exception:
            log.exception("unhandled error on %s", scope["path"])
            if not started:
                await _send_json(send, 500, error_body("internal server error", "server_error"))

    async def _generate(self, service: _GenerationService, body: Any, receive: Receive, send: Send) -> None:
        prep: _Prepared = await service.prepare(body, self.state.chat_model(body.model))
        try:
            if body.stream:
                await _send_stream(send, receive, service.stream(prep))
                return
            try:
                answer = await until_disconnected(receive, service.complete(prep))
            except ClientDisconnectedError:
                await send({"type": "http.response.start", "status": CLIENT_CLOSED, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
            await _send_json(send, 200, answer)
        finally:
            prep.ticket.release()  # a stream that never started holds its place until here


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGoneError
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send_json(send: Send, status: int, body: Any, *, allow: bool = False) -> None:
    payload = orjson.dumps(body)
    headers = [JSON_HEADER, (b"content-length", str(len(payload)).encode())]
    if allow:
        headers.append((b"allow", b"POST"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _send_stream(send: Send, receive: Receive, events: AsyncGenerator[bytes, None]) -> None:
    """Send SSE events as they come; a client that leaves cancels the pump, which stops the generation."""

    async def pump() -> None:
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        async for event in events:
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    pumping = asyncio.ensure_future(pump())
    watching = asyncio.ensure_future(wait_for_disconnect(receive))
    try:
        await asyncio.wait({pumping, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pumping, watching):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await pumping  # OSError: the connection broke mid-send; the client has gone either way
        await events.aclose()
