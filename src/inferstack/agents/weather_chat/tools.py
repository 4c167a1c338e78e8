"""The weather tools as OpenAI `tools` definitions, and the runner that executes the model's calls in-process.

The schemas are deliberately plain (a free `city` string with a description, no enums) so constrained decoding
on a small model yields a call whose `city` names the place the user asked about.
"""

from __future__ import annotations

from typing import Any

from inferstack.core.errors import InvalidRequestError
from inferstack.tools.weather.service import MAX_DAYS, WeatherService

_CITY = {"type": "string", "description": "The city name exactly as the user wrote it."}

WEATHER_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "The weather now (today) in a city: temperature, conditions, humidity, wind.",
            "parameters": {
                "type": "object",
                "properties": {"city": _CITY},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_weather_forecast",
            "description": f"A forecast for the coming days (1 to {MAX_DAYS}) in a city, when asked for a forecast.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": _CITY,
                    "days": {"type": "integer", "minimum": 1, "maximum": MAX_DAYS, "description": "Number of days."},
                },
                "required": ["city", "days"],
                "additionalProperties": False,
            },
        },
    },
]


class WeatherToolRunner:
    """Runs `get_current_weather` / `get_weather_forecast` calls against a `WeatherService`."""

    def __init__(self, weather: WeatherService) -> None:
        self.weather = weather

    async def __call__(self, name: str, arguments: dict[str, Any]) -> Any:
        city = arguments.get("city")
        if not isinstance(city, str):
            raise InvalidRequestError(f"{name} needs a 'city' string argument")
        if name == "get_current_weather":
            return (await self.weather.current(city)).model_dump(mode="json")
        if name == "get_weather_forecast":
            days = arguments.get("days", 5)
            if not isinstance(days, int) or isinstance(days, bool):
                raise InvalidRequestError("get_weather_forecast needs an integer 'days' argument")
            return (await self.weather.forecast(city, days)).model_dump(mode="json")
        raise InvalidRequestError(f"there is no tool called {name!r}; use get_current_weather or get_weather_forecast")
