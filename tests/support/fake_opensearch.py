"""FakeOpenSearchServer: the subset of OpenSearch's REST API that `OpenSearchVectorStore` uses, over real HTTP.

No OpenSearch can run here, so this stands in for it on a free loopback port. It speaks the real wire
format (JSON bodies, NDJSON `_bulk`, OpenSearch error objects and status codes) for:

    HEAD/PUT/DELETE /{index}           exists / create (k-NN mapping checked, nmslib refused) / delete
    GET /{index}/_mapping              the mapping as created
    POST /_bulk, /{index}/_bulk        `index` actions; `refresh` recorded; per-item errors
    POST /{index}/_search              `knn` query (k, lucene-style efficient `filter`), `size`,
                                       `_source.excludes`; a filter-only `bool` query (`_source: false`);
                                       and a `terms` aggregation (size 0)
    POST /{index}/_delete_by_query     `term` / `bool.filter` of terms
    GET|POST /{index}/_count           optional `bool.filter` of terms

Scores follow the lucene engine's cosinesimil: (1 + cos) / 2. Anything else answers 400
`fake_unsupported_request`, so the adapter cannot quietly depend on something this fake does not check.
With `username`/`password` set, requests without matching basic auth get 401 like the security plugin.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

SUPPORTED_ENGINES = {"lucene", "faiss"}


@dataclass
class FakeIndex:
    body: dict[str, Any]
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def dimension(self) -> int:
        return int(self.body["mappings"]["properties"]["embedding"]["dimension"])


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    authorization: str | None


class FakeOpenSearchServer:
    """`async with FakeOpenSearchServer() as server:` then point a client at `server.url`."""

    def __init__(self, *, username: str | None = None, password: str | None = None) -> None:
        self.indices: dict[str, FakeIndex] = {}
        self.requests: list[RecordedRequest] = []
        self._credentials = (username, password) if username else None
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> FakeOpenSearchServer:
        app = web.Application(middlewares=[self._record_and_authenticate])
        app.router.add_route("*", "/_bulk", self._bulk)
        app.router.add_route("*", "/{index}/_bulk", self._bulk)
        app.router.add_route("*", "/{index}/_search", self._search)
        app.router.add_route("*", "/{index}/_count", self._count)
        app.router.add_route("*", "/{index}/_delete_by_query", self._delete_by_query)
        app.router.add_route("GET", "/{index}/_mapping", self._mapping)
        app.router.add_route("*", "/{index}", self._index)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _record_and_authenticate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        authorization = request.headers.get("Authorization")
        self.requests.append(RecordedRequest(request.method, request.path, dict(request.query), authorization))
        if self._credentials is not None:
            expected = "Basic " + base64.b64encode(":".join(self._credentials).encode()).decode()  # type: ignore[arg-type]
            if authorization != expected:
                return web.Response(status=401, text="Unauthorized")
        try:
            response: web.StreamResponse = await handler(request)
        except _RejectError as exc:
            return _error(exc.status, exc.error_type, exc.reason, exc.index)
        return response

    async def _index(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["index"]
        if request.method == "HEAD":
            return web.Response(status=200 if name in self.indices else 404)
        if request.method == "PUT":
            if name in self.indices:
                raise _RejectError(400, "resource_already_exists_exception", f"index [{name}] already exists", name)
            body = await _json(request)
            _validate_knn_mapping(body)
            self.indices[name] = FakeIndex(body=body)
            return _json_response({"acknowledged": True, "shards_acknowledged": True, "index": name})
        if request.method == "DELETE":
            self._require(name)
            del self.indices[name]
            return _json_response({"acknowledged": True})
        raise _RejectError(400, "fake_unsupported_request", f"{request.method} /{name}")

    async def _mapping(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["index"]
        index = self._require(name)
        return _json_response({name: {"mappings": index.body.get("mappings", {})}})

    async def _bulk(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("POST", "PUT"):
            raise _RejectError(400, "fake_unsupported_request", f"{request.method} _bulk")
        lines = [line for line in (await request.read()).split(b"\n") if line.strip()]
        default_index = request.match_info.get("index")
        items: list[dict[str, Any]] = []
        for action_line, source_line in zip(lines[0::2], lines[1::2], strict=True):
            action = orjson.loads(action_line)
            if list(action) != ["index"]:
                raise _RejectError(400, "fake_unsupported_request", f"bulk action {list(action)}")
            meta = action["index"]
            name = meta.get("_index", default_index)
            doc_id = meta.get("_id")
            items.append({"index": self._index_document(name, doc_id, orjson.loads(source_line))})
        errors = any("error" in item["index"] for item in items)
        return _json_response({"took": 1, "errors": errors, "items": items})

    def _index_document(self, name: str, doc_id: str | None, document: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {"_index": name, "_id": doc_id}
        index = self.indices.get(name)
        if index is None:
            # Real OpenSearch would auto-create the index with a dynamic (non-k-NN) mapping; that is a bug here.
            result.update(status=404, error={"type": "index_not_found_exception", "reason": f"no such index [{name}]"})
            return result
        if doc_id is None:
            result.update(status=400, error={"type": "fake_unsupported_request", "reason": "documents need an _id"})
            return result
        vector = document.get("embedding")
        if not isinstance(vector, list) or len(vector) != index.dimension:
            reason = f"Vector dimension mismatch. Expected: {index.dimension}, Given: {len(vector or [])}"
            result.update(status=400, error={"type": "mapper_parsing_exception", "reason": reason})
            return result
        created = doc_id not in index.docs
        index.docs[doc_id] = document
        result.update(status=201 if created else 200, result="created" if created else "updated")
        return result

    async def _search(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["index"]
        index = self._require(name)
        body = await _json(request)
        if "aggs" in body or "aggregations" in body:
            return _json_response(_aggregate(index, body))
        query = body.get("query", {"match_all": {}})
        if "knn" not in query:
            return _json_response(_filter_search(name, index, query, body))
        knn = query["knn"].get("embedding")
        if not isinstance(knn, dict):
            raise _RejectError(400, "fake_unsupported_request", "knn query on a field other than 'embedding'")
        vector, k = knn["vector"], int(knn["k"])
        if len(vector) != index.dimension:
            raise _RejectError(400, "illegal_argument_exception", "query vector has invalid dimension", name)
        candidates = [
            (doc_id, doc)
            for doc_id, doc in index.docs.items()
            if _matches_filter(doc, knn.get("filter", {"match_all": {}}))
        ]
        scored = sorted(
            ((_lucene_cosine_score(vector, doc["embedding"]), doc_id, doc) for doc_id, doc in candidates),
            key=lambda item: (-item[0], item[1]),
        )[: min(k, int(body.get("size", 10)))]
        excludes = set(body.get("_source", {}).get("excludes", [])) if isinstance(body.get("_source"), dict) else set()
        hits = [
            {
                "_index": name,
                "_id": doc_id,
                "_score": score,
                "_source": {key: value for key, value in doc.items() if key not in excludes},
            }
            for score, doc_id, doc in scored
        ]
        return _json_response(
            {"took": 1, "timed_out": False, "hits": {"total": {"value": len(hits), "relation": "eq"}, "hits": hits}}
        )

    async def _count(self, request: web.Request) -> web.StreamResponse:
        index = self._require(request.match_info["index"])
        body = await _json(request) if request.can_read_body else {}
        query = body.get("query", {"match_all": {}})
        return _json_response({"count": sum(1 for doc in index.docs.values() if _matches_filter(doc, query))})

    async def _delete_by_query(self, request: web.Request) -> web.StreamResponse:
        index = self._require(request.match_info["index"])
        query = (await _json(request)).get("query")
        if query is None:
            raise _RejectError(400, "action_request_validation_exception", "query is missing")
        doomed = [doc_id for doc_id, doc in index.docs.items() if _matches_filter(doc, query)]
        for doc_id in doomed:
            del index.docs[doc_id]
        return _json_response({"took": 1, "deleted": len(doomed), "total": len(doomed), "failures": []})

    def _require(self, name: str) -> FakeIndex:
        index = self.indices.get(name)
        if index is None:
            raise _RejectError(404, "index_not_found_exception", f"no such index [{name}]", name)
        return index


class _RejectError(Exception):
    def __init__(self, status: int, error_type: str, reason: str, index: str | None = None) -> None:
        super().__init__(reason)
        self.status, self.error_type, self.reason, self.index = status, error_type, reason, index


def _error(status: int, error_type: str, reason: str, index: str | None) -> web.Response:
    cause: dict[str, Any] = {"type": error_type, "reason": reason}
    if index is not None:
        cause["index"] = index
    return _json_response({"error": {"root_cause": [cause], **cause}, "status": status}, status=status)


def _json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def _json(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _RejectError(400, "parse_exception", "request body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise _RejectError(400, "parse_exception", "request body must be an object")
    return parsed


def _validate_knn_mapping(body: dict[str, Any]) -> None:
    settings = body.get("settings", {})
    knn_enabled = settings.get("index", {}).get("knn", settings.get("index.knn"))
    embedding = body.get("mappings", {}).get("properties", {}).get("embedding", {})
    if embedding.get("type") != "knn_vector":
        raise _RejectError(
            400, "fake_unsupported_request", "this fake only holds indexes with a knn_vector 'embedding'"
        )
    if knn_enabled is not True:
        raise _RejectError(400, "mapper_parsing_exception", "index.knn must be true for a knn_vector method mapping")
    method = embedding.get("method", {})
    if not isinstance(embedding.get("dimension"), int) or embedding["dimension"] < 1:
        raise _RejectError(400, "mapper_parsing_exception", "knn_vector needs a positive integer dimension")
    if method.get("name") != "hnsw":
        raise _RejectError(400, "mapper_parsing_exception", f"method [{method.get('name')}] is not supported here")
    if method.get("engine") not in SUPPORTED_ENGINES:
        # OpenSearch 3.x refuses new nmslib indexes.
        raise _RejectError(400, "mapper_parsing_exception", f"engine [{method.get('engine')}] is not supported")
    if method.get("space_type") not in {"cosinesimil", "l2", "innerproduct"}:
        raise _RejectError(400, "mapper_parsing_exception", f"space_type [{method.get('space_type')}] is not supported")


def _field_value(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _matches_filter(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    if "match_all" in query:
        return True
    if "term" in query:
        ((path, expected),) = query["term"].items()
        if isinstance(expected, dict):
            expected = expected["value"]
        actual = _field_value(doc, path)
        return actual is not None and type(actual) is type(expected) and actual == expected
    if "bool" in query:
        clauses = query["bool"]
        unknown = set(clauses) - {"filter", "must"}
        if unknown:
            raise _RejectError(400, "fake_unsupported_request", f"bool clauses {sorted(unknown)}")
        listed = [c for key in ("filter", "must") for c in _as_list(clauses.get(key, []))]
        return all(_matches_filter(doc, clause) for clause in listed)
    raise _RejectError(400, "fake_unsupported_request", f"query {list(query)}")


def _as_list(value: Any) -> list[dict[str, Any]]:
    return value if isinstance(value, list) else [value]


def _aggregate(index: FakeIndex, body: dict[str, Any]) -> dict[str, Any]:
    aggs = body.get("aggs", body.get("aggregations", {}))
    if body.get("size") != 0 or len(aggs) != 1:
        raise _RejectError(400, "fake_unsupported_request", "only one aggregation with size 0")
    ((name, spec),) = aggs.items()
    terms = spec.get("terms")
    if not isinstance(terms, dict):
        raise _RejectError(400, "fake_unsupported_request", f"aggregation {list(spec)}")
    counts: dict[Any, int] = {}
    for doc in index.docs.values():
        value = _field_value(doc, terms["field"])
        if value is not None:
            counts[value] = counts.get(value, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    size = int(terms.get("size", 10))
    buckets = [{"key": key, "doc_count": count} for key, count in ordered[:size]]
    other = sum(count for _, count in ordered[size:])
    hits = {"total": {"value": len(index.docs), "relation": "eq"}, "hits": []}
    return {
        "took": 1,
        "hits": hits,
        "aggregations": {name: {"doc_count_error_upper_bound": 0, "sum_other_doc_count": other, "buckets": buckets}},
    }


def _filter_search(name: str, index: FakeIndex, query: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """A non-k-NN search: filter context, so every hit scores 0.0; `_source: false` leaves documents out."""
    matching = sorted(doc_id for doc_id, doc in index.docs.items() if _matches_filter(doc, query))
    size = int(body.get("size", 10))
    if size > 10000:
        raise _RejectError(400, "illegal_argument_exception", "Result window is too large", name)
    hits: list[dict[str, Any]] = []
    for doc_id in matching[:size]:
        hit: dict[str, Any] = {"_index": name, "_id": doc_id, "_score": 0.0}
        if body.get("_source", True) is not False:
            hit["_source"] = index.docs[doc_id]
        hits.append(hit)
    return {"took": 1, "timed_out": False, "hits": {"total": {"value": len(matching), "relation": "eq"}, "hits": hits}}


def _lucene_cosine_score(query: list[float], vector: list[float]) -> float:
    dot = sum(a * b for a, b in zip(query, vector, strict=True))
    norms = math.sqrt(sum(a * a for a in query)) * math.sqrt(sum(b * b for b in vector))
    cosine = dot / norms if norms else 0.0
    return (1.0 + cosine) / 2.0
