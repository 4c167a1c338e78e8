"""`MilvusVectorStore`: chunks in a Milvus collection via pymilvus, embedded (Milvus Lite) or on a server.

A `uri` ending in `.db` is a Milvus Lite database (a directory) opened inside this process; Milvus Lite
lets only one process open a database, and a second one gets a clear `VectorStoreError`. Any
`http(s)://host:19530` URI (with an optional token) talks to a Milvus server with the same code.
pymilvus is synchronous, so every call runs on one dedicated worker thread, which also serialises them.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt
from pymilvus import DataType, MilvusClient
from pymilvus.exceptions import MilvusException

from inferstack.retrieval.stores.base import Chunk, SearchHit, VectorStoreError
from inferstack.retrieval.stores.milvus_expressions import (
    literal,
    metadata_matches,
    not_in_expression,
    string_literal,
    where_expression,
)
from inferstack.retrieval.stores.registry import NamedVectorStore
from inferstack.retrieval.stores.validation import as_unit_vector, check_top_k

if TYPE_CHECKING:
    from inferstack.retrieval.settings import KnowledgeSettings

T = TypeVar("T")

MAX_ID_LENGTH = 128
MAX_SOURCE_LENGTH = 4096
MAX_TEXT_BYTES = 65535
_WRITE_BATCH = 256
_QUERY_PAGE = 16384  # Milvus caps offset + limit of one query at 16384
_OUTPUT_FIELDS = ["text", "source", "metadata"]
_SERVER_SCHEMES = ("http://", "https://", "tcp://", "unix:")
_COLLECTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")


@dataclass(frozen=True)
class MilvusConfig:
    """Where the collection lives. `uri`: a Milvus Lite `.db` path, or a server URL such as http://host:19530."""

    uri: str
    collection: str
    dimension: int
    token: str | None = None
    timeout_s: float = 30.0

    @property
    def is_lite(self) -> bool:
        return not self.uri.startswith(_SERVER_SCHEMES)


