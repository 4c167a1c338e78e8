"""OpenSearchVectorStore against FakeOpenSearchServer: mapping, auth (basic and SigV4), refresh, errors.

Tested only against the fake (no OpenSearch can run here); the fake speaks OpenSearch's REST wire format.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from inferstack.retrieval.stores.base import Chunk, VectorStoreError
from inferstack.retrieval.stores.opensearch import OpenSearchConfig, OpenSearchVectorStore, index_body
from tests.support.fake_opensearch import FakeOpenSearchServer
from tests.support.processes import free_port


@pytest_asyncio.fixture(loop_scope="function")
async def server() -> AsyncIterator[FakeOpenSearchServer]:
    async with FakeOpenSearchServer() as fake:
        yield fake


def _chunk(chunk_id: str, vector: list[float], source: str = "a.md") -> Chunk:
    return Chunk(id=chunk_id, text=f"text {chunk_id}", source=source, vector=vector, metadata={"n": 1})


async def test_index_is_created_with_the_hnsw_cosine_mapping(server: FakeOpenSearchServer) -> None:
    store = OpenSearchVectorStore(OpenSearchConfig(url=server.url, index="knowledge", dimension=3))
    await store.open()
    await store.close()
    body = server.indices["knowledge"].body
    assert body == index_body(3)
    embedding = body["mappings"]["properties"]["embedding"]
    assert embedding["type"] == "knn_vector"
    assert embedding["dimension"] == 3
    assert embedding["method"] == {
        "name": "hnsw",
        "space_type": "cosinesimil",
        "engine": "lucene",
        "parameters": {"ef_construction": 128, "m": 16},
    }
    assert body["settings"]["index"]["knn"] is True
    assert body["mappings"]["properties"]["source"] == {"type": "keyword"}


async def test_writes_wait_for_refresh_and_scores_are_cosine(server: FakeOpenSearchServer) -> None:
    store = OpenSearchVectorStore(OpenSearchConfig(url=server.url, index="knowledge", dimension=2))
    await store.upsert([_chunk("x", [1, 0]), _chunk("y", [0, 1]), _chunk("z", [-1, 0])])
    hits = await store.search([3, 0], top_k=3)
    await store.close()
    bulk = [r for r in server.requests if r.path.endswith("_bulk")]
    assert bulk and all(r.query.get("refresh") == "wait_for" for r in bulk)
    assert [h.id for h in hits] == ["x", "y", "z"]
    assert [h.score for h in hits] == pytest.approx([1.0, 0.0, -1.0], abs=1e-6)
    assert (hits[0].text, hits[0].source, dict(hits[0].metadata)) == ("text x", "a.md", {"n": 1})


async def test_an_existing_index_with_another_dimension_is_refused(server: FakeOpenSearchServer) -> None:
    first = OpenSearchVectorStore(OpenSearchConfig(url=server.url, index="knowledge", dimension=2))
    await first.open()
    await first.close()
    second = OpenSearchVectorStore(OpenSearchConfig(url=server.url, index="knowledge", dimension=3))
    with pytest.raises(VectorStoreError) as info:
        await second.upsert([_chunk("x", [1, 0, 0])])
    await second.close()
    assert info.value.code == "dimension_mismatch"


async def test_reads_of_a_missing_index_are_empty(server: FakeOpenSearchServer) -> None:
    store = OpenSearchVectorStore(OpenSearchConfig(url=server.url, index="absent", dimension=2))
    assert await store.count() == 0
    assert await store.sources() == set()
    assert await store.search([1, 0], 3) == []
    assert await store.delete_source("a.md") == 0
    await store.drop()
    await store.close()
    assert "absent" not in server.indices


async def test_basic_auth_is_sent_and_a_refusal_is_a_clear_error() -> None:
    async with FakeOpenSearchServer(username="admin", password="s3cret-pw") as fake:
        good = OpenSearchVectorStore(
            OpenSearchConfig(url=fake.url, index="k", dimension=2, username="admin", password="s3cret-pw")
        )
        await good.upsert([_chunk("x", [1, 0])])
        assert await good.count() == 1
        await good.close()
        bad = OpenSearchVectorStore(
            OpenSearchConfig(url=fake.url, index="k", dimension=2, username="admin", password="no")
        )
        with pytest.raises(VectorStoreError) as info:
            await bad.count()
        await bad.close()
    assert "HTTP 401" in info.value.message
    assert "s3cret-pw" not in info.value.message


async def test_sigv4_signs_every_request_with_current_credentials(
    server: FakeOpenSearchServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    config = OpenSearchConfig(url=server.url, index="k", dimension=2, aws_sigv4=True, aws_region="eu-west-1")
    store = OpenSearchVectorStore(config)
    await store.upsert([_chunk("x", [1, 0])])
    await store.close()
    assert server.requests
    for request in server.requests:
        assert request.authorization is not None
        assert request.authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        assert "/eu-west-1/es/aws4_request" in request.authorization


def test_sigv4_without_boto3_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    config = OpenSearchConfig(url="https://search.example", index="k", dimension=2, aws_sigv4=True, aws_region="x")
    with pytest.raises(VectorStoreError, match=r"inferstack\[aws\]"):
        OpenSearchVectorStore(config)


def test_sigv4_needs_a_region() -> None:
    with pytest.raises(VectorStoreError, match="region"):
        OpenSearchVectorStore(OpenSearchConfig(url="https://search.example", index="k", dimension=2, aws_sigv4=True))


async def test_an_unreachable_cluster_is_a_vector_store_error() -> None:
    store = OpenSearchVectorStore(
        OpenSearchConfig(url=f"http://127.0.0.1:{free_port()}", index="k", dimension=2, timeout_s=2)
    )
    with pytest.raises(VectorStoreError, match="cannot reach OpenSearch"):
        await store.count()
    await store.close()
