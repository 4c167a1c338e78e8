"""Running one admitted generation: timing (TTFT, inter-token latency), token accounting, cancellation."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Literal

from inferstack.core.errors import ContextLengthExceededError
from inferstack.observability.generation_span import generation_span
from inferstack.observability.serving_metrics import ServingMetrics
from inferstack.openai_api.usage import usage_dict
from inferstack.serving.admission import Admission, Ticket
from inferstack.serving.engines.base import Engine, GenerationChunk, PreparedPrompt, SamplingParams

MaxTokensPolicy = Literal["cap", "reject"]


@dataclass(frozen=True, slots=True)
class Budget:
    prompt_tokens: int
    max_tokens: int


def token_budget(
    prompt: PreparedPrompt,
    requested: int | None,
    context_length: int,
    *,
    param: str,
    policy: MaxTokensPolicy = "reject",
) -> Budget:
    """Check prompt + max_tokens against the context; never truncate the prompt, never overflow.

    A prompt that leaves no room is always refused. A `max_tokens` over the room left is refused under
    `reject` (vLLM) and capped at the room under `cap` (llama.cpp's server), where the answer then ends
    with `finish_reason: "length"` if it runs that long.
    """
    room = context_length - prompt.n_tokens
    if room < 1:
        raise ContextLengthExceededError(
            f"this model's context is {context_length} tokens and the prompt alone has {prompt.n_tokens}",
            param=param,
        )
    if requested is None:
        return Budget(prompt.n_tokens, room)
    if requested > room:
        if policy == "cap":
            return Budget(prompt.n_tokens, room)
        raise ContextLengthExceededError(
            f"this model's context is {context_length} tokens; the prompt has {prompt.n_tokens} tokens "
            f"and max_tokens asks for {requested} more",
            param=param,
        )
    return Budget(prompt.n_tokens, requested)


@dataclass(frozen=True, slots=True)
class Generated:
    """A whole (non-streamed) generation: its text, why it stopped, and OpenAI usage."""

    text: str
    finish_reason: str
    usage: dict[str, int]
    logprobs: list[dict[str, Any]] | None = None


def final_usage(last: GenerationChunk, prompt: PreparedPrompt) -> dict[str, int]:
    """Usage from the engine's last chunk, falling back to the prompt as tokenised here."""
    return usage_dict(last.prompt_tokens or prompt.n_tokens, last.completion_tokens or 0)


class MeteredGeneration:
    def __init__(self, engine: Engine, admission: Admission, metrics: ServingMetrics) -> None:
        self._engine = engine
        self._admission = admission
        self._metrics = metrics

    def admit(self) -> Ticket:
        """Reserve capacity before the response starts, so overload is a real 503."""
        return self._admission.ticket()

    async def collect(self, ticket: Ticket, prompt: PreparedPrompt, params: SamplingParams) -> Generated:
        parts: list[str] = []
        logprobs: list[dict[str, Any]] | None = [] if params.logprobs is not None else None
        last = GenerationChunk(text="")
        async with aclosing(self.run(ticket, prompt, params)) as chunks:
            async for chunk in chunks:
                parts.append(chunk.text)
                if logprobs is not None and chunk.logprobs:
                    logprobs.extend(chunk.logprobs)
                last = chunk
        return Generated("".join(parts), last.finish_reason or "stop", final_usage(last, prompt), logprobs)

    async def run(
        self, ticket: Ticket, prompt: PreparedPrompt, params: SamplingParams
    ) -> AsyncGenerator[GenerationChunk, None]:
        metrics, vllm = self._metrics, self._metrics.vllm
        started = time.perf_counter()
        last: float | None = None
        finished = False
        kv_held = 0  # KV cells this request holds while it generates (prompt + tokens so far), for kv_cache_usage
        span = generation_span(prompt.n_tokens, self._admission.in_flight, self._admission.slots)
        try:
            async for chunk in self._engine.generate(prompt, params):
                if chunk.text:
                    now = time.perf_counter()
                    if last is None:
                        if span is not None:
                            span.first_token()
                        metrics.ttft_seconds.observe(now - started)
                        vllm.ttft.observe(now - started)
                        kv_held = prompt.n_tokens + 1
                        vllm.hold_kv(kv_held)
                    else:
                        metrics.itl_seconds.observe(now - last)
                        vllm.itl.observe(now - last)
                        kv_held += 1
                        vllm.hold_kv(1)
                    last = now
                if chunk.finish_reason is not None:
                    finished = True
                    prompt_tokens = chunk.prompt_tokens or prompt.n_tokens
                    completion_tokens = chunk.completion_tokens or 0
                    metrics.prompt_tokens.inc(prompt_tokens)
                    metrics.completion_tokens.inc(completion_tokens)
                    vllm.prompt_tokens.inc(prompt_tokens)
                    vllm.generation_tokens.inc(completion_tokens)
                    vllm.finished(chunk.finish_reason)
                    vllm.e2e.observe(time.perf_counter() - started)
                    if span is not None:
                        span.finished(chunk.finish_reason, prompt_tokens, completion_tokens)
                yield chunk
        finally:
            if span is not None:
                span.end(completed=finished)
            if kv_held:
                vllm.hold_kv(-kv_held)
            if not finished:
                metrics.cancelled.inc()
                vllm.finished("abort")
            ticket.release()
