"""FakeOtlpSink: an OTLP/HTTP trace receiver on loopback that records what exporters send, for tracing tests.

It speaks the OTLP/HTTP protobuf protocol (`POST <any path>` with an `ExportTraceServiceRequest` body, answered
with an empty `ExportTraceServiceResponse`) and keeps every request: path, headers and decoded spans. It runs
in a thread, so it answers while the test blocks on a real process:

    with FakeOtlpSink() as sink:
        sink.base_url                         # http://127.0.0.1:<port>
        spans = sink.wait_for_spans(lambda spans: any(...))   # bounded wait, returns every span so far
        sink.requests                         # [RecordedExport(path, headers, spans)]
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from inferstack.http.otlp_receiver import decode_spans
from inferstack.observability.trace_store import StoredSpan


@dataclass
class RecordedExport:
    path: str
    headers: dict[str, str]
    spans: list[StoredSpan] = field(default_factory=list)


class FakeOtlpSink:
    """Records OTLP exports; `status` makes it answer every export with that HTTP status (e.g. 401)."""

    def __init__(self, *, status: int = 200) -> None:
        self.status = status
        self.requests: list[RecordedExport] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                message = ExportTraceServiceRequest()
                message.ParseFromString(body)
                record = RecordedExport(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, decode_spans(message)
                )
                with sink._lock:
                    sink.requests.append(record)
                reply = ExportTraceServiceResponse().SerializeToString() if sink.status == 200 else b"{}"
                self.send_response(sink.status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def spans(self) -> list[StoredSpan]:
        with self._lock:
            return [span for record in self.requests for span in record.spans]

    def wait_for_spans(self, done: Callable[[list[StoredSpan]], bool], timeout_s: float = 30.0) -> list[StoredSpan]:
        """Every span received once `done(spans)` holds; fails the test after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            spans = self.spans()
            if done(spans):
                return spans
            if time.monotonic() > deadline:
                raise AssertionError(f"the expected spans did not arrive; got {[s.name for s in spans]}")
            time.sleep(0.1)

    def __enter__(self) -> FakeOtlpSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self._server.shutdown()
        self._server.server_close()