class MilvusVectorStore(NamedVectorStore):
    """Schema: id (varchar primary key), vector (float, COSINE), text, source, metadata (JSON)."""

    name = "milvus"

    @classmethod
    def from_settings(cls, settings: KnowledgeSettings) -> MilvusVectorStore:
        config = MilvusConfig(
            uri=settings.resolved_milvus_uri,
            collection=settings.collection,
            dimension=settings.embedding_dimension,
            token=settings.secret(settings.milvus_token),
        )
        return cls(config)

    def __init__(self, config: MilvusConfig) -> None:
        if not _COLLECTION_NAME.fullmatch(config.collection):
            raise VectorStoreError(
                f"Milvus collection name {config.collection!r} must be letters, digits and underscores, "
                "starting with a letter or underscore",
                code="invalid_collection",
            )
        if config.is_lite and not config.uri.endswith(".db"):
            raise VectorStoreError(
                f"Milvus Lite paths must end in '.db' (got {config.uri!r}); servers need an http(s):// URI",
                code="invalid_uri",
            )
        self._config = config
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="milvus")
        self._client: MilvusClient | None = None
        self._lite_path: Path | None = None
        self._collection_ready = False
        self._closed = False

    @property
    def dimension(self) -> int:
        return self._config.dimension

    @property
    def location(self) -> str:
        """Where the data lives, safe to print (a path, or the server URL without credentials)."""
        if self._config.is_lite:
            return str(Path(self._config.uri).expanduser().resolve())
        return re.sub(r"//[^@/]*@", "//", self._config.uri)

    async def open(self) -> None:
        """Connect and create/load the collection now rather than on first use."""
        await self._run(lambda client: None)

    async def upsert(self, chunks: Sequence[Chunk]) -> None:
        rows = [self._row(chunk) for chunk in chunks]
        if not rows:
            return

        def write(client: MilvusClient) -> None:
            for start in range(0, len(rows), _WRITE_BATCH):
                client.upsert(self._config.collection, rows[start : start + _WRITE_BATCH])
            # Milvus Lite seals the write cheaply; a server has already logged an acknowledged write durably,
            # and its flush is rate-limited (about one per 10 s per collection), so it is left to the server.
            if self._config.is_lite:
                client.flush(self._config.collection)

        await self._run(write)

    async def search(
        self, vector: Sequence[float], top_k: int, where: Mapping[str, str | int] | None = None
    ) -> list[SearchHit]:
        check_top_k(top_k)
        query = as_unit_vector(vector, self._config.dimension, "query")
        expression = where_expression(where)
        search_params: dict[str, Any] = {"metric_type": "COSINE", "params": {"ef": max(64, top_k)}}

        def run(client: MilvusClient) -> list[SearchHit]:
            if where and self._config.is_lite:
                exact = self._filtered_exact(client, query, top_k, where)
                if exact is not None:
                    return exact
            result = client.search(
                self._config.collection,
                data=[query.tolist()],
                limit=top_k,
                filter=expression,
                output_fields=_OUTPUT_FIELDS,
                search_params=search_params,
            )
            return [_hit(raw) for raw in result[0]] if result else []

        return await self._run(run)

    def _filtered_exact(
        self, client: MilvusClient, query: npt.NDArray[np.float32], top_k: int, where: Mapping[str, str | int]
    ) -> list[SearchHit] | None:
        """Exact top-k among the chunks matching `where`, or None when more than a query page match.

        Milvus Lite's HNSW applies a filter during graph traversal, and a filter matching few chunks then often
        returns fewer hits than exist, or none. So on Lite the matching chunks are fetched (narrowed by the
        indexed `source` column first, metadata checked here) and ranked with numpy.
        """
        rest = {key: value for key, value in where.items() if key != "source"}
        if "source" in where:
            expression = f"source == {literal(where['source'])}"
        else:
            expression, rest = where_expression(where), {}
        name = self._config.collection
        fields = ["id", "vector", "metadata"] if rest else ["id", "vector"]
        rows = client.query(name, filter=expression, output_fields=fields, limit=_QUERY_PAGE)
        if len(rows) >= _QUERY_PAGE:
            return None
        if rest:
            rows = [row for row in rows if metadata_matches(row.get("metadata") or {}, rest)]
        if not rows:
            return []
        matrix = np.asarray([row["vector"] for row in rows], dtype=np.float32)
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), np.float32(1e-12))
        scores = matrix @ query
        best = np.argsort(-scores, kind="stable")[:top_k]
        ids = [str(rows[i]["id"]) for i in best]
        entities = {str(entity["id"]): entity for entity in client.get(name, ids=ids, output_fields=_OUTPUT_FIELDS)}
        return [
            _hit({"id": rows[i]["id"], "distance": float(scores[i]), "entity": entities.get(str(rows[i]["id"]), {})})
            for i in best
        ]

    async def delete_source(self, source: str) -> int:
        expression = f"source == {string_literal(source)}"

        def run(client: MilvusClient) -> int:
            existing = _count(client, self._config.collection, expression)
            if existing == 0:
                return 0
            client.delete(self._config.collection, filter=expression)
            if self._config.is_lite:
                client.flush(self._config.collection)
            return existing

        return await self._run(run)

    async def count(self) -> int:
        return await self._run(lambda client: _count(client, self._config.collection, ""))

    async def count_where(self, where: Mapping[str, str | int]) -> int:
        """How many chunks match `where` (same semantics as `search`)."""
        expression = where_expression(where)
        return await self._run(lambda client: _count(client, self._config.collection, expression))

    async def ids_where(self, where: Mapping[str, str | int]) -> set[str]:
        """Ids of every chunk matching `where` (exact, unlike a filtered similarity search)."""
        expression = where_expression(where)

        def run(client: MilvusClient) -> set[str]:
            rows = client.query(self._config.collection, filter=expression, output_fields=["id"], limit=_QUERY_PAGE)
            if len(rows) >= _QUERY_PAGE:
                raise VectorStoreError(f"more than {_QUERY_PAGE} chunks match; narrow the filter")
            return {str(row["id"]) for row in rows}

        return await self._run(run)

    async def sources(self) -> set[str]:
        return await self._run(self._sources)

    async def all_chunks(self, page_size: int = 1000) -> AsyncIterator[list[SearchHit]]:
        """Every chunk (text, source, metadata; score 0, no vector), `page_size` at a time (rebuilds the lexical
        index). The pages are read on the store's worker thread with a query iterator."""
        fields = ["id", *_OUTPUT_FIELDS]

        def start(client: MilvusClient) -> Any:
            return client.query_iterator(self._config.collection, batch_size=page_size, output_fields=fields)

        iterator = await self._run(start)
        try:
            while True:
                rows = await self._run(lambda _: iterator.next())
                if not rows:
                    return
                yield [_hit({"id": row["id"], "distance": 0.0, "entity": row}) for row in rows]
        finally:
            await self._run(lambda _: iterator.close())

    async def drop(self) -> None:
        def run(client: MilvusClient) -> None:
            if client.has_collection(self._config.collection):
                client.drop_collection(self._config.collection)
            self._collection_ready = False

        await self._run(run, ensure_collection=False)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        def run() -> None:
            if self._client is not None:
                self._client.close()
                self._client = None
            if self._lite_path is not None:
                LITE_LEASES.release(self._lite_path)
                self._lite_path = None
            self._collection_ready = False

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, run)
        self._executor.shutdown(wait=True)

    async def _run(self, action: Callable[[MilvusClient], T], *, ensure_collection: bool = True) -> T:
        def call() -> T:
            client = self._connect()
            try:
                if ensure_collection and not self._collection_ready:
                    self._ensure_collection(client)
                return action(client)
            except MilvusException as exc:
                raise VectorStoreError(f"Milvus at {self.location}: {exc.message}") from None

        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, call)
        except RuntimeError as exc:
            if "shutdown" in str(exc):
                raise VectorStoreError("the Milvus store is closed", code="store_closed") from None
            raise

    def _connect(self) -> MilvusClient:
        if self._client is not None:
            return self._client
        if self._config.is_lite:
            path = Path(self._config.uri).expanduser().resolve()
            path.parent.mkdir(parents=True, exist_ok=True)
            LITE_LEASES.acquire(path)
            try:
                self._client = MilvusClient(str(path), timeout=self._config.timeout_s)
            except MilvusException as exc:
                LITE_LEASES.release(path)
                raise VectorStoreError(f"cannot open Milvus Lite database {path}: {exc.message}") from None
            self._lite_path = path
        else:
            try:
                self._client = MilvusClient(
                    uri=self._config.uri, token=self._config.token or "", timeout=self._config.timeout_s
                )
            except MilvusException as exc:
                raise VectorStoreError(f"cannot connect to Milvus at {self.location}: {exc.message}") from None
        return self._client

    def _ensure_collection(self, client: MilvusClient) -> None:
        name = self._config.collection
        if client.has_collection(name):
            self._check_existing(client)
        else:
            client.create_collection(
                name, schema=self._schema(), index_params=self._index_params(client), consistency_level="Strong"
            )
        client.load_collection(name)
        self._collection_ready = True

    def _check_existing(self, client: MilvusClient) -> None:
        description = client.describe_collection(self._config.collection)
        fields = {field["name"]: field for field in description.get("fields", [])}
        missing = {"id", "vector", "text", "source", "metadata"} - fields.keys()
        if missing:
            raise VectorStoreError(
                f"Milvus collection {self._config.collection!r} at {self.location} was not created by inferstack "
                f"(missing fields: {', '.join(sorted(missing))}); choose another collection name",
                code="schema_mismatch",
            )
        existing_dimension = int(fields["vector"].get("params", {}).get("dim", 0))
        if existing_dimension != self._config.dimension:
            raise VectorStoreError(
                f"Milvus collection {self._config.collection!r} holds {existing_dimension}-d vectors but the "
                f"embedding model gives {self._config.dimension}-d; use another collection or re-ingest with --force",
                code="dimension_mismatch",
            )

    def _schema(self) -> Any:
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=MAX_ID_LENGTH)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self._config.dimension)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
        schema.add_field("source", DataType.VARCHAR, max_length=MAX_SOURCE_LENGTH)
        schema.add_field("metadata", DataType.JSON)
        return schema

    def _index_params(self, client: MilvusClient) -> Any:
        params = client.prepare_index_params()
        if self._config.is_lite:
            # Milvus Lite's AUTOINDEX is HNSW when faiss is importable, exact search otherwise.
            params.add_index(field_name="vector", index_type="AUTOINDEX", metric_type="COSINE")
        else:
            params.add_index(
                field_name="vector",
                index_type="HNSW",
                metric_type="COSINE",
                params={"M": 16, "efConstruction": 128},
            )
        params.add_index(field_name="source", index_type="INVERTED")
        return params

    def _row(self, chunk: Chunk) -> dict[str, Any]:
        if not chunk.id or len(chunk.id) > MAX_ID_LENGTH:
            raise VectorStoreError(f"chunk id must be 1 to {MAX_ID_LENGTH} characters", code="invalid_chunk")
        if len(chunk.source) > MAX_SOURCE_LENGTH:
            raise VectorStoreError(f"chunk {chunk.id}: source longer than {MAX_SOURCE_LENGTH}", code="invalid_chunk")
        if len(chunk.text.encode()) > MAX_TEXT_BYTES:
            raise VectorStoreError(f"chunk {chunk.id}: text over {MAX_TEXT_BYTES} bytes", code="invalid_chunk")
        return {
            "id": chunk.id,
            "vector": as_unit_vector(chunk.vector, self._config.dimension, f"chunk {chunk.id}").tolist(),
            "text": chunk.text,
            "source": chunk.source,
            "metadata": dict(chunk.metadata),
        }

    def _sources(self, client: MilvusClient) -> set[str]:
        name = self._config.collection
        found: set[str] = set()
        expression = ""
        # Each page excludes every source already seen, so it always yields new ones until none remain.
        while True:
            rows = client.query(name, filter=expression or 'id != ""', output_fields=["source"], limit=_QUERY_PAGE)
            found.update(str(row["source"]) for row in rows)
            if len(rows) < _QUERY_PAGE:
                return found
            expression = not_in_expression("source", sorted(found))


