"""`captured_spans`: the spans finished in this process during one test, in memory. The OpenTelemetry global
provider can be set once per process, so it is set (or found) once and keeps one in-memory exporter for the
session, cleared around each use; inferstack's tracing is pointed at it and reset afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from inferstack.observability import tracing


@contextmanager
def captured_spans() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    capture: InMemorySpanExporter | None = getattr(provider, "_inferstack_capture", None)
    if capture is None:
        capture = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(capture))
        provider._inferstack_capture = capture  # type: ignore[attr-defined]
    tracing.install_provider(provider)
    capture.clear()
    try:
        yield capture
    finally:
        capture.clear()
        tracing.reset_for_tests()
