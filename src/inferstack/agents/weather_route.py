"""The agent's weather route: a weather question naming a city is answered from the weather MCP server's tools,
before retrieval, the way time-sensitive questions go to web search. The answer quotes the tool result
(temperature with its unit, place, local time) and cites Open-Meteo; it is composed from the result, never
generated, so the reading cannot be misquoted.

`WeatherRoute` wraps the configured strategy: other questions, and weather questions when the weather server is
unreachable (a warning), go on to it unchanged. An unknown city or bad argument is answered as such.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, replace
from typing import Any

from inferstack.agents.mcp_tools import McpToolClient, ToolCallError, ToolUnavailableError
from inferstack.agents.query import DeltaEvent, DoneEvent, PlanEvent, Query, QueryEvent, QueryPlan, QueryResult, Source
from inferstack.agents.routing import Route, weather_first
from inferstack.agents.service import QueryStrategy
from inferstack.agents.sessions import SessionStore
from inferstack.agents.weather_chat.citation import cite

_WEATHER = re.compile(
    r"(?<![\w-])(?:weather|forecast|temperature|raining|rain|snowing|snow|sunny|windy|humid|humidity|"
    r"how (?:hot|cold|warm))(?![\w-])",
    re.IGNORECASE,
)
_FORECAST = re.compile(
    r"(?<![\w-])(?:forecast|tomorrow|this week|coming days|next days|\d{1,2}[- ]days?)(?![\w-])", re.I
)
_DAYS = re.compile(r"(?<![\w-])(\d{1,2})[- ]days?(?![\w-])", re.I)
# A place: capitalised words after in/for/at ("in New York", "for São Paulo"), up to punctuation.
_CITY = re.compile(r"(?:\bin|\bfor|\bat)\s+((?:[A-ZÀ-Ý][\w'À-ÿ.-]*)(?:\s+[A-ZÀ-Ý][\w'À-ÿ.-]*){0,3})")
DEFAULT_FORECAST_DAYS = 3


@dataclass(frozen=True)
class WeatherAsk:
    city: str
    days: int | None  # None: current conditions


def detect_weather(question: str) -> WeatherAsk | None:
    """The city and forecast length of a weather question, or None when it is not one (or names no city)."""
    if _WEATHER.search(question) is None:
        return None
    cities = [m.group(1) for m in _CITY.finditer(question)]
    if not cities:
        return None
    if _FORECAST.search(question) is None:
        return WeatherAsk(cities[-1], None)
    if (days := _DAYS.search(question)) is not None:
        return WeatherAsk(cities[-1], min(max(int(days.group(1)), 1), 16))
    return WeatherAsk(cities[-1], 2 if "tomorrow" in question.lower() else DEFAULT_FORECAST_DAYS)


class WeatherRoute:
    """A `QueryStrategy` that answers weather questions from the weather MCP tools and passes the rest on."""

    def __init__(self, inner: QueryStrategy, client: McpToolClient, sessions: SessionStore) -> None:
        self.inner = inner
        self.client = client
        self.sessions = sessions

    async def stream(self, query: Query) -> AsyncGenerator[QueryEvent, None]:
        ask = detect_weather(query.question)
        if ask is None or not weather_first(weather_question=True, weather_configured=self.client is not None):
            async for event in self.inner.stream(query):
                yield event
            return
        started = time.perf_counter()
        try:
            tool, result = await self._call(ask)
        except ToolUnavailableError as exc:
            async for event in self.inner.stream(query):
                if isinstance(event, PlanEvent):
                    plan = event.plan
                    warned = (*plan.warnings, f"weather unavailable: {exc.message}")
                    event = PlanEvent(_replace_warnings(plan, warned), event.timings)
                yield event
            return
        except ToolCallError as exc:
            tool, result = "", None
            answer = f"I could not get the weather for {ask.city}: {exc.message}"
        else:
            answer = cite(tool, result) or f"The weather tool returned no reading for {ask.city}."
        sources = (_source(tool, result),) if result is not None else ()
        plan = QueryPlan(
            route=Route.WEATHER,
            sources=sources,
            relevance=None,
            session_id=query.session_id,
            time_sensitive="weather",
            warnings=(),
        )
        total_ms = round((time.perf_counter() - started) * 1000.0, 1)
        timings = {"weather_ms": total_ms, "total_ms": total_ms}
        yield PlanEvent(plan, timings)
        yield DeltaEvent(answer)
        await self.sessions.record(query.session_id, query.question, answer, Route.WEATHER.value)
        yield DoneEvent(QueryResult(answer=answer, plan=plan, timings=timings))

    async def _call(self, ask: WeatherAsk) -> tuple[str, Any]:
        if ask.days is None:
            return "get_current_weather", await self.client.call("get_current_weather", {"city": ask.city})
        arguments = {"city": ask.city, "days": ask.days}
        return "get_weather_forecast", await self.client.call("get_weather_forecast", arguments)


def _source(tool: str, result: Any) -> Source:
    city = str(result.get("city", "")) if isinstance(result, dict) else ""
    return Source(kind="weather", source=f"open-meteo:{city}", snippet=cite(tool, result) or "", score=1.0)


def _replace_warnings(plan: QueryPlan, warnings: tuple[str, ...]) -> QueryPlan:
    return replace(plan, warnings=warnings)
