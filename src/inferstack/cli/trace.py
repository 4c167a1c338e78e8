"""`inferstack trace`: read the local trace store (`last`, `show ID`, `list`) and run its OTLP receiver (`serve`).

`start_tracing` is what every service command calls once its settings are loaded: it builds the tracing
settings from the stack file's `observability` section and the environment, and installs the provider.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from opentelemetry import trace
from pydantic import ValidationError
from rich.console import Console
from rich.tree import Tree

from inferstack.cli.settings_loader import fail
from inferstack.core.errors import InferstackError
from inferstack.core.settings import describe_validation_error
from inferstack.observability.trace_store import StoredSpan, TraceStore
from inferstack.observability.tracing import configure_tracing, shutdown_tracing
from inferstack.observability.tracing_settings import TracingSettings, load_tracing_settings, tracing_settings_from

DEFAULT_STORE = Path(".inferstack") / "traces.db"


def tracing_settings(command: str, config: Path | None) -> TracingSettings:
    try:
        return load_tracing_settings(config, os.environ)
    except ValidationError as exc:
        raise fail(command, describe_validation_error("observability", exc, TracingSettings)) from None
    except InferstackError as exc:
        raise fail(command, exc.message) from None


def start_tracing(command: str, service: str, config: Path | None) -> None:
    """Install this process's tracer provider (nothing when the exporter is `none`)."""
    try:
        configure_tracing(tracing_settings(command, config), service)
    except ValueError as exc:
        raise fail(command, str(exc)) from None


@contextmanager
def traced_command(service: str, section: Mapping[str, Any], attributes: Mapping[str, str]) -> Iterator[None]:
    """Tracing for a one-shot command (from a stack's effective `observability` section), the whole run in one
    span so its calls (e.g. ingestion's embedding requests) form one trace; spans are flushed at the end."""
    try:
        settings = tracing_settings_from(section, os.environ)
        configure_tracing(settings, service)
    except (ValidationError, ValueError) as exc:
        raise fail(service, f"observability: {exc}") from None
    try:
        with trace.get_tracer("inferstack.cli").start_as_current_span(service, attributes=dict(attributes)):
            yield
    finally:
        shutdown_tracing()


def _store(config: Path | None, store: Path | None) -> TraceStore:
    path = store
    if path is None:
        configured = tracing_settings("trace", config).store.path
        path = Path(configured) if configured else DEFAULT_STORE
    if not path.exists():
        raise fail("trace", f"no trace store at {path}: run `inferstack up` (it records traces there) or pass --store")
    return TraceStore(path)


ConfigOption = Annotated[Path | None, typer.Option(help="Stack config YAML (section 'observability').")]
StoreOption = Annotated[Path | None, typer.Option(help="SQLite trace store \\[default: .inferstack/traces.db].")]


def span_tree(spans: list[StoredSpan]) -> Tree:
    """The spans as a rich tree: name, service and duration, children under their parents by start time."""
    ids = {s.span_id for s in spans}
    children: dict[str, list[StoredSpan]] = {}
    for span in spans:
        parent = span.parent_id if span.parent_id in ids else ""
        children.setdefault(parent, []).append(span)
    start = min((s.start_ns for s in spans), default=0)
    root = Tree(f"trace [bold]{spans[0].trace_id}[/bold]" if spans else "trace (empty)")

    def add(node: Tree, parent_id: str) -> None:
        for span in sorted(children.get(parent_id, []), key=lambda s: s.start_ns):
            offset = (span.start_ns - start) / 1e6
            label = f"[bold]{span.name}[/bold] [dim]{span.service}[/dim] {span.duration_ms:.1f} ms"
            label += f" [dim]@+{offset:.1f}[/dim]"
            tokens = [
                f"{k.rsplit('.', 1)[-1]}={v}" for k, v in span.attributes.items() if k.startswith("gen_ai.usage.")
            ]
            if tokens:
                label += " [cyan]" + " ".join(tokens) + "[/cyan]"
            if span.status == "ERROR":
                label += " [red]error[/red]"
            add(node.add(label), span.span_id)

    add(root, "")
    return root


def show(
    trace_id: Annotated[str, typer.Argument(help="Trace id (a unique prefix is enough).")],
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Print one trace as a span tree with timings."""
    spans = _store(config, store).spans(trace_id)
    if not spans:
        raise fail("trace show", f"no single trace matches '{trace_id}'", code=1)
    Console().print(span_tree(spans))


def last(config: ConfigOption = None, store: StoreOption = None) -> None:
    """Print the newest trace as a span tree with timings."""
    traces = _store(config, store).list_traces(1)
    if not traces:
        raise fail("trace last", "the trace store holds no trace yet", code=1)
    show(traces[0].trace_id, config=config, store=store)


def list_traces(
    config: ConfigOption = None, store: StoreOption = None, limit: Annotated[int, typer.Option(min=1)] = 20
) -> None:
    """The newest traces: id, root span, service, duration and span count."""
    for t in _store(config, store).list_traces(limit):
        typer.echo(f"{t.trace_id}  {t.duration_ms:9.1f} ms  {t.span_count:3d} spans  {t.service}  {t.root_name}")


def serve(
    config: ConfigOption = None,
    store: StoreOption = None,
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 4318,
) -> None:
    """Receive OTLP/HTTP traces at /v1/traces into the store; read API at /api/traces."""
    from inferstack.http.otlp_receiver import build_receiver_app
    from inferstack.http.server import uvicorn_server

    settings = tracing_settings("trace serve", config)
    path = store or (Path(settings.store.path) if settings.store.path else DEFAULT_STORE)
    server = uvicorn_server(build_receiver_app(TraceStore(path, settings.store.max_traces)), host=host, port=port)
    server.run()


def register(app: typer.Typer) -> None:
    group = typer.Typer(name="trace", help="Traces in the local trace store (`last`, `show ID`, `list`, `serve`).")
    group.command("last")(last)
    group.command("show")(show)
    group.command("list")(list_traces)
    group.command("serve")(serve)
    app.add_typer(group, name="trace")
