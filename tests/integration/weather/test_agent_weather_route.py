"""The agent's weather route against the real weather MCP server process (and the fake Open-Meteo behind it):
weather questions are answered from the tool with the reading, unit, place and local time; other questions, and
weather questions while the server is down, go to the configured strategy."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from pathlib import Path

import pytest

from inferstack.agents.mcp_tools import McpToolClient
from inferstack.agents.query import DeltaEvent, DoneEvent, PlanEvent, Query, QueryEvent, QueryPlan, QueryResult
from inferstack.agents.routing import Route
from inferstack.agents.sessions import MemorySessionStore
from inferstack.agents.weather_route import WeatherAsk, WeatherRoute, detect_weather
from tests.integration.weather.test_weather_mcp_server import weather_env
from tests.support.fake_open_meteo import fake_open_meteo_process, fake_temperature, place_named
from tests.support.processes import RunningProcess, free_port, inferstack_process

pytestmark = pytest.mark.weather


class FakeStrategy:
    """Stands for the supervisor: answers "from the knowledge base" and records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def stream(self, query: Query) -> AsyncGenerator[QueryEvent, None]:
        self.asked.append(query.question)
        plan = QueryPlan(Route.KNOWLEDGE, (), None, query.session_id, None, ())
        yield PlanEvent(plan)
        yield DeltaEvent("from the knowledge base")
        yield DoneEvent(QueryResult(answer="from the knowledge base", plan=plan, timings={}))


@pytest.mark.parametrize(
    ("question", "ask"),
    [
        ("What's the weather in Tokyo?", WeatherAsk("Tokyo", None)),
        ("How cold is it in New York right now?", WeatherAsk("New York", None)),
        ("Weather forecast for Paris for the next 5 days", WeatherAsk("Paris", 5)),
        ("Will it rain in Honolulu tomorrow?", WeatherAsk("Honolulu", 2)),
        ("Give me a 7-day forecast for London", WeatherAsk("London", 7)),
        ("What is a Kubernetes DaemonSet?", None),
        ("What is the weather like?", None),  # no city: not for the weather tool
    ],
)
def test_detect_weather(question: str, ask: WeatherAsk | None) -> None:
    assert detect_weather(question) == ask


@pytest.fixture(scope="module")
def weather_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    logs: Path = tmp_path_factory.mktemp("agent-weather")
    with (
        fake_open_meteo_process(logs) as fake,
        inferstack_process(["mcp", "weather"], log_dir=logs, env=weather_env(fake), timeout=120) as server,
    ):
        yield server


async def ask(route: WeatherRoute, question: str) -> tuple[QueryPlan, str]:
    plan, answer = None, ""
    async for event in route.stream(Query(question=question, session_id="s1", top_k=3)):
        if isinstance(event, PlanEvent):
            plan = event.plan
        if isinstance(event, DoneEvent):
            answer = event.result.answer
    assert plan is not None
    return plan, answer


async def test_weather_questions_are_answered_from_the_tool(weather_server: RunningProcess) -> None:
    inner, sessions = FakeStrategy(), MemorySessionStore(max_turns=4, max_sessions=10)
    client = McpToolClient(weather_server.base_url + "/mcp", name="weather", timeout_s=30, health_timeout_s=2)
    route = WeatherRoute(inner, client, sessions)

    plan, answer = await ask(route, "What's the weather in Tokyo?")
    assert plan.route is Route.WEATHER
    assert f"{fake_temperature(place_named('Tokyo'), 12)}°C" in answer
    assert "Tokyo, Japan at 2026-01-15 12:00+09:00 local time" in answer and "Open-Meteo" in answer
    assert plan.sources[0].kind == "weather"

    plan, answer = await ask(route, "Forecast for Honolulu for the next 2 days")
    assert plan.route is Route.WEATHER and "2026-01-14" in answer and "2026-01-15" in answer

    plan, answer = await ask(route, "What's the weather in Atlantisville?")
    assert plan.route is Route.WEATHER and "no place called 'Atlantisville'" in answer

    plan, answer = await ask(route, "What is a Kubernetes DaemonSet?")
    assert plan.route is Route.KNOWLEDGE and inner.asked == ["What is a Kubernetes DaemonSet?"]


async def test_weather_server_down_falls_through_with_a_warning() -> None:
    inner, sessions = FakeStrategy(), MemorySessionStore(max_turns=4, max_sessions=10)
    gone = McpToolClient(f"http://127.0.0.1:{free_port()}/mcp", name="weather", timeout_s=5, health_timeout_s=1)
    plan, answer = await ask(WeatherRoute(inner, gone, sessions), "What's the weather in Tokyo?")
    assert plan.route is Route.KNOWLEDGE and answer == "from the knowledge base"
    assert any(w.startswith("weather unavailable") for w in plan.warnings)
