"""`inferstack mcp weather`: Open-Meteo weather served as MCP tools get_current_weather and get_weather_forecast.

The work is `tools.weather.WeatherService`; this module only declares the tools. An unknown city, `days` outside
1..16 or Open-Meteo being unreachable is an MCP tool error with a clear message (never an invented reading).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp_types import ToolAnnotations
from pydantic import Field

from inferstack import __version__
from inferstack.mcp_servers.assembly import McpService
from inferstack.mcp_servers.settings import WeatherServerSettings
from inferstack.mcp_servers.tool_calls import ToolCalls
from inferstack.tools.weather.models import CurrentWeather, WeatherForecast
from inferstack.tools.weather.open_meteo import OpenMeteoClient
from inferstack.tools.weather.service import MAX_DAYS, WeatherService

INSTRUCTIONS = (
    "Current weather and daily forecasts for a city, from Open-Meteo. Results carry units, the place that was "
    "matched (with other places of the same name as alternatives) and the place's own local time."
)

City = Annotated[str, Field(description="The city name, for example 'Tokyo' or 'Paris'; add the country if unclear.")]
Days = Annotated[int, Field(description=f"How many days to forecast, from 1 to {MAX_DAYS}.")]

_WEATHER = ToolAnnotations(read_only_hint=True, open_world_hint=True)


def build_weather_service(settings: WeatherServerSettings) -> McpService:
    client = OpenMeteoClient(
        geocoding_url=settings.geocoding_url,
        forecast_url=settings.forecast_url,
        timeout_s=settings.timeout_s,
        retries=settings.retries,
    )
    weather = WeatherService(client, max_alternatives=settings.max_alternatives)
    calls = ToolCalls("weather")

    @asynccontextmanager
    async def lifespan(_: MCPServer[None]) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.aclose()

    server: MCPServer[None] = MCPServer(
        "inferstack-weather", version=__version__, instructions=INSTRUCTIONS, lifespan=lifespan
    )

    @server.tool(annotations=_WEATHER)
    @calls.instrument
    async def get_current_weather(city: City) -> CurrentWeather:
        """Current weather in a city at its local time: temperature, humidity, wind, description, with units."""
        return await weather.current(city)

    @server.tool(annotations=_WEATHER)
    @calls.instrument
    async def get_weather_forecast(city: City, days: Days = 5) -> WeatherForecast:
        """Daily forecast for a city: max/min temperature, precipitation, wind and description per day, with units."""
        return await weather.forecast(city, days)

    def health() -> tuple[bool, dict[str, Any]]:
        return True, {"geocoding_url": settings.geocoding_url, "forecast_url": settings.forecast_url}

    return McpService(name="weather", server=server, tool_calls=calls, health=health)
