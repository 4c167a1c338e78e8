"""Deterministic engines for fast unit tests: no model, same output for the same input.

`FakeEngine` writes a reply derived from the prompt (or, under a JSON-schema constraint, the
smallest instance of that schema) one word per token. `FakeEmbeddingEngine` hashes words into a
normalised bag-of-words vector, so texts sharing words are close.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from inferstack.core.errors import ContextLengthExceededError
from inferstack.serving.engines.base import (
    ChatTurn,
    EmbeddingModelInfo,
    EngineInfo,
    GenerationChunk,
    PreparedPrompt,
    SamplingParams,
)
from inferstack.serving.engines.registry import EmbeddingEngineEntry, GenerationEngineEntry

if TYPE_CHECKING:
    from inferstack.serving.settings import ServeSettings

_WORD = re.compile(r"\S+\s*")


def _pieces(text: str) -> list[str]:
    return _WORD.findall(text)


def _token_id(piece: str) -> int:
    return int.from_bytes(hashlib.blake2b(piece.encode(), digest_size=4).digest(), "big")


class FakeEngine(GenerationEngineEntry, name="fake"):
    """`Engine` that needs no model. `token_delay` (seconds) simulates decoding speed."""

    @classmethod
    def from_settings(cls, settings: ServeSettings) -> FakeEngine:
        return cls(
            model_id=settings.served_model_name or "fake-model",
            context_length=settings.ctx_size,
            slots=settings.parallel,
        )

    def __init__(
        self,
        *,
        model_id: str = "fake-model",
        context_length: int = 2048,
        slots: int = 4,
        token_delay: float = 0.0,
    ) -> None:
        self._info = EngineInfo(
            kind="fake", model_id=model_id, context_length=context_length, slots=slots, logprobs=True
        )
        self._token_delay = token_delay
        self._texts: dict[int, str] = {}

    @property
    def info(self) -> EngineInfo:
        return self._info

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def prepare_chat(self, turns: Sequence[ChatTurn]) -> PreparedPrompt:
        text = "".join(f"<{t.role}> {t.content}\n" for t in turns) + "<assistant> "
        return await self.prepare_text(text)

    async def prepare_text(self, text: str) -> PreparedPrompt:
        return PreparedPrompt(tokens=[_token_id(p) for p in _pieces(text)], text=text)

    async def generate(self, prompt: PreparedPrompt, params: SamplingParams) -> AsyncGenerator[GenerationChunk, None]:
        if prompt.n_tokens + params.max_tokens > self._info.context_length:
            raise ContextLengthExceededError(
                f"this model's context is {self._info.context_length} tokens; the prompt has "
                f"{prompt.n_tokens} and max_tokens asks for {params.max_tokens}",
                param="messages",
            )
        if params.json_schema is not None:
            reply = orjson.dumps(schema_instance(params.json_schema)).decode()
            pieces = [reply[i : i + 4] for i in range(0, len(reply), 4)]
        else:
            words = (prompt.text or "").split()[-6:]
            pieces = _pieces("Fake reply about " + " ".join(words) + ". That is all.")
        emitted: list[str] = []
        finish: str = "stop"
        for index, piece in enumerate(pieces):
            if index >= params.max_tokens:
                finish = "length"
                break
            candidate = "".join(emitted) + piece
            stop_at = _first_stop(candidate, params.stop)
            if stop_at is not None:
                tail = candidate[:stop_at][len("".join(emitted)) :]
                if tail:
                    emitted.append(tail)
                    yield GenerationChunk(text=tail)
                break
            emitted.append(piece)
            if self._token_delay:
                await asyncio.sleep(self._token_delay)
            yield GenerationChunk(text=piece, logprobs=_fake_logprobs(piece, params.logprobs))
        yield GenerationChunk(
            text="",
            finish_reason="length" if finish == "length" else "stop",
            prompt_tokens=prompt.n_tokens,
            completion_tokens=len(emitted),
        )


def _fake_logprobs(piece: str, top: int | None) -> list[dict[str, Any]] | None:
    """Certainty for the emitted piece and ever less likely made-up alternatives."""
    if top is None:
        return None
    alternatives = [{"token": piece, "logprob": 0.0, "bytes": list(piece.encode())}]
    alternatives += [
        {"token": f"alt{i}", "logprob": -float(i), "bytes": list(f"alt{i}".encode())} for i in range(1, top)
    ]
    return [{"token": piece, "logprob": 0.0, "bytes": list(piece.encode()), "top_logprobs": alternatives[:top]}]


def _first_stop(text: str, stops: Sequence[str]) -> int | None:
    positions = [text.find(s) for s in stops if s in text]
    return min(positions) if positions else None


def schema_instance(schema: dict[str, Any]) -> Any:
    """The smallest value that satisfies common JSON Schemas (enough for tests of the plumbing)."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return schema_instance(schema[key][0])
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(part)
        return schema_instance(merged)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object":
        props: dict[str, Any] = schema.get("properties", {})
        return {name: schema_instance(props.get(name, {})) for name in schema.get("required", [])}
    if kind == "array":
        return [schema_instance(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        return "x" * int(schema.get("minLength", 1))
    if kind == "integer":
        return int(schema.get("minimum", 0))
    if kind == "number":
        return float(schema.get("minimum", 0))
    if kind == "boolean":
        return False
    return None


class FakeEmbeddingEngine(EmbeddingEngineEntry, name="fake"):
    """`EmbeddingEngine` that hashes words into a fixed-size unit vector."""

    @classmethod
    def from_settings(cls, settings: ServeSettings) -> FakeEmbeddingEngine:
        names = settings.embedding_served_model_name
        return cls(model_id=names[0]) if names else cls()

    def __init__(self, *, model_id: str = "fake-embedding", dimension: int = 64, max_input_tokens: int = 256) -> None:
        self._info = EmbeddingModelInfo(model_id=model_id, dimension=dimension, max_input_tokens=max_input_tokens)

    @property
    def info(self) -> EmbeddingModelInfo:
        return self._info

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) + 2 for t in texts]

    async def truncate(self, texts: Sequence[str], max_tokens: int) -> list[str]:
        return [" ".join(t.split()[: max(max_tokens - 2, 1)]) for t in texts]

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self._info.dimension
        for word in re.findall(r"\w+", text.lower()):
            vec[_token_id(word) % self._info.dimension] += 1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]
