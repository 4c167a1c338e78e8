"""Text completions (`/v1/completions`) on an `Engine`, sharing admission and timing with chat."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from inferstack.core.errors import EngineError
from inferstack.openai_api.completions import CompletionRequest, completion
from inferstack.openai_api.errors import error_body_for
from inferstack.openai_api.sse import DONE_EVENT, sse_event
from inferstack.serving.admission import Ticket
from inferstack.serving.chat_service import sampling_params
from inferstack.serving.engines.base import Engine, GenerationChunk, PreparedPrompt, SamplingParams
from inferstack.serving.generation import MaxTokensPolicy, MeteredGeneration, final_usage, token_budget


@dataclass
class PreparedCompletion:
    completion_id: str
    created: int
    model: str
    prefix: str
    prompt: PreparedPrompt
    params: SamplingParams
    include_usage: bool
    ticket: Ticket


class CompletionService:
    def __init__(
        self, engine: Engine, generation: MeteredGeneration, *, max_tokens_policy: MaxTokensPolicy = "cap"
    ) -> None:
        self._engine = engine
        self._generation = generation
        self._max_tokens_policy: MaxTokensPolicy = max_tokens_policy

    async def prepare(self, request: CompletionRequest, model: str) -> PreparedCompletion:
        prompt = await self._engine.prepare_text(request.prompt_text)
        budget = token_budget(
            prompt, request.max_tokens, self._engine.info.context_length, param="prompt", policy=self._max_tokens_policy
        )
        ticket = self._generation.admit()
        return PreparedCompletion(
            completion_id="cmpl-" + secrets.token_hex(12),
            created=int(time.time()),
            model=model,
            prefix=request.prompt_text if request.echo else "",
            prompt=prompt,
            params=sampling_params(request, budget.max_tokens, None),
            include_usage=request.include_usage,
            ticket=ticket,
        )

    def _body(
        self,
        prep: PreparedCompletion,
        text: str,
        finish: str | None,
        usage: dict[str, Any] | None,
        *,
        chunk: bool,
    ) -> dict[str, Any]:
        return completion(
            completion_id=prep.completion_id,
            created=prep.created,
            model=prep.model,
            text=text,
            finish_reason=finish,
            usage=usage,
            chunk=chunk,
        )

    async def complete(self, prep: PreparedCompletion) -> dict[str, Any]:
        generated = await self._generation.collect(prep.ticket, prep.prompt, prep.params)
        return self._body(prep, prep.prefix + generated.text, generated.finish_reason, generated.usage, chunk=False)

    async def stream(self, prep: PreparedCompletion) -> AsyncGenerator[bytes, None]:
        if prep.prefix:
            yield sse_event(self._body(prep, prep.prefix, None, None, chunk=True))
        last = GenerationChunk(text="")
        try:
            async with aclosing(self._generation.run(prep.ticket, prep.prompt, prep.params)) as chunks:
                async for chunk in chunks:
                    last = chunk
                    if chunk.text:
                        yield sse_event(self._body(prep, chunk.text, None, None, chunk=True))
        except EngineError as exc:
            yield sse_event(error_body_for(exc))
            yield DONE_EVENT
            return
        yield sse_event(self._body(prep, "", last.finish_reason or "stop", None, chunk=True))
        if prep.include_usage:
            body = self._body(prep, "", None, final_usage(last, prep.prompt), chunk=True)
            body["choices"] = []
            yield sse_event(body)
        yield DONE_EVENT
