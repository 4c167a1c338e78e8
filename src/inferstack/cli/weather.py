"""`inferstack weather serve`: the weather function-calling chat service (reference-compatible /chat)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from inferstack.cli.settings_loader import require_extra, settings_from_cli

weather_app = typer.Typer(
    name="weather", help="The weather function-calling chat service (Open-Meteo tools).", no_args_is_help=True
)


@weather_app.command("serve")
def serve(
    config: Annotated[Path | None, typer.Option(help="Stack config YAML (section 'weather').")] = None,
    host: Annotated[str | None, typer.Option(help="Bind address \\[default: 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port \\[default: 8081].")] = None,
    model_base_url: Annotated[
        str | None, typer.Option(help="The gateway's OpenAI base URL \\[default: http://127.0.0.1:4000/v1].")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Chat model id \\[default: smollm2-135m-instruct].")] = None,
) -> None:
    """Serve /chat, /weather/current, /weather/forecast, /health, /health/llm and /metrics."""
    require_extra("weather serve", "agent")
    from inferstack.agents.weather_chat.settings import WeatherChatSettings
    from inferstack.observability.logging import configure_logging

    overrides: dict[str, Any] = {"host": host, "port": port, "model_base_url": model_base_url, "model": model}
    chosen = {key: value for key, value in overrides.items() if value is not None}
    settings = settings_from_cli(
        WeatherChatSettings, command="weather serve", section="weather", config=config, overrides=chosen
    )
    configure_logging(settings.log_level, service="weather-chat")
    from inferstack.agents.weather_chat.server import run_weather_chat

    raise typer.Exit(code=run_weather_chat(settings))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `inferstack` app."""
    app.add_typer(weather_app, name="weather")
