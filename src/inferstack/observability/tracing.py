"""OpenTelemetry tracing setup: one tracer provider per process, built from `TracingSettings`.

Exporter `none` (the default) installs nothing: the OTel API's no-op tracer stays, and code on hot paths
checks `tracing_enabled()` once (at app build time) instead of opening non-recording spans. `console` prints
finished spans, `otlp` sends OTLP/HTTP protobuf to `endpoint`, `store` writes the local SQLite trace store
that `inferstack trace` reads; a Langfuse host adds a second OTLP exporter with Langfuse's path and auth.
Sampling is parent-based, so a service continues whatever decision the caller's `traceparent` carries.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from inferstack.observability.tracing_settings import LANGFUSE_PATH, TracingSettings

log = logging.getLogger(__name__)


class _State:
    """Process-wide switches read by the services (set once by `configure_tracing`)."""

    enabled = False
    capture_content = False
    provider: TracerProvider | None = None


def tracing_enabled() -> bool:
    """True once a provider is installed; apps check this when they build their middleware and clients."""
    return _State.enabled


def capture_content() -> bool:
    """Whether prompts and completions may be recorded on spans (`observability.capture_content`)."""
    return _State.capture_content


def configure_tracing(settings: TracingSettings, service: str) -> TracerProvider | None:
    """Install the provider for `service` (once per process); None when tracing is off."""
    if _State.provider is not None or not settings.enabled:
        return _State.provider
    exporters = build_exporters(settings)
    attributes: dict[str, str] = {"service.name": settings.service_name or f"inferstack-{service}"}
    attributes.update(settings.resource_attributes)
    provider = TracerProvider(
        resource=Resource.create(attributes), sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio))
    )
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=_schedule_delay_ms(exporter)))
    install_provider(provider, capture=settings.capture_content)
    log.info(
        "tracing: %s exporter(s) for %s", ", ".join(type(e).__name__ for e in exporters), attributes["service.name"]
    )
    return provider


def _schedule_delay_ms(exporter: SpanExporter) -> float | None:
    """How long finished spans wait to be batched: the local trace store is read by people right after a request
    (the console's Traces page, `inferstack trace`), so its batches go out every second instead of the SDK's 5 s;
    OTEL_BSP_SCHEDULE_DELAY, when set, decides for every exporter."""
    from inferstack.observability.trace_store import StoreSpanExporter

    if os.environ.get("OTEL_BSP_SCHEDULE_DELAY") or not isinstance(exporter, StoreSpanExporter):
        return None  # the SDK's default (or the variable)
    return 1000


def install_provider(provider: TracerProvider, *, capture: bool = False) -> TracerProvider:
    """Make `provider` the global one (tests install one with an in-memory exporter this way)."""
    if trace.get_tracer_provider() is not provider:
        trace.set_tracer_provider(provider)
    _State.provider = provider
    _State.enabled = True
    _State.capture_content = capture
    return provider


def build_exporters(settings: TracingSettings) -> list[SpanExporter]:
    """The exporters the settings ask for, in order: the chosen exporter, then Langfuse."""
    exporters: list[SpanExporter] = []
    if settings.exporter == "console":
        exporters.append(ConsoleSpanExporter())
    elif settings.exporter == "otlp":
        if not settings.endpoint:
            raise ValueError("observability.endpoint: an OTLP/HTTP traces URL is required with exporter 'otlp'")
        exporters.append(otlp_exporter(settings.endpoint, settings.headers))
    elif settings.exporter == "store":
        if not settings.store.path:
            raise ValueError("observability.store.path: a SQLite file is required with exporter 'store'")
        from inferstack.observability.trace_store import StoreSpanExporter, TraceStore

        exporters.append(StoreSpanExporter(TraceStore(Path(settings.store.path), settings.store.max_traces)))
    if settings.langfuse.host:
        headers = {**settings.headers, **settings.langfuse_headers()}
        exporters.append(otlp_exporter(settings.langfuse.host + LANGFUSE_PATH, headers))
    return exporters


def otlp_exporter(endpoint: str, headers: dict[str, str]) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint, headers=dict(headers), timeout=10)


def shutdown_tracing() -> None:
    """Export spans still buffered; call when the service stops."""
    if _State.provider is not None:
        _State.provider.force_flush(5000)
        _State.provider.shutdown()


def reset_for_tests() -> None:
    """Forget the installed provider so a test can install another (the OTel global is set once per process)."""
    _State.provider = None
    _State.enabled = False
    _State.capture_content = False
