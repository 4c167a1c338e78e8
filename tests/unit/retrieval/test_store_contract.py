"""Behaviour every `VectorStore` shares, run against each implementation that can run here.

Milvus runs as Milvus Lite in a temporary directory; OpenSearch runs against FakeOpenSearchServer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio

from inferstack.retrieval.embedders.fake import FakeEmbedder
from inferstack.retrieval.stores.base import Chunk, VectorStore, VectorStoreError
from inferstack.retrieval.stores.memory import InMemoryVectorStore
from inferstack.retrieval.stores.milvus import MilvusConfig, MilvusVectorStore
from inferstack.retrieval.stores.opensearch import OpenSearchConfig, OpenSearchVectorStore
from tests.support.fake_opensearch import FakeOpenSearchServer

DIM = 32
CHUNKS = 400
EMBEDDER = FakeEmbedder(DIM)


def _memory(tmp_path: Path) -> Any:
    return InMemoryVectorStore(DIM)


def _milvus(tmp_path: Path) -> Any:
    return MilvusVectorStore(MilvusConfig(uri=str(tmp_path / "milvus.db"), collection="contract", dimension=DIM))


STORES: dict[str, Callable[[Path], Any]] = {"memory": _memory, "milvus": _milvus}
STORE_PARAMS = [
    pytest.param(name, marks=pytest.mark.milvus) if name == "milvus" else name
    for name in [*sorted(STORES), "opensearch"]
]


@pytest_asyncio.fixture(params=STORE_PARAMS, loop_scope="function")
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorStore]:
    if request.param == "opensearch":
        async with FakeOpenSearchServer() as server:
            instance = OpenSearchVectorStore(OpenSearchConfig(url=server.url, index="contract", dimension=DIM))
            yield instance
            await instance.close()
        return
    instance = STORES[request.param](tmp_path)
    yield instance
    await instance.close()


def _chunk(chunk_id: str, text: str, source: str, **metadata: Any) -> Chunk:
    return Chunk(id=chunk_id, text=text, source=source, vector=EMBEDDER.vector(text), metadata=metadata)


DOCS = [
    _chunk("q0", "insulin regulates blood sugar in diabetes", "qa.csv", row_index=0, type="qa"),
    _chunk("q1", "the heart pumps blood through arteries", "qa.csv", row_index=1, type="qa"),
    _chunk("n0", "volcanoes erupt lava and ash", "notes/geo.md", type="text"),
    _chunk("n1", 'a "quoted" source with back\\slash', 'weird "name".md', type="text"),
]


async def test_search_finds_the_closest_chunk_with_its_metadata(store: VectorStore) -> None:
    await store.upsert(DOCS)
    hits = await store.search(EMBEDDER.vector("insulin diabetes blood sugar"), top_k=2)
    assert hits[0].id == "q0"
    assert hits[0].source == "qa.csv"
    assert hits[0].text == DOCS[0].text
    assert dict(hits[0].metadata) == {"row_index": 0, "type": "qa"}
    assert 1.0001 >= hits[0].score > hits[1].score >= -1.0001
    assert len(hits) == 2
    assert await store.count() == 4
    assert await store.sources() == {"qa.csv", "notes/geo.md", 'weird "name".md'}


async def test_filters_on_source_and_metadata_and_resist_injection(store: VectorStore) -> None:
    await store.upsert(DOCS)
    query = EMBEDDER.vector("blood")
    assert [h.id for h in await store.search(query, 5, where={"source": "qa.csv", "row_index": 1})] == ["q1"]
    assert {h.id for h in await store.search(query, 5, where={"type": "text"})} == {"n0", "n1"}
    assert [h.id for h in await store.search(query, 5, where={"source": 'weird "name".md'})] == ["n1"]
    assert await store.search(query, 5, where={"source": 'qa.csv" or source != "'}) == []
    with pytest.raises(VectorStoreError):
        await store.search(query, 5, where={'source == "qa.csv" or id': "x"})


async def test_upsert_is_idempotent_by_id_and_delete_source_counts(store: VectorStore) -> None:
    await store.upsert(DOCS)
    await store.upsert(DOCS[:2])
    assert await store.count() == 4
    assert await store.ids_where({"source": "qa.csv"}) == {"q0", "q1"}  # type: ignore[attr-defined]
    assert await store.count_where({"type": "text"}) == 2  # type: ignore[attr-defined]
    assert await store.delete_source("qa.csv") == 2
    assert await store.delete_source("qa.csv") == 0
    assert await store.count() == 2
    assert await store.sources() == {"notes/geo.md", 'weird "name".md'}


async def test_drop_empties_and_the_store_stays_usable(store: VectorStore) -> None:
    await store.upsert(DOCS)
    await store.drop()
    assert await store.count() == 0
    assert await store.sources() == set()
    await store.upsert(DOCS[:1])
    assert [h.id for h in await store.search(DOCS[0].vector, 3)] == ["q0"]


async def test_wrong_dimension_is_refused(store: VectorStore) -> None:
    with pytest.raises(VectorStoreError) as info:
        await store.upsert([Chunk(id="x", text="x", source="s", vector=[1.0] * (DIM + 1))])
    assert info.value.code == "dimension_mismatch"


async def test_a_filter_matching_one_chunk_finds_it_from_any_query(store: VectorStore) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((CHUNKS, DIM))
    await store.upsert(
        [
            Chunk(id=f"c{i}", text=f"t{i}", source=f"s{i % 4}.md", vector=vectors[i].tolist(), metadata={"n": i})
            for i in range(CHUNKS)
        ]
    )
    for attempt in range(10):
        query = rng.standard_normal(DIM).tolist()
        target = 37 + attempt * 31
        hits = await store.search(query, 5, where={"source": f"s{target % 4}.md", "n": target})
        assert [hit.id for hit in hits] == [f"c{target}"]
        assert [hit.id for hit in await store.search(query, 3, where={"n": target})] == [f"c{target}"]
        in_source = await store.search(query, 5, where={"source": "s1.md"})
        assert len(in_source) == 5
        assert all(hit.source == "s1.md" for hit in in_source)
        scores = [hit.score for hit in in_source]
        assert scores == sorted(scores, reverse=True)
