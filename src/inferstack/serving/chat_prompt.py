"""OpenAI chat messages to engine turns: roles normalised, tool traffic written as text.

Earlier tool calls are shown to the model in the same JSON shape it is constrained to produce, and
tool results arrive as user turns, so any chat template (with or without tool support) renders them.
"""

from __future__ import annotations

import json

from inferstack.core.errors import InvalidRequestError
from inferstack.openai_api.chat import (
    AssistantMessage,
    ChatMessage,
    DeveloperMessage,
    FunctionMessage,
    ImageUrlPart,
    SystemMessage,
    ToolMessage,
    UserMessage,
    message_text,
)
from inferstack.serving.engines.base import ChatTurn


def chat_turns(messages: list[ChatMessage], *, instructions: str | None) -> list[ChatTurn]:
    call_names: dict[str, str] = {}
    turns: list[ChatTurn] = []
    for index, message in enumerate(messages):
        if isinstance(message, SystemMessage | DeveloperMessage):
            turns.append(ChatTurn("system", message_text(message.content)))
        elif isinstance(message, UserMessage):
            if isinstance(message.content, list) and any(isinstance(p, ImageUrlPart) for p in message.content):
                raise InvalidRequestError(
                    "this model accepts text only; remove image_url content parts "
                    "(or start the server with serve.image_input: ocr to read images as OCR text)",
                    param=f"messages.{index}.content",
                )
            turns.append(ChatTurn("user", message_text(message.content)))
        elif isinstance(message, AssistantMessage):
            turns.append(ChatTurn("assistant", _assistant_text(message, call_names)))
        elif isinstance(message, ToolMessage):
            name = call_names.get(message.tool_call_id, "a tool")
            text = f"Result of {name} (call {message.tool_call_id}): {message_text(message.content)}"
            turns.append(ChatTurn("user", text))
        elif isinstance(message, FunctionMessage):
            turns.append(ChatTurn("user", f"Result of {message.name}: {message_text(message.content)}"))
    if instructions:
        turns = _with_instructions(turns, instructions)
    return turns


def _assistant_text(message: AssistantMessage, call_names: dict[str, str]) -> str:
    if message.function_call is not None and not message.tool_calls:
        legacy = message.function_call
        try:
            legacy_arguments = json.loads(legacy.arguments or "{}")
        except json.JSONDecodeError:
            legacy_arguments = legacy.arguments
        return json.dumps({"name": legacy.name, "arguments": legacy_arguments}, ensure_ascii=False)
    if not message.tool_calls:
        return message_text(message.content)
    calls = []
    for call in message.tool_calls:
        call_names[call.id] = call.function.name
        try:
            arguments = json.loads(call.function.arguments or "{}")
        except json.JSONDecodeError:
            arguments = call.function.arguments
        calls.append({"name": call.function.name, "arguments": arguments})
    payload = calls[0] if len(calls) == 1 else {"tool_calls": calls}
    return json.dumps(payload, ensure_ascii=False)


def _with_instructions(turns: list[ChatTurn], instructions: str) -> list[ChatTurn]:
    if turns and turns[0].role == "system":
        return [ChatTurn("system", f"{turns[0].content}\n\n{instructions}"), *turns[1:]]
    return [ChatTurn("system", instructions), *turns]
