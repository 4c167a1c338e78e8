"""`OpenSearchVectorStore`: chunks in an OpenSearch k-NN index via opensearch-py's async client.

One mapping, created here and nowhere else: `embedding` is a knn_vector (HNSW, lucene engine, cosinesimil —
nmslib is deprecated and refused for new indexes in OpenSearch 3), `text`, `source` (keyword),
`metadata` (object; strings mapped as keywords so filters match exactly) and `timestamp`. Auth is basic
or AWS SigV4 (boto3, the optional `inferstack[aws]` extra, is imported only on that path; credentials
are re-read on every request so expiring role credentials keep working).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import orjson
from opensearchpy import AsyncHttpConnection, AsyncOpenSearch
from opensearchpy.exceptions import OpenSearchException, TransportError

from inferstack.retrieval.stores.base import Chunk, SearchHit, VectorStoreError
from inferstack.retrieval.stores.registry import NamedVectorStore
from inferstack.retrieval.stores.validation import as_unit_vector, check_top_k, check_where

if TYPE_CHECKING:
    from inferstack.retrieval.settings import KnowledgeSettings

_MAX_SOURCES = 65535  # OpenSearch's default search.max_buckets
_BULK_BATCH = 500
_HNSW = {"ef_construction": 128, "m": 16}


@dataclass(frozen=True)
class OpenSearchConfig:
    """Basic auth with `username`/`password`, or SigV4 with `aws_sigv4` and `aws_region` (service `es` or `aoss`)."""

    url: str
    index: str
    dimension: int
    username: str | None = None
    password: str | None = None
    aws_sigv4: bool = False
    aws_region: str | None = None
    aws_service: str = "es"
    verify_certs: bool = True
    timeout_s: float = 30.0


def index_body(dimension: int) -> dict[str, Any]:
    """Settings and mappings of the k-NN index (the only place they are defined)."""
    return {
        "settings": {"index": {"knn": True}},
        "mappings": {
            "dynamic_templates": [
                {
                    "metadata_strings_as_keywords": {
                        "path_match": "metadata.*",
                        "match_mapping_type": "string",
                        "mapping": {"type": "keyword"},
                    }
                }
            ],
            "properties": {
                "embedding": {
                    "type": "knn_vector",
                    "dimension": dimension,
                    "method": {"name": "hnsw", "space_type": "cosinesimil", "engine": "lucene", "parameters": _HNSW},
                },
                "text": {"type": "text"},
                "source": {"type": "keyword"},
                "metadata": {"type": "object"},
                "timestamp": {"type": "date"},
            },
        },
    }


class OpenSearchVectorStore(NamedVectorStore):
    """Scores come back as cosine similarity: the lucene engine's (1 + cos) / 2 is mapped back to cos."""

    name = "opensearch"

    @classmethod
    def from_settings(cls, settings: KnowledgeSettings) -> OpenSearchVectorStore:
        if settings.opensearch_url is None:
            raise VectorStoreError("store 'opensearch' needs knowledge.opensearch_url", code="invalid_config")
        config = OpenSearchConfig(
            url=settings.opensearch_url,
            index=settings.opensearch_index,
            dimension=settings.embedding_dimension,
            username=settings.secret(settings.opensearch_username),
            password=settings.secret(settings.opensearch_password),
            aws_sigv4=settings.opensearch_aws_sigv4,
            aws_region=settings.opensearch_aws_region,
            aws_service=settings.opensearch_aws_service,
            verify_certs=settings.opensearch_verify_certs,
        )
        return cls(config)

    def __init__(self, config: OpenSearchConfig) -> None:
        self._config = config
        self._client = AsyncOpenSearch(
            hosts=[config.url],
            http_auth=_auth(config),
            verify_certs=config.verify_certs,
            connection_class=AsyncHttpConnection,
            timeout=config.timeout_s,
        )
        self._index_ready = False

    @property
    def dimension(self) -> int:
        return self._config.dimension

    async def open(self) -> None:
        """Create the index (or check the existing one) now rather than on first write."""
        await self._ensure_index()

    async def upsert(self, chunks: Sequence[Chunk]) -> None:
        if not chunks:
            return
        await self._ensure_index()
        timestamp = dt.datetime.now(dt.UTC).isoformat()
        lines: list[bytes] = []
        for chunk in chunks:
            vector = as_unit_vector(chunk.vector, self._config.dimension, f"chunk {chunk.id}")
            document = {
                "embedding": vector.tolist(),
                "text": chunk.text,
                "source": chunk.source,
                "metadata": dict(chunk.metadata),
                "timestamp": timestamp,
            }
            lines.append(orjson.dumps({"index": {"_index": self._config.index, "_id": chunk.id}}))
            lines.append(orjson.dumps(document))
        for start in range(0, len(lines), 2 * _BULK_BATCH):
            body = (b"\n".join(lines[start : start + 2 * _BULK_BATCH]) + b"\n").decode()
            response = await self._call("bulk", self._client.bulk(body=body, refresh="wait_for"))
            if response.get("errors"):
                raise VectorStoreError(f"OpenSearch refused part of a bulk write: {_first_bulk_error(response)}")

    async def search(
        self, vector: Sequence[float], top_k: int, where: Mapping[str, str | int] | None = None
    ) -> list[SearchHit]:
        check_top_k(top_k)
        check_where(where)
        query_vector = as_unit_vector(vector, self._config.dimension, "query").tolist()
        knn: dict[str, Any] = {"vector": query_vector, "k": top_k}
        if where:
            knn["filter"] = {"bool": {"filter": _terms(where)}}
        body = {
            "size": top_k,
            "query": {"knn": {"embedding": knn}},
            "_source": {"excludes": ["embedding"]},
        }
        try:
            response = await self._call("search", self._client.search(index=self._config.index, body=body, ignore=404))
        except _IndexMissingError:
            return []
        return [_hit(raw) for raw in response.get("hits", {}).get("hits", [])]

    async def lexical_search(
        self, text: str, top_k: int, where: Mapping[str, str | int] | None = None
    ) -> list[SearchHit]:
        """OpenSearch's own BM25 over the `text` field; `score` is the BM25 score."""
        check_top_k(top_k)
        check_where(where)
        query: dict[str, Any] = {"match": {"text": {"query": text}}}
        if where:
            query = {"bool": {"must": [query], "filter": _terms(where)}}
        body = {"size": top_k, "query": query, "_source": {"excludes": ["embedding"]}}
        try:
            response = await self._call("search", self._client.search(index=self._config.index, body=body, ignore=404))
        except _IndexMissingError:
            return []
        return [
            replace(hit, score=float(raw.get("_score") or 0.0))
            for raw in response.get("hits", {}).get("hits", [])
            for hit in (_hit(raw),)
        ]

    async def delete_source(self, source: str) -> int:
        body = {"query": {"term": {"source": source}}}
        try:
            response = await self._call(
                "delete_by_query",
                self._client.delete_by_query(
                    index=self._config.index, body=body, refresh=True, conflicts="proceed", ignore=404
                ),
            )
        except _IndexMissingError:
            return 0
        if response.get("failures"):
            raise VectorStoreError(f"OpenSearch could not delete every chunk of {source!r}: {response['failures'][0]}")
        return int(response.get("deleted", 0))

    async def count(self) -> int:
        return await self._count(None)

    async def count_where(self, where: Mapping[str, str | int]) -> int:
        """How many chunks match `where` (same semantics as `search`)."""
        check_where(where)
        return await self._count({"query": {"bool": {"filter": _terms(where)}}})

    async def ids_where(self, where: Mapping[str, str | int]) -> set[str]:
        """Ids of every chunk matching `where` (at most 10,000, OpenSearch's default result window)."""
        check_where(where)
        body = {"size": 10000, "query": {"bool": {"filter": _terms(where)}}, "_source": False}
        try:
            response = await self._call("search", self._client.search(index=self._config.index, body=body, ignore=404))
        except _IndexMissingError:
            return set()
        return {str(hit["_id"]) for hit in response.get("hits", {}).get("hits", [])}

    async def sources(self) -> set[str]:
        body = {"size": 0, "aggs": {"sources": {"terms": {"field": "source", "size": _MAX_SOURCES}}}}
        try:
            response = await self._call("search", self._client.search(index=self._config.index, body=body, ignore=404))
        except _IndexMissingError:
            return set()
        aggregation = response.get("aggregations", {}).get("sources", {})
        if aggregation.get("sum_other_doc_count", 0):
            raise VectorStoreError(f"index {self._config.index!r} holds more than {_MAX_SOURCES} sources")
        return {str(bucket["key"]) for bucket in aggregation.get("buckets", [])}

    async def drop(self) -> None:
        with contextlib.suppress(_IndexMissingError):
            await self._call("delete index", self._client.indices.delete(index=self._config.index, ignore=404))
        self._index_ready = False

    async def close(self) -> None:
        await self._client.close()

    async def _count(self, body: dict[str, Any] | None) -> int:
        try:
            response = await self._call("count", self._client.count(index=self._config.index, body=body, ignore=404))
        except _IndexMissingError:
            return 0
        return int(response.get("count", 0))

    async def _ensure_index(self) -> None:
        if self._index_ready:
            return
        index = self._config.index
        if await self._call("exists", self._client.indices.exists(index=index)):
            mapping = await self._call("get_mapping", self._client.indices.get_mapping(index=index))
            self._check_mapping(mapping)
        else:
            await self._call("create index", self._client.indices.create(index=index, body=index_body(self.dimension)))
        self._index_ready = True

    def _check_mapping(self, mapping: Mapping[str, Any]) -> None:
        index_mapping: Mapping[str, Any] = next(iter(mapping.values()), {})
        properties = index_mapping.get("mappings", {}).get("properties", {})
        embedding = properties.get("embedding", {})
        if embedding.get("type") != "knn_vector":
            raise VectorStoreError(
                f"OpenSearch index {self._config.index!r} has no knn_vector field 'embedding'; it was not created by "
                "inferstack, choose another index name",
                code="schema_mismatch",
            )
        if int(embedding.get("dimension", 0)) != self._config.dimension:
            raise VectorStoreError(
                f"OpenSearch index {self._config.index!r} holds {embedding.get('dimension')}-d vectors but the "
                f"embedding model gives {self._config.dimension}-d; use another index or re-ingest with --force",
                code="dimension_mismatch",
            )

    async def _call(self, what: str, request: Any) -> Any:
        """Await an opensearch-py call; reads pass `ignore=404` and a missing index comes back as a body."""
        try:
            response = await request
        except TransportError as exc:
            raise VectorStoreError(f"OpenSearch {what} failed: {_describe(exc)}") from None
        except OpenSearchException as exc:
            raise VectorStoreError(f"OpenSearch {what} failed: {type(exc).__name__}") from None
        if isinstance(response, dict) and response.get("status") == 404 and isinstance(response.get("error"), dict):
            if response["error"].get("type") == "index_not_found_exception":
                raise _IndexMissingError
            raise VectorStoreError(f"OpenSearch {what} failed: HTTP 404: {response['error'].get('reason')}")
        return response


