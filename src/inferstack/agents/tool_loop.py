"""A bounded OpenAI `tools` loop: the model calls tools, sees their results, and answers — within a cap on
rounds and on wall-clock time, which the reference's tool loops lacked.

    round 1..max_rounds: completion (tool_choice `first_choice` on round 1, then "auto")
        no tool calls -> the answer; stop "answered"
        tool calls    -> run each (an error becomes the tool message the model reads), next round
    rounds used up    -> one last completion without tools, the results folded into one user message (small
                         models otherwise imitate the calls in the history); stop "max_rounds"
    deadline passed   -> stop "time_limit" with no answer (the caller says what it has)

Model failures escape as `openai` errors for the caller to translate; a tool's failure never does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import openai

from inferstack.core.errors import InferstackError

log = logging.getLogger(__name__)

ToolRunner = Callable[[str, dict[str, Any]], Awaitable[Any]]
ToolMessage = Callable[[str, Any], str]  # (tool name, result) -> what the model reads
StopReason = Literal["answered", "max_rounds", "time_limit"]
ToolChoice = Literal["auto", "required"]
_RESULT_CHARS = 4000


@dataclass(frozen=True)
class LoopLimits:
    max_rounds: int
    time_limit_s: float


@dataclass(frozen=True)
class ToolCallRecord:
    """One tool call the model made: its arguments and either a result or an error message."""

    round: int
    name: str
    arguments: dict[str, Any]
    result: Any = None
    error: str | None = None


@dataclass
class LoopResult:
    answer: str
    stopped: StopReason
    rounds: int
    calls: list[ToolCallRecord] = field(default_factory=list)


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        return self._end - time.monotonic()


async def run_tool_loop(
    client: openai.AsyncOpenAI,
    *,
    model: str,
    messages: Sequence[dict[str, Any]],
    tools: Sequence[dict[str, Any]],
    run_tool: ToolRunner,
    limits: LoopLimits,
    first_choice: ToolChoice = "auto",
    params: dict[str, Any] | None = None,
    tool_message: ToolMessage | None = None,
    answer_params: dict[str, Any] | None = None,
) -> LoopResult:
    """Run the loop on a copy of `messages`; `tools` are OpenAI tool definitions, `run_tool(name, args)` runs one
    and `tool_message(name, result)` writes a result for the model (JSON of the whole result by default);
    `answer_params` override `params` for the last completion after the cap."""
    render_result = tool_message or _tool_content
    deadline = _Deadline(limits.time_limit_s)
    conversation = list(messages)
    calls: list[ToolCallRecord] = []
    extra = params or {}
    for round_number in range(1, limits.max_rounds + 1):
        choice = first_choice if round_number == 1 else "auto"
        message = await _complete(client, model, conversation, tools, choice, extra, deadline)
        if message is None:
            return LoopResult("", "time_limit", round_number - 1, calls)
        if not message.tool_calls:
            return LoopResult((message.content or "").strip(), "answered", round_number, calls)
        conversation.append(_assistant_message(message))
        for call in message.tool_calls:
            if deadline.left() <= 0:
                return LoopResult("", "time_limit", round_number, calls)
            record = await _run_one(call, round_number, run_tool, deadline)
            calls.append(record)
            content = record.error if record.error is not None else render_result(name_of(call), record.result)
            conversation.append({"role": "tool", "tool_call_id": call.id, "content": content})
    log.info("tool loop reached its cap of %d rounds; asking for an answer without tools", limits.max_rounds)
    final = {**extra, **(answer_params or {})}
    message = await _complete(client, model, _folded(messages, conversation), (), None, final, deadline)
    if message is None:
        return LoopResult("", "time_limit", limits.max_rounds, calls)
    return LoopResult((message.content or "").strip(), "max_rounds", limits.max_rounds, calls)


async def _complete(
    client: openai.AsyncOpenAI,
    model: str,
    conversation: list[dict[str, Any]],
    tools: Sequence[dict[str, Any]],
    choice: str | None,
    params: dict[str, Any],
    deadline: _Deadline,
) -> Any:
    """The assistant message of one completion, or None when the deadline passes first."""
    left = deadline.left()
    if left <= 0:
        return None
    try:
        async with asyncio.timeout(left):
            create: Any = client.chat.completions.create  # message and tool dicts, typed loosely on purpose
            offered = {"tools": list(tools), "tool_choice": choice} if tools and choice is not None else {}
            response = await create(**params, **offered, model=model, messages=conversation)
    except TimeoutError:
        return None
    return response.choices[0].message


async def _run_one(call: Any, round_number: int, run_tool: ToolRunner, deadline: _Deadline) -> ToolCallRecord:
    name = call.function.name
    try:
        arguments = json.loads(call.function.arguments or "{}")
    except ValueError:
        return ToolCallRecord(round_number, name, {}, error=f"error: the arguments of {name} are not valid JSON")
    if not isinstance(arguments, dict):
        return ToolCallRecord(round_number, name, {}, error=f"error: the arguments of {name} are not an object")
    try:
        async with asyncio.timeout(max(deadline.left(), 0.001)):
            result = await run_tool(name, arguments)
    except TimeoutError:
        return ToolCallRecord(round_number, name, arguments, error=f"error: {name} did not finish in time")
    except InferstackError as exc:
        return ToolCallRecord(round_number, name, arguments, error=f"error: {exc.message}")
    return ToolCallRecord(round_number, name, arguments, result=result)


def _folded(messages: Sequence[dict[str, Any]], conversation: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The original messages plus one user message carrying every tool result, for an answer without tools."""
    names = {
        call["id"]: call["function"]["name"]
        for message in conversation
        if message["role"] == "assistant"
        for call in message.get("tool_calls") or []
    }
    results = [
        f"{names.get(message['tool_call_id'], 'tool')}: {message['content']}"
        for message in conversation
        if message["role"] == "tool"
    ]
    note = "Tool results:\n" + "\n".join(results) + "\n\nAnswer my question above using these results."
    return [*messages, {"role": "user", "content": note}]


def _assistant_message(message: Any) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": message.content,
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in message.tool_calls
        ],
    }


def name_of(call: Any) -> str:
    name: str = call.function.name
    return name


def _tool_content(_: str, result: Any) -> str:
    if hasattr(result, "model_dump"):
        result = result.model_dump(mode="json")
    text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)
    return text[:_RESULT_CHARS]
