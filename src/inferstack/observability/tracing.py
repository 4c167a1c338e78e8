"""OpenTelemetry tracing setup. Spans are created with the OTel API everywhere; this installs a provider.

`none` keeps the API's no-op tracer (near-zero cost); `console` prints finished spans to stdout; `otlp`
sends them with OTLP/HTTP (needs `pip install opentelemetry-exporter-otlp-proto-http`; the endpoint and
headers come from the standard OTEL_EXPORTER_OTLP_* environment variables).
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

_configured = False


def configure_tracing(service: str, exporter: str) -> None:
    """Install a tracer provider once per process: `none`, `console` or `otlp`."""
    if exporter == "none" or _configured:
        return
    if exporter == "console":
        install_exporter(service, ConsoleSpanExporter())
    elif exporter == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            raise ValueError("tracing: otlp needs `pip install opentelemetry-exporter-otlp-proto-http`") from None
        install_exporter(service, OTLPSpanExporter())
    else:
        raise ValueError(f"unknown tracing exporter '{exporter}'; use none, console or otlp")


def install_exporter(service: str, exporter: SpanExporter) -> TracerProvider:
    global _configured
    provider = TracerProvider(resource=Resource.create({"service.name": f"inferstack-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured = True
    return provider


def shutdown_tracing() -> None:
    """Export spans still buffered; call when the service stops."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
