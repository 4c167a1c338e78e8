"""Chat completions on an `Engine`: prompt building, constrained output, streaming and usage.

No web framework here: routes call `prepare` (which validates, templates, checks the context and
takes a slot, so every refusal happens before a response starts), then `complete` or `stream`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from inferstack.core.errors import EngineError, InvalidRequestError
from inferstack.openai_api.chat import ChatCompletionRequest, chat_chunk, chat_completion
from inferstack.openai_api.errors import error_body_for
from inferstack.openai_api.sse import DONE_EVENT, sse_event
from inferstack.serving.admission import Ticket
from inferstack.serving.chat_prompt import chat_turns
from inferstack.serving.engines.base import Engine, GenerationChunk, PreparedPrompt, SamplingParams
from inferstack.serving.generation import MaxTokensPolicy, MeteredGeneration, final_usage, token_budget
from inferstack.serving.image_input import OcrImageInput
from inferstack.serving.structured_output import OutputPlan, ParsedOutput, plan_output
from inferstack.serving.tool_call_stream import ToolCallStream

STRUCTURED_DEFAULT_MAX_TOKENS = 1024


@dataclass
class PreparedChat:
    completion_id: str
    created: int
    model: str
    plan: OutputPlan
    prompt: PreparedPrompt
    params: SamplingParams
    include_usage: bool
    ticket: Ticket
    legacy_functions: bool = False  # the request used `functions`: answer with `function_call`


def sampling_params(
    request: Any, max_tokens: int, json_schema: dict[str, Any] | None, *, logprobs: int | None = None
) -> SamplingParams:
    return SamplingParams(
        max_tokens=max_tokens,
        temperature=1.0 if request.temperature is None else request.temperature,
        top_p=1.0 if request.top_p is None else request.top_p,
        seed=request.seed,
        stop=tuple(request.stop_list()),
        presence_penalty=request.presence_penalty or 0.0,
        frequency_penalty=request.frequency_penalty or 0.0,
        json_schema=json_schema,
        logprobs=logprobs,
    )


class ChatService:
    def __init__(
        self,
        engine: Engine,
        generation: MeteredGeneration,
        *,
        max_tokens_policy: MaxTokensPolicy = "cap",
        image_input: OcrImageInput | None = None,
    ) -> None:
        self._image_input = image_input
        self._engine = engine
        self._generation = generation
        self._max_tokens_policy: MaxTokensPolicy = max_tokens_policy

    async def prepare(self, request: ChatCompletionRequest, model: str) -> PreparedChat:
        plan = plan_output(request)
        try:
            logprobs = request.logprobs_wanted
        except ValueError as exc:
            raise InvalidRequestError(str(exc), param="top_logprobs") from None
        if logprobs is not None and not self._engine.info.logprobs:
            raise InvalidRequestError(
                f"the {self._engine.info.kind} engine of this server does not report logprobs", param="logprobs"
            )
        messages = request.messages
        if self._image_input is not None:
            messages = await self._image_input.to_text(messages)
        turns = chat_turns(messages, instructions=plan.instructions)
        prompt = await self._engine.prepare_chat(turns)
        limit = request.token_limit
        if limit is None and plan.json_schema is not None:
            # A constrained answer with no explicit limit gets a bounded default (finish_reason
            # "length" says so if it is reached), so a looping small model cannot hold a slot forever.
            limit = min(STRUCTURED_DEFAULT_MAX_TOKENS, self._engine.info.context_length - prompt.n_tokens)
        budget = token_budget(
            prompt, limit, self._engine.info.context_length, param="messages", policy=self._max_tokens_policy
        )
        ticket = self._generation.admit()
        return PreparedChat(
            completion_id="chatcmpl-" + secrets.token_hex(12),
            created=int(time.time()),
            model=model,
            plan=plan,
            prompt=prompt,
            params=sampling_params(request, budget.max_tokens, plan.json_schema, logprobs=logprobs),
            include_usage=request.include_usage,
            ticket=ticket,
            legacy_functions=request.functions is not None,
        )

    async def complete(self, prep: PreparedChat) -> dict[str, Any]:
        generated = await self._generation.collect(prep.ticket, prep.prompt, prep.params)
        text = generated.text
        finish = generated.finish_reason
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if prep.plan.mode == "tools":
            if finish == "length":
                message["content"] = _cut_off_answer(text)
            else:
                message, finish = _tool_message(prep.plan.parse(text))
                if prep.legacy_functions and finish == "tool_calls":
                    call = message.pop("tool_calls")[0]["function"]
                    message["function_call"], finish = call, "function_call"
        elif prep.plan.mode == "json" and finish != "length":
            prep.plan.check_json(text)
        return chat_completion(
            completion_id=prep.completion_id,
            created=prep.created,
            model=prep.model,
            message=message,
            finish_reason=finish,
            usage=generated.usage,
            logprobs=generated.logprobs if prep.plan.mode != "tools" else None,
        )

    async def stream(self, prep: PreparedChat) -> AsyncGenerator[bytes, None]:
        try:
            async with aclosing(self.chunks(prep)) as chunks:
                async for chunk in chunks:
                    yield sse_event(chunk)
        except EngineError as exc:
            yield sse_event(error_body_for(exc))
        yield DONE_EVENT

    async def chunks(self, prep: PreparedChat) -> AsyncGenerator[dict[str, Any], None]:
        """The answer as `chat.completion.chunk` dicts; an `EngineError` mid-way raises after what was sent."""

        def event(
            delta: dict[str, Any] | None,
            finish: str | None = None,
            usage: dict[str, Any] | None = None,
            logprobs: list[dict[str, Any]] | None = None,
        ) -> dict[str, Any]:
            return chat_chunk(
                completion_id=prep.completion_id,
                created=prep.created,
                model=prep.model,
                delta=delta,
                finish_reason=finish,
                usage=usage,
                logprobs=logprobs,
            )

        tools = ToolCallStream() if prep.plan.mode == "tools" else None
        yield event({"role": "assistant", "content": ""})
        last = GenerationChunk(text="")
        async with aclosing(self._generation.run(prep.ticket, prep.prompt, prep.params)) as chunks:
            async for chunk in chunks:
                last = chunk
                if not chunk.text:
                    continue
                if tools is None:
                    yield event({"content": chunk.text}, logprobs=chunk.logprobs)
                else:
                    for delta in tools.feed(chunk.text):
                        yield event(_legacy_delta(delta) if prep.legacy_functions else delta)
        finish: str = last.finish_reason or "stop"
        if tools is not None and finish != "length":
            parsed = prep.plan.finish(tools)
            finish = ("function_call" if prep.legacy_functions else "tool_calls") if parsed.calls else "stop"
        yield event({}, finish)
        if prep.include_usage:
            yield event(None, usage=final_usage(last, prep.prompt))


def _legacy_delta(delta: dict[str, Any]) -> dict[str, Any]:
    """A streamed tool-call delta in the legacy shape (`function_call`: name, then argument pieces)."""
    calls = delta.get("tool_calls")
    if not calls:
        return delta
    function = dict(calls[0].get("function") or {})
    return {k: v for k, v in delta.items() if k != "tool_calls"} | {"function_call": function}


def _cut_off_answer(text: str) -> str:
    """A constrained output that hit its token limit: the plain answer so far, else the raw text."""
    stream = ToolCallStream()
    stream.feed(text)
    return stream.content if stream.content is not None and not stream.calls else text


def _tool_message(parsed: ParsedOutput) -> tuple[dict[str, Any], str]:
    if not parsed.calls:
        return {"role": "assistant", "content": parsed.content}, "stop"
    calls = [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in parsed.calls
    ]
    return {"role": "assistant", "content": None, "tool_calls": calls}, "tool_calls"
