"""Thin routes of the weather chat service; the work is in `WeatherChat` and `WeatherService` on `app.state`.

`/weather/current` and `/weather/forecast` answer GET with query parameters and POST with the reference's JSON
body; `/chat` takes `{messages}` or `{message}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import httpx
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from inferstack import __version__
from inferstack.agents.weather_chat.chat import WeatherChat
from inferstack.agents.weather_chat.metrics import WeatherChatMetrics
from inferstack.agents.weather_chat.schemas import ChatBody, CityBody, ForecastBody
from inferstack.core.errors import InvalidRequestError
from inferstack.http.body import parse_body
from inferstack.http.responses import json_response
from inferstack.tools.weather.service import WeatherService

router = APIRouter()
ROUTE_PATHS = ("/", "/health", "/health/llm", "/metrics", "/chat", "/weather/current", "/weather/forecast")


@dataclass(frozen=True)
class WeatherChatState:
    chat: WeatherChat
    weather: WeatherService
    metrics: WeatherChatMetrics
    http: httpx.AsyncClient
    models_url: str
    api_key: str | None
    health_timeout_s: float


def _state(request: Request) -> WeatherChatState:
    state: WeatherChatState = request.app.state.weather_chat
    return state


@router.get("/")
async def index() -> Response:
    endpoints = ["/chat", "/weather/current", "/weather/forecast", "/health", "/health/llm", "/metrics"]
    return json_response({"service": "inferstack weather chat", "version": __version__, "endpoints": endpoints})


@router.get("/health")
async def health() -> Response:
    return json_response({"status": "healthy", "service": "weather-chat"})


@router.get("/health/llm")
async def health_llm(request: Request) -> Response:
    """Whether the gateway answers `GET /models` with this service's key."""
    state = _state(request)
    headers = {"Authorization": f"Bearer {state.api_key}"} if state.api_key else {}
    try:
        answer = await state.http.get(state.models_url, headers=headers, timeout=state.health_timeout_s)
    except httpx.HTTPError as exc:
        return json_response({"status": "unhealthy", "detail": f"unreachable: {type(exc).__name__}"}, status_code=503)
    if answer.status_code != 200:
        body = {"status": "unhealthy", "detail": f"GET /models answered HTTP {answer.status_code}"}
        return json_response(body, status_code=503)
    return json_response({"status": "healthy", "model": state.chat.settings.model})


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return _state(request).metrics.response()


@router.get("/weather/current")
async def current_get(request: Request, city: Annotated[str, Query(min_length=1, max_length=100)]) -> Response:
    return json_response((await _state(request).weather.current(city)).model_dump(mode="json"))


@router.post("/weather/current")
async def current_post(request: Request) -> Response:
    body = await parse_body(request, CityBody)
    return json_response((await _state(request).weather.current(body.city)).model_dump(mode="json"))


@router.get("/weather/forecast")
async def forecast_get(
    request: Request, city: Annotated[str, Query(min_length=1, max_length=100)], days: int = 5
) -> Response:
    return json_response((await _state(request).weather.forecast(city, days)).model_dump(mode="json"))


@router.post("/weather/forecast")
async def forecast_post(request: Request) -> Response:
    body = await parse_body(request, ForecastBody)
    return json_response((await _state(request).weather.forecast(body.city, body.days)).model_dump(mode="json"))


@router.post("/chat")
async def chat(request: Request) -> Response:
    state = _state(request)
    body = await parse_body(request, ChatBody)
    conversation = body.conversation()
    if len(conversation) > state.chat.settings.max_messages:
        raise InvalidRequestError(f"at most {state.chat.settings.max_messages} messages", param="messages")
    answer = await state.chat.chat(conversation, body.model)
    state.metrics.observe_chat(answer)
    return json_response(answer.model_dump(mode="json"))