def _count(client: MilvusClient, collection: str, expression: str) -> int:
    rows = client.query(collection, filter=expression, output_fields=["count(*)"])
    return int(rows[0]["count(*)"]) if rows else 0


def _hit(raw: Mapping[str, Any]) -> SearchHit:
    entity = raw.get("entity", {})
    metadata = entity.get("metadata") or {}
    return SearchHit(
        id=str(raw["id"]),
        text=str(entity.get("text", "")),
        source=str(entity.get("source", "")),
        score=float(raw["distance"]),
        metadata=metadata if isinstance(metadata, dict) else {},
    )


class MilvusLiteLeases:
    """Which Milvus Lite databases this process has open, and how many stores use each.

    Milvus Lite keeps a process-wide server per database and holds a file lock on it until released, so
    this mirrors that process-wide state: the last store to close releases the server (and the lock), and
    the first to open checks the lock so another process's database gives a clear error.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[Path, int] = {}

    def acquire(self, path: Path) -> None:
        with self._lock:
            if self._users.get(path, 0) == 0:
                _refuse_if_locked(path)
            self._users[path] = self._users.get(path, 0) + 1

    def release(self, path: Path) -> None:
        with self._lock:
            remaining = self._users.get(path, 0) - 1
            if remaining > 0:
                self._users[path] = remaining
                return
            self._users.pop(path, None)
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(str(path))


LITE_LEASES = MilvusLiteLeases()


def _refuse_if_locked(path: Path) -> None:
    lock_file = path / "LOCK"
    if not lock_file.exists():
        return
    try:
        import fcntl
    except ImportError:  # Windows: Milvus Lite reports the lock itself
        return
    with lock_file.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise VectorStoreError(
                f"the Milvus Lite database {path} is in use by another process; Milvus Lite allows one process "
                "per database. Stop that process (for example a running agent API, or run `inferstack ingest` "
                "through it), or point knowledge.milvus_uri at a Milvus server",
                code="store_locked",
            ) from None
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
