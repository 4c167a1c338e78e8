"""InMemoryVectorStore: exact cosine ranking, filters, upsert-by-id, deletes, refused inputs."""

from __future__ import annotations

import numpy as np
import pytest

from inferstack.retrieval.stores.base import Chunk, VectorStoreError
from inferstack.retrieval.stores.memory import InMemoryVectorStore


def _chunk(chunk_id: str, vector: list[float], source: str = "a.md", **metadata: object) -> Chunk:
    return Chunk(id=chunk_id, text=f"text {chunk_id}", source=source, vector=vector, metadata=metadata)


async def test_search_ranks_by_cosine_similarity_best_first() -> None:
    store = InMemoryVectorStore(3)
    await store.upsert(
        [_chunk("x", [1, 0, 0]), _chunk("y", [0, 1, 0]), _chunk("xy", [1, 1, 0]), _chunk("neg", [-1, 0, 0])]
    )
    hits = await store.search([2, 0.1, 0], top_k=4)
    assert [h.id for h in hits] == ["x", "xy", "y", "neg"]
    assert hits[0].score == pytest.approx(2 / np.linalg.norm([2, 0.1]), rel=1e-5)
    assert hits[-1].score < 0
    assert [h.id for h in await store.search([0, 1, 0], top_k=1)] == ["y"]


async def test_upsert_replaces_by_id_and_count_follows() -> None:
    store = InMemoryVectorStore(2)
    await store.upsert([_chunk("a", [1, 0]), _chunk("b", [0, 1])])
    await store.upsert([Chunk(id="a", text="new", source="b.md", vector=[0, 1])])
    assert await store.count() == 2
    hits = await store.search([0, 1], top_k=2)
    assert {h.id for h in hits} == {"a", "b"}
    assert next(h for h in hits if h.id == "a").text == "new"
    assert await store.sources() == {"a.md", "b.md"}


async def test_where_filters_on_source_and_metadata() -> None:
    store = InMemoryVectorStore(2)
    await store.upsert(
        [
            _chunk("1", [1, 0], "qa.csv", row_index=0, type="qa"),
            _chunk("2", [1, 0.1], "qa.csv", row_index=1, type="qa"),
            _chunk("3", [1, 0], "notes.md"),
        ]
    )
    assert [h.id for h in await store.search([1, 0], 5, where={"source": "notes.md"})] == ["3"]
    assert [h.id for h in await store.search([1, 0], 5, where={"source": "qa.csv", "row_index": 1})] == ["2"]
    assert await store.search([1, 0], 5, where={"row_index": "1"}) == []
    assert await store.count_where({"type": "qa"}) == 2


async def test_delete_source_and_drop() -> None:
    store = InMemoryVectorStore(2)
    await store.upsert([_chunk("1", [1, 0], "a"), _chunk("2", [0, 1], "a"), _chunk("3", [1, 1], "b")])
    assert await store.delete_source("a") == 2
    assert await store.delete_source("a") == 0
    assert [h.id for h in await store.search([1, 0], 10)] == ["3"]
    await store.drop()
    assert await store.count() == 0
    assert await store.search([1, 0], 3) == []


@pytest.mark.parametrize(("vector", "code"), [([1.0, 0.0, 0.0], "dimension_mismatch"), ([0.0, 0.0], "invalid_vector")])
async def test_bad_vectors_are_refused(vector: list[float], code: str) -> None:
    store = InMemoryVectorStore(2)
    with pytest.raises(VectorStoreError) as info:
        await store.upsert([_chunk("a", vector)])
    assert info.value.code == code
    with pytest.raises(VectorStoreError):
        await store.search(vector, 1)
    assert await store.count() == 0


@pytest.mark.parametrize("where", [{"source or 1": "x"}, {"a": 1.5}, {"a": True}, {"": "x"}])
async def test_bad_filters_are_refused(where: dict[str, object]) -> None:
    store = InMemoryVectorStore(2)
    with pytest.raises(VectorStoreError) as info:
        await store.search([1, 0], 1, where=where)  # type: ignore[arg-type]
    assert info.value.code == "invalid_filter"


async def test_top_k_must_be_positive() -> None:
    with pytest.raises(VectorStoreError):
        await InMemoryVectorStore(2).search([1, 0], 0)