class _IndexMissingError(Exception):
    """The index does not exist yet: reads see an empty store."""


def _auth(config: OpenSearchConfig) -> Any:
    if config.aws_sigv4:
        if not config.aws_region:
            raise VectorStoreError("AWS SigV4 signing needs knowledge.opensearch_aws_region", code="invalid_config")
        try:
            import boto3
        except ImportError:
            raise VectorStoreError(
                "AWS SigV4 signing needs boto3: pip install 'inferstack[aws]'", code="missing_dependency"
            ) from None
        from opensearchpy import AWSV4SignerAsyncAuth

        credentials = boto3.Session().get_credentials()
        if credentials is None:
            raise VectorStoreError("AWS SigV4 signing found no AWS credentials", code="missing_credentials")
        return AWSV4SignerAsyncAuth(credentials, config.aws_region, config.aws_service)
    if config.username:
        return (config.username, config.password or "")
    return None


def _terms(where: Mapping[str, str | int]) -> list[dict[str, Any]]:
    return [{"term": {key if key == "source" else f"metadata.{key}": value}} for key, value in where.items()]


def _hit(raw: Mapping[str, Any]) -> SearchHit:
    document = raw.get("_source", {})
    metadata = document.get("metadata") or {}
    return SearchHit(
        id=str(raw["_id"]),
        text=str(document.get("text", "")),
        source=str(document.get("source", "")),
        score=2.0 * float(raw.get("_score") or 0.0) - 1.0,
        metadata=metadata if isinstance(metadata, dict) else {},
    )


def _describe(exc: TransportError) -> str:
    if not isinstance(exc.status_code, int):  # connection-level failure: status "N/A", the cause in `info`
        cause = type(exc.info).__name__ if isinstance(exc.info, Exception) else "connection failed"
        return f"cannot reach OpenSearch ({cause})"
    body = exc.info if isinstance(exc.info, dict) else _parse_json(exc.error)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        reason = str(error.get("reason") or error.get("type") or "no reason given")
    else:
        reason = str(error or exc.error)
    return f"HTTP {exc.status_code}: {reason[:300]}"


def _parse_json(raw: Any) -> Any:
    try:
        return orjson.loads(raw) if isinstance(raw, str | bytes) else None
    except orjson.JSONDecodeError:
        return None


def _first_bulk_error(response: Mapping[str, Any]) -> str:
    for item in response.get("items", []):
        result: Mapping[str, Any] = next(iter(item.values()), {})
        error = result.get("error")
        if error:
            return f"{error.get('type')}: {str(error.get('reason'))[:300]}" if isinstance(error, dict) else str(error)
    return "unknown error"
