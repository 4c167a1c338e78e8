"""`inferstack mcp weather` as a real process against the fake Open-Meteo process, driven by the official MCP client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from inferstack.tools.weather.wmo import describe
from tests.integration.mcp_servers.sessions import error_text, http_session, stdio_session
from tests.support.fake_open_meteo import (
    DEFAULT_NOW,
    FakeOpenMeteoProcess,
    fake_open_meteo_process,
    fake_temperature,
    place_named,
)
from tests.support.processes import RunningProcess, child_env, inferstack_process

pytestmark = pytest.mark.weather


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mcp-weather")


@pytest.fixture(scope="module")
def fake(logs: Path) -> Iterator[FakeOpenMeteoProcess]:
    with fake_open_meteo_process(logs) as process:
        yield process


def weather_env(fake: FakeOpenMeteoProcess) -> dict[str, str]:
    return child_env(
        TZ="UTC",
        INFERSTACK_MCP_WEATHER__GEOCODING_URL=fake.api_url,
        INFERSTACK_MCP_WEATHER__FORECAST_URL=fake.api_url,
    )


@pytest.fixture(scope="module")
def server(logs: Path, fake: FakeOpenMeteoProcess) -> Iterator[RunningProcess]:
    with inferstack_process(["mcp", "weather"], log_dir=logs, env=weather_env(fake), timeout=120) as process:
        yield process


async def test_tools_over_streamable_http(server: RunningProcess, fake: FakeOpenMeteoProcess) -> None:
    async with http_session(server.base_url) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert set(tools) == {"get_current_weather", "get_weather_forecast"}
        assert tools["get_current_weather"].input_schema["required"] == ["city"]
        assert tools["get_weather_forecast"].input_schema["properties"]["city"]["type"] == "string"

        tokyo = await session.call_tool("get_current_weather", {"city": "Tokyo"})
        assert not tokyo.is_error
        result = tokyo.structured_content
        assert result is not None
        assert result["city"] == "Tokyo, Japan"
        assert result["local_time"] == "2026-01-15T12:00+09:00"  # noon in Tokyo at the fake's 03:00 UTC
        assert result["temperature"] == fake_temperature(place_named("Tokyo"), 12)
        assert result["units"]["temperature"] == "°C"
        assert result["description"] == describe(result["weather_code"])

        paris = await session.call_tool("get_weather_forecast", {"city": "Paris", "days": 3})
        assert paris.structured_content is not None
        assert len(paris.structured_content["days"]) == 3
        assert paris.structured_content["place"]["country_code"] == "FR"
        assert [a["admin1"] for a in paris.structured_content["alternatives"]] == ["Texas"]

        unknown = await session.call_tool("get_current_weather", {"city": "Atlantisville"})
        assert "no place called 'Atlantisville'" in error_text(unknown)
        too_long = await session.call_tool("get_weather_forecast", {"city": "Tokyo", "days": 20})
        assert "days must be between 1 and 16, not 20" in error_text(too_long)

    forecast_calls = [r for r in fake.requests() if r["path"] == "/v1/forecast"]
    assert forecast_calls and all(r["params"]["timezone"] == "auto" for r in forecast_calls)

    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        metrics = (await http.get("/metrics")).text
        health = await http.get("/health")
    assert 'inferstack_mcp_tool_calls_total{outcome="ok",tool="get_current_weather"}' in metrics
    assert 'inferstack_mcp_tool_calls_total{outcome="error",tool="get_weather_forecast"} 0.0' not in metrics
    assert health.status_code == 200
    assert health.json()["service"] == "weather"


async def test_open_meteo_down_is_a_tool_error(server: RunningProcess, fake: FakeOpenMeteoProcess) -> None:
    fake.fail_with(503)
    try:
        async with http_session(server.base_url) as session:
            failed = await session.call_tool("get_current_weather", {"city": "Honolulu"})
        assert "HTTP 503" in error_text(failed)
    finally:
        fake.fail_with(None)


async def test_stdio_transport(logs: Path, fake: FakeOpenMeteoProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in weather_env(fake).items():
        if name.startswith("INFERSTACK_MCP_WEATHER") or name == "TZ":
            monkeypatch.setenv(name, value)
    async with stdio_session(["mcp", "weather", "--transport", "stdio"], logs / "stdio.log") as session:
        honolulu = await session.call_tool("get_current_weather", {"city": "Honolulu"})
    assert honolulu.structured_content is not None
    assert honolulu.structured_content["local_time"] == "2026-01-14T17:00-10:00"
    assert DEFAULT_NOW.hour == 3
