"""`inferstack weather serve` as a real process: the fake Open-Meteo process for weather, a scripted fake model
(FakeUpstream, real OpenAI wire format) for the tool calls. Both request shapes of the reference, the OpenAI
`tools` API, the round cap, and errors in OpenAI's shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fake_open_meteo import FakeOpenMeteoProcess, fake_open_meteo_process, fake_temperature, place_named
from tests.support.fake_upstream import control, fake_upstream_process, upstream_stats
from tests.support.processes import RunningProcess, child_env, inferstack_process

pytestmark = pytest.mark.weather

VIRTUAL_KEY = "sk-weather-virtual-key"
MAX_ROUNDS = 3


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("weather-chat")


@pytest.fixture(scope="module")
def open_meteo(logs: Path) -> Iterator[FakeOpenMeteoProcess]:
    with fake_open_meteo_process(logs) as fake:
        yield fake


@pytest.fixture(scope="module")
def model(logs: Path) -> Iterator[RunningProcess]:
    with fake_upstream_process(logs, "weather-model") as upstream:
        yield upstream


@pytest.fixture(scope="module")
def service(logs: Path, open_meteo: FakeOpenMeteoProcess, model: RunningProcess) -> Iterator[RunningProcess]:
    env = child_env(
        TZ="UTC",
        INFERSTACK_WEATHER_MODEL_BASE_URL=model.base_url + "/v1",
        INFERSTACK_WEATHER_MODEL="fake",
        INFERSTACK_WEATHER_API_KEY=VIRTUAL_KEY,
        INFERSTACK_WEATHER_MAX_ROUNDS=str(MAX_ROUNDS),
        INFERSTACK_WEATHER_GEOCODING_URL=open_meteo.api_url,
        INFERSTACK_WEATHER_FORECAST_URL=open_meteo.api_url,
    )
    with inferstack_process(["weather", "serve"], log_dir=logs, env=env, timeout=120) as process:
        yield process


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def chat(service: RunningProcess, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(service.base_url + "/chat", json=body, timeout=60)


def test_readme_message_shape_calls_the_tool_and_cites_it(service: RunningProcess, model: RunningProcess) -> None:
    control(model, script=[call("get_current_weather", city="Tokyo"), "It is mild in Tokyo."])
    answer = chat(service, {"message": "What's the weather like in Tokyo?"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    temperature = fake_temperature(place_named("Tokyo"), 12)
    assert [c["name"] for c in body["tool_calls"]] == ["get_current_weather"]
    assert body["tool_calls"][0]["arguments"] == {"city": "Tokyo"}
    assert body["stopped"] == "answered" and body["rounds"] == 2
    assert body["response"].startswith("It is mild in Tokyo.")
    assert f"{temperature}°C" in body["response"] and "Tokyo, Japan" in body["response"]
    assert "2026-01-15 12:00+09:00" in body["response"]  # the city's local time, not the server's
    assert body["data"]["temperature"] == temperature
    stats = upstream_stats(model)
    assert stats["last_auth"] == f"Bearer {VIRTUAL_KEY}"
    last = stats["last_body"]
    assert "functions" not in last and [t["function"]["name"] for t in last["tools"]] == [
        "get_current_weather",
        "get_weather_forecast",
    ]
    assert last["messages"][-1]["role"] == "tool"


def test_messages_shape_with_a_forecast(service: RunningProcess, model: RunningProcess) -> None:
    control(model, script=[call("get_weather_forecast", city="Honolulu", days=2), "Warm days ahead."])
    messages = [{"role": "user", "content": "Forecast for Honolulu for two days?"}]
    answer = chat(service, {"messages": messages})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [d["date"] for d in body["data"]["days"]] == ["2026-01-14", "2026-01-15"]
    assert "Forecast for Honolulu, Hawaii, United States" in body["response"]


def test_the_loop_stops_at_its_round_cap(service: RunningProcess, model: RunningProcess) -> None:
    """A model that keeps calling tools gets MAX_ROUNDS rounds, then one last turn without tools, where the
    results are folded into a user message."""
    before = upstream_stats(model)["requests"]
    control(model, script=[call("get_current_weather", city="Paris")] * MAX_ROUNDS + ["Paris is cold."])
    answer = chat(service, {"message": "Weather in Paris?"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["stopped"] == "max_rounds" and body["rounds"] == MAX_ROUNDS
    assert len(body["tool_calls"]) == MAX_ROUNDS
    stats = upstream_stats(model)
    assert stats["requests"] - before == MAX_ROUNDS + 1
    last = stats["last_body"]
    assert "tools" not in last and "tool_choice" not in last
    assert last["messages"][-1]["role"] == "user"
    assert last["messages"][-1]["content"].count("get_current_weather: {") == MAX_ROUNDS
    assert last["max_tokens"] == 120  # answer_max_tokens
    assert body["response"].startswith("Paris is cold.")
    assert body["response"].count("Weather in Paris, Île-de-France, France") == 1  # one citation per reading
    control(model, script=[])


def test_tool_errors_are_observations(service: RunningProcess, model: RunningProcess) -> None:
    control(model, script=[call("get_weather_forecast", city="Tokyo", days=30), "Sorry, at most 16 days."])
    body = chat(service, {"message": "Tokyo weather for 30 days"}).json()
    assert body["tool_calls"][0]["error"] == "error: days must be between 1 and 16, not 30"
    assert body["response"] == "Sorry, at most 16 days."
    assert upstream_stats(model)["last_body"]["messages"][-1]["content"].startswith("error: days must be")


def test_bad_requests_and_weather_endpoints(service: RunningProcess, open_meteo: FakeOpenMeteoProcess) -> None:
    bad_bodies: list[dict[str, Any]] = [
        {},
        {"messages": []},
        {"message": ""},
        {"message": "a", "messages": [{"role": "user", "content": "b"}]},
    ]
    for bad in bad_bodies:
        answer = chat(service, bad)
        assert answer.status_code == 400, bad
        assert answer.json()["error"]["type"] == "invalid_request_error"
    current = httpx.get(service.base_url + "/weather/current", params={"city": "Honolulu"}, timeout=30)
    assert current.status_code == 200
    assert current.json()["local_time"] == "2026-01-14T17:00-10:00"
    posted = httpx.post(service.base_url + "/weather/forecast", json={"city": "Paris", "days": 2}, timeout=30)
    assert posted.status_code == 200 and len(posted.json()["days"]) == 2
    unknown = httpx.get(service.base_url + "/weather/current", params={"city": "Atlantisville"}, timeout=30)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "city_not_found"
    too_many = httpx.get(service.base_url + "/weather/forecast", params={"city": "Paris", "days": 17}, timeout=30)
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "days"
    open_meteo.fail_with(503)
    try:
        down = httpx.post(service.base_url + "/weather/current", json={"city": "Tokyo"}, timeout=30)
    finally:
        open_meteo.fail_with(None)
    assert down.status_code == 502 and "HTTP 503" in down.json()["error"]["message"]


def test_health_and_metrics(service: RunningProcess, model: RunningProcess) -> None:
    assert httpx.get(service.base_url + "/health", timeout=10).json()["status"] == "healthy"
    assert httpx.get(service.base_url + "/health/llm", timeout=10).status_code == 200
    control(model, fail=503)
    try:
        assert httpx.get(service.base_url + "/health/llm", timeout=10).status_code == 503
    finally:
        control(model, fail=None)
    metrics = httpx.get(service.base_url + "/metrics", timeout=10).text
    assert "inferstack_weather_chat_requests_total" in metrics
