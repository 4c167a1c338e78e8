"""Assemble the weather chat service: the Open-Meteo client, the gateway client, routes, errors, middleware."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import openai
from fastapi import FastAPI
from starlette.types import ASGIApp

from inferstack.agents.weather_chat import routes
from inferstack.agents.weather_chat.chat import WeatherChat
from inferstack.agents.weather_chat.metrics import WeatherChatMetrics
from inferstack.agents.weather_chat.routes import WeatherChatState
from inferstack.agents.weather_chat.settings import WeatherChatSettings
from inferstack.agents.weather_chat.tools import WeatherToolRunner
from inferstack.http.service_app import service_app
from inferstack.tools.weather.open_meteo import OpenMeteoClient
from inferstack.tools.weather.service import WeatherService

log = logging.getLogger(__name__)

PUBLIC_PATHS = ("/health", "/health/llm", "/metrics")


def build_app(settings: WeatherChatSettings, *, chat_client: openai.AsyncOpenAI | None = None) -> ASGIApp:
    metrics = WeatherChatMetrics()
    open_meteo = OpenMeteoClient(
        geocoding_url=settings.geocoding_url,
        forecast_url=settings.forecast_url,
        timeout_s=settings.weather_timeout_s,
        retries=settings.weather_retries,
    )
    weather = WeatherService(open_meteo)
    api_key = settings.api_key.get_secret_value() if settings.api_key is not None else None
    client = chat_client or openai.AsyncOpenAI(
        base_url=settings.model_base_url, api_key=api_key or "not-needed", timeout=settings.model_timeout_s
    )
    http = httpx.AsyncClient()
    state = WeatherChatState(
        chat=WeatherChat(settings, client, WeatherToolRunner(weather)),
        weather=weather,
        metrics=metrics,
        http=http,
        models_url=settings.model_base_url + "/models",
        api_key=api_key,
        health_timeout_s=settings.health_timeout_s,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        log.info("weather chat ready: model=%s at %s", settings.model, settings.model_base_url)
        try:
            yield
        finally:
            await open_meteo.aclose()
            await http.aclose()
            if chat_client is None:
                await client.close()

    return service_app(
        "inferstack weather chat",
        lifespan=lifespan,
        state={"weather_chat": state},
        routers=[routes.router],
        route_paths=routes.ROUTE_PATHS,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        api_key=settings.server_api_key,
        public_paths=PUBLIC_PATHS,
    )
