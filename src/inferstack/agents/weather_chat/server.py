"""Run the weather chat service under uvicorn with a graceful SIGTERM."""

from __future__ import annotations

from inferstack.agents.weather_chat.app import build_app
from inferstack.agents.weather_chat.settings import WeatherChatSettings
from inferstack.http.server import uvicorn_server


def run_weather_chat(settings: WeatherChatSettings) -> int:
    uvicorn_server(build_app(settings), host=settings.host, port=settings.port).run()
    return 0
