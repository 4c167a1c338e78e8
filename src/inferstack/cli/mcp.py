"""`inferstack mcp web-search|filesystem|weather`: the MCP tool servers, over streamable HTTP (`/mcp`) or stdio."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from inferstack.cli.settings_loader import fail, require_extra, settings_from_cli
from inferstack.cli.trace import start_tracing

if TYPE_CHECKING:
    from inferstack.mcp_servers.assembly import McpService
    from inferstack.mcp_servers.settings import McpSettings


class Transport(StrEnum):
    streamable_http = "streamable-http"
    http = "http"  # the same as streamable-http
    stdio = "stdio"


ConfigOption = Annotated[Path | None, typer.Option(help="Stack config YAML (section 'mcp').")]
HostOption = Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")]
TransportOption = Annotated[
    Transport, typer.Option(help="streamable-http (MCP at /mcp, plus /health and /metrics) or stdio.")
]

mcp_app = typer.Typer(
    name="mcp",
    help="MCP tool servers: web search (Tavily), a sandboxed filesystem and weather (Open-Meteo).",
    no_args_is_help=True,
)


@mcp_app.command("web-search")
def web_search(
    config: ConfigOption = None,
    host: HostOption = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8001).")] = None,
    transport: TransportOption = Transport.streamable_http,
) -> None:
    """Serve Tavily search as MCP tools: web_search, news_search, health_check (key: TAVILY_API_KEY)."""
    settings = _settings("web-search", config, {"web_search": {"host": host, "port": port}}, transport)
    from inferstack.mcp_servers.web_search import build_web_search_service

    service = build_web_search_service(settings.web_search)
    _run(service, transport, settings.web_search.host, settings.web_search.port)


@mcp_app.command("filesystem")
def filesystem(
    config: ConfigOption = None,
    host: HostOption = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8002).")] = None,
    root: Annotated[Path | None, typer.Option(help="Sandbox directory; every path must stay inside it.")] = None,
    transport: TransportOption = Transport.streamable_http,
) -> None:
    """Serve file tools confined to --root: read_file, write_file, list_directory, create_directory, ..."""
    settings = _settings("filesystem", config, {"filesystem": {"host": host, "port": port, "root": root}}, transport)
    from inferstack.core.errors import InferstackError
    from inferstack.mcp_servers.filesystem import build_filesystem_service

    try:
        service = build_filesystem_service(settings.filesystem)
    except InferstackError as exc:
        raise fail("mcp filesystem", exc.message) from None
    _run(service, transport, settings.filesystem.host, settings.filesystem.port)


@mcp_app.command("weather")
def weather(
    config: ConfigOption = None,
    host: HostOption = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8003).")] = None,
    transport: TransportOption = Transport.streamable_http,
) -> None:
    """Serve Open-Meteo weather as MCP tools: get_current_weather, get_weather_forecast (needs internet)."""
    settings = _settings("weather", config, {"weather": {"host": host, "port": port}}, transport)
    from inferstack.mcp_servers.weather import build_weather_service

    service = build_weather_service(settings.weather)
    _run(service, transport, settings.weather.host, settings.weather.port)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `inferstack` app."""
    app.add_typer(mcp_app, name="mcp")


def _settings(
    server: str, config: Path | None, overrides: dict[str, dict[str, Any]], transport: Transport
) -> McpSettings:
    require_extra(f"mcp {server}", "mcp")
    from inferstack.mcp_servers.assembly import log_to_stderr
    from inferstack.mcp_servers.settings import McpSettings
    from inferstack.observability.logging import configure_logging

    chosen = {section: {k: v for k, v in values.items() if v is not None} for section, values in overrides.items()}
    settings = settings_from_cli(McpSettings, command=f"mcp {server}", section="mcp", config=config, overrides=chosen)
    configure_logging(settings.log_level, service=f"mcp-{server}")
    start_tracing(f"mcp {server}", f"mcp-{server}", config)
    if transport is Transport.stdio:
        log_to_stderr()
    return settings


def _run(service: McpService, transport: Transport, host: str, port: int) -> None:
    from inferstack.mcp_servers.assembly import run_http, run_stdio

    code = run_stdio(service) if transport is Transport.stdio else run_http(service, host=host, port=port)
    raise typer.Exit(code=code)
