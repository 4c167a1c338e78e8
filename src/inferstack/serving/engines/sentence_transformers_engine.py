"""Embeddings with sentence-transformers. The only module that imports sentence_transformers/torch.

Calls run on one worker thread (the model is not shared between threads); each request is encoded
as one batch of at most `batch_size` texts at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from inferstack.core.errors import EngineError
from inferstack.core.extras import imports_of_extra
from inferstack.serving.engines.base import EmbeddingModelInfo
from inferstack.serving.engines.registry import EmbeddingEngineEntry
from inferstack.serving.model_files import resolve_embedding_model

if TYPE_CHECKING:
    from inferstack.serving.settings import ServeSettings


@dataclass(frozen=True, slots=True)
class SentenceTransformerConfig:
    model: str
    model_id: str
    batch_size: int = 64
    threads: int | None = None


class SentenceTransformerEngine(
    EmbeddingEngineEntry,
    name="sentence-transformers",
    requires=("sentence_transformers", "torch"),
    extra="serve",
):
    """`EmbeddingEngine` over a sentence-transformers model on the CPU."""

    @classmethod
    def from_settings(cls, settings: ServeSettings) -> SentenceTransformerEngine:
        model, model_id = resolve_embedding_model(settings.embedding_model)
        names = settings.embedding_served_model_name
        return cls(
            SentenceTransformerConfig(model=model, model_id=names[0] if names else model_id, threads=settings.threads)
        )

    def __init__(self, config: SentenceTransformerConfig) -> None:
        self._config = config
        self._model: Any = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        self._info = EmbeddingModelInfo(model_id=config.model_id, dimension=0, max_input_tokens=0)

    @property
    def info(self) -> EmbeddingModelInfo:
        return self._info

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._model = await loop.run_in_executor(self._executor, self._load)
        self._info = EmbeddingModelInfo(
            model_id=self._config.model_id,
            dimension=int(self._model.get_embedding_dimension()),
            max_input_tokens=int(self._model.max_seq_length),
        )

    def _load(self) -> Any:
        with imports_of_extra("serve"):
            import torch
            from sentence_transformers import SentenceTransformer
        if self._config.threads:
            torch.set_num_threads(self._config.threads)
        try:
            return SentenceTransformer(self._config.model, device="cpu")
        except Exception as exc:
            raise EngineError(f"could not load embedding model '{self._config.model}': {exc}") from exc

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def count_tokens(self, texts: Sequence[str]) -> list[int]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._count, list(texts))

    def _count(self, texts: list[str]) -> list[int]:
        encoded = self._model.tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]

    async def truncate(self, texts: Sequence[str], max_tokens: int) -> list[str]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._truncate, list(texts), max_tokens)

    def _truncate(self, texts: list[str], max_tokens: int) -> list[str]:
        """Cut the original text where the tokenizer's truncation ends (offsets), so nothing is re-spelled."""
        encoded = self._model.tokenizer(
            texts, add_special_tokens=True, truncation=True, max_length=max_tokens, return_offsets_mapping=True
        )
        cut = []
        for text, offsets in zip(texts, encoded["offset_mapping"], strict=True):
            end = max((stop for _, stop in offsets), default=0)
            cut.append(text[:end] if end else text)
        return cut

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._encode, list(texts))

    def _encode(self, texts: list[str]) -> list[list[float]]:
        vectors = self._model.encode(
            texts,
            batch_size=self._config.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        result: list[list[float]] = vectors.tolist()
        return result
