"""A small OTLP/HTTP trace receiver over the local trace store, and the store's read API for the console.

`POST /v1/traces` takes `ExportTraceServiceRequest` as protobuf (`application/x-protobuf`) and answers with an
empty `ExportTraceServiceResponse`; `GET /api/traces?limit=N` lists the newest traces and
`GET /api/traces/{trace_id}` returns one trace's spans as JSON. Bodies over 16 MiB get 413.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from starlette.requests import Request
from starlette.responses import Response

from inferstack.core.errors import InvalidRequestError, NotFoundError
from inferstack.http.errors import install_error_handlers
from inferstack.http.middleware import BodySizeLimit
from inferstack.http.responses import json_response
from inferstack.observability.trace_store import StoredSpan, TraceStore

MAX_BODY_BYTES = 16 * 1024 * 1024
_KINDS = {0: "INTERNAL", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


def any_value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if which == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, which) if which else None


def attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in pairs if isinstance(kv, KeyValue)}


def decode_spans(request: ExportTraceServiceRequest) -> list[StoredSpan]:
    """Every span of an OTLP export as stored rows."""
    spans: list[StoredSpan] = []
    for resource_spans in request.resource_spans:
        service = str(attributes(resource_spans.resource.attributes).get("service.name", ""))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    StoredSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        name=span.name,
                        service=service,
                        kind=_KINDS.get(span.kind, "INTERNAL"),
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        status=_STATUS.get(span.status.code, "UNSET"),
                        attributes=attributes(span.attributes),
                        events=[
                            {"name": e.name, "time_ns": e.time_unix_nano, "attributes": attributes(e.attributes)}
                            for e in span.events
                        ],
                    )
                )
    return spans


def build_receiver_app(store: TraceStore) -> Any:
    """The receiver and read API as one ASGI app."""

    async def receive(request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("application/x-protobuf"):
            raise InvalidRequestError("send OTLP traces as application/x-protobuf")
        message = ExportTraceServiceRequest()
        try:
            message.ParseFromString(await request.body())
        except DecodeError:
            raise InvalidRequestError("the body is not an OTLP ExportTraceServiceRequest") from None
        store.add(decode_spans(message))
        return Response(ExportTraceServiceResponse().SerializeToString(), media_type="application/x-protobuf")

    async def list_traces(request: Request) -> Response:
        try:
            limit = min(max(int(request.query_params.get("limit", "20")), 1), 1000)
        except ValueError:
            raise InvalidRequestError("limit must be an integer") from None
        rows = [t.__dict__ for t in store.list_traces(limit)]
        return json_response({"object": "list", "data": rows})

    async def get_trace(request: Request) -> Response:
        spans = store.spans(request.path_params["trace_id"])
        if not spans:
            raise NotFoundError("no such trace")
        return json_response({"trace_id": spans[0].trace_id, "spans": [s.as_json() for s in spans]})

    async def health(_: Request) -> Response:
        return json_response({"status": "ok", "service": "trace-store"})

    app = FastAPI(title="inferstack trace store", openapi_url=None, docs_url=None, redoc_url=None)
    app.add_route("/v1/traces", receive, methods=["POST"])
    app.add_route("/api/traces", list_traces, methods=["GET"])
    app.add_route("/api/traces/{trace_id}", get_trace, methods=["GET"])
    app.add_route("/health", health, methods=["GET"])
    install_error_handlers(app)
    return BodySizeLimit(app, max_bytes=MAX_BODY_BYTES)
