"""FakeEmbedder: deterministic unit vectors, word overlap gives similarity, failures on request."""

from __future__ import annotations

import numpy as np
import pytest

from inferstack.retrieval.embedders.base import EmbeddingError
from inferstack.retrieval.embedders.fake import FakeEmbedder


async def test_vectors_are_deterministic_unit_and_sized() -> None:
    first = await FakeEmbedder(16).embed(["hello world", "other text"])
    second = await FakeEmbedder(16).embed(["hello world", "other text"])
    assert first == second
    assert all(len(v) == 16 for v in first)
    assert all(np.linalg.norm(v) == pytest.approx(1.0) for v in first)


async def test_shared_words_are_closer_than_unrelated_words() -> None:
    embedder = FakeEmbedder(256)
    query, related, unrelated = (
        embedder.vector("diabetes insulin"),
        embedder.vector("insulin and diabetes care"),
        (embedder.vector("volcano eruption lava")),
    )
    assert float(np.dot(query, related)) > float(np.dot(query, unrelated))


async def test_fails_on_the_configured_call_only() -> None:
    embedder = FakeEmbedder(8, fail_on_call=2)
    await embedder.embed(["a"])
    with pytest.raises(EmbeddingError):
        await embedder.embed(["b"])
    assert len(await embedder.embed(["c"])) == 1
    assert embedder.calls == 3
    assert embedder.texts_embedded == 2
