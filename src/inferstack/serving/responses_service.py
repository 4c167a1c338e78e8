"""`POST /v1/responses` on the chat path: the request is translated to a chat request, prepared and run by
`ChatService`, and the answer is written as a Responses `response` object or as the Responses stream's events
(`response.created` ... `response.output_text.delta` ... `response.completed`)."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from inferstack.core.errors import EngineError, InvalidRequestError
from inferstack.http.errors import validation_message
from inferstack.openai_api.errors import error_body_for
from inferstack.openai_api.responses import (
    ResponsesRequest,
    chat_request,
    function_call_item,
    message_item,
    response_object,
    response_usage,
)
from inferstack.openai_api.sse import sse_event
from inferstack.serving.admission import Ticket
from inferstack.serving.chat_service import ChatService, PreparedChat


@dataclass
class PreparedResponse:
    request: ResponsesRequest
    chat: PreparedChat
    response_id: str = field(default_factory=lambda: "resp_" + secrets.token_hex(16))
    created_at: int = field(default_factory=lambda: int(time.time()))

    @property
    def ticket(self) -> Ticket:
        return self.chat.ticket


class ResponsesService:
    def __init__(self, chat: ChatService) -> None:
        self._chat = chat

    async def prepare(self, request: ResponsesRequest, model: str) -> PreparedResponse:
        try:
            chat = chat_request(request)
        except ValidationError as exc:
            message, param = validation_message(list(exc.errors(include_input=False)))
            raise InvalidRequestError(message, param=param) from None
        except ValueError as exc:
            raise InvalidRequestError(str(exc), param="input") from None
        return PreparedResponse(request=request, chat=await self._chat.prepare(chat, model))

    def _response(
        self, prep: PreparedResponse, output: list[dict[str, Any]], status: str, finish: str | None, usage: Any
    ) -> dict[str, Any]:
        return response_object(
            prep.request,
            response_id=prep.response_id,
            created_at=prep.created_at,
            model=prep.chat.model,
            output=output,
            status=status,
            finish_reason=finish,
            usage=response_usage(usage),
        )

    async def complete(self, prep: PreparedResponse) -> dict[str, Any]:
        answer = await self._chat.complete(prep.chat)
        choice = answer["choices"][0]
        message = choice["message"]
        output: list[dict[str, Any]] = []
        if message.get("content"):
            output.append(message_item("msg_" + secrets.token_hex(12), message["content"]))
        for call in message.get("tool_calls") or []:
            function = call["function"]
            output.append(
                function_call_item("fc_" + secrets.token_hex(12), call["id"], function["name"], function["arguments"])
            )
        return self._response(prep, output, "completed", choice["finish_reason"], answer.get("usage"))

    async def stream(self, prep: PreparedResponse) -> AsyncGenerator[bytes, None]:
        sequence = 0

        def event(kind: str, **payload: Any) -> bytes:
            nonlocal sequence
            sequence += 1
            return sse_event({"type": kind, "sequence_number": sequence - 1, **payload}, event=kind)

        yield event("response.created", response=self._response(prep, [], "in_progress", None, None))
        yield event("response.in_progress", response=self._response(prep, [], "in_progress", None, None))
        output: list[dict[str, Any]] = []
        text: list[str] | None = None
        message_id = "msg_" + secrets.token_hex(12)
        calls: dict[int, dict[str, Any]] = {}
        finish: str | None = None
        usage: dict[str, Any] | None = None
        try:
            async with aclosing(self._chat.chunks(prep.chat)) as chunks:
                async for chunk in chunks:
                    if chunk.get("usage"):
                        usage = chunk["usage"]
                    for choice in chunk["choices"]:
                        delta = choice["delta"]
                        finish = choice["finish_reason"] or finish
                        if delta.get("content"):
                            if text is None:
                                text = []
                                yield event(
                                    "response.output_item.added",
                                    output_index=len(output),
                                    item=message_item(message_id, "", status="in_progress"),
                                )
                                yield event(
                                    "response.content_part.added",
                                    item_id=message_id,
                                    output_index=len(output),
                                    content_index=0,
                                    part={"type": "output_text", "text": "", "annotations": []},
                                )
                            text.append(delta["content"])
                            yield event(
                                "response.output_text.delta",
                                item_id=message_id,
                                output_index=len(output),
                                content_index=0,
                                delta=delta["content"],
                                logprobs=[],
                            )
                        for call in delta.get("tool_calls") or []:
                            entry = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
                            entry["id"] = call.get("id") or entry["id"]
                            function = call.get("function") or {}
                            entry["name"] += function.get("name") or ""
                            entry["arguments"] += function.get("arguments") or ""
        except EngineError as exc:
            yield event("error", **error_body_for(exc)["error"])
            return
        if text is not None:
            whole = "".join(text)
            index = len(output)
            yield event(
                "response.output_text.done",
                item_id=message_id,
                output_index=index,
                content_index=0,
                text=whole,
                logprobs=[],
            )
            part = {"type": "output_text", "text": whole, "annotations": []}
            yield event(
                "response.content_part.done", item_id=message_id, output_index=index, content_index=0, part=part
            )
            output.append(message_item(message_id, whole))
            yield event("response.output_item.done", output_index=index, item=output[-1])
        for _, call in sorted(calls.items()):
            index, item_id = len(output), "fc_" + secrets.token_hex(12)
            pending = function_call_item(item_id, call["id"], call["name"], "", status="in_progress")
            yield event("response.output_item.added", output_index=index, item=pending)
            yield event(
                "response.function_call_arguments.delta", item_id=item_id, output_index=index, delta=call["arguments"]
            )
            yield event(
                "response.function_call_arguments.done",
                item_id=item_id,
                output_index=index,
                arguments=call["arguments"],
            )
            output.append(function_call_item(item_id, call["id"], call["name"], call["arguments"]))
            yield event("response.output_item.done", output_index=index, item=output[-1])
        final = self._response(prep, output, "completed", finish, usage)
        kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
        yield event(kind, response=final)
