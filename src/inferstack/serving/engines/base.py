"""The narrow interfaces the model server sees: `Engine` (text generation) and `EmbeddingEngine`.

An engine turns chat messages or raw text into prompt tokens (so the server can check the context
length before anything is queued) and streams generated text for a prepared prompt. Engines know
nothing about HTTP or OpenAI response shapes.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True, slots=True)
class ChatTurn:
    """One message as the engine renders it: plain text, roles already normalised."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class PreparedPrompt:
    """A prompt after templating and tokenisation; `tokens` is what the engine will evaluate."""

    tokens: Sequence[int]
    text: str | None = None

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)


@dataclass(frozen=True, slots=True)
class SamplingParams:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    json_schema: dict[str, Any] | None = None
    logprobs: int | None = None  # None: none; k: each token's logprob and its k most likely alternatives


@dataclass(slots=True)
class GenerationChunk:
    """A piece of generated text. The last chunk carries `finish_reason` and token counts."""

    text: str
    finish_reason: FinishReason | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    logprobs: list[dict[str, Any]] | None = None  # OpenAI chat's `logprobs.content` entries for `text`


@dataclass(frozen=True, slots=True)
class EngineInfo:
    kind: str
    model_id: str
    context_length: int
    slots: int
    logprobs: bool = False  # whether `SamplingParams.logprobs` is honoured
    metadata: dict[str, Any] = field(default_factory=dict)


class Engine(Protocol):
    """Text generation. Implementations: llamacpp, vllm, fake."""

    @property
    def info(self) -> EngineInfo: ...

    async def start(self) -> None:
        """Load the model; `/health` turns ready once this returns."""

    async def close(self) -> None: ...

    async def prepare_chat(self, turns: Sequence[ChatTurn]) -> PreparedPrompt:
        """Apply the model's chat template (with the assistant generation prompt) and tokenise."""
        ...

    async def prepare_text(self, text: str) -> PreparedPrompt: ...

    def generate(self, prompt: PreparedPrompt, params: SamplingParams) -> AsyncGenerator[GenerationChunk, None]:
        """Stream generated text. Closing the iterator early cancels generation and frees the slot."""
        ...


@dataclass(frozen=True, slots=True)
class EmbeddingModelInfo:
    model_id: str
    dimension: int
    max_input_tokens: int


class EmbeddingEngine(Protocol):
    """Sentence embeddings. Implementations: sentence-transformers, fake."""

    @property
    def info(self) -> EmbeddingModelInfo: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    async def truncate(self, texts: Sequence[str], max_tokens: int) -> list[str]:
        """Each text cut to its first `max_tokens` tokens (special tokens included), as the model would."""
        ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...
